# Host unix sockets in a bound directory: connect/sendto/sendmsg to them by
# every spelling of the path, then the sandbox's own sockets.  HOSTDIR is
# where the host directory is (a bind, the workspace directory or a
# directory of a custom root); it holds s.sock (a stream listener), q.sock
# (a seqpacket listener) and d.sock (a datagram socket).  WRITABLE=1 when
# the code may write there: it then makes listeners of its own in it too.
# A host-socket case reports REACHED or BLOCKED <errno>: the C test judges
# (refused by default, reached with the bind's "sockets" option) and counts
# what the host received.
import os
import struct
import threading
from multiprocessing.connection import Client, Listener

H = os.environ["HOSTDIR"]
WRITABLE = os.environ.get("WRITABLE") == "1"
ST, SQ, DG = socket.SOCK_STREAM, socket.SOCK_SEQPACKET, socket.SOCK_DGRAM


def host(name, kind, path, cwd="/", how="connect"):
    os.chdir(cwd)
    s = socket.socket(socket.AF_UNIX, kind)
    s.settimeout(5)
    try:
        if kind != DG:
            s.connect(path)
            s.sendall(b"hello")
        elif how == "sendto":
            s.sendto(b"hello", path)
        elif how == "sendmsg":
            s.sendmsg([b"hello"], [], 0, path)
        else:  # connect, then send
            s.connect(path)
            s.send(b"hello")
        say(name, "REACHED")
    except OSError as e:
        say(name, "BLOCKED " + ename(e.errno))
    finally:
        s.close()
        os.chdir("/")


os.symlink(H + "/s.sock", "/tmp/link_s.sock")
os.symlink(H + "/q.sock", "/tmp/link_q.sock")
os.symlink(H + "/d.sock", "/tmp/link_d.sock")
os.symlink(H, "/tmp/link_dir")
for kind, tag, f in ((ST, "stream", "s.sock"), (SQ, "seqpacket", "q.sock"), (DG, "dgram", "d.sock")):
    how = "sendto" if kind == DG else "connect"
    host(tag + "_absolute", kind, H + "/" + f, how=how)
    host(tag + "_relative", kind, f, cwd=H, how=how)
    host(tag + "_symlink", kind, "/tmp/link_" + f, how=how)
    host(tag + "_symlink_dir", kind, "link_dir/" + f, cwd="/tmp", how=how)
    host(tag + "_dotdot", kind, "/tmp/.." + H + "/" + f, how=how)
    host(tag + "_other_cwd", kind, "../.." + H + "/" + f, cwd="/workspace/..//tmp", how=how)
    host(tag + "_proc_cwd", kind, "/proc/self/cwd/" + f, cwd=H, how=how)
host("dgram_sendmsg", DG, H + "/d.sock", how="sendmsg")
host("dgram_connect", DG, H + "/d.sock", how="dgram_connect")


def own(name, fn):
    try:
        fn()
        say(name, "OK")
    except OSError as e:
        say(name, "FAILED " + ename(e.errno))


def own_pair(kind, path):
    """A listener of @kind at @path, a client connected to it, the accepted end."""
    srv = socket.socket(socket.AF_UNIX, kind)
    srv.bind(path)
    srv.listen(1)
    c = socket.socket(socket.AF_UNIX, kind)
    c.connect(path)
    a, _ = srv.accept()
    return srv, c, a


def own_stream(path):
    srv, c, a = own_pair(ST, path)
    c.sendall(b"ping")
    if a.recv(4) != b"ping":
        raise OSError(errno.EIO, "wrong data")
    for x in (a, c, srv):
        x.close()


def own_dgram(path, how="sendto"):
    r = socket.socket(socket.AF_UNIX, DG)
    r.bind(path)
    s = socket.socket(socket.AF_UNIX, DG)
    if how == "sendto":
        s.sendto(b"ping", path)
    else:
        s.sendmsg([b"ping"], [], 0, path)
    if r.recv(4) != b"ping":
        raise OSError(errno.EIO, "wrong data")
    r.close()
    s.close()


def own_seqpacket_sendto(path):
    """sendto() on a connected seqpacket socket: the kernel ignores the address."""
    srv, c, a = own_pair(SQ, path)
    if c.sendto(b"ping", "/tmp/no-such-socket") != 4 or a.recv(4) != b"ping":
        raise OSError(errno.EIO, "wrong data")
    for x in (a, c, srv):
        x.close()


def own_dgram_connected(path):
    """A datagram socket connect()ed to one of the sandbox's own, then send()."""
    r = socket.socket(socket.AF_UNIX, DG)
    r.bind(path)
    s = socket.socket(socket.AF_UNIX, DG)
    s.connect(path)
    s.send(b"ping")
    if r.recv(4) != b"ping":
        raise OSError(errno.EIO, "wrong data")
    r.close()
    s.close()


def own_tcp():
    srv = socket.socket(socket.AF_INET, ST)
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    c = socket.create_connection(srv.getsockname(), timeout=5)
    a, _ = srv.accept()
    a.close()
    c.close()
    srv.close()


def pair(srv, kind, addr, cwd="/"):
    """Connect to listener @srv by @addr from @cwd; (client, accepted)."""
    os.chdir(cwd)
    try:
        c = socket.socket(socket.AF_UNIX, kind)
        c.settimeout(5)
        c.connect(addr)
        a, _ = srv.accept()
        a.settimeout(5)
        return c, a
    finally:
        os.chdir("/")


def both_ways(c, a):
    c.sendall(b"ping")
    if a.recv(4) != b"ping":
        raise OSError(errno.EIO, "wrong data to the server")
    a.sendall(b"pong")
    if c.recv(4) != b"pong":
        raise OSError(errno.EIO, "wrong data to the client")


def own_listener(kind, tag, d):
    """A listener of the sandbox's own in directory @d: data both ways by an
    absolute and a relative path, the server's view of the client's
    credentials, a non-blocking connect's result, the client's peer name."""
    name = "own_%s_%s" % ("stream" if kind == ST else "seqpacket", tag)
    path = d + "/" + name + ".sock"
    srv = socket.socket(socket.AF_UNIX, kind)
    srv.settimeout(5)
    try:
        srv.bind(path)
        srv.listen(8)
    except OSError as e:
        say(name + "_listen", "FAILED " + ename(e.errno))
        return
    say(name + "_listen", "OK")

    def check(what, fn):
        try:
            c, a = pair(srv, kind, path if what != "relative" else os.path.basename(path),
                        cwd=d if what == "relative" else "/")
            with c, a:
                v = fn(c, a)
            say(name + "_" + what, v)
        except OSError as e:
            say(name + "_" + what, "FAILED " + ename(e.errno))

    def data(c, a):
        both_ways(c, a)
        return "OK"

    def peercred(c, a):
        raw = a.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
        _, uid, gid = struct.unpack("3i", raw)
        want = (os.getuid(), os.getgid())
        return "OK" if (uid, gid) == want else "FAILED uid %d gid %d, want %d %d" % (
            uid, gid, want[0], want[1])

    def peername(c, a):
        p = c.getpeername()
        return "OK" if p == path else "FAILED %r" % (p,)

    check("absolute", data)
    check("relative", data)
    check("peercred", peercred)
    check("peername", peername)
    c = socket.socket(socket.AF_UNIX, kind)
    c.setblocking(False)
    r = c.connect_ex(path)
    say(name + "_nonblock", "OK" if r == 0 else "FAILED " + ename(r))
    c.close()
    try:
        srv.accept()[0].close()
    except OSError:
        pass
    srv.close()


def own_mp_listener():
    """multiprocessing.connection with a path in /tmp."""
    got = []
    with Listener("/tmp/own_mp.sock", family="AF_UNIX") as ln:
        def serve():
            with ln.accept() as conn:
                got.append(conn.recv())
                conn.send("pong")
        t = threading.Thread(target=serve)
        t.start()
        with Client("/tmp/own_mp.sock", family="AF_UNIX") as c:
            c.send("ping")
            if c.recv() != "pong":
                raise OSError(errno.EIO, "wrong answer")
        t.join(10)
    if got != ["ping"]:
        raise OSError(errno.EIO, "the server got %r" % (got,))


def write_in_bind():
    try:
        open(H + "/planted", "w").close()
        say("write_in_bind", "ESCAPED wrote a file")
    except OSError as e:
        say("write_in_bind", "BLOCKED " + ename(e.errno))


if not WRITABLE:
    write_in_bind()
own("own_stream_tmp", lambda: own_stream("/tmp/own_s.sock"))
own("own_dgram_tmp", lambda: own_dgram("/tmp/own_d.sock"))
own("own_stream_workspace", lambda: own_stream("/workspace/own_s.sock"))
own("own_dgram_workspace", lambda: own_dgram("/workspace/own_d.sock"))
own("own_dgram_sendmsg_tmp", lambda: own_dgram("/tmp/own_dm.sock", how="sendmsg"))
if WRITABLE:
    own("own_dgram_hostdir", lambda: own_dgram(H + "/own_d.sock"))
own("own_stream_relative", lambda: (os.chdir("/tmp"), own_stream("rel_s.sock")))
own("own_stream_abstract", lambda: own_stream("\0petri-unix-sockets-test"))
own("own_dgram_abstract", lambda: own_dgram("\0petri-unix-sockets-test-d"))
own("own_dgram_connected_tmp", lambda: own_dgram_connected("/tmp/own_dc.sock"))
own("own_seqpacket_sendto_tmp", lambda: own_seqpacket_sendto("/tmp/own_qs.sock"))
own("own_tcp_loopback", own_tcp)
own("own_mp_listener_tmp", own_mp_listener)
for kind in (ST, SQ):
    own_listener(kind, "tmp", "/tmp")
    own_listener(kind, "workspace", "/workspace")
    if WRITABLE:
        own_listener(kind, "hostdir", H)
print("DONE")
