# SPDX-License-Identifier: Apache-2.0
"""What the host-side network test scripts share (e2e_clients.py,
vault_e2e.py, redteam_attacks.py): the case record and its Skip, the
"petri run" environment helpers, the test CA, the audit-event walkers, the
common command line and the case loop with its PASS/FAIL/SKIP lines.

Stdlib only and nothing runs at import: redteam_attacks.py also imports it
INSIDE the sandbox (its agent), from the directory it is bound at there
(redteam_attacks.py copies this file beside itself).
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

CI = os.environ.get("CI") == "true"
PROXY = ("127.0.0.1", 3128)
PROXY_VARS = ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY",
              "all_proxy"]
# Run a program with every proxy variable removed: the transparent path.
NOPROXY_ENV = ["/usr/bin/env"] + [a for v in PROXY_VARS for a in ("-u", v)]


class Skip(Exception):
    pass


class Case:
    """One case's verdict: its failures (none: it passed) and notes."""

    def __init__(self, name):
        self.name = name
        self.failures = []
        self.notes = []

    def check(self, cond, msg):
        if not cond:
            self.failures.append(msg)
        return bool(cond)

    def note(self, msg):
        self.notes.append(msg)


def need_lib(t):
    """Skip the case (or, under CI, fail it) when @t has no libpetri.so for
    the Python binding."""
    if t.no_lib:
        raise Skip(t.no_lib)
    if not t.lib:
        if CI:
            raise AssertionError("no libpetri.so (--lib or PETRI_LIBRARY; CI=true)")
        raise Skip("no libpetri.so given (--lib)")


# ---- fixtures -----------------------------------------------------------------


def run_host(argv, cwd=None, env=None):
    """Run @argv on the host; its stdout, or RuntimeError with its stderr."""
    p = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(argv), p.returncode, p.stderr.strip()))
    return p.stdout


def make_certs(d, ca_cn, cn, names):
    """In @d: a test CA (ca.pem, ca.key; CN @ca_cn) and a server certificate
    (server.pem, server.key; CN @cn) for the DNS @names it signed."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run_host(["openssl", "req", "-x509"] + ec + [
        "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=" + ca_cn,
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign"], cwd=d)
    run_host(["openssl", "req", "-new"] + ec + [
        "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=" + cn], cwd=d)
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=%s\n"
                "basicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=serverAuth\n" % ",".join("DNS:" + n for n in names))
    run_host(["openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
              "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf"], cwd=d)


def make_git_repo(root, work, readme, email):
    """A bare repository @root/repo.git with one commit (a README holding
    @readme; author and committer petri <@email>), ready for dumb HTTP;
    @work: the work tree it was made in."""
    env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL="/dev/null",
               GIT_AUTHOR_NAME="petri", GIT_AUTHOR_EMAIL=email,
               GIT_COMMITTER_NAME="petri", GIT_COMMITTER_EMAIL=email)
    bare = os.path.join(root, "repo.git")
    run_host(["git", "init", "-q", "--bare", "-b", "main", bare], env=env)
    run_host(["git", "init", "-q", "-b", "main", work], env=env)
    with open(os.path.join(work, "README"), "w") as f:
        f.write(readme)
    run_host(["git", "add", "README"], cwd=work, env=env)
    run_host(["git", "commit", "-q", "-m", "one"], cwd=work, env=env)
    run_host(["git", "push", "-q", bare, "main"], cwd=work, env=env)
    run_host(["git", "--git-dir", bare, "update-server-info"], env=env)


# ---- petri runs and their audit ---------------------------------------------


class PetriRun:
    """One `petri run --json --audit FILE` and what it left: .rc (the CLI's
    exit status), .j (its JSON result; when it printed none, a "failed" one
    whose error says so: no_json()), .stdout, .stderr, .exit_code (the
    program's), .cli_stderr, .audit_path; ._events for the subclass's cache
    of the audit events."""

    def __init__(self, t, argv, proc, audit_path):
        self.t = t
        self.argv = argv
        self.rc = proc.returncode
        self.cli_stderr = proc.stderr
        self.audit_path = audit_path
        self._events = None
        try:
            self.j = json.loads(proc.stdout)
        except ValueError:
            self.j = {"reason": "failed", "error": self.no_json(proc)}
        self.stdout = self.j.get("stdout", "") or ""
        self.stderr = self.j.get("stderr", "") or ""
        self.exit_code = self.j.get("exit_code")

    def no_json(self, proc):
        return "no JSON from petri: %r %r" % (proc.stdout[-300:], proc.stderr[-300:])

    @property
    def failed(self):
        return self.j.get("reason") == "failed" or self.rc == 125


# ---- audit events (`petri audit json`) ----------------------------------------


def petri_part(e):
    return (e.get("unmapped") or {}).get("petri") or {}


def flat(obj, key=""):
    """(key, value) for every leaf of @obj; a list's items under its key."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from flat(v, k)
    elif isinstance(obj, list):
        for v in obj:
            yield from flat(v, key)
    else:
        yield key, obj


# ---- the command line and the case loop ---------------------------------------


def arg_parser(doc):
    """The options every case-running script takes (see main())."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--petri", default=os.environ.get("PETRI_CLI"),
                    help="the petri CLI (default: $PETRI_CLI)")
    ap.add_argument("--lib", default=os.environ.get("PETRI_LIBRARY"),
                    help="libpetri.so, for the case that uses the Python binding "
                    "(default: $PETRI_LIBRARY)")
    ap.add_argument("--no-lib", metavar="WHY",
                    help="skip the Python binding's case, even under CI, for this reason")
    ap.add_argument("--only", help="run the cases whose name matches this regex")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every petri run")
    return ap


def main(prog, ap, all_cases, tmp_prefix, make_t, banner, precheck=None):
    """Parse @ap, then run the (name, fn(t, c)) @all_cases that --only
    selects, each with its own Case: print one PASS/FAIL/SKIP line per case
    and the totals.  make_t(args, tmp) builds the shared fixture T (its
    .broken: what of it failed, or empty); banner(t) the first words of the
    line said once it is up.  precheck(): an exit status when the script
    cannot run, else None.  The exit status: 0, 1 (a case failed) or 2 (no
    petri CLI)."""
    args = ap.parse_args()
    cases = [(n, f) for n, f in all_cases if not args.only or re.search(args.only, n)]
    if args.list:
        print("\n".join(n for n, _ in cases))
        return 0
    if not args.petri or not os.access(args.petri, os.X_OK):
        print("%s: no petri CLI (--petri PATH or PETRI_CLI)" % prog, file=sys.stderr)
        return 2
    if precheck:
        rc = precheck()
        if rc is not None:
            return rc
    t0 = time.monotonic()
    tmp = tempfile.mkdtemp(prefix=tmp_prefix)
    passed = failed = skipped = 0
    try:
        t = make_t(args, tmp)
        print("%s; fixtures in %.1fs%s" % (banner(t), time.monotonic() - t0,
                                           "; broken: %s" % t.broken if t.broken else ""),
              flush=True)
        for name, fn in cases:
            c = Case(name)
            t1 = time.monotonic()
            try:
                fn(t, c)
            except Skip as e:
                skipped += 1
                print("SKIP %s: %s" % (name, e), flush=True)
                continue
            except AssertionError as e:
                c.failures.append(str(e))
            except Exception:  # noqa: BLE001 - a broken case is a failed case
                c.failures.append("crashed: " + traceback.format_exc())
            dt = time.monotonic() - t1
            if c.failures:
                failed += 1
                print("FAIL %s (%.1fs)" % (name, dt))
                for f in c.failures:
                    print("     - %s" % f)
            else:
                passed += 1
                print("PASS %s (%.1fs)%s" % (name, dt, "; " + "; ".join(c.notes)
                                             if c.notes else ""))
            sys.stdout.flush()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed, %d skipped (%.0fs)" % (passed, failed, skipped,
                                                         time.monotonic() - t0))
    return 1 if failed else 0
