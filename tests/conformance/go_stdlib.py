#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""go_stdlib.py - the Go standard library's tests, bare and inside a sandbox.

The tests of PACKAGES below (the sources Debian's golang-go ships under
GOROOT) exercise files, directories, permissions, ownership, processes,
pipes, signals, ptys, users and groups, loopback sockets and TLS, archives
and the runtime the way real programs use them.  Each package's test
binary is built once (`go test -c`, cached in --cache/bin) and run with
-test.v from the package's source directory (the tests read their testdata
relative to it), bare and inside (conformance.py says what each means);
inside, the binaries are bound read-only at /gotests and GOROOT is below
/usr, which every sandbox sees.
Tests are compared by name from the PASS/FAIL/SKIP lines.
"""
import argparse
import fcntl
import os
import re
import shutil
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from conformance import HarnessError, Unit, compare, guarded  # noqa: E402

# What ctest runs ...
PACKAGES = ["os", "os/exec", "os/user", "syscall", "io/fs", "path/filepath", "net", "os/signal",
            "io", "bufio", "sync", "runtime/debug", "archive/tar", "encoding/json", "crypto/tls"]
# ... and what --all adds: as conformant, but slow (15 s a side or more).
SLOW_PACKAGES = ["time", "archive/zip"]
# Extra flags per package.  Both sides run in a network namespace with only
# lo (conformance.py); on top of that the network packages are told not to
# try: -test.short skips every test that wants an outside network
# (testenv.MustHaveExternalNetwork), and net's -ipv4=false stops it assuming
# outside IPv4 connectivity.
PACKAGE_ARGS = {"net": ["-test.short", "-ipv4=false"], "crypto/tls": ["-test.short"]}
# Build flags per package.  Debian's Go has no $GOROOT/lib/time/zoneinfo.zip,
# the only zone source time's tests accept; its embedded copy (timetzdata)
# takes that place.
PACKAGE_BUILD = {"time": ["-tags=timetzdata"]}
RESULT = re.compile(r"^\s*--- (PASS|FAIL|SKIP): (\S+) \(")


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
    stamped = "%s %r" % (version, sorted(PACKAGE_BUILD.items()))
    stamp = os.path.join(cache, "stamp")
    with open(os.path.join(cache, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two ctest runs at once build once
        old = open(stamp).read() if os.path.exists(stamp) else ""
        if old != stamped:  # another Go or other flags: no binary is current
            for f in os.listdir(bindir):
                os.unlink(os.path.join(bindir, f))
        todo = [p for p in packages if old != stamped or
                not os.path.exists(os.path.join(bindir, binary_name(p)))]
        if not todo:
            return version
        t0 = time.monotonic()
        for p in todo:
            out = os.path.join(bindir, binary_name(p))
            r = subprocess.run([go, "test", "-c", "-o", out] + PACKAGE_BUILD.get(p, []) + [p],
                               env=go_env(cache),
                               capture_output=True, text=True)
            if r.returncode != 0:
                raise HarnessError("go test -c %s failed:\n%s" % (p, r.stderr[-2000:]))
            os.chmod(out, 0o755)
        with open(stamp, "w") as f:
            f.write(stamped)
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


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--petri", required=True, help="the petri CLI to test")
    ap.add_argument("--cache", required=True, help="directory for the test binaries")
    ap.add_argument("--allowlist", help="explained differences (PACKAGE TEST REASON)")
    ap.add_argument("--go", default=shutil.which("go") or "go")
    ap.add_argument("--packages", default=",".join(PACKAGES))
    ap.add_argument("--all", action="store_true", help="the slow packages too")
    ap.add_argument("--run", help="only tests matching this regexp (-test.run)")
    ap.add_argument("--timeout", type=int, default=240, help="seconds per package and side")
    a = ap.parse_args()
    packages = [p for p in a.packages.split(",") if p] + (SLOW_PACKAGES if a.all else [])
    return guarded("go_stdlib", lambda: run(a, packages))


def run(a, packages):
    if not shutil.which(a.go):
        raise HarnessError("no go toolchain (%s); install golang-go" % a.go)
    goroot = subprocess.run([a.go, "env", "GOROOT"], capture_output=True, text=True,
                            check=True).stdout.strip()
    cache = os.path.abspath(a.cache)
    version = build(a.go, cache, packages)
    bindir = os.path.join(cache, "bin")
    args = ["-test.v", "-test.timeout=%ds" % (a.timeout - 10)]
    if a.run:
        args.append("-test.run=" + a.run)
    units = [Unit(p, ["/gotests/" + binary_name(p)] + args + PACKAGE_ARGS.get(p, []),
                  cwd=os.path.join(goroot, "src", p), binds=[bindir + ":/gotests"],
                  bare_argv=[os.path.join(bindir, binary_name(p))] + args +
                  PACKAGE_ARGS.get(p, [])) for p in packages]
    return compare(a.petri, units, parse, excerpt, a.allowlist, a.timeout, version)


if __name__ == "__main__":
    sys.exit(main())
