# The probe battery of test_recycle_zero_state: a normalized picture of the
# sandbox it runs in, one fact per line "SECTION: fact".  Run in a recycled
# sandbox (after a tenant that left traces everywhere) and in a fresh one,
# the two pictures must be the same line for line, except the sections the
# C test lists as different by design (each with its reason).  It judges
# nothing itself.  Ends with "DONE".
#
# Normalized: no mount ids, no times, no pids of its own processes, no
# inode numbers of kernel objects; the sandbox's host ids (uid=/gid= in
# mount options) are replaced by HOSTID, since a recycled init keeps its id
# range while a fresh one has another.
export LC_ALL=C
p() { sed "s/^/$1: /"; }

id | p id
id -G | p groups
hostname | p hostname
cat /proc/sys/kernel/domainname | p domainname
grep -E '^(Uid|Gid|Groups|Cap[A-Za-z]*|NoNewPrivs|Seccomp|Seccomp_filters|Speculation_Store_Bypass|SpeculationIndirectBranch):' /proc/self/status | p status
ulimit -a | p ulimit
umask | p umask
pwd | p cwd
# The environment, sorted; values too (none differs by design for sh).
env | grep -v -E '^(PWD|SHLVL|_|OLDPWD)=' | sort | p env
# /proc/self/limits, the kernel's own account of every rlimit.
tail -n +2 /proc/self/limits | p limits

# Every writable place: every entry below it, with type, mode, owner, size,
# link count and link target (no times, no inode numbers).
for d in /tmp /workspace /home/sandbox /dev/shm /run/petri /dev /dev/pts /run /home /; do
	find "$d" -xdev -maxdepth 4 \( -path /proc -prune \) -o -printf "$d %y %m %u %g %s %n %P -> %l\n" 2>&1 | sort | p files
done
# Writable mount roots: mode, owner and mtime class (a fresh mount's root
# has the time it was mounted: only "recent" is compared).
for d in /tmp /workspace /home/sandbox /dev/shm; do
	m=$(stat -c '%a %U %G %h' "$d")
	age=$(($(date +%s) - $(stat -c %Y "$d")))
	[ "$age" -ge 0 ] && [ "$age" -lt 3600 ] && age=recent
	echo "$d $m mtime=$age" | p root
done

# System V IPC and POSIX message queues (the IPC namespace).
for f in shm sem msg; do sed 's/  */ /g' "/proc/sysvipc/$f" | p "sysvipc_$f"; done
for f in /proc/sys/kernel/shmmax /proc/sys/kernel/shmall /proc/sys/kernel/shmmni \
	/proc/sys/kernel/msgmax /proc/sys/kernel/msgmnb /proc/sys/kernel/msgmni \
	/proc/sys/kernel/sem /proc/sys/kernel/shm_next_id /proc/sys/kernel/msg_next_id \
	/proc/sys/kernel/sem_next_id /proc/sys/kernel/shm_rmid_forced \
	/proc/sys/fs/mqueue/*; do
	echo "$f $(cat "$f" 2>&1 | tr '\t' ' ')" | p ipc_sysctl
done
# Per-user counts of the user namespace.
for f in /proc/sys/user/*; do echo "$f $(cat "$f" 2>&1)"; done | p user_sysctl

# The network namespace: sockets (no inode numbers), interfaces and their
# counters, protocol counters, routes, every readable net sysctl.
for f in tcp tcp6 udp udp6 raw raw6 udplite udplite6; do
	awk 'NR > 1 { print $2, $3, $4 }' "/proc/net/$f" | sort | p "net_$f"
done
awk 'NR > 1 { print $2, $3, $4, $5, $6, $8 }' /proc/net/unix | sort | p net_unix
awk 'NR > 1 { print $2, $3, $4 }' /proc/net/netlink | sort | p net_netlink
awk 'NR > 1 { print $2, $3, $4 }' /proc/net/packet | sort | p net_packet
cat /proc/net/ip6_flowlabel | p net_ip6_flowlabel
cat /proc/net/dev | p net_dev
cat /proc/net/snmp /proc/net/netstat /proc/net/snmp6 | p net_counters
# sockstat: "alloc" and "mem" of TCP and UDP are the host's (the protocols'
# global counters), the rest is the namespace's own.
cat /proc/net/sockstat /proc/net/sockstat6 | sed -E 's/ (alloc|mem) [0-9]+//g' | p net_sockstat
grep -E '^(TCP|UDP):' /proc/net/sockstat | p net_sockstat_host
cat /proc/net/if_inet6 /proc/net/route /proc/net/ipv6_route /proc/net/fib_trie \
	/proc/net/arp /proc/net/igmp /proc/net/mcfilter \
	/proc/net/igmp6 /proc/net/mcfilter6 /proc/net/anycast6 2>&1 | p net_tables
# The TCP metrics cache of the namespace (rtt, cwnd per peer), no ages.
# (After sockstat: ip's netlink sockets are counted there until an RCU
# grace period after it exits.)
ip tcp_metrics show 2>&1 | sed -E 's/ age [0-9.]+sec//' | p net_tcp_metrics
# One python for what sh cannot do.
python3 - <<'EOF'
import ctypes, errno, os, socket, stat

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def p(sec, line):
    print("%s: %s" % (sec, line))


def err(e):
    return errno.errorcode.get(e, str(e))


# Every readable net sysctl (the network namespace's own).
for root, dirs, files in os.walk("/proc/sys/net"):
    dirs.sort()
    for f in sorted(files):
        path = os.path.join(root, f)
        try:
            with open(path) as fh:
                v = " ".join(fh.read().split())
        except OSError as e:
            v = "<%s>" % err(e.errno)
        p("net_sysctl", "%s %s" % (path, v))

# Processes visible in /proc (this exec's own pid namespace): comm, state
# and parent relation only.
procs = []
for d in os.listdir("/proc"):
    if not d.isdigit():
        continue
    try:
        with open("/proc/%s/stat" % d) as fh:
            s = fh.read()
        comm = s[s.index("(") + 1:s.rindex(")")]
        procs.append(comm)
    except OSError:
        pass
for c in sorted(procs):
    p("procs", c)

# The first IPC ids: their sequence numbers count every object the IPC
# namespace ever had, so a namespace someone used before answers higher.
libc.shmget.argtypes = [ctypes.c_int, ctypes.c_size_t, ctypes.c_int]
for name, make, rm in (
    ("shm", lambda: libc.shmget(0, 4096, 0o1600), lambda i: libc.shmctl(i, 0, None)),
    ("sem", lambda: libc.semget(0, 1, 0o1600), lambda i: libc.semctl(i, 0, 0)),
    ("msg", lambda: libc.msgget(0, 0o1600), lambda i: libc.msgctl(i, 0, None)),
):
    i = make()
    p("ipc_first_id", "%s %s" % (name, i if i >= 0 else err(ctypes.get_errno())))
    if i >= 0:
        rm(i)

# A new POSIX queue: Landlock refuses its open (EACCES) once the kernel
# made it; EMFILE would say the per-user queue bytes are used up.
libc.mq_open.restype = ctypes.c_int
q = libc.mq_open(b"/petri-probe-mq", os.O_CREAT | os.O_RDWR, 0o600, None)
p("mq_create", "ok" if q >= 0 else err(ctypes.get_errno()))
if q >= 0:
    os.close(q)
libc.mq_unlink(b"/petri-probe-mq")

# The inode number a new file gets in each writable tmpfs: a tmpfs counts
# its inodes, so one that held files before answers higher.
for d in ("/tmp", "/workspace", "/home/sandbox", "/dev/shm"):
    path = os.path.join(d, ".probe-inode")
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        p("new_inode", "%s %d" % (d, os.fstat(fd).st_ino))
        os.close(fd)
        os.unlink(path)
    except OSError as e:
        p("new_inode", "%s <%s>" % (d, err(e.errno)))

# Extended attributes of the writable roots.
for d in ("/tmp", "/workspace", "/home/sandbox", "/dev/shm"):
    try:
        p("xattr", "%s %s" % (d, sorted(os.listxattr(d))))
    except OSError as e:
        p("xattr", "%s <%s>" % (d, err(e.errno)))

# How many inotify instances the per-user count still allows (its limit is
# the sandbox's inotify_instances_max; instances leaked by an earlier
# tenant would be counted against it).
fds = []
while len(fds) < 4096:
    fd = libc.inotify_init1(0o2000000)
    if fd < 0:
        break
    fds.append(fd)
e = ctypes.get_errno()
p("inotify_capacity", "%d then %s" % (len(fds), err(e)))
for fd in fds:
    os.close(fd)

# Ports and names a previous tenant used: free to bind now?
for fam, typ, addr in (
    (socket.AF_INET, socket.SOCK_STREAM, ("127.0.0.1", 47001)),
    (socket.AF_INET6, socket.SOCK_STREAM, ("::1", 47002)),
    (socket.AF_INET, socket.SOCK_DGRAM, ("127.0.0.1", 47003)),
    (socket.AF_INET, socket.SOCK_STREAM, ("127.0.0.1", 47004)),
    (socket.AF_UNIX, socket.SOCK_STREAM, "\0petri-trace-abstract"),
    (socket.AF_UNIX, socket.SOCK_DGRAM, "\0petri-trace-abstract-dgram"),
    (socket.AF_UNIX, socket.SOCK_STREAM, "\0petri-trace-inflight"),
):
    s = socket.socket(fam, typ)
    try:
        s.bind(addr)
        v = "free"
    except OSError as ex:
        v = "<%s>" % err(ex.errno)
    s.close()
    p("bind", "%r %s" % (addr, v))

# What a few forbidden calls answer (seccomp, Landlock, read-only mounts).
SYS = {"keyctl": 250, "add_key": 248, "request_key": 249, "unshare": 272,
       "mount": 165, "bpf": 321, "perf_event_open": 298, "userfaultfd": 323,
       "io_uring_setup": 425, "ptrace": 101, "open_by_handle_at": 304,
       "sethostname": 170, "setns": 308}
ARGS = {"keyctl": (0, -3, 0), "add_key": (b"user", b"petri-probe", b"x", 1, -3),
        "request_key": (b"user", b"petri-probe", None, -3),
        "unshare": (0x10000000,), "mount": (b"none", b"/tmp", b"tmpfs", 0, None),
        "bpf": (0, None, 0), "perf_event_open": (None, 0, -1, -1, 0),
        "userfaultfd": (0,), "io_uring_setup": (1, None), "ptrace": (0, 0, 0, 0),
        "open_by_handle_at": (-100, None, 0), "sethostname": (b"x", 1),
        "setns": (-1, 0)}
for name in sorted(SYS):
    r = libc.syscall(SYS[name], *ARGS[name])
    p("denial", "%s %s" % (name, "ok" if r >= 0 else err(ctypes.get_errno())))
for what, fn in (
    ("write /usr/petri-probe", lambda: os.open("/usr/petri-probe", os.O_CREAT | os.O_WRONLY)),
    ("write /petri-probe", lambda: os.open("/petri-probe", os.O_CREAT | os.O_WRONLY)),
    ("write /proc/sys/net/ipv4/ping_group_range",
     lambda: os.open("/proc/sys/net/ipv4/ping_group_range", os.O_WRONLY)),
    ("mknod /tmp/petri-probe-dev", lambda: os.mknod("/tmp/petri-probe-dev", stat.S_IFCHR | 0o600, os.makedev(1, 3))),
    ("chown /tmp 0", lambda: os.chown("/tmp", 0, 0)),
    ("setuid 0", lambda: os.setuid(0)),
    ("raw socket", lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, 1)),
    ("packet socket", lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)),
    ("bind port 80", lambda: socket.socket().bind(("127.0.0.1", 80))),
):
    try:
        fn()
        v = "ok"
    except OSError as ex:
        v = err(ex.errno)
    p("denial", "%s %s" % (what, v))
EOF

# The mounts as this exec sees them: no mount ids, no anonymous device
# numbers (allocated by the kernel in order of use), host ids normalized.
awk '{ $1 = ""; $2 = ""; if ($3 ~ /^0:/) $3 = "0:N"; print }' /proc/self/mountinfo |
	sed -E 's/(uid|gid)=[0-9]+/\1=HOSTID/g' | p mountinfo
df -P /tmp /workspace /home/sandbox /dev/shm /run/petri 2>&1 | p df
df -P -i /tmp /workspace /home/sandbox /dev/shm /run/petri 2>&1 | p df_inodes
cat /proc/self/cgroup | p cgroup
# Per exec by design: boot_id (a new one per exec), the last line says so.
echo "$(cat /proc/sys/kernel/random/boot_id)" | p boot_id
echo DONE
