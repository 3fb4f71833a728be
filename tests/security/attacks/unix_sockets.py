# Host unix sockets in a bound directory: connect/sendto/sendmsg to them by
# every spelling of the path, then the sandbox's own sockets.  HOSTDIR is
# where the host directory is bound; it holds s.sock (a stream listener) and
# d.sock (a datagram socket).  A host-socket case reports REACHED or
# BLOCKED <errno>: the C test judges (refused by default, reached with the
# bind's "sockets" option) and counts what the host received.
import os

H = os.environ["HOSTDIR"]
ST, DG = socket.SOCK_STREAM, socket.SOCK_DGRAM


def host(name, kind, path, cwd="/", how="connect"):
    os.chdir(cwd)
    s = socket.socket(socket.AF_UNIX, kind)
    s.settimeout(5)
    try:
        if kind == ST:
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
os.symlink(H + "/d.sock", "/tmp/link_d.sock")
os.symlink(H, "/tmp/link_dir")
for kind, tag, f in ((ST, "stream", "s.sock"), (DG, "dgram", "d.sock")):
    how = "connect" if kind == ST else "sendto"
    host(tag + "_absolute", kind, H + "/" + f, how=how)
    host(tag + "_relative", kind, f, cwd=H, how=how)
    host(tag + "_symlink", kind, "/tmp/link_" + f, how=how)
    host(tag + "_symlink_dir", kind, "link_dir/" + f, cwd="/tmp", how=how)
    host(tag + "_dotdot", kind, "/tmp/.." + H + "/" + f, how=how)
    host(tag + "_other_cwd", kind, "../.." + H + "/" + f, cwd="/workspace/..//tmp", how=how)
host("dgram_sendmsg", DG, H + "/d.sock", how="sendmsg")
host("dgram_connect", DG, H + "/d.sock", how="dgram_connect")


def own(name, fn):
    try:
        fn()
        say(name, "OK")
    except OSError as e:
        say(name, "FAILED " + ename(e.errno))


def own_stream(path):
    srv = socket.socket(socket.AF_UNIX, ST)
    srv.bind(path)
    srv.listen(1)
    c = socket.socket(socket.AF_UNIX, ST)
    c.connect(path)
    c.sendall(b"ping")
    a, _ = srv.accept()
    if a.recv(4) != b"ping":
        raise OSError(errno.EIO, "wrong data")
    for x in (a, c, srv):
        x.close()


def own_dgram(path):
    r = socket.socket(socket.AF_UNIX, DG)
    r.bind(path)
    s = socket.socket(socket.AF_UNIX, DG)
    s.sendto(b"ping", path)
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


def write_in_bind():
    try:
        open(H + "/planted", "w").close()
        say("write_in_bind", "ESCAPED wrote a file")
    except OSError as e:
        say("write_in_bind", "BLOCKED " + ename(e.errno))


write_in_bind()
own("own_stream_tmp", lambda: own_stream("/tmp/own_s.sock"))
own("own_dgram_tmp", lambda: own_dgram("/tmp/own_d.sock"))
own("own_stream_workspace", lambda: own_stream("/workspace/own_s.sock"))
own("own_dgram_workspace", lambda: own_dgram("/workspace/own_d.sock"))
own("own_stream_relative", lambda: (os.chdir("/tmp"), own_stream("rel_s.sock")))
own("own_stream_abstract", lambda: own_stream("\0petri-unix-sockets-test"))
own("own_dgram_abstract", lambda: own_dgram("\0petri-unix-sockets-test-d"))
own("own_tcp_loopback", own_tcp)
print("DONE")
