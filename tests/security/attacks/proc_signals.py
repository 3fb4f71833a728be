# Untrusted code: look for other processes and try to signal, trace or read
# them.  Reports facts only; test_attack_proc_signals.c judges.
#
# Environment from the test: SEC_HOST_PIDS, host pids (','-separated: a
# `sleep` the test owns, the test itself, the sandbox's init as the host
# sees it) that must be neither visible nor reachable from inside.
import ctypes
import errno
import os
import signal
import subprocess
import time


def status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


me = os.getpid()
pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
say("visible_pids", "LIST " + ",".join(str(p) for p in pids))
say("self_pid", "PID %d" % me)
st1 = status(1)
say("pid1", "PPID %s NSPID %s" % (st1.get("PPid"), st1.get("NSpid")))
say("self_nspid", "NSPID %s" % status(me).get("NSpid"))

# The host's processes, by their host pid numbers.
for i, p in enumerate(int(x) for x in os.environ.get("SEC_HOST_PIDS", "").split(",") if x):
    say("host_pid_%d_visible" % i, "YES" if os.path.exists("/proc/%d" % p) else "NO")
    # Signal 0 only: if the pid existed in here, it would be one of ours.
    blocked("host_pid_%d_kill0" % i, lambda p=p: os.kill(p, 0))
    blocked("host_pid_%d_pidfd_open" % i, lambda p=p: syscall(434, p, 0))
    # Refused by seccomp for any pid but 0 (the caller): one that is not
    # here gets the kernel's own ESRCH, as anywhere.
    blocked("host_pid_%d_prlimit" % i,
            lambda p=p: __import__("resource").prlimit(p, __import__("resource").RLIMIT_NOFILE))

# pid 1 is the exec's reaper, outside our Landlock domain.
blocked("kill_pid1_sigkill", lambda: os.kill(1, signal.SIGKILL))
blocked("kill_pid1_sig0", lambda: os.kill(1, 0))
pfd = -1
try:
    pfd = syscall(434, 1, 0)
    say("pidfd_open_1", "OK")
except OSError as e:
    say("pidfd_open_1", "BLOCKED " + ename(e.errno))
if pfd >= 0:
    blocked("pidfd_getfd_1", lambda: syscall(438, pfd, 0, 0))
    blocked("pidfd_send_signal_1", lambda: syscall(424, pfd, signal.SIGKILL, None, 0))
blocked("ptrace_attach_1", lambda: syscall(101, 16, 1, 0, 0))
blocked("ptrace_seize_1", lambda: syscall(101, 0x4206, 1, 0, 0))
buf = ctypes.create_string_buffer(64)
iov = (ctypes.c_void_p * 2)(ctypes.cast(buf, ctypes.c_void_p), 64)
blocked("process_vm_readv_1", lambda: syscall(310, 1, iov, 1, iov, 1, 0))
blocked("read_proc1_mem", lambda: open("/proc/1/mem", "rb").read(1))
blocked("read_proc1_environ", lambda: open("/proc/1/environ", "rb").read())
blocked("prlimit_raise_1", lambda: __import__("resource").prlimit(1, __import__("resource").RLIMIT_NOFILE, (1 << 20, 1 << 20)))
# Lowering needs only the same ids, which the reaper (and a one-exec init)
# shares with the code: seccomp allows prlimit64 on the caller alone.
blocked("prlimit_lower_1", lambda: __import__("resource").prlimit(1, __import__("resource").RLIMIT_NOFILE, (0, 0)))
blocked("prlimit_read_1", lambda: __import__("resource").prlimit(1, __import__("resource").RLIMIT_NOFILE))
# A negative pid names no process: ESRCH (CPython's test_resource checks it).
blocked("prlimit_minus1", lambda: __import__("resource").prlimit(-1, __import__("resource").RLIMIT_NOFILE))

# Our own child: same uid, but still no tracing or memory access.
child = subprocess.Popen(["sleep", "30"])
blocked("ptrace_attach_child", lambda: syscall(101, 16, child.pid, 0, 0))
blocked("process_vm_readv_child", lambda: syscall(310, child.pid, iov, 1, iov, 1, 0))
cpfd = syscall(434, child.pid, 0)
blocked("pidfd_getfd_child", lambda: syscall(438, cpfd, 0, 0))
child.kill()
child.wait()

# kill(-1, SIGKILL): reaches every process in this exec but the caller and
# pid 1 -- and nothing else.
sleepers = [subprocess.Popen(["sleep", "30"]) for _ in range(3)]
time.sleep(0.1)
try:
    os.kill(-1, signal.SIGKILL)
    say("kill_minus1", "OK")
except OSError as e:
    say("kill_minus1", "BLOCKED " + ename(e.errno))
codes = [s.wait() for s in sleepers]
say("kill_minus1_sleepers", "KILLED" if all(c == -signal.SIGKILL for c in codes) else "SURVIVED %r" % codes)
say("pid1_after", "ALIVE" if os.path.exists("/proc/1/status") else "GONE")
print("DONE", flush=True)
