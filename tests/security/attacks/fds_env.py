# Untrusted code: look for what the host may have left behind -- hostname,
# devices, /sys, and every process's command line and environment that is
# readable from here.  Reports facts only; test_attack_fds_env.c judges (it
# also looks for the host's secrets anywhere in this output).
import errno
import os
import socket


def attempt(name, fn, ok="OK"):
    try:
        r = fn()
    except OSError as e:
        say(name, "BLOCKED " + ename(e.errno))
        return
    say(name, ok if r is None or r is True else "%s %r" % (ok, r))


say("hostname", "NAME " + socket.gethostname())
say("uname_nodename", "NAME " + os.uname().nodename)
with open("/proc/sys/kernel/hostname") as f:
    say("proc_hostname", "NAME " + f.read().strip())
with open("/proc/sys/kernel/domainname") as f:
    say("domainname", "NAME " + f.read().strip())
with open("/etc/hostname") as f:
    say("etc_hostname", "NAME " + f.read().strip())

say("dev", "LIST " + ",".join(sorted(os.listdir("/dev"))))
say("dev_pts", "LIST " + ",".join(sorted(os.listdir("/dev/pts"))))
say("dev_shm", "LIST " + ",".join(sorted(os.listdir("/dev/shm"))))
attempt("write_dev_null", lambda: open("/dev/null", "wb").write(b"x" * 4096) == 4096)
attempt("read_dev_zero", lambda: open("/dev/zero", "rb").read(4096) == b"\0" * 4096)
attempt("read_dev_urandom", lambda: len(open("/dev/urandom", "rb").read(64)) == 64)


def write_full():
    with open("/dev/full", "wb", buffering=0) as f:
        f.write(b"x")


attempt("write_dev_full", write_full)
for d in ["mem", "kmem", "port", "sda", "vda", "kmsg", "console", "tty0", "vsock", "kvm"]:
    say("dev_" + d, "PRESENT" if os.path.exists("/dev/" + d) else "ABSENT")
try:
    e = os.listdir("/sys")
    say("sys", "EMPTY" if not e else "LIST " + ",".join(sorted(e)))
except FileNotFoundError:
    say("sys", "ABSENT")
try:
    tty = os.open("/dev/tty", os.O_RDWR)
    os.close(tty)
    say("dev_tty_open", "OK")
except OSError as e:
    say("dev_tty_open", "BLOCKED " + ename(e.errno))

# Every command line and environment we can read, verbatim: the host's
# argv and environment must not be among them.
for p in sorted((p for p in os.listdir("/proc") if p.isdigit()), key=int):
    for what in ("cmdline", "environ"):
        try:
            with open("/proc/%s/%s" % (p, what), "rb") as f:
                data = f.read()
        except OSError as e:
            print("PROC %s %s unreadable %s" % (p, what, ename(e.errno)))
            continue
        print("PROC %s %s %s" % (p, what, data.replace(b"\0", b" ").decode("utf-8", "replace")))
with open("/proc/1/cmdline", "rb") as f:
    say("pid1_cmdline", "VALUE " + f.read().replace(b"\0", b" ").decode().strip())
say("own_fds", "LIST " + ",".join(sorted(os.listdir("/proc/self/fd"), key=int)))
print("DONE", flush=True)
