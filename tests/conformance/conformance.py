# SPDX-License-Identifier: Apache-2.0
"""conformance.py - run a third-party test suite bare and inside a sandbox,
and compare the two per test.  Shared by go_stdlib.py and python_stdlib.py.

  bare    on the host as an ordinary user: uid/gid 1000, no supplementary
          groups (setpriv), a login session's RLIMIT_NOFILE (1024:524288,
          or the caller's hard limit where it may not raise that), the
          environment variables petri sets (PATH, HOME, LANG, TMPDIR, USER,
          ...), HOME and TMPDIR a fresh directory of that user, every
          signal at its default action and unblocked, and a network
          namespace of its own with only lo (the sandbox's default), so
          that no test reaches past loopback on either side.  Code in a
          sandbox runs as uid 1000 without privileges, so this is the
          honest comparison.  When the script is not root it runs bare as
          itself.
  inside  `petri run` with the library's defaults except a longer wall
          timeout and the binds a suite asks for; TMPDIR is the sandbox's
          /tmp, HOME /home/sandbox.

A test that passes bare but fails, or gives no result, inside is a
difference; the run fails (exit 1) unless the allowlist lists the test with
its reason.  Exit 2: the harness itself could not run.
"""
import ctypes
import fcntl
import os
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

SANDBOX_UID = 1000


class HarnessError(Exception):
    pass


class Unit:
    """One run of the suite on each side: @argv inside (@bare_argv bare, if
    the program's path differs there), in @cwd (None: the side's TMPDIR),
    with @binds ("host:dst") inside."""

    def __init__(self, name, argv, cwd=None, binds=(), bare_argv=None):
        self.name, self.argv, self.cwd, self.binds = name, argv, cwd, list(binds)
        self.bare_argv = bare_argv or argv


def bare_limits():
    """In the bare child: a login session's open-file limits on Debian
    (systemd's 1024:524288), or 1024 under the caller's hard limit where
    raising that is not allowed (no CAP_SYS_RESOURCE)."""
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 524288))
    except (ValueError, OSError):
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, hard), hard))


CLONE_NEWUSER, CLONE_NEWNET = 0x10000000, 0x40000000
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1


def private_network():
    """In the bare child: a network namespace of its own with only lo, up, as
    inside a sandbox, so that a test never reaches past the host's loopback
    (a test suite may try an outside address where it believes it may).  As
    root, a new network namespace; otherwise a user namespace mapping only
    the caller too (its capabilities there are gone at execve)."""
    libc = ctypes.CDLL(None, use_errno=True)
    uid, gid = os.getuid(), os.getgid()
    flags = CLONE_NEWNET | (0 if uid == 0 else CLONE_NEWUSER)
    if libc.unshare(flags) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET)")
    if uid != 0:
        for name, text in (("uid_map", "%d %d 1" % (uid, uid)), ("setgroups", "deny"),
                           ("gid_map", "%d %d 1" % (gid, gid))):
            with open("/proc/self/" + name, "w") as f:
                f.write(text)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sh22x", b"lo", 0)
        got = struct.unpack("16sh22x", fcntl.ioctl(s, SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sh22x", b"lo", got | IFF_UP))


def default_signals():
    """In the bare child: every signal at its default action and unblocked,
    as in a login session and as the sandbox's reaper leaves them inside (a
    harness started in the background with `&` inherits SIGINT and SIGQUIT
    ignored, which fails CPython's SIGINT tests bare)."""
    for sig in range(1, signal.NSIG):
        if sig not in (signal.SIGKILL, signal.SIGSTOP):
            try:
                signal.signal(sig, signal.SIG_DFL)
            except (OSError, ValueError):
                pass  # the C library's own real-time signals
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def bare_setup():
    private_network()
    bare_limits()
    default_signals()


def run_bare(unit, scratch, timeout):
    root = os.geteuid() == 0
    home = tempfile.mkdtemp(prefix="home-", dir=scratch)
    if root:
        os.chown(home, SANDBOX_UID, SANDBOX_UID)
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "TMPDIR": home,
           "LANG": "C.UTF-8", "USER": "sandbox", "LOGNAME": "sandbox", "SHELL": "/bin/sh"}
    argv = list(unit.bare_argv)
    if root:
        argv = ["setpriv", "--reuid=%d" % SANDBOX_UID, "--regid=%d" % SANDBOX_UID,
                "--clear-groups", "--"] + argv
    try:
        r = subprocess.run(argv, cwd=unit.cwd or home, env=env, stdin=subprocess.DEVNULL,
                           preexec_fn=bare_setup, capture_output=True, text=True,
                           errors="replace", timeout=timeout + 30)
    except subprocess.SubprocessError as e:
        if "preexec_fn" not in str(e):
            raise
        raise HarnessError("%s: could not set up the bare run (network namespace, limits, "
                           "signals): %s" % (unit.name, e))
    return r.returncode, r.stdout + r.stderr


def run_inside(petri, unit, timeout):
    argv = [petri, "run", "--timeout", "%ds" % timeout, "--cwd", unit.cwd or "/tmp"]
    for b in unit.binds:
        argv += ["--bind", b]
    r = subprocess.run(argv + ["--"] + unit.argv, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, errors="replace", timeout=timeout + 30)
    if r.returncode == 125:
        raise HarnessError("petri run failed: %s" % r.stderr.strip()[-500:])
    return r.returncode, r.stdout + r.stderr


def load_allowlist(path):
    """Lines "UNIT TEST REASON..."; '#' starts a comment line."""
    allowed = {}
    if not path:
        return allowed
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(None, 2)
            if len(parts) < 3:
                raise HarnessError("%s:%d: want UNIT TEST REASON" % (path, n))
            allowed[(parts[0], parts[1])] = parts[2]
    return allowed


def counts(results):
    c = {"PASS": 0, "FAIL": 0, "SKIP": 0}
    for v in results.values():
        c[v] += 1
    return c


def compare(petri, units, parse, excerpt, allowlist, timeout, title):
    """Run every unit on both sides and report; returns the exit status.
    @parse(text) -> {test: PASS|FAIL|SKIP}; @excerpt(text, test) -> lines."""
    allowed = load_allowlist(allowlist)
    differences, excused, table = [], [], []
    scratch = tempfile.mkdtemp(prefix="petri-conformance-")
    os.chmod(scratch, 0o755)
    try:
        for unit in units:
            t0 = time.monotonic()
            brc, bout = run_bare(unit, scratch, timeout)
            t1 = time.monotonic()
            irc, iout = run_inside(petri, unit, timeout)
            t2 = time.monotonic()
            bare, inside = parse(bout), parse(iout)
            if not bare:
                raise HarnessError("%s: the bare run reported no test (exit %d):\n%s" %
                                   (unit.name, brc, bout[-2000:]))
            table.append((unit.name, bare, brc, t1 - t0, inside, irc, t2 - t1))
            for test in sorted(bare):
                if bare[test] != "PASS" or inside.get(test) == "PASS":
                    continue
                what = "%s %s: PASS bare, %s inside" % (unit.name, test,
                                                        inside.get(test, "no result"))
                if (unit.name, test) in allowed:
                    excused.append("%s (allowed: %s)" % (what, allowed[(unit.name, test)]))
                else:
                    differences.append(what)
                    differences.extend("    | " + ln for ln in excerpt(iout, test))
            for test in sorted(set(inside) - set(bare)):
                print("note: %s %s: %s inside, no result bare" % (unit.name, test, inside[test]))
            for test in sorted(bare):
                if inside.get(test) == "PASS" and bare[test] != "PASS":
                    print("note: %s %s: %s bare, PASS inside" % (unit.name, test, bare[test]))
        names = [u.name for u in units]
        for (name, test), why in sorted(allowed.items()):
            if name in names and not any(e.startswith("%s %s:" % (name, test)) for e in excused):
                print("note: allowlisted %s %s does not differ here (%s)" % (name, test, why))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    print("\n%s, bare = uid %d on the host%s" %
          (title, SANDBOX_UID, "" if os.geteuid() == 0 else " (here: the caller)"))
    print("%-16s %-32s %-32s" % ("unit", "bare: run pass fail skip (exit, s)",
                                  "inside: run pass fail skip (exit, s)"))
    totals = [0] * 8
    for name, bare, brc, bt, inside, irc, it in table:
        bc, ic = counts(bare), counts(inside)
        row = [len(bare), bc["PASS"], bc["FAIL"], bc["SKIP"],
               len(inside), ic["PASS"], ic["FAIL"], ic["SKIP"]]
        totals = [x + y for x, y in zip(totals, row)]
        print("%-16s %4d %4d %4d %4d (%d, %4.1f)      %4d %4d %4d %4d (%d, %4.1f)" %
              tuple([name] + row[:4] + [brc, bt] + row[4:] + [irc, it]))
    print("%-16s %4d %4d %4d %4d                %4d %4d %4d %4d" % tuple(["total"] + totals))
    for e in excused:
        print("allowed difference: " + e)
    if differences:
        print("\nFAIL: tests that pass bare but not inside the sandbox:", file=sys.stderr)
        for d in differences:
            print("  " + d, file=sys.stderr)
        return 1
    print("OK: every test that passes bare passes inside (or is allowlisted)")
    return 0


def guarded(prog, fn):
    """Run @fn() -> exit status; a harness failure is exit 2 with its reason."""
    try:
        return fn()
    except (HarnessError, OSError, subprocess.SubprocessError) as e:
        print("%s: harness error: %s" % (prog, e), file=sys.stderr)
        return 2
