# The two tenants of test_recycle_zero_state, in one file so that what A
# leaves and what B looks for cannot drift apart.
#
# RECYCLE_MODE=plant (tenant A): leaves a trace of every kind it can, and
#   says "CHECK plant_<trace> OK [detail]" for each, or "BLOCKED <errno>"
#   where the sandbox refuses it (keyrings, net sysctls).  Background
#   processes try to outlive the exec (double fork + setsid, SIGTERM and
#   SIGHUP ignored, a process that re-forks in a loop, one stopped with
#   SIGSTOP, one in a new session holding fds, sockets, an inotify
#   instance, timers and an unlinked file); the plant waits until each is
#   set up before it reports.
# RECYCLE_MODE=look (tenant B): looks for each trace and says
#   "CHECK trace_<trace> CLEAN" or "CHECK trace_<trace> LEAKED <what>".
# RECYCLE_MODE=network: uses lo (datagrams, TCP connections aborted with
#   RST, one closed gracefully whose TIME_WAIT it then removes with a SYN,
#   RFC 1337), so that no socket and no TIME_WAIT is left, only the
#   namespace's counters and its TCP metrics entry (the pool must not
#   recycle its sandbox).
# RECYCLE_MODE=timewait: leaves a TCP connection in TIME_WAIT (the pool
#   must not recycle its sandbox).
# RECYCLE_MODE=inflight: leaves a TCP listener and an abstract unix socket
#   alive only as file descriptors in flight (SCM_RIGHTS) inside a cycle of
#   unix sockets no process holds any more.
import os
import signal
import stat
import struct
import sys
import time

TAG = "petri-trace"
KEY = 0x7ACE0001
DIRS = ("/tmp", "/workspace", "/home/sandbox", "/dev/shm")
PORTS = {"tcp4": ("127.0.0.1", 47001), "tcp6": ("::1", 47002), "udp4": ("127.0.0.1", 47003),
         "inflight_tcp": ("127.0.0.1", 47004), "tw": ("127.0.0.1", 47010),
         "metrics": ("127.0.0.1", 47030)}
ABSTRACT = "\0petri-trace-abstract"
ABSTRACT_DGRAM = "\0petri-trace-abstract-dgram"
ABSTRACT_INFLIGHT = "\0petri-trace-inflight"
PATH_SOCKS = ("/tmp/%s.sock" % TAG, "/workspace/%s.sock" % TAG)
MQ_NAME = b"/petri-trace-mq"
POSIX_SHM = "/dev/shm/petri-trace-posix-shm"
GHOST = "petri-ghost"
FLOWLABEL = 0x0ABCD

libc.shmget.argtypes = [ctypes.c_int, ctypes.c_size_t, ctypes.c_int]
libc.shmat.restype = ctypes.c_void_p
libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
libc.shmdt.argtypes = [ctypes.c_void_p]
libc.mq_open.restype = ctypes.c_int
libc.mq_send.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint]
IPC_CREAT, IPC_EXCL, IPC_RMID = 0o1000, 0o2000, 0


def setname(name):
    libc.prctl(15, name.encode(), 0, 0, 0)  # PR_SET_NAME


def daemon(body, name):
    """Run body() in a daemon (double fork + setsid); returns once the
    daemon said it is set up (through a pipe), with its verdict."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            if os.fork() > 0:
                os._exit(0)
            os.setsid()
            if os.fork() > 0:
                os._exit(0)
            setname(name)
            for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGPIPE):
                signal.signal(sig, signal.SIG_IGN)
            body(w)
        except BaseException as e:  # report, never return into the plant
            try:
                os.write(w, ("FAILED %r\n" % (e,)).encode())
            except OSError:
                pass
        os._exit(0)
    os.close(w)
    os.waitpid(pid, 0)
    with os.fdopen(r) as f:
        line = f.readline().strip()
    return line or "FAILED no word from the daemon"


def hold_forever(w, keep):
    os.write(w, b"OK\n")
    os.close(w)
    while True:
        signal.pause()


def d_sockets(w):
    keep = []
    for fam, typ, addr in ((socket.AF_INET, socket.SOCK_STREAM, PORTS["tcp4"]),
                           (socket.AF_INET6, socket.SOCK_STREAM, PORTS["tcp6"])):
        s = socket.socket(fam, typ)
        s.bind(addr)
        s.listen(16)
        keep.append(s)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(PORTS["udp4"])
    keep.append(u)
    a = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    a.bind(ABSTRACT)
    a.listen(4)
    keep.append(a)
    ad = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ad.bind(ABSTRACT_DGRAM)
    keep.append(ad)
    for p in PATH_SOCKS:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(p)
        s.listen(4)
        keep.append(s)
    hold_forever(w, keep)


def d_stubborn(w):
    # SIGTERM/SIGHUP ignored (daemon()); holds fds of every kind.
    keep = [open("/tmp/%s.held" % TAG, "wb"), open("/workspace/%s.held" % TAG, "wb")]
    f = open("/dev/shm/%s.unlinked" % TAG, "wb")
    f.write(b"u" * (1 << 20))
    f.flush()
    os.unlink(f.name)
    keep.append(f)
    keep.append(libc.inotify_init1(0))
    libc.inotify_add_watch(keep[-1], b"/tmp", 0xFFF)
    keep.append(libc.timerfd_create(1, 0))
    signal.setitimer(signal.ITIMER_REAL, 3600)
    keep.append(os.eventfd(0))
    keep.append(os.memfd_create("petri-trace-memfd"))
    os.pipe()
    hold_forever(w, keep)


def d_reforker(w):
    os.write(w, b"OK\n")
    os.close(w)
    while True:
        time.sleep(0.005)
        try:
            if os.fork() > 0:
                os._exit(0)
        except OSError:
            pass


def d_stopped(w):
    os.write(w, b"OK\n")
    os.close(w)
    os.kill(os.getpid(), signal.SIGSTOP)
    while True:
        signal.pause()


def d_children(w):
    # A process group of its own with children that outlive their parent.
    for _ in range(3):
        if os.fork() == 0:
            setname(GHOST + "-kid")
            while True:
                signal.pause()
    hold_forever(w, [])


def plant():
    say("plant_env_sandbox", os.environ.get("TENANT_A_SECRET", "MISSING"))
    say("plant_env_exec", os.environ.get("EXEC_A_SECRET", "MISSING"))
    # System V IPC: a keyed and a private segment, semaphores, a queue.
    shm = libc.shmget(KEY, 65536, IPC_CREAT | 0o666)
    shp = libc.shmget(0, 65536, IPC_CREAT | 0o600)
    ok = shm >= 0 and shp >= 0
    if ok:
        a = libc.shmat(shm, None, 0)
        ctypes.memmove(a, b"secret of tenant A", 18)
        libc.shmdt(ctypes.c_void_p(a))
    say("plant_sysv_shm", "OK" if ok else "FAILED " + ename(ctypes.get_errno()))
    sem = libc.semget(KEY, 3, IPC_CREAT | 0o666)
    ok = sem >= 0 and libc.semctl(sem, 1, 16, 7) == 0  # SETVAL
    say("plant_sysv_sem", "OK" if ok else "FAILED " + ename(ctypes.get_errno()))
    msq = libc.msgget(KEY, IPC_CREAT | 0o666)

    class Msg(ctypes.Structure):
        _fields_ = [("mtype", ctypes.c_long), ("mtext", ctypes.c_char * 32)]

    m = Msg(1, b"secret of tenant A")
    ok = msq >= 0 and libc.msgsnd(msq, ctypes.byref(m), 32, 0) == 0
    say("plant_sysv_msg", "OK" if ok else "FAILED " + ename(ctypes.get_errno()))
    # POSIX: a message queue with a message in it, a shm object.
    mq = libc.mq_open(MQ_NAME, os.O_CREAT | os.O_RDWR, 0o666, None)
    ok = mq >= 0 and libc.mq_send(mq, b"secret of tenant A", 18, 0) == 0
    # (Landlock refuses the open of the queue, EACCES, after the kernel made
    # it: the queue is there all the same, and B looks for it.)
    say("plant_posix_mq", "OK" if ok else "BLOCKED " + ename(ctypes.get_errno()))
    # The per-user POSIX queue bytes (RLIMIT_MSGQUEUE, counted in the
    # sandbox's user namespace, which a recycle keeps): fill them up.
    n, e = 0, 0
    while n < 64:
        q = libc.mq_open(b"/petri-trace-fill-%d" % n, os.O_CREAT | os.O_RDWR, 0o600, None)
        e = ctypes.get_errno() if q < 0 else 0
        if q < 0 and e != errno.EACCES:
            break
        n += 1
    say("plant_mq_quota", "OK %d queues, then %s" % (n, ename(e)) if e in (errno.EMFILE, errno.ENOMEM)
        else "FAILED %d queues, then %s" % (n, ename(e) if e else "no limit"))
    fd = os.open(POSIX_SHM, os.O_CREAT | os.O_RDWR, 0o666)
    os.write(fd, b"secret of tenant A")
    os.close(fd)
    say("plant_posix_shm", "OK")
    # xattrs on the writable roots and on a file.
    try:
        for d in DIRS:
            os.setxattr(d, "user.petri-trace", b"tenant A")
        say("plant_xattr", "OK")
    except OSError as e:
        say("plant_xattr", "BLOCKED " + ename(e.errno))
    # tmpfs memory charged to the cgroup.
    try:
        for d, mib in (("/tmp", 40), ("/dev/shm", 16), ("/workspace", 16), ("/home/sandbox", 8)):
            with open(d + "/%s.big" % TAG, "wb") as f:
                for _ in range(mib):
                    f.write(os.urandom(1 << 20))
        say("plant_memory", "OK 80MiB")
    except OSError as e:
        say("plant_memory", "FAILED " + ename(e.errno))
    # Kernel keyrings: the profile denies them; if it ever lets them
    # through, the key is the trace.
    libc.syscall.argtypes = None
    r = libc.syscall(248, b"user", b"petri-trace", b"tenant A", 8, -4)  # add_key @u
    say("plant_keyring", "OK" if r >= 0 else "BLOCKED " + ename(ctypes.get_errno()))
    r = libc.syscall(248, b"user", b"petri-trace-s", b"tenant A", 8, -3)  # @s
    say("plant_keyring_session", "OK" if r >= 0 else "BLOCKED " + ename(ctypes.get_errno()))
    # Network namespace sysctls a uid 1000 might change.
    for knob, val in (("ipv4/ping_group_range", "0 2147483647"), ("ipv4/ip_local_port_range", "40000 40001"),
                      ("ipv4/tcp_syncookies", "0"), ("core/somaxconn", "1")):
        try:
            with open("/proc/sys/net/" + knob, "w") as f:
                f.write(val)
            say("plant_sysctl_" + knob.replace("/", "_"), "OK")
        except OSError as e:
            say("plant_sysctl_" + knob.replace("/", "_"), "BLOCKED " + ename(e.errno))
    try:
        socket.sethostname("tenant-a")
        say("plant_hostname", "OK")
    except OSError as e:
        say("plant_hostname", "BLOCKED " + ename(e.errno))
    # Background processes that try to survive.
    say("plant_sockets", daemon(d_sockets, GHOST + "-sock"))
    say("plant_stubborn", daemon(d_stubborn, GHOST + "-fds"))
    say("plant_reforker", daemon(d_reforker, GHOST + "-fork"))
    say("plant_stopped", daemon(d_stopped, GHOST + "-stop"))
    say("plant_children", daemon(d_children, GHOST + "-pg"))
    time.sleep(0.2)
    n = sum(1 for p in os.listdir("/proc") if p.isdigit() and comm(p).startswith(GHOST))
    say("plant_ghosts", "OK %d" % n if n >= 7 else "FAILED %d" % n)
    print("DONE", flush=True)


def flowlabel():
    # An IPv6 flow label shared with anyone (IPV6_FL_S_ANY) that lingers
    # 150 s (FL_MAX_LINGER, allowed without privilege) after its socket:
    # state of the network namespace that is not a socket.  The reset must
    # refuse such a sandbox (it keeps the network namespace).
    try:
        fl = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        req = (socket.inet_pton(socket.AF_INET6, "::1") + struct.pack("!I", FLOWLABEL) +
               struct.pack("=BBHHHI", 0, 255, 1, 150, 150, 0))  # GET, S_ANY, F_CREATE
        fl.setsockopt(socket.IPPROTO_IPV6, 32, req)  # IPV6_FLOWLABEL_MGR
        fl.close()
        say("plant_flowlabel", "OK" if flowlabels() else "FAILED not listed")
    except OSError as e:
        say("plant_flowlabel", "BLOCKED " + ename(e.errno))
    print("DONE", flush=True)


def flowlabels():
    try:
        with open("/proc/net/ip6_flowlabel") as f:
            return [" ".join(r.split()) for r in f.read().splitlines()[1:]]
    except FileNotFoundError:
        return []


def tcp_metrics():
    import subprocess
    r = subprocess.run(["ip", "tcp_metrics", "show"], capture_output=True, text=True)
    return [" ".join(x.split()) for x in r.stdout.splitlines()] if r.returncode == 0 else ["ip: " + r.stderr.strip()]


def tcp_metrics_trace():
    srv = socket.socket()
    srv.bind(PORTS["metrics"])
    srv.listen(4)
    c = socket.socket()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    c.bind(("127.0.0.1", 0))
    port = c.getsockname()[1]
    c.connect(PORTS["metrics"])
    a, _ = srv.accept()
    c.sendall(b"x" * 100000)
    got = 0
    while got < 100000:
        got += len(a.recv(1 << 20))
    a.shutdown(socket.SHUT_WR)
    c.recv(16)
    c.close()  # LAST_ACK, then closed: its metrics are saved
    time.sleep(0.1)
    a.close()  # the kernel keeps a's TIME_WAIT
    n = socket.socket()
    n.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    n.bind(("127.0.0.1", port))
    n.connect(PORTS["metrics"])  # the SYN that replaces the TIME_WAIT
    a2, _ = srv.accept()
    for x in (n, a2):
        x.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        x.close()
    srv.close()
    time.sleep(0.1)
    with open("/proc/net/sockstat") as f:
        tw = f.read().split("tw ")[1].split()[0]
    m = tcp_metrics()
    return "OK tw=%s %s" % (tw, m[0]) if tw == "0" and m else "FAILED tw=%s metrics=%s" % (tw, m)


def lo_bytes():
    with open("/proc/net/dev") as f:
        for line in f:
            name, _, rest = line.partition(":")
            if name.strip() == "lo":
                v = rest.split()
                return "rx=%s tx=%s" % (v[0], v[8])
    return "no lo"


def snmp(table, field):
    with open("/proc/net/snmp") as f:
        rows = [r.split() for r in f if r.startswith(table + ":")]
    return int(rows[1][rows[0].index(field)])


def comm(pid):
    try:
        with open("/proc/%s/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return ""


def leaked(name, what):
    say("trace_" + name, "LEAKED " + what if what else "CLEAN")


def look():
    # Environment (sandbox and exec).
    leaked("env", " ".join(k for k in os.environ if k in ("TENANT_A_SECRET", "EXEC_A_SECRET")))
    # Files: anything of tenant A anywhere in a writable place.
    for d in DIRS:
        found = []
        for root, dirs, files in os.walk(d):
            for n in dirs + files:
                if TAG in n or n.startswith(".") or n.endswith(".py"):
                    found.append(os.path.join(root, n))
        leaked("files" + d.replace("/", "_"), " ".join(sorted(found))[:300])
    st = [(d, os.stat(d)) for d in DIRS]
    leaked("root_modes", " ".join("%s=%o" % (d, stat.S_IMODE(s.st_mode)) for d, s in st
                                  if stat.S_IMODE(s.st_mode) not in (0o1777, 0o755)))
    leaked("root_times", " ".join("%s=%d" % (d, s.st_mtime) for d, s in st
                                  if s.st_mtime < time.time() - 3600))
    xa = []
    for d in DIRS:
        try:
            xa += ["%s:%s" % (d, x) for x in os.listxattr(d)]
        except OSError:
            pass
    leaked("xattr", " ".join(xa))
    # System V IPC, by key and by listing.
    found = []
    for what, r in (("shm", libc.shmget(KEY, 0, 0)), ("sem", libc.semget(KEY, 0, 0)),
                    ("msg", libc.msgget(KEY, 0))):
        if r >= 0:
            found.append("%s id %d" % (what, r))
    for f in ("shm", "sem", "msg"):
        with open("/proc/sysvipc/" + f) as fh:
            rows = fh.read().splitlines()[1:]
        if rows:
            found.append("/proc/sysvipc/%s: %d rows" % (f, len(rows)))
    leaked("sysv_ipc", "; ".join(found))
    mq = libc.mq_open(MQ_NAME, os.O_RDONLY, 0, None)
    leaked("posix_mq", "" if mq < 0 and ctypes.get_errno() == errno.ENOENT else
           "mq_open: %s" % (mq if mq >= 0 else ename(ctypes.get_errno())))
    leaked("posix_shm", POSIX_SHM if os.path.exists(POSIX_SHM) else "")
    # The queue bytes A used up are free again: a new queue is refused by
    # Landlock (EACCES, once made) or made, never EMFILE.
    q = libc.mq_open(b"/petri-trace-look", os.O_CREAT | os.O_RDWR, 0o600, None)
    e = ctypes.get_errno()
    if q >= 0:
        os.close(q)
        libc.mq_unlink(b"/petri-trace-look")
    leaked("mq_quota", "" if q >= 0 or e == errno.EACCES else "mq_open O_CREAT: " + ename(e))
    # Sockets: nothing listed in the namespace, every name free.
    found = []
    for f in ("tcp", "tcp6", "udp", "udp6", "raw", "raw6", "unix", "packet"):
        with open("/proc/net/" + f) as fh:
            rows = fh.read().splitlines()[1:]
        if rows:
            found.append("/proc/net/%s: %s" % (f, " | ".join(" ".join(r.split()[:6]) for r in rows)[:200]))
    leaked("net_sockets", "; ".join(found))
    busy = []
    for fam, typ, addr in ((socket.AF_INET, socket.SOCK_STREAM, PORTS["tcp4"]),
                           (socket.AF_INET6, socket.SOCK_STREAM, PORTS["tcp6"]),
                           (socket.AF_INET, socket.SOCK_DGRAM, PORTS["udp4"]),
                           (socket.AF_INET, socket.SOCK_STREAM, PORTS["inflight_tcp"]),
                           (socket.AF_UNIX, socket.SOCK_STREAM, ABSTRACT),
                           (socket.AF_UNIX, socket.SOCK_DGRAM, ABSTRACT_DGRAM),
                           (socket.AF_UNIX, socket.SOCK_STREAM, ABSTRACT_INFLIGHT)):
        s = socket.socket(fam, typ)
        try:
            s.bind(addr)
        except OSError as e:
            busy.append("%r %s" % (addr, ename(e.errno)))
        s.close()
    leaked("net_names", "; ".join(busy))
    leaked("ip6_flowlabel", "; ".join(flowlabels()))
    leaked("tcp_metrics", "; ".join(tcp_metrics()))
    conn = []
    for addr in (ABSTRACT, ABSTRACT_INFLIGHT):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(addr)
            conn.append("%r accepted" % addr)
        except OSError:
            pass
        s.close()
    leaked("net_connect", "; ".join(conn))
    # The network namespace's counters: A's traffic must not show.
    cnt = {"lo": lo_bytes(), "Tcp.ActiveOpens": snmp("Tcp", "ActiveOpens"),
           "Udp.InDatagrams": snmp("Udp", "InDatagrams"), "Ip.InReceives": snmp("Ip", "InReceives")}
    leaked("net_counters", "" if cnt["lo"] == "rx=0 tx=0" and cnt["Tcp.ActiveOpens"] == 0 and
           cnt["Udp.InDatagrams"] == 0 and cnt["Ip.InReceives"] == 0 else
           " ".join("%s=%s" % kv for kv in sorted(cnt.items())))
    # Processes: only this exec's own.
    mine = {os.getpid(), os.getppid(), 1}
    others = ["%s:%s" % (p, comm(p)) for p in os.listdir("/proc")
              if p.isdigit() and int(p) not in mine]
    leaked("processes", " ".join(others))
    leaked("ghosts", " ".join(p for p in others if GHOST in p))
    # Keyrings: the denial, or no key of A.
    r = libc.syscall(250, 0, -4, 0)  # KEYCTL_GET_KEYRING_ID @u
    e = ctypes.get_errno()
    if r >= 0:
        k = libc.syscall(250, 10, r, b"user", b"petri-trace", 0)  # KEYCTL_SEARCH
        leaked("keyring", "key %d found" % k if k >= 0 else "")
    else:
        say("trace_keyring", "CLEAN denied " + ename(e))
    # Exec-local settings of A: umask, rlimits, cwd.
    um = os.umask(0o22)
    leaked("umask", "" if um == 0o22 else "%o" % um)
    import resource
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)
    leaked("rlimit_nofile", "" if nofile == (1024, 1024) else repr(nofile))
    leaked("cwd", "" if os.getcwd() == "/workspace" else os.getcwd())
    # Hostname and the net sysctls A tried.
    leaked("hostname", "" if socket.gethostname() == "petri" else socket.gethostname())
    vals = {}
    for knob in ("ipv4/ping_group_range", "ipv4/ip_local_port_range", "ipv4/tcp_syncookies",
                 "core/somaxconn"):
        with open("/proc/sys/net/" + knob) as f:
            vals[knob] = " ".join(f.read().split())
    say("trace_sysctls", "VALUES " + ";".join("%s=%s" % kv for kv in sorted(vals.items())))
    print("DONE", flush=True)


def network():
    # What the network namespace keeps of a tenant that used it without
    # leaving a socket or a TIME_WAIT (the pool discards such a sandbox:
    # its counters moved).
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(PORTS["udp4"])
    t = socket.socket()
    t.bind(PORTS["tcp4"])
    t.listen(16)
    # Traffic on lo that leaves no socket behind: datagrams to a UDP
    # socket, TCP connections ended by RST (SO_LINGER 0: no
    # TIME_WAIT), so the namespace's counters are all that remain.
    try:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for _ in range(100):
            u.sendto(b"x" * 1000, PORTS["udp4"])
        u.close()
        for _ in range(10):
            c = socket.create_connection(PORTS["tcp4"])
            c.sendall(b"y" * 10000)
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.close()
        say("plant_traffic", "OK %s" % lo_bytes())
    except OSError as e:
        say("plant_traffic", "FAILED " + ename(e.errno))
    # A TCP connection closed gracefully leaves a TIME_WAIT (the pool
    # would discard the sandbox): kill it the way RFC 1337 describes, with
    # a SYN from the same port that the listener accepts, then abort that
    # connection (RST, no TIME_WAIT).  What stays is the namespace's TCP
    # metrics cache entry for 127.0.0.1, saved at the close.
    try:
        say("plant_tcp_metrics", tcp_metrics_trace())
    except OSError as e:
        say("plant_tcp_metrics", "FAILED " + ename(e.errno))
    t.close()
    rx.close()
    print("DONE", flush=True)


def timewait():
    srv = socket.socket()
    srv.bind(PORTS["tw"])
    srv.listen(1)
    c = socket.create_connection(PORTS["tw"])
    a, _ = srv.accept()
    c.close()  # the active closer ends in TIME_WAIT
    a.close()
    srv.close()
    time.sleep(0.2)
    with open("/proc/net/tcp") as f:
        states = [r.split()[3] for r in f.read().splitlines()[1:]]
    say("plant_timewait", "OK" if "06" in states else "FAILED states %s" % states)
    print("DONE", flush=True)


def inflight():
    # A listener and an abstract socket whose only references are in the
    # receive queue of a socket pair that is itself in flight on its own
    # queue: no process holds any of them.
    tcp = socket.socket()
    tcp.bind(PORTS["inflight_tcp"])
    tcp.listen(1)
    ab = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ab.bind(ABSTRACT_INFLIGHT)
    ab.listen(1)
    x, y = socket.socketpair()
    socket.send_fds(x, [b"t"], [tcp.fileno(), ab.fileno(), x.fileno(), y.fileno()])
    socket.send_fds(y, [b"t"], [x.fileno(), y.fileno()])
    for s in (tcp, ab, x, y):
        s.close()
    with open("/proc/net/tcp") as f:
        listening = any(r.split()[3] == "0A" for r in f.read().splitlines()[1:])
    say("plant_inflight", "OK" if listening else "FAILED the listener is already gone")
    print("DONE", flush=True)


{"plant": plant, "look": look, "network": network, "timewait": timewait,
 "inflight": inflight, "flowlabel": flowlabel}[os.environ["RECYCLE_MODE"]]()
