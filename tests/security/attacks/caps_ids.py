# Untrusted code: who am I, and can I become someone else?  Reports facts
# only; test_attack_caps_ids.c judges.
import ctypes
import errno
import fcntl
import os
import time


def status(pid="self"):
    out = {}
    with open("/proc/%s/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = " ".join(v.split())
    return out


say("resuid", "IDS %d %d %d" % os.getresuid())
say("resgid", "IDS %d %d %d" % os.getresgid())
say("groups", "LIST " + ",".join(str(g) for g in sorted(os.getgroups())))
st = status()
for k in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp", "Uid", "Gid"]:
    say("status_" + k, "VALUE " + st.get(k, "missing"))

blocked("setuid_0", lambda: os.setuid(0))
blocked("setgid_0", lambda: os.setgid(0))
blocked("setresuid_0", lambda: os.setresuid(0, 0, 0))
blocked("setuid_1001", lambda: os.setuid(1001))
blocked("setgroups_0", lambda: os.setgroups([0]))
blocked("seteuid_65534", lambda: os.seteuid(65534))

PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, PR_SET_SECUREBITS, PR_SET_NO_NEW_PRIVS = 47, 2, 28, 38
PR_CAPBSET_READ = 23
blocked("ambient_raise_sys_admin", lambda: syscall(157, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, 21, 0, 0))
blocked("securebits_clear", lambda: syscall(157, PR_SET_SECUREBITS, 0, 0, 0, 0))
blocked("no_new_privs_clear", lambda: syscall(157, PR_SET_NO_NEW_PRIVS, 0, 0, 0, 0))
say("capbset_sys_admin", "VALUE %d" % syscall(157, PR_CAPBSET_READ, 21, 0, 0, 0))


class CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


hdr = CapHeader(0x20080522, 0)
data = (CapData * 2)()
for d in data:
    d.effective = d.permitted = d.inheritable = 0xffffffff
blocked("capset_all", lambda: syscall(126, ctypes.byref(hdr), data))

CLONE_NEWUSER, CLONE_NEWNS, SIGCHLD = 0x10000000, 0x20000, 17
blocked("unshare_newuser", lambda: syscall(272, CLONE_NEWUSER))
blocked("unshare_newns", lambda: syscall(272, CLONE_NEWNS))


def clone(flags):
    r = syscall(56, flags | SIGCHLD, 0, 0, 0, 0)
    if r == 0:
        os._exit(0)
    os.waitpid(r, 0)
    return r


blocked("clone_newuser", lambda: clone(CLONE_NEWUSER))


class CloneArgs(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in
                ["flags", "pidfd", "child_tid", "parent_tid", "exit_signal", "stack",
                 "stack_size", "tls", "set_tid", "set_tid_size", "cgroup"]]


def clone3(flags):
    a = CloneArgs(flags=flags, exit_signal=SIGCHLD)
    r = syscall(435, ctypes.byref(a), ctypes.sizeof(a))
    if r == 0:
        os._exit(0)
    os.waitpid(r, 0)
    return r


blocked("clone3_newuser", lambda: clone3(CLONE_NEWUSER))
blocked("clone3_plain", lambda: clone3(0))

# Real-time scheduling and negative nice values: the host may run with
# raised RLIMIT_RTPRIO / RLIMIT_NICE, which must not reach the code (a
# SCHED_FIFO busy loop per CPU would starve the host).
blocked("sched_fifo", lambda: os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1)))
blocked("nice_raise", lambda: os.setpriority(os.PRIO_PROCESS, 0, -5))
blocked("oom_score_adj_lower", lambda: open("/proc/self/oom_score_adj", "w").write("-1000"))
blocked("uid_map_write", lambda: open("/proc/self/uid_map", "w").write("0 0 1\n"))


def setuid_binary(name, path, args):
    """Run a setuid-root binary with its stdout a full pipe, so it blocks in
    its first write; then read who it is from /proc while it is stuck."""
    if not os.path.exists(path):
        say(name, "ABSENT")
        return
    mode = os.stat(path).st_mode
    if not mode & 0o4000:
        say(name, "NOT_SETUID")
        return
    r, w = os.pipe()
    fl = fcntl.fcntl(w, fcntl.F_GETFL)
    fcntl.fcntl(w, fcntl.F_SETFL, fl | os.O_NONBLOCK)
    try:
        while True:
            os.write(w, b"x" * 65536)
    except BlockingIOError:
        pass
    fcntl.fcntl(w, fcntl.F_SETFL, fl)
    pid = os.fork()
    if pid == 0:
        os.dup2(w, 1)
        os.dup2(w, 2)
        os.execv(path, [path] + args)
    os.close(w)
    seen = None
    deadline = time.time() + 5
    while time.time() < deadline:
        try:
            s = status(pid)
        except OSError:
            break
        if s.get("Name") == os.path.basename(path)[:15] and s.get("State", "").startswith("S"):
            seen = s
            time.sleep(0.05)
            seen = status(pid)
            break
        time.sleep(0.01)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    os.close(r)
    if not seen:
        say(name, "NOT_OBSERVED")
        return
    say(name, "UID %s CAPEFF %s CAPPRM %s NNP %s" % (seen["Uid"], seen["CapEff"], seen["CapPrm"],
                                                    seen["NoNewPrivs"]))


setuid_binary("setuid_su", "/usr/bin/su", ["--help"])
setuid_binary("setuid_passwd", "/usr/bin/passwd", ["--help"])
setuid_binary("setuid_mount", "/usr/bin/mount", ["--help"])

# Landlock: its signal scope refuses even signal 0 to a process outside our
# domain (pid 1, the exec's reaper).  Without Landlock the call succeeds
# (the kernel then silently drops signals to a pid namespace's init).
try:
    os.kill(1, 0)
    say("landlock_signal_scope", "NONE kill(1,0) succeeded")
except OSError as e:
    say("landlock_signal_scope", "BLOCKED " + ename(e.errno))
blocked("create_in_root", lambda: open("/petri-landlock-probe", "w"))
print("DONE", flush=True)
