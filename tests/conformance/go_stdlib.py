#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""go_stdlib.py - a third-party conformance suite inside the sandbox.

The Go standard library's own tests for os, os/exec, os/user, syscall,
io/fs and path/filepath (the sources Debian's golang-go ships under GOROOT)
exercise files, directories, permissions, ownership, processes, pipes,
signals, users and groups the way real programs use them.  Each package's
test binary is built once (`go test -c`, cached in --cache) and run twice,
with -test.v, from the package's source directory (the tests read their
testdata relative to it):

  bare    on the host as an ordinary user: uid/gid 1000, no supplementary
          groups (setpriv), a login session's RLIMIT_NOFILE (1024:524288, or
          the caller's hard limit where it may not raise that),
          the same environment variables petri sets (PATH, HOME, LANG,
          TMPDIR, USER, ...), HOME and TMPDIR fresh directories of that user.  The code in a sandbox runs as uid 1000
          without privileges, so this is the honest comparison.  When this
          script does not run as root it runs bare as itself.
  inside  `petri run` with the library's defaults except a longer wall
          timeout; the binaries' directory bound read-only at /gotests,
          --cwd the package's directory (GOROOT is below /usr, which every
          sandbox sees read-only); TMPDIR is the sandbox's /tmp.

Every test is compared by name (PASS/FAIL/SKIP lines of -test.v).  A test
that passes bare but fails or gives no result inside is a difference; the
run fails (exit 1) unless the test is in the allowlist (--allowlist), where
each entry says why.  Exit 2: the harness itself could not run (a build
failed, a bare run gave no results, a petri failure).
"""
import argparse
import fcntl
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time

PACKAGES = ["os", "os/exec", "os/user", "syscall", "io/fs", "path/filepath"]
RESULT = re.compile(r"^\s*--- (PASS|FAIL|SKIP): (\S+) \(")
SANDBOX_UID = 1000


class HarnessError(Exception):
    pass


def binary_name(pkg):
    return pkg.replace("/", "_") + ".test"


def go_env(cache):
    env = dict(os.environ)
    env.update(GOCACHE=os.path.join(cache, "gocache"), GOPATH=os.path.join(cache, "gopath"),
               GOFLAGS="-buildvcs=false", GOTOOLCHAIN="local", GOPROXY="off")
    return env


def build(go, cache, packages):
    """Build the test binaries into @cache/bin unless they are there for this Go."""
    bindir = os.path.join(cache, "bin")
    os.makedirs(bindir, exist_ok=True)
    os.chmod(cache, 0o755)
    os.chmod(bindir, 0o755)
    version = subprocess.run([go, "version"], capture_output=True, text=True,
                             check=True).stdout.strip()
    stamp = os.path.join(cache, "stamp")
    with open(os.path.join(cache, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two ctest runs at once build once
        old = open(stamp).read() if os.path.exists(stamp) else ""
        todo = [p for p in packages if old != version or
                not os.path.exists(os.path.join(bindir, binary_name(p)))]
        if not todo:
            return version
        t0 = time.monotonic()
        for p in todo:
            out = os.path.join(bindir, binary_name(p))
            r = subprocess.run([go, "test", "-c", "-o", out, p], env=go_env(cache),
                               capture_output=True, text=True)
            if r.returncode != 0:
                raise HarnessError("go test -c %s failed:\n%s" % (p, r.stderr[-2000:]))
            os.chmod(out, 0o755)
        with open(stamp, "w") as f:
            f.write(version)
        print("built %d test binaries in %.1f s (%s)" % (len(todo), time.monotonic() - t0,
                                                        version), flush=True)
    return version


def parse(text):
    results = {}
    for line in text.splitlines():
        m = RESULT.match(line)
        if m:
            results[m.group(2)] = m.group(1)
    return results


def fresh_dir(parent, owner):
    d = tempfile.mkdtemp(prefix="home-", dir=parent)
    if owner is not None:
        os.chown(d, owner, owner)
    return d


def bare_limits():
    """In the bare child: a login session's open-file limits on Debian
    (systemd's 1024:524288), or 1024 under the caller's hard limit where
    raising that is not allowed (no CAP_SYS_RESOURCE)."""
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 524288))
    except (ValueError, OSError):
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, hard), hard))


def run_bare(binary, pkgdir, test_args, scratch, timeout):
    root = os.geteuid() == 0
    home = fresh_dir(scratch, SANDBOX_UID if root else None)
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "TMPDIR": home,
           "LANG": "C.UTF-8", "USER": "sandbox", "LOGNAME": "sandbox", "SHELL": "/bin/sh"}
    argv = [binary] + test_args
    if root:
        argv = ["setpriv", "--reuid=%d" % SANDBOX_UID, "--regid=%d" % SANDBOX_UID,
                "--clear-groups", "--"] + argv
    r = subprocess.run(argv, cwd=pkgdir, env=env, stdin=subprocess.DEVNULL,
                       preexec_fn=bare_limits, capture_output=True, text=True,
                       errors="replace", timeout=timeout)
    return r.returncode, r.stdout + r.stderr


def run_inside(petri, bindir, name, pkgdir, test_args, timeout):
    argv = [petri, "run", "--timeout", "%ds" % timeout, "--bind", bindir + ":/gotests",
            "--cwd", pkgdir, "--", "/gotests/" + name] + test_args
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       errors="replace", timeout=timeout + 30)
    if r.returncode == 125:
        raise HarnessError("petri run failed: %s" % r.stderr.strip()[-500:])
    return r.returncode, r.stdout + r.stderr


def excerpt(text, test, most=15):
    """The test's own lines of output: from its === RUN to its result (tests
    that ran in parallel may interleave a few lines of their own)."""
    lines, on = [], False
    for line in text.splitlines():
        if line.strip() == "=== RUN   " + test:
            on = True
        if on:
            lines.append(line)
            m = RESULT.match(line)
            if (m and m.group(2) == test) or len(lines) >= most:
                break
    return lines or ["(no output of its own; the end of the run:)"] + text.splitlines()[-5:]


def load_allowlist(path):
    """Lines "PACKAGE TEST REASON..."; '#' starts a comment line."""
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
                raise HarnessError("%s:%d: want PACKAGE TEST REASON" % (path, n))
            allowed[(parts[0], parts[1])] = parts[2]
    return allowed


def counts(results):
    c = {"PASS": 0, "FAIL": 0, "SKIP": 0}
    for v in results.values():
        c[v] += 1
    return c


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--petri", required=True, help="the petri CLI to test")
    ap.add_argument("--cache", required=True, help="directory for the test binaries")
    ap.add_argument("--allowlist", help="explained differences (PACKAGE TEST REASON)")
    ap.add_argument("--go", default=shutil.which("go") or "go")
    ap.add_argument("--packages", default=",".join(PACKAGES))
    ap.add_argument("--run", help="only tests matching this regexp (-test.run)")
    ap.add_argument("--timeout", type=int, default=240, help="seconds per package and side")
    a = ap.parse_args()
    packages = [p for p in a.packages.split(",") if p]
    try:
        return compare(a, packages)
    except (HarnessError, OSError, subprocess.SubprocessError) as e:
        print("go_stdlib: harness error: %s" % e, file=sys.stderr)
        return 2


def compare(a, packages):
    if not shutil.which(a.go):
        raise HarnessError("no go toolchain (%s); install golang-go" % a.go)
    goroot = subprocess.run([a.go, "env", "GOROOT"], capture_output=True, text=True,
                            check=True).stdout.strip()
    cache = os.path.abspath(a.cache)
    version = build(a.go, cache, packages)
    allowed = load_allowlist(a.allowlist)
    test_args = ["-test.v", "-test.timeout=%ds" % (a.timeout - 10)]
    if a.run:
        test_args.append("-test.run=" + a.run)

    differences, excused, table = [], [], []
    scratch = tempfile.mkdtemp(prefix="petri-go-conformance-")
    os.chmod(scratch, 0o755)
    try:
        for pkg in packages:
            pkgdir = os.path.join(goroot, "src", pkg)
            name = binary_name(pkg)
            t0 = time.monotonic()
            bindir = os.path.join(cache, "bin")
            brc, bout = run_bare(os.path.join(bindir, name), pkgdir, test_args, scratch,
                                 a.timeout)
            t1 = time.monotonic()
            irc, iout = run_inside(a.petri, bindir, name, pkgdir, test_args, a.timeout)
            t2 = time.monotonic()
            bare, inside = parse(bout), parse(iout)
            if not bare:
                raise HarnessError("%s: the bare run reported no test (exit %d):\n%s" %
                                   (pkg, brc, bout[-2000:]))
            table.append((pkg, counts(bare), len(bare), brc, t1 - t0, counts(inside),
                          len(inside), irc, t2 - t1))
            for test in sorted(bare):
                if bare[test] != "PASS" or inside.get(test) == "PASS":
                    continue
                got = inside.get(test, "no result")
                what = "%s %s: PASS bare, %s inside" % (pkg, test, got)
                if (pkg, test) in allowed:
                    excused.append("%s (allowed: %s)" % (what, allowed[(pkg, test)]))
                else:
                    differences.append(what)
                    differences.extend("    | " + ln for ln in excerpt(iout, test))
            for test in sorted(set(inside) - set(bare)):
                print("note: %s %s: %s inside, no result bare" % (pkg, test, inside[test]))
            for test in sorted(bare):
                if inside.get(test) == "PASS" and bare[test] != "PASS":
                    print("note: %s %s: %s bare, PASS inside" % (pkg, test, bare[test]))
        for (pkg, test), why in sorted(allowed.items()):
            if pkg in packages and not any(e.startswith("%s %s:" % (pkg, test)) for e in excused):
                print("note: allowlisted %s %s does not differ here (%s)" % (pkg, test, why))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    print("\n%s, bare = uid %d on the host%s" %
          (version, SANDBOX_UID, "" if os.geteuid() == 0 else " (here: the caller)"))
    print("%-14s %-32s %-32s" % ("package", "bare: run pass fail skip (exit, s)",
                                  "inside: run pass fail skip (exit, s)"))
    total_b, total_i = [0] * 4, [0] * 4
    for pkg, bc, bn, brc, bt, ic, inn, irc, it in table:
        print("%-14s %4d %4d %4d %4d (%d, %4.1f)      %4d %4d %4d %4d (%d, %4.1f)" %
              (pkg, bn, bc["PASS"], bc["FAIL"], bc["SKIP"], brc, bt, inn, ic["PASS"],
               ic["FAIL"], ic["SKIP"], irc, it))
        for i, v in enumerate([bn, bc["PASS"], bc["FAIL"], bc["SKIP"]]):
            total_b[i] += v
        for i, v in enumerate([inn, ic["PASS"], ic["FAIL"], ic["SKIP"]]):
            total_i[i] += v
    print("%-14s %4d %4d %4d %4d                %4d %4d %4d %4d" %
          tuple(["total"] + total_b + total_i))
    for e in excused:
        print("allowed difference: " + e)
    if differences:
        print("\nFAIL: tests that pass bare but not inside the sandbox:", file=sys.stderr)
        for d in differences:
            print("  " + d, file=sys.stderr)
        return 1
    print("OK: every test that passes bare passes inside (or is allowlisted)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
