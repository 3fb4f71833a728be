# A stand-in for code an AI agent just wrote and nobody has reviewed.
#
# It does a little honest work, then tries what such code should not be able
# to do, and prints what happened to each attempt.  Run it with
#     ./scripts/dev.sh demo
# or  build/petri run --lang python examples/demo/agent_snippet.py
# (PETRI_DEMO_PORT names a port on which the demo listens on the HOST's
# 127.0.0.1; without it, port 8080 is tried.)
#
# Do not run it outside a sandbox as root: it really tries to write
# /usr/bin/backdoor (and would succeed there).
import ctypes
import errno
import hashlib
import os
import socket

results = []


class Contained(Exception):
    """An attempt that raised no error but found nothing to abuse."""


def attempt(kind, what, fn):
    """kind: "work" (should succeed) or "escape" (should be stopped)."""
    try:
        outcome = "ok: %s" % (fn(),)
        succeeded = True
    except OSError as e:
        name = errno.errorcode.get(e.errno, str(e.errno))
        outcome = "failed: %s (%s)" % (e.strerror or e, name)
        succeeded = False
    except Contained as e:
        outcome = str(e)
        succeeded = False
    if kind == "escape":
        tag = "ESCAPED" if succeeded else "stopped"
    else:
        tag = "done" if succeeded else "FAILED"
    results.append((kind, succeeded))
    print("[%-7s] %s -> %s" % (tag, what, outcome), flush=True)


def primes_below(n):
    sieve = bytearray([1]) * n
    sieve[0:2] = b"\0\0"
    for i in range(2, int(n**0.5) + 1):
        if sieve[i]:
            sieve[i * i :: i] = bytearray(len(sieve[i * i :: i]))
    return sum(sieve)


def write_workspace():
    with open("notes.txt", "w") as f:
        f.write("scratch state survives between execs of one sandbox\n")
    return "wrote %s/notes.txt" % os.getcwd()


def read_shadow():
    with open("/etc/shadow") as f:
        return "read %d bytes" % len(f.read())


def write_usr():
    with open("/usr/bin/backdoor", "w") as f:
        f.write("#!/bin/sh\n")
    return "created /usr/bin/backdoor"


def other_processes():
    pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    if len(pids) <= 5:
        raise Contained("only %d process(es) visible, pids %s" % (len(pids), pids))
    return "can see %d processes" % len(pids)


def new_user_namespace():
    libc = ctypes.CDLL(None, use_errno=True)
    CLONE_NEWUSER = 0x10000000
    if libc.unshare(CLONE_NEWUSER) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return "unshare(CLONE_NEWUSER) succeeded"


def connect_host():
    port = int(os.environ.get("PETRI_DEMO_PORT", "8080"))
    with socket.create_connection(("127.0.0.1", port), timeout=3):
        return "connected to 127.0.0.1:%d" % port


print("hello from agent_snippet.py (python %s)" % os.sys.version.split()[0])
attempt("work", "count the primes below 1,000,000", lambda: primes_below(1_000_000))
attempt("work", "sha256 of 10 MB", lambda: hashlib.sha256(b"x" * 10_000_000).hexdigest()[:16])
attempt("work", "who am I", lambda: "uid=%d gid=%d host=%s cwd=%s"
        % (os.getuid(), os.getgid(), socket.gethostname(), os.getcwd()))
attempt("work", "list /", lambda: " ".join(sorted(os.listdir("/"))))
attempt("work", "write a file in the workspace", write_workspace)
attempt("escape", "read /etc/shadow", read_shadow)
attempt("escape", "write /usr/bin/backdoor", write_usr)
attempt("escape", "see the host's processes", other_processes)
attempt("escape", "create a user namespace", new_user_namespace)
attempt("escape", "connect to the host's 127.0.0.1", connect_host)

stopped = sum(1 for kind, ok in results if kind == "escape" and not ok)
escapes = sum(1 for kind, _ in results if kind == "escape")
print("%d of %d escape attempts were stopped" % (stopped, escapes))
