# Untrusted code: try to reach the host over the network.  Reports facts
# only; test_attack_net.c judges.
#
# Environment from the test (every address is one of the host's OWN
# interface addresses; nothing here ever targets another machine):
#   SEC_TCP_PORT   a TCP port the host listens on (all of its addresses)
#   SEC_UDP_PORT   a UDP port the host reads (all of its addresses)
#   SEC_HOST_ADDRS the host's interface addresses, ','-separated
#   SEC_ABSTRACT   the name of an abstract unix socket the host listens on
#   SEC_UNIX_PATH  the host path of a unix socket the host listens on
import ctypes
import errno
import fcntl
import os
import socket
import struct


tcp = int(os.environ["SEC_TCP_PORT"])
udp = int(os.environ["SEC_UDP_PORT"])
addrs = [a for a in os.environ.get("SEC_HOST_ADDRS", "").split(",") if a]


def connect(addr, port):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect((addr, port))
        return "connected"
    finally:
        s.close()


def sendto(addr, port):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    try:
        s.sendto(b"petri-escape", (addr, port))
    finally:
        s.close()


for i, a in enumerate(addrs):
    blocked("tcp_%d" % i, lambda a=a: connect(a, tcp))
    # A datagram to our own lo is sent fine (and lost in here): the host
    # side checks that none arrived; anything else must not even be sent.
    try:
        sendto(a, udp)
        say("udp_%d" % i, "SENT")
    except OSError as e:
        say("udp_%d" % i, "BLOCKED " + ename(e.errno))

# Interfaces: only lo, and it is up.
say("ifaces", "LIST " + ",".join(sorted(n for _, n in socket.if_nameindex())))
with open("/proc/net/dev") as f:
    devs = sorted(l.split(":")[0].strip() for l in f.readlines()[2:])
say("proc_net_dev", "LIST " + ",".join(devs))
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
c = socket.create_connection(s.getsockname(), timeout=2)
a, _ = s.accept()
c.sendall(b"ping")
say("lo_works", "OK" if a.recv(4) == b"ping" else "FAILED")
for x in (a, c, s):
    x.close()
blocked("connect_own_tcp_port", lambda: connect("127.0.0.1", tcp))

# Packet-level access and reconfiguration of the network.
blocked("raw_socket", lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP))
blocked("raw_socket6", lambda: socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_UDP))
blocked("packet_socket", lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0))
blocked("vsock_socket", lambda: socket.socket(40, socket.SOCK_STREAM, 0))
SIOCSIFFLAGS, SIOCSIFADDR = 0x8914, 0x8916
ctl = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
blocked("siocsifflags_lo_down", lambda: fcntl.ioctl(ctl, SIOCSIFFLAGS, struct.pack("16sh22x", b"lo", 0)))
blocked("siocsifaddr_lo", lambda: fcntl.ioctl(ctl, SIOCSIFADDR, struct.pack(
    "16sH2s4s8x", b"lo", socket.AF_INET, b"\0\0", socket.inet_aton("10.255.0.1"))))
blocked("bind_privileged_port", lambda: socket.socket().bind(("127.0.0.1", 80)))

# Unix sockets of the host: abstract (per network namespace) and by path.
name = os.environ.get("SEC_ABSTRACT", "")
if name:
    u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    blocked("abstract_unix", lambda: u.connect("\0" + name))
path = os.environ.get("SEC_UNIX_PATH", "")
if path:
    u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    blocked("path_unix", lambda: u.connect(path))
print("DONE", flush=True)
