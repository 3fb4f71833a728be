#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""python_stdlib.py - CPython's own tests, bare and inside a sandbox.

CPython's regression tests (Debian's libpython3.11-testsuite; MODULES below)
check files, permissions, ownership, users, groups, processes, signals,
ptys, sockets, limits, archives and venv creation as CPython promises
them -- among them subprocess's user=, group= and extra_groups=, which
accept EPERM from an unprivileged caller and nothing else.  Each module runs
with `python3 -m test -v MODULE` from the side's TMPDIR, bare and inside
(conformance.py says what each means); the interpreter and its tests are
below /usr, which every sandbox sees read-only.  Tests are compared by their
unittest ids; a test with a failing subtest counts as failed.
"""
import argparse
import os
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from conformance import HarnessError, Unit, compare, guarded  # noqa: E402

# What ctest runs (about 2 minutes on a 2-core machine, both sides) ...
MODULES = ["test_os", "test_posix", "test_pwd", "test_grp", "test_shutil", "test_pathlib",
           "test_tempfile", "test_subprocess", "test_select", "test_fcntl", "test_mmap",
           "test_resource", "test_pty", "test_time", "test_asyncio.test_unix_events",
           "test_asyncio.test_events", "test_fileio", "test_zipfile", "test_tarfile",
           "test_uuid", "test_platform", "test_sysconfig", "test_site", "test_venv"]
# ... and what --all adds: as conformant, but slow (10 to 70 s a side
# each; README.md has their numbers).
SLOW_MODULES = ["test_socket", "test_signal", "test_threading", "test_selectors",
                "test_asyncio.test_subprocess", "test_io", "test_logging",
                "test_multiprocessing_forkserver"]
PYTHON = "/usr/bin/python3"
SKIP = 77  # the test suite is not installed (a failure under CI=true)
LINE = re.compile(r"^(\s*)(\w+) \(([\w.]+)\)( \(.*\))? \.\.\. ?(.*)$")
# A test with a docstring: "name (id)" alone, then "First docstring line ... ok".
HEAD = re.compile(r"^(\w+) \(([\w.]+)\)$")
STATUS = {"ok": "PASS", "FAIL": "FAIL", "ERROR": "FAIL", "expected failure": "PASS",
          "unexpected success": "FAIL"}


def status_of(text):
    text = text.strip()
    if text in STATUS:
        return STATUS[text]
    if text.startswith("skipped"):
        return "SKIP"
    return None


def parse(text):
    results, failed_sub, pending = {}, set(), None
    for line in text.splitlines():
        m = LINE.match(line)
        if m:
            test, sub, st = m.group(3), m.group(1) or m.group(4), status_of(m.group(5))
            if sub:  # a subtest: its failure is its test's
                if st == "FAIL":
                    failed_sub.add(test)
                continue
            if st:
                results[test] = st
                pending = None
            else:
                pending = test  # the status follows the test's own output
        elif HEAD.match(line):
            pending = HEAD.match(line).group(2)
        elif pending and status_of(line):
            results[pending] = status_of(line)
            pending = None
        elif pending and " ... " in line and status_of(line.rpartition(" ... ")[2]):
            results[pending] = status_of(line.rpartition(" ... ")[2])
            pending = None
    for test in failed_sub:
        results[test] = "FAIL"
    return results


def excerpt(text, test, most=15):
    """The test's status lines (a skip says why), then its traceback(s)
    from unittest's report."""
    tag = "(%s)" % test
    lines = [ln for ln in text.splitlines() if tag in ln and " ... " in ln][:4]
    on = False
    for line in text.splitlines():
        if line.startswith(("ERROR: ", "FAIL: ")):
            on = tag in line
        if on and not line.startswith(("-----", "=====")):
            lines.append(line)
            if len(lines) >= most:
                break
    return lines or text.splitlines()[-5:]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--petri", required=True, help="the petri CLI to test")
    ap.add_argument("--allowlist", help="explained differences (MODULE TEST REASON)")
    ap.add_argument("--modules", default=",".join(MODULES))
    ap.add_argument("--all", action="store_true", help="the slow modules too")
    ap.add_argument("--match", help="only tests matching this pattern (regrtest -m)")
    ap.add_argument("--timeout", type=int, default=240, help="seconds per module and side")
    a = ap.parse_args()
    modules = [m for m in a.modules.split(",") if m] + (SLOW_MODULES if a.all else [])
    return guarded("python_stdlib", lambda: run(a, modules))


def run(a, modules):
    version = "%s (%s)" % (PYTHON, sys.version.split()[0])
    lib = os.path.join(os.path.dirname(os.__file__), "test")
    # A module may name a package's submodule: test_asyncio.test_events.
    paths = {m: os.path.join(lib, *m.split(".")) for m in modules}
    missing = [m for m in modules if not os.path.exists(paths[m] + ".py") and
               not os.path.isdir(paths[m])]
    if missing:
        why = "no %s in %s (install libpython%d.%d-testsuite)" % (
            ", ".join(missing), lib, sys.version_info[0], sys.version_info[1])
        if os.environ.get("CI") == "true":
            raise HarnessError(why)
        print("python_stdlib: SKIP: " + why)
        return SKIP
    args = ["-m", "test", "-v"] + (["-m", a.match] if a.match else [])
    # -m test's first -m is python's; regrtest's own -m selects tests.
    units = [Unit(m, [PYTHON] + args + [m]) for m in modules]
    return compare(a.petri, units, parse, excerpt, a.allowlist, a.timeout, version)


if __name__ == "__main__":
    sys.exit(main())
