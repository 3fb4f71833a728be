# A sandbox minding its own business (the victim of cross_attacker.py):
# secrets in its tmpfs mounts and in System V shared memory, a TCP server on
# its lo and an abstract unix socket.  It says READY, waits while the other
# sandbox attacks, then checks that everything is still as it left it and
# that nobody connected.
import ctypes
import os
import socket
import time

SECRET = b"victim-secret-5d1c7e"
for d in ("/tmp", "/dev/shm", "/workspace", "/home/sandbox"):
    with open(d + "/secret", "wb") as f:
        f.write(SECRET)
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
shmid = libc.shmget(0x5E7, 4096, 0o1000 | 0o666)  # IPC_CREAT
addr = libc.shmat(shmid, None, 0) if shmid >= 0 else None
if addr and addr != ctypes.c_void_p(-1).value:
    ctypes.memmove(addr, SECRET, len(SECRET))
tcp = socket.socket()
tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
tcp.bind(("127.0.0.1", 47123))
tcp.listen(8)
tcp.setblocking(False)
uab = socket.socket(socket.AF_UNIX)
uab.bind("\0petri-cross-victim")
uab.listen(8)
uab.setblocking(False)
print("READY pid=%d" % os.getpid(), flush=True)
time.sleep(float(os.environ.get("VICTIM_WAIT", "4")))
ok = True
for d in ("/tmp", "/dev/shm", "/workspace", "/home/sandbox"):
    with open(d + "/secret", "rb") as f:
        if f.read() != SECRET:
            print("CHECK victim_%s ESCAPED changed" % d.strip("/").replace("/", "_"))
            ok = False
for s, name in ((tcp, "tcp"), (uab, "abstract")):
    try:
        s.accept()
        print("CHECK victim_%s ESCAPED someone connected" % name)
        ok = False
    except BlockingIOError:
        pass
print("CHECK victim %s" % ("OK" if ok and shmid >= 0 else "FAILED shmid=%d" % shmid), flush=True)
print("DONE", flush=True)
