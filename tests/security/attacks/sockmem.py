# Untrusted code: park data in the kernel instead of in our own memory --
# loopback TCP connections whose receiver never reads, each filled until
# send() would block.  Kernel socket buffers must count against the
# sandbox's memory limit like any other memory.  Bounded (SOCKMEM_CAP_MIB,
# far below the host's TCP memory pressure threshold) so that a sandbox
# without the protection still does the host no harm.
import os
import socket

cap = int(os.environ.get("SOCKMEM_CAP_MIB", "256")) << 20
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(1024)
conns = []
total = 0
chunk = b"x" * 65536
stopped = "cap"
while total < cap:
    try:
        c = socket.socket()
        c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        c.connect(srv.getsockname())
        a, _ = srv.accept()
        a.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        c.setblocking(False)
        queued = 0
        while total < cap:
            try:
                n = c.send(chunk)
            except BlockingIOError:
                break
            queued += n
            total += n
        conns.append((c, a))
        if queued == 0:
            stopped = "no room"
            break
    except OSError as e:
        stopped = "error " + str(e.errno)
        break
    if len(conns) % 16 == 0:
        print("queued MiB", total >> 20, flush=True)
print("CHECK sockmem QUEUED %d MiB in %d connections (%s)" % (total >> 20, len(conns), stopped),
      flush=True)
print("DONE", flush=True)
