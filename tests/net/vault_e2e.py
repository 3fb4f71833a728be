#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""End-to-end tests of TenantVault (issue 13; README "Secrets"): secrets the
sandboxed code can use but never read.  `petri run --net proxy --secret
NAME@HOSTS` gives the code a placeholder; the proxy puts the real value in
its place only in requests to the secret's hosts, over TLS it terminates
with the sandbox's own CA.  This script starts the servers on the HOST's
loopback, with a test CA of its own (trusted by the proxy through
--upstream-ca), and plays the prompt-injected program from inside.

    vault_e2e.py --petri build/petri [--lib build/libpetri.so | --no-lib WHY]
                 [--only REGEX] [--list] [-v]

Names (all pinned to 127.0.0.1 with --allow):
  api.vault.test:A    HTTPS, the secret's host (intercepted): checks the
                      real value (401 without it), echoes requests back in
                      several encodings, redirects, serves a git repository
                      behind Basic auth
  other.vault.test:O  HTTPS, allowed but not a secret's host (tunnelled:
                      the proxy cannot see inside): records every byte
  other.vault.test:P, api.vault.test:P   plain HTTP on an unscoped port:
                      records every byte
  plain.vault.test:Q  plain HTTP, a secret's host marked "http://": the one
                      place the value may go without TLS

The value is random per run and distinctive ("pvreal-" + hex, with "/" and
"+" so its URL and base64 forms differ from it).  Every case checks, beside
its own outcome, that no sandbox-visible byte holds the value or a simple
encoding of it (raw, base64 standard/URL-safe at each alignment, hex either
case, percent-encoded, JSON-escaped): the run's stdout and stderr and the
CLI's --json document, the audit stream (raw and as `petri audit json`),
and everything the unscoped servers (other.vault.test, the plain ports)
received.  (The audit must not hold the value either: issue 13, 4.)

What tunnelled means for these tests: a placeholder sent to
other.vault.test over HTTPS is inside TLS the proxy does not terminate, so
the proxy cannot refuse it (no 403, no misuse event is possible); what the
vault guarantees there is that only the placeholder arrives, never the
value.  The cases check exactly that, and that the placeholder did arrive
(else the check would be vacuous).  Over plain HTTP the proxy sees it:
403 and a misuse event, and the server gets nothing.

Output: one line per case (PASS/FAIL/SKIP), then the totals; exit 1 when
any case failed.  Under CI=true a missing client (curl, git, node,
openssl) is a failure, not a skip.
"""
import base64
import gzip
import hashlib
import http.server
import json
import os
import re
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse

from nettest import CI, NOPROXY_ENV, Skip, flat, need_lib, petri_part
import nettest

HERE = os.path.dirname(os.path.abspath(__file__))
NAME = "VAULT_TOKEN"  # the secret from the host's environment
FNAME = "FILE_KEY"  # the secret from a file (--secret NAME@HOSTS=@FILE)
TEST_CA = "petri vault test CA"  # the CN of the test's own CA
PLACEHOLDER = re.compile(r"^petri-vault-[0-9a-f]{32}$")
PH_ANY = re.compile(r"petri-vault-[0-9a-f]{32}")
VAULT_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
VAULT_CA = "/etc/petri/vault-ca.pem"
BASE_ENV = {"HOME": "/workspace", "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0"}
# In shell cases: a bundle of the vault's trust and the test CA, for the
# unscoped (tunnelled) host whose real certificate the test CA signed.
BOTH = "cat %s /e2e/ca.pem > /tmp/both.pem; " % VAULT_BUNDLE


def b64_forms(v):
    """The base64 characters fully determined by @v at each of the three
    alignments, both alphabets: what any base64 of a text holding @v has."""
    out = set()
    for k in range(3):
        for enc in (base64.b64encode, base64.urlsafe_b64encode):
            s = enc(b"\0" * k + v).decode()
            lo = -(-8 * k // 6)
            hi = (8 * (k + len(v))) // 6
            out.add(s[lo:hi])
    return out


def encodings(v):
    """(form name, text) of every encoding of @v a scrubber must know."""
    forms = [("raw", v.decode("latin-1")), ("hex", v.hex()), ("HEX", v.hex().upper()),
             ("percent", urllib.parse.quote(v, safe="")),
             ("percent-lower", re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(),
                                      urllib.parse.quote(v, safe=""))),
             ("json", json.dumps(v.decode("latin-1"))[1:-1].replace("/", "\\/"))]
    forms += [("base64", s) for s in sorted(b64_forms(v))]
    return forms


def find_leaks(text, values):
    """The encodings of any of @values found in @text (str or bytes)."""
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    out = []
    for v in values:
        for form, s in encodings(v):
            if s and s in text:
                out.append(form)
    return sorted(set(out))


# ---- servers on the host's loopback ------------------------------------------


class Log:
    """Everything the servers received: (server label, SNI, raw request
    bytes) per request, and raw bytes of connections that were not TLS on a
    TLS port."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reqs = []  # dicts: server, sni, method, path, host, raw (bytes)
        self.plain_on_tls = []  # (server, bytes)

    def mark(self):
        with self.lock:
            return (len(self.reqs), len(self.plain_on_tls))

    def since(self, mark, server=None):
        with self.lock:
            reqs = self.reqs[mark[0]:]
            plain = self.plain_on_tls[mark[1]:]
        if server:
            reqs = [q for q in reqs if q["server"] in server]
            plain = [p for p in plain if p[0] in server]
        return reqs, plain


def dechunk(text):
    """The payload of a chunked body (latin-1 text), as far as it parses."""
    out, i = "", 0
    while True:
        j = text.find("\r\n", i)
        if j < 0:
            return out + text[i:]
        try:
            n = int(text[i:j].split(";")[0], 16)
        except ValueError:
            return out + text[i:]
        if n == 0:
            return out
        out += text[j + 2:j + 2 + n]
        i = j + 2 + n + 2


def chunked(body, cut):
    """@body in chunked encoding, with a chunk boundary at each offset in
    @cut."""
    out, last = b"", 0
    for i in sorted(set(cut)) + [len(body)]:
        if i > last:
            out += b"%x\r\n%s\r\n" % (i - last, body[last:i])
            last = i
    return out + b"0\r\n\r\n"


def make_handler(t, label):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def body(self):
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                data = b""
                while True:
                    n = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if n == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return data
                    data += self.rfile.read(n)
                    self.rfile.readline()
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n) if n else b""

        def handle_any(self):
            body = self.body()
            raw = (self.requestline + "\r\n" + str(self.headers)).encode("latin-1") + \
                b"\r\n" + body
            sni = getattr(self.connection, "petri_sni", None)
            with t.log.lock:
                t.log.reqs.append({"server": label, "sni": sni, "method": self.command,
                                   "path": self.path, "host": self.headers.get("Host", ""),
                                   "raw": raw})
            self.route(raw, body)

        def send(self, code, body, ctype="text/plain", extra=(), chunks=None):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            for k, v in extra:
                self.send_header(k, v)
            if chunks is not None:
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                data = chunked(body, chunks)
                # Each piece its own write, apart in time: a chunk boundary
                # that is also a read boundary at the proxy.
                pieces = [data[:len(data) // 3], data[len(data) // 3:2 * len(data) // 3],
                          data[2 * len(data) // 3:]]
                for p in pieces:
                    self.wfile.write(p)
                    self.wfile.flush()
                    time.sleep(0.05)
                return
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def authed(self, body):
            """How the request carried the real value, or None."""
            v = t.value
            auth = self.headers.get("Authorization", "")
            if auth == "Bearer " + v.decode():
                return "bearer"
            if auth.startswith("Basic "):
                try:
                    _, _, pw = base64.b64decode(auth[6:]).partition(b":")
                except ValueError:
                    pw = b""
                if pw == v:
                    return "basic"
            if self.headers.get("X-Api-Key", "").encode() == t.fvalue:
                return "file-key"
            q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
            if q.get("key", [""])[0].encode() == v:
                return "query"
            form = urllib.parse.parse_qs(body.decode("latin-1"), encoding="latin-1")
            if v in body or form.get("key", [""])[0].encode("latin-1") == v:
                return "body"  # as it is, or a form field (the value percent-encoded)
            return None

        def route(self, raw, body):
            u = urllib.parse.urlsplit(self.path)
            q = urllib.parse.parse_qs(u.query)
            auth = self.headers.get("Authorization", "").encode("latin-1")
            cred = auth.split(b" ", 1)[1] if b" " in auth else auth
            p = u.path
            if p == "/auth":
                how = self.authed(body)
                if how:
                    self.send(200, ("authenticated %s by %s\n" % (label, how)).encode())
                else:
                    self.send(401, b"no\n", extra=[("WWW-Authenticate", 'Basic realm="v"')])
            elif p == "/echo":
                self.send(200, raw)
            elif p == "/echo-b64":
                lines = [base64.b64encode(auth), base64.urlsafe_b64encode(cred),
                         base64.b64encode(b"x" + cred), base64.b64encode(b"xy" + cred)]
                self.send(200, b"\n".join(lines) + b"\n")
            elif p == "/echo-hex":
                self.send(200, auth.hex().encode() + b"\n" + cred.hex().upper().encode() + b"\n")
            elif p == "/echo-url":
                self.send(200, urllib.parse.quote(cred, safe="").encode() + b"\n" +
                          json.dumps({"auth": auth.decode("latin-1")}).replace(
                              "/", "\\/").encode() + b"\n")
            elif p == "/echo-chunked":
                i = raw.find(t.value)
                cut = [i + 3, i + len(t.value) // 2, i + len(t.value) - 2] if i >= 0 else []
                self.send(200, raw, chunks=cut)
            elif p == "/echo-header":
                self.send(200, b"see the headers\n", extra=[("X-Echo", auth.decode("latin-1")),
                                                           ("Set-Cookie", "s=" + urllib.parse.quote(
                                                               cred, safe=""))])
            elif p in ("/echo-te-gzip", "/echo-ce-fold"):
                # The credential gzip-compressed behind a framing that is
                # not a Content-Encoding: a transfer-coding (what "TE:
                # gzip" asks for; this server sends it unasked) or a
                # Content-Encoding folded onto a second line (obs-fold).
                z = gzip.compress(b"auth=" + auth)
                self.send_response(200)
                if p == "/echo-te-gzip":
                    self.send_header("Transfer-Encoding", "gzip, chunked")
                    self.end_headers()
                    self.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(z), z))
                else:
                    self.send_header("Content-Encoding", "\r\n gzip")
                    self.send_header("Content-Length", str(len(z)))
                    self.end_headers()
                    self.wfile.write(z)
            elif p == "/redirect":
                self.send(302, b"moved\n", extra=[("Location", q["to"][0])])
            elif p == "/redirect-echo":
                # A hostile (or compromised) upstream that hands the
                # credential back in the redirect target.
                loc = q["to"][0] + "?leak=" + urllib.parse.quote(cred, safe="")
                self.send(302, b"moved\n", extra=[("Location", loc)])
            elif p.startswith("/repo.git/"):
                if self.authed(body) != "basic":
                    self.send(401, b"auth\n", extra=[("WWW-Authenticate", 'Basic realm="git"')])
                    return
                f = os.path.normpath(os.path.join(t.gitroot, p.lstrip("/")))
                if not f.startswith(t.gitroot + "/") or not os.path.isfile(f):
                    self.send(404, b"no such file\n")
                    return
                with open(f, "rb") as fh:
                    self.send(200, fh.read(), "application/octet-stream")
            else:
                self.send(200, ("%s %s\n" % (label, self.headers.get("Host", ""))).encode())

        do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = do_TRACE = do_OPTIONS = \
            do_PATCH = handle_any

    return Handler


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, handler, log, label, ctx=None):
        super().__init__(("127.0.0.1", 0), handler)
        self.ctx, self.log, self.label = ctx, log, label

    def handle_error(self, request, client_address):
        pass  # refused handshakes and resets are what some cases cause on purpose

    def finish_request(self, request, client_address):
        if self.ctx is None:
            return super().finish_request(request, client_address)
        # On a TLS port: record whatever is not a TLS handshake (plain
        # HTTP that should never have been forwarded here).
        request.settimeout(10)
        try:
            first = request.recv(1, socket.MSG_PEEK)
        except OSError:
            return None
        if first and first != b"\x16":
            data = b""
            try:
                while len(data) < 65536:
                    chunk = request.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                    if b"\r\n\r\n" in data:
                        break
            except OSError:
                pass
            with self.log.lock:
                self.log.plain_on_tls.append((self.label, data))
            return None
        try:
            tls = self.ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return None
        return super().finish_request(tls, client_address)


def server_ctx(pki, log):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(pki, "server.pem"), os.path.join(pki, "server.key"))
    # HTTP/1.1 only (a BaseHTTPRequestHandler): that the proxy gives the
    # sandbox HTTP/1.1 when the client asks for h2 is checked at the client.
    ctx.set_alpn_protocols(["http/1.1"])

    def cb(sslobj, name, c):
        sslobj.petri_sni = name  # the SSLSocket the handler gets: its connection
    ctx.sni_callback = cb
    return ctx


def start(server):
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_address[1]


# ---- fixtures -----------------------------------------------------------------


# ---- petri runs and their audit ------------------------------------------------


class Run(nettest.PetriRun):
    """One `petri run --json --audit FILE` and what it left."""

    def __init__(self, t, argv, proc, audit_path):
        super().__init__(t, argv, proc, audit_path)
        self.cli_stdout = proc.stdout
        self.files = {}  # what the program left in /out (read from the host)
        self.out = ""  # its stdout+stderr as it wrote them (/out/sh.out)
        self._audit_json = None

    def no_json(self, proc):
        return "no JSON from petri (exit %d): %r %r" % (
            proc.returncode, proc.stdout[-300:], proc.stderr[-300:])

    def describe(self, cap=600):
        return "exit %s reason %s; stdout %r; stderr %r%s" % (
            self.exit_code, self.j.get("reason"), self.stdout[-cap:], self.stderr[-cap:],
            "; petri: %s" % (self.j.get("error") or self.cli_stderr.strip()[-300:])
            if self.failed else "")

    def audit_json(self):
        if self._audit_json is None:
            p = subprocess.run([self.t.petri, "audit", "json", self.audit_path],
                               capture_output=True, text=True, timeout=60)
            self._audit_json = p.stdout + p.stderr
        return self._audit_json

    def events(self):
        if self._events is None:
            self._events = []
            for line in self.audit_json().splitlines():
                try:
                    self._events.append(json.loads(line))
                except ValueError:
                    pass
        return self._events

    def secret_events(self):
        """(misuse?, event) for every event of the vault: kind secret_use
        (allowed true: a use; false: a refusal) or a secret misuse kind."""
        out = []
        for e in self.events():
            kind = str(petri_part(e).get("kind", ""))
            if "secret" not in kind:
                continue
            misuse = "misuse" in kind or any(k == "allowed" and v is False for k, v in flat(e))
            out.append((misuse, e))
        return out

    def summary(self):
        evs = self.secret_events()
        if not evs:
            kinds = sorted({str(petri_part(e).get("kind")) for e in self.events()})
            return "no secret events at all (kinds: %s)" % ", ".join(kinds)
        return "; ".join(json.dumps(petri_part(e).get(petri_part(e).get("kind")) or
                                    petri_part(e), sort_keys=True)[:300]
                         for _, e in evs[:6])


def mentions(e, *needles):
    texts = [str(v).lower() for _, v in flat(petri_part(e))]
    return all(any(n.lower() in s for s in texts) for n in needles)


class T:
    """The servers, the fixtures, the runner."""

    def __init__(self, petri, lib, no_lib, tmp, verbose, simulate=False):
        self.petri, self.lib, self.no_lib, self.tmp, self.verbose = petri, lib, no_lib, tmp, \
            verbose
        self.simulate = simulate
        self.nrun = 0
        # Distinctive per run; "/" and "+" so that its percent and base64
        # forms are not the same text as itself.
        self.prefix = "pvreal-%s-" % secrets.token_hex(3)
        self.value = ("%s%s/+%s" % (self.prefix, secrets.token_hex(12),
                                    secrets.token_hex(6))).encode()
        self.fvalue = ("pvfile-%s" % secrets.token_hex(16)).encode()
        self.log = Log()
        self.broken = {}
        self.fix = os.path.join(tmp, "fix")  # bound read-only at /e2e: NO values in it
        self.private = os.path.join(tmp, "private")  # keys, the secret file: never bound
        os.makedirs(self.fix)
        os.makedirs(self.private, mode=0o700)
        for f in ("probe.py", "vault_client.py"):
            shutil.copy(os.path.join(HERE, f), os.path.join(self.fix, f))
        self.secret_file = os.path.join(self.private, "file_key")
        with open(self.secret_file, "wb") as f:
            f.write(self.fvalue)
        os.chmod(self.secret_file, 0o600)
        self.gitroot = os.path.join(self.private, "git")
        os.makedirs(self.gitroot)
        self.gittoken = secrets.token_hex(6)
        if shutil.which("git"):
            try:
                nettest.make_git_repo(self.gitroot, os.path.join(self.private, "gitwork"),
                                      "vault git %s\n" % self.gittoken, "petri@vault.test")
            except Exception as e:  # noqa: BLE001
                self.broken["git"] = str(e)
        else:
            self.broken["git"] = "git not found"
        pki = os.path.join(self.private, "pki")
        os.makedirs(pki)
        # no openssl: no test at all (raises)
        nettest.make_certs(pki, TEST_CA, "api.vault.test",
                           ["api.vault.test", "other.vault.test", "*.vault.test"])
        self.ca = os.path.join(self.fix, "ca.pem")  # the test CA (public half)
        shutil.copy(os.path.join(pki, "ca.pem"), self.ca)
        ctx = server_ctx(pki, self.log)
        self.A = start(Server(make_handler(self, "api"), self.log, "api", ctx))
        self.O = start(Server(make_handler(self, "other"), self.log, "other", ctx))
        self.P = start(Server(make_handler(self, "plain"), self.log, "plain"))
        self.Q = start(Server(make_handler(self, "plainsecret"), self.log, "plainsecret"))
        os.chmod(tmp, 0o755)
        for root, dirs, files in os.walk(self.fix):
            for n in dirs:
                os.chmod(os.path.join(root, n), 0o755)
            for n in files:
                os.chmod(os.path.join(root, n), 0o644)
        self.allow = ["api.vault.test:%d=127.0.0.1" % self.A,
                      "other.vault.test:%d=127.0.0.1" % self.O,
                      "other.vault.test:%d=127.0.0.1" % self.P,
                      "api.vault.test:%d=127.0.0.1" % self.P,
                      "plain.vault.test:%d=127.0.0.1" % self.Q]
        self.secrets = ["%s@api.vault.test:%d,http://plain.vault.test:%d" % (NAME, self.A, self.Q),
                        "%s@api.vault.test:%d=@%s" % (FNAME, self.A, self.secret_file)]

    # Who may see what: the scoped servers (api, plainsecret) get the value
    # by design; everything else must never.
    UNSCOPED = ("other", "plain")

    def values(self):
        return [self.value, self.fvalue]

    def need(self, tool):
        if not shutil.which(tool):
            if CI:
                raise AssertionError("%s is not installed (CI=true: a failure)" % tool)
            raise Skip("%s not installed" % tool)

    def run(self, cmd, env=None, timeout=60, secrets_=None, extra=(), upstream_ca=True,
            host_env=None, capture=True):
        """`petri run` of @cmd with the vault.  With @capture, what the
        program writes (stdout and stderr together) also goes to a file in
        a host directory bound at /out, which the test reads from the host:
        the bytes the sandbox saw, before the library's own scrubbing of
        returned output (a second wall that must not hide a hole in the
        first).  Run.out is that text; Run.files every file left in /out."""
        self.nrun += 1
        audit = os.path.join(self.tmp, "audit-%d.bin" % self.nrun)
        outdir = os.path.join(self.tmp, "out-%d" % self.nrun)
        os.mkdir(outdir)
        os.chmod(outdir, 0o777)  # the sandbox's user is not the host's root
        argv = [self.petri, "run", "--json", "--timeout", str(timeout), "--audit", audit,
                "--bind", "%s:/e2e" % self.fix, "--bind", "%s:/out:rw" % outdir,
                "--net", "proxy"]
        for a in self.allow:
            argv += ["--allow", a]
        if self.simulate:
            # --simulate: no vault; the placeholders as plain env vars, so
            # the harness (servers, client, checks) runs on a petri without
            # one.  The cases that need the vault must fail here.
            env = dict(env or {}, **{k: "petri-vault-" + secrets.token_hex(16)
                                     for k in (NAME, FNAME)})
        else:
            for s in self.secrets if secrets_ is None else secrets_:
                argv += ["--secret", s]
            if upstream_ca:
                argv += ["--upstream-ca", self.ca]
        for k, v in dict(BASE_ENV, **(env or {})).items():
            argv += ["--env", "%s=%s" % (k, v)]
        if capture:
            cmd = ["/bin/sh", "-c", '"$@" > /out/sh.out 2>&1; rc=$?; cat /out/sh.out; exit $rc',
                   "sh"] + list(cmd)
        argv += list(extra) + ["--"] + list(cmd)
        henv = dict(os.environ, **{NAME: self.value.decode()})
        henv.update(host_env or {})
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout + 60,
                              env=henv, errors="replace")
        r = Run(self, argv, proc, audit)
        for root, _, names in os.walk(outdir):
            for n in names:
                with open(os.path.join(root, n), "rb") as fh:
                    r.files[os.path.relpath(os.path.join(root, n), outdir)] = fh.read()
        r.out = r.files.get("sh.out", b"").decode("latin-1")
        if self.verbose:
            print("    $ %s\n    -> %s" % (" ".join(argv), r.describe(1 << 20)))
        return r

    def client(self, ops, **kw):
        """Run vault_client.py's @ops in one sandbox: (run, results)."""
        r = self.run(["/usr/bin/python3", "/e2e/vault_client.py", json.dumps(ops)], **kw)
        if r.failed or r.exit_code != 0:
            raise AssertionError("vault_client did not run: " + r.describe())
        try:
            res = json.loads(r.out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise AssertionError("vault_client output is not JSON: %r; %s" % (
                r.out[-300:], r.describe()))
        return r, res

    def sh(self, script, **kw):
        return self.run(["/bin/sh", "-c", script], **kw)


# ---- checks shared by cases -------------------------------------------------------


def check_ok(c, r):
    if r.failed:
        c.check(False, "petri failed: %s" % (r.j.get("error") or r.cli_stderr.strip()[-400:]))
        return False
    return c.check(r.exit_code == 0, "program failed: " + r.describe())


def check_no_leak(c, t, r, mark, what="", audit=True):
    """(c) of every case: the value in no byte the sandbox or its caller
    sees, nor in the audit (unless not @audit), nor at an unscoped server
    since @mark."""
    vals = t.values()
    blobs = [("stdout", r.stdout), ("stderr", r.stderr),
             ("the CLI's output", r.cli_stdout + r.cli_stderr)]
    blobs += [("/out/" + n, b) for n, b in sorted(r.files.items())]
    for name, blob in blobs:
        f = find_leaks(blob, vals)
        c.check(not f, "%sthe value (%s) is in %s" % (what, ", ".join(f), name))
    if audit and os.path.exists(r.audit_path):
        with open(r.audit_path, "rb") as fh:
            f = find_leaks(fh.read(), vals)
        c.check(not f, "%sthe value (%s) is in the audit stream" % (what, ", ".join(f)))
        f = find_leaks(r.audit_json(), vals)
        c.check(not f, "%sthe value (%s) is in `petri audit json`" % (what, ", ".join(f)))
    reqs, plain = t.log.since(mark, T.UNSCOPED)
    for q in reqs:
        f = find_leaks(q["raw"], vals)
        c.check(not f, "%sthe unscoped server %s received the value (%s): %r" % (
            what, q["server"], ", ".join(f), q["raw"][:300]))
    _, plain = t.log.since(mark)
    for server, data in plain:
        f = find_leaks(data, vals)
        c.check(not f, "%splain bytes on the TLS port of %s held the value (%s)" % (
            what, server, ", ".join(f)))


def check_use(c, r, name, host):
    evs = [e for m, e in r.secret_events() if not m and mentions(e, name, host)]
    c.check(evs, "no SecretUse event for %s toward %s: %s" % (name, host, r.summary()))


def check_misuse(c, r, *needles):
    evs = [e for m, e in r.secret_events() if m and mentions(e, *needles)]
    c.check(evs, "no SecretMisuse event mentioning %s: %s" % (", ".join(needles) or "anything",
                                                              r.summary()))


def check_no_use(c, r):
    evs = [e for m, e in r.secret_events() if not m]
    c.check(not evs, "a SecretUse event for what was refused: %s" % r.summary())


def placeholder_of(c, r, name=NAME):
    m = re.search(r"%s=(\S+)" % name, r.out)
    ph = m.group(1) if m else None
    c.check(ph and PLACEHOLDER.match(ph), "%s inside is %r, not petri-vault-<32 hex>" % (name, ph))
    return ph


def reached(t, mark, server, needle=None):
    reqs, _ = t.log.since(mark, (server,))
    if needle is None:
        return reqs
    return [q for q in reqs if needle.encode() in q["raw"]]


def https_req(host, port, method, target, headers=(), body=None, proxy=True, **kw):
    """A vault_client.py "https" op: the request as text ("$NAME" expanded
    inside, Content-Length set there)."""
    h = "%s %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n" % (method, target, host, port)
    for k, v in headers:
        h += "%s: %s\r\n" % (k, v)
    if body is not None:
        # %CL%: vault_client.py puts the length of the body as it sends it
        # (after "$NAME" is expanded there).
        h += "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %CL%\r\n"
    h += "\r\n" + (body or "")
    return dict({"op": "https", "host": host, "port": port, "proxy": proxy, "request": h}, **kw)


def http_req(host, port, method, target, headers=(), body=None, proxy=True):
    d = https_req(host, port, method, "http://%s:%d%s" % (host, port, target) if proxy else
                  target, headers, body, proxy)
    d["op"] = "http"
    return d


# ---- what the code sees ------------------------------------------------------------


def case_env_and_proc(t, c):
    """(a) Inside: VAULT_TOKEN and FILE_KEY are placeholders (the prefix,
    32 hex digits, distinct); /proc/self/environ and /proc/1/environ hold
    them, not the values; a scan of every file outside /proc /sys /dev /usr,
    every readable /proc/*/environ and cmdline, and the process's own
    memory finds no value (the code is given a public prefix, the SHA-256
    and the length, never the value).  The trust: the bundle is the host's
    plus one more CA, the variables point at it.  A second sandbox gets
    other placeholders."""
    mark = t.log.mark()
    digest = hashlib.sha256(t.value).hexdigest()
    ops = [{"op": "env"}, {"op": "read", "path": "/proc/self/environ"},
           {"op": "read", "path": "/proc/1/environ"},
           {"op": "scan", "prefix": t.prefix, "sha256": digest, "len": len(t.value),
            "roots": ["/"], "seconds": 60}]
    r, res = t.client(ops, timeout=120)
    env = res[0].get("env", {})
    ph, fph = env.get(NAME, ""), env.get(FNAME, "")
    c.check(PLACEHOLDER.match(ph), "%s=%r: not a placeholder" % (NAME, ph))
    c.check(PLACEHOLDER.match(fph), "%s=%r: not a placeholder" % (FNAME, fph))
    c.check(ph != fph, "both secrets have the same placeholder %r" % ph)
    for k in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "GIT_SSL_CAINFO"):
        c.check(env.get(k) == VAULT_BUNDLE, "%s=%r, want %s" % (k, env.get(k), VAULT_BUNDLE))
    c.check(env.get("NODE_EXTRA_CA_CERTS") == VAULT_CA, "NODE_EXTRA_CA_CERTS=%r, want %s" % (
        env.get("NODE_EXTRA_CA_CERTS"), VAULT_CA))
    with open("/etc/ssl/certs/ca-certificates.crt") as f:
        host_n = f.read().count("-----BEGIN CERTIFICATE-----")
    b = res[0].get(VAULT_BUNDLE, {})
    c.check(b.get("certs") == host_n + 1, "the sandbox's bundle has %s certificates, want the "
            "host's %d + 1: %s" % (b.get("certs"), host_n, str(b)[:300]))
    ca = res[0].get(VAULT_CA, {})
    c.check(ca.get("certs") == 1, "%s: %s" % (VAULT_CA, str(ca)[:300]))
    if b.get("subjects") and ca.get("subjects"):
        c.check(b["subjects"][-1] == ca["subjects"][-1],
                "the bundle's last certificate is not the vault CA: %s vs %s" % (
                    b["subjects"][-1], ca["subjects"][-1]))
    # Their bytes are in the output, which check_no_leak reads from /out.
    data = res[1].get("data")
    c.check(data is not None and ph and ph in data,
            "/proc/self/environ lacks the placeholder: %s" % str(res[1])[:300])
    if res[2].get("data") is None:
        c.note("/proc/1/environ unreadable: %s" % res[2].get("error"))
    s = res[3]
    c.check("error" not in s and s.get("files", 0) > 5 and s.get("memory_bytes", 0) > 1 << 20,
            "the scan did not cover enough: %s" % s)
    c.check(not s.get("found"), "the value is readable inside at %s" % s.get("found"))
    check_no_leak(c, t, r, mark)
    r2, res2 = t.client([{"op": "env"}])
    ph2 = res2[0].get("env", {}).get(NAME, "")
    c.check(PLACEHOLDER.match(ph2) and ph2 != ph,
            "a second sandbox's placeholder %r vs the first's %r" % (ph2, ph))
    c.note("scanned %d files, %d /proc files, %d MiB of memory" % (
        s.get("files", 0), s.get("proc_files", 0), s.get("memory_bytes", 0) >> 20))


# ---- positive: real clients authenticate -------------------------------------------


def curl_case(path):
    def case(t, c):
        """curl with -H "Authorization: Bearer $VAULT_TOKEN", X-Api-Key:
        $FILE_KEY (the file's secret) and -u x-access-token:$VAULT_TOKEN
        (the placeholder inside Basic's base64) to the secret's host,
        trusting only the sandbox's default bundle: 200 from a server that
        checks the real value; ALPN h2 offered by curl and the server,
        HTTP/1.1 used; a SecretUse event per secret naming the host."""
        t.need("curl")
        mark = t.log.mark()
        pre = "" if path == "proxy" else "--noproxy '*' "
        r = t.sh('for h in "Authorization: Bearer $%s" "X-Api-Key: $%s"; do '
                 'curl -sS --http2 %s--max-time 20 -H "$h" -w "\\n@@%%{http_code} '
                 '%%{http_version}\\n" https://api.vault.test:%d/auth; done; '
                 'curl -sS --http2 %s--max-time 20 -u "x-access-token:$%s" -w "\\n@@%%{http_code} '
                 '%%{http_version}\\n" https://api.vault.test:%d/auth' % (
                     NAME, FNAME, pre, t.A, pre, NAME, t.A))
        if check_ok(c, r):
            for how in ("bearer", "file-key", "basic"):
                c.check("authenticated api by %s" % how in r.out, "curl, %s: %r" % (how, r.out))
            c.check(r.out.count("@@200 1.1") == 3, "status/version (h2 asked, HTTP/1.1 "
                    "given): %r" % r.out)
        got = reached(t, mark, "api")
        c.check(len(got) == 3 and all(q["sni"] in (None, "api.vault.test") for q in got),
                "the api server saw %s" % [(q["method"], q["path"], q["sni"]) for q in got])
        check_use(c, r, NAME, "api.vault.test")
        check_use(c, r, FNAME, "api.vault.test")
        check_no_leak(c, t, r, mark)
    return case


def case_urllib(t, c):
    """Python urllib (explicit proxy and transparent), the default trust
    (SSL_CERT_FILE): Bearer header, the placeholder in the query string and
    in a form body: each authenticates; the SecretUse event records the
    target with the placeholder."""
    mark = t.log.mark()
    base = "https://api.vault.test:%d/auth" % t.A
    ops = [{"op": "urllib", "url": base, "headers": {"Authorization": "Bearer $" + NAME}},
           {"op": "urllib", "url": base, "noproxy": True,
            "headers": {"Authorization": "Bearer $" + NAME}},
           {"op": "urllib", "url": base + "?key=$" + NAME},
           {"op": "urllib", "url": base, "data": "key=$" + NAME, "noproxy": True}]
    r, res = t.client(ops)
    for o, x, how in zip(ops, res, ("bearer", "bearer", "query", "body")):
        c.check(x.get("status") == 200 and "by %s" % how in x.get("body", ""),
                "%s %s: %s" % (o["url"], how, x))
    check_use(c, r, NAME, "api.vault.test")
    # The use event names the request as the code sent it: the placeholder.
    c.check([e for m, e in r.secret_events() if not m and mentions(e, "/auth?key=petri-vault-")],
            "no SecretUse event with the request target as sent (the placeholder in the "
            "query): %s" % r.summary())
    check_no_leak(c, t, r, mark)


NODE_FETCH = ("const [u, n] = process.argv.slice(1);"
              "(async () => { const r = await fetch(u, {headers: {authorization: 'Bearer ' +"
              " process.env[n]}}); console.log('@@', r.status, (await r.text()).trim()); })()"
              ".catch(e => { console.log('ERR', e, e.cause); process.exit(1); });")


def case_node_fetch(t, c):
    """Node 20 fetch (undici: ignores the proxy variables, so the
    transparent path), trusting the vault CA through NODE_EXTRA_CA_CERTS."""
    t.need("node")
    mark = t.log.mark()
    r = t.run(["node", "-e", NODE_FETCH, "https://api.vault.test:%d/auth" % t.A, NAME])
    if check_ok(c, r):
        c.check("@@ 200 authenticated api by bearer" in r.out, "fetch: %r" % r.out)
    check_use(c, r, NAME, "api.vault.test")
    check_no_leak(c, t, r, mark)


def git_case(path):
    def case(t, c):
        """git clone https://x-access-token:$VAULT_TOKEN@api.vault.test/repo.git
        (dumb HTTP behind Basic auth that wants the real value): the
        placeholder inside the Basic credentials is replaced."""
        t.need("git")
        if "git" in t.broken:
            raise AssertionError("fixture git: %s" % t.broken["git"])
        mark = t.log.mark()
        pre = " ".join(NOPROXY_ENV) + " " if path == "transparent" else ""
        r = t.sh('%sgit clone -q "https://x-access-token:$%s@api.vault.test:%d/repo.git" '
                 '/workspace/clone && cat /workspace/clone/README' % (pre, NAME, t.A),
                 timeout=90)
        if check_ok(c, r):
            c.check("vault git %s" % t.gittoken in r.out, "clone: %r" % r.out[-500:])
        got = [q for q in reached(t, mark, "api") if q["path"].startswith("/repo.git/")]
        c.check(got, "the git server saw no request")
        check_use(c, r, NAME, "api.vault.test")
        check_no_leak(c, t, r, mark)
    return case


def case_plain_marked(t, c):
    """A host given as "http://plain.vault.test:Q": the one place the value
    may go over plain HTTP (explicit proxy and transparent)."""
    t.need("curl")
    mark = t.log.mark()
    r = t.sh('curl -sS -H "Authorization: Bearer $%s" http://plain.vault.test:%d/auth; '
             'curl -sS --noproxy "*" -H "Authorization: Bearer $%s" '
             'http://plain.vault.test:%d/auth' % (NAME, t.Q, NAME, t.Q))
    if check_ok(c, r):
        c.check(r.out.count("authenticated plainsecret by bearer") == 2, r.out[-500:])
    check_use(c, r, NAME, "plain.vault.test")
    check_no_leak(c, t, r, mark)


def case_binding(t, c):
    """The Python binding: Sandbox(net="proxy", allow=..., secrets={NAME:
    petri.Secret(value, hosts=[...])}, upstream_ca=...): the placeholder
    inside, curl authenticates; and code that prints the value (given in
    the code's own text, as a test can), its base64 and hex, and the value
    written a few bytes at a time with pauses (so it crosses chunks of the
    streaming callback) is masked both in ExecResult.stdout and in every
    chunk on_output got."""
    need_lib(t)
    mark = t.log.mark()
    cfg = {"allow": t.allow, "hosts": ["api.vault.test:%d" % t.A], "ca": t.ca, "fix": t.fix,
           "port": t.A}
    env = dict(os.environ, PETRI_LIBRARY=t.lib,
               PYTHONPATH=os.path.join(HERE, "..", "..", "bindings", "python"),
               VAULT_E2E_VALUE=t.value.decode())
    p = subprocess.run(["/usr/bin/python3", os.path.abspath(__file__), "--binding-child",
                        json.dumps(cfg)], env=env, capture_output=True, text=True, timeout=180)
    try:
        o = json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise AssertionError("binding child: exit %d, stdout %r, stderr %r" % (
            p.returncode, p.stdout[-500:], p.stderr[-1500:]))
    c.check(PLACEHOLDER.match(o["placeholder"]), "placeholder %r" % o["placeholder"])
    c.check("authenticated api by bearer" in o["auth"], "curl via the binding: %r" % o["auth"])
    vals = t.values()
    for what in ("print_stdout", "print_chunks", "auth"):
        f = find_leaks(o[what], vals)
        c.check(not f, "the value (%s) in %s: %r" % (", ".join(f), what, o[what][:300]))
    c.check("*" * len(t.value) in o["print_stdout"],
            "the printed value is not masked with %d '*': %r" % (len(t.value),
                                                                 o["print_stdout"][:300]))
    c.check(o["print_stdout"].count("\n") >= 5 and "END" in o["print_stdout"],
            "the output lost lines: %r" % o["print_stdout"][-300:])
    c.check(o["print_chunks"] == o["print_stdout"],
            "on_output's chunks (%d bytes) differ from ExecResult.stdout (%d bytes)" % (
                len(o["print_chunks"]), len(o["print_stdout"])))
    c.check(o["nchunks"] > 1, "one chunk only: the split writes were not split (%d)" %
            o["nchunks"])
    for k in ("child_stderr",):
        f = find_leaks(p.stderr, vals)
        c.check(not f, "the value (%s) in the binding's %s" % (", ".join(f), k))
    reqs, _ = t.log.since(mark, T.UNSCOPED)
    c.check(not [q for q in reqs if find_leaks(q["raw"], vals)], "an unscoped server got it")


PRINT_CODE = r"""
import base64, sys, time
v = %r.encode()
print("raw", v.decode(), flush=True)
print("b64", base64.b64encode(b"k=" + v).decode(), flush=True)
print("hex", v.hex(), v.hex().upper(), flush=True)
sys.stdout.write("split ")
for i in range(0, len(v), 5):
    sys.stdout.write(v[i:i + 5].decode()); sys.stdout.flush(); time.sleep(0.03)
print(flush=True)
print("END", flush=True)
"""


def binding_child(cfg):
    import petri  # noqa: E402 - PYTHONPATH from the parent

    value = os.environ.pop("VAULT_E2E_VALUE").encode()
    out = {}
    with petri.Sandbox(net="proxy", allow=cfg["allow"], binds=[(cfg["fix"], "/e2e")],
                       secrets={NAME: petri.Secret(value, hosts=cfg["hosts"])},
                       upstream_ca=cfg["ca"]) as sb:
        r = sb.run(["/bin/sh", "-c", 'echo "$%s"; curl -sS -H "Authorization: Bearer $%s" '
                    'https://api.vault.test:%d/auth' % (NAME, NAME, cfg["port"])], timeout=60)
        lines = r.stdout.splitlines()
        out["placeholder"] = lines[0] if lines else ""
        out["auth"] = r.stdout + r.stderr
        chunks = []
        r2 = sb.run(["/usr/bin/python3", "-c", PRINT_CODE % value.decode()], timeout=60,
                    on_output=lambda stream, data: chunks.append(data) if stream == "stdout"
                    else None)
        out["print_stdout"] = r2.stdout + r2.stderr
        out["print_chunks"] = b"".join(chunks).decode("utf-8", "replace") + r2.stderr
        out["nchunks"] = len(chunks)
    print(json.dumps(out))
    return 0


def case_output_scrubbed_cli(t, c):
    """`petri run --json`: code that prints the value (its text holds it:
    the test puts it there), its base64 and hex, and the value a few bytes
    per write: stdout masked ('*' for each byte), the rest of the output
    intact.  (The audit is not judged here: see the note in the code.)"""
    mark = t.log.mark()
    r = t.run(["/usr/bin/python3", "-c", PRINT_CODE % t.value.decode()], capture=False)
    if check_ok(c, r):
        c.check("raw " + "*" * len(t.value) in r.stdout, "raw: %r" % r.stdout[:400])
        c.check(r.stdout.rstrip().endswith("END") and "split " in r.stdout,
                "lines lost: %r" % r.stdout)
    # The caller put the value in the command line itself: the audit's
    # record of that exec (its argv) is what the caller gave, not output
    # the sandbox produced, so it is reported, not judged.
    check_no_leak(c, t, r, mark, audit=False)
    with open(r.audit_path, "rb") as fh:
        if find_leaks(fh.read(), t.values()):
            c.note("the value is in the audit's record of the command line the test gave")


def petri_children(pid):
    """The pids of @pid's children (any of its threads'), [] if gone."""
    kids = []
    try:
        for task in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, task)) as fh:
                kids += fh.read().split()
    except OSError:
        pass
    return kids


def case_cli_environ(t, c):
    """`petri run --secret NAME@...` takes the value from its own
    environment variable NAME; it must not leave it there for the whole
    run, where /proc/PID/environ shows it to whoever may read that file
    and any child of petri would inherit it.  Read while the sandbox
    sleeps: the value (in any simple encoding) is not in petri's
    environment.  ("NAME=" itself may stay: /proc/PID/environ shows the
    bytes where the kernel put them, which unsetenv() does not move.)"""
    argv = [t.petri, "run", "--net", "proxy", "--allow", t.allow[0], "--secret",
            "%s@api.vault.test:%d" % (NAME, t.A), "--upstream-ca", t.ca, "--",
            "/bin/sleep", "3"]
    p = subprocess.Popen(argv, env=dict(os.environ, **{NAME: t.value.decode()}),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen, reads = [], 0
    try:
        # From the time the sandbox runs (petri has a child: its options,
        # the secret's among them, were read long before): before that,
        # the environment is the one exec gave it, value and all.
        end = time.monotonic() + 10
        while time.monotonic() < end and p.poll() is None and not petri_children(p.pid):
            time.sleep(0.02)
        end = time.monotonic() + 2
        while time.monotonic() < end and p.poll() is None:
            try:
                with open("/proc/%d/environ" % p.pid, "rb") as fh:
                    env = fh.read()
                reads += 1
            except OSError:
                break
            seen += [f for f in find_leaks(env, [t.value]) if f not in seen]
            time.sleep(0.2)
    finally:
        out, err = p.communicate(timeout=30)
    c.check(p.returncode == 0, "petri run: exit %s: %s" % (p.returncode, err.decode()[-300:]))
    c.check(reads >= 3, "petri's environment read only %d times" % reads)
    c.check(not seen, "petri's own environment kept the secret during the run: %s" %
            ", ".join(sorted(set(seen))))


# ---- the placeholder where it may not go ---------------------------------------------


def unscoped_ops(t, proxy, tls):
    """The placeholder to other.vault.test in a header, the body, the URL
    path, the query string and Basic auth."""
    host, port = "other.vault.test", (t.O if tls else t.P)
    mk = https_req if tls else http_req
    kw = {"cafile": "/e2e/ca.pem"} if tls else {}
    return [
        mk(host, port, "GET", "/h", [("Authorization", "Bearer $" + NAME)], proxy=proxy, **kw),
        mk(host, port, "POST", "/b", [], body="token=$" + NAME, proxy=proxy, **kw),
        mk(host, port, "GET", "/p/$%s/x" % NAME, proxy=proxy, **kw),
        mk(host, port, "GET", "/q?token=$" + NAME, proxy=proxy, **kw),
        mk(host, port, "GET", "/basic", [("Authorization", "Basic $b64(%s)" % NAME)],
           proxy=proxy, **kw)]


WHERE = ["header", "body", "path", "query", "basic auth"]


def unscoped_tls_case(path):
    def case(t, c):
        """HTTPS to other.vault.test (allowed, not the secret's host: a
        tunnel the proxy cannot look into) with the placeholder in a
        header, body, path, query, Basic auth: the request goes through,
        and the server receives the placeholder, never the value."""
        mark = t.log.mark()
        r, res = t.client(unscoped_ops(t, path == "proxy", True))
        ph = None
        got = reached(t, mark, "other")
        for w, x in zip(WHERE, res):
            c.check(x.get("handshake") and x.get("status") == 200,
                    "%s: the tunnelled request failed: %s" % (w, x))
            c.check((x.get("issuer") or {}).get("commonName") == TEST_CA,
                    "%s: other.vault.test's certificate is not the server's own (intercepted, "
                    "though no secret is bound to it?): issuer %s" % (w, x.get("issuer")))
        m = [PH_ANY.search(q["raw"].decode("latin-1")) for q in got]
        ph = {x.group(0) for x in m if x}
        c.check(len(got) == 5 and len(ph) == 1,
                "the other server saw %d requests, placeholders %s (want 5 carrying the one "
                "placeholder: else this check proves nothing)" % (len(got), ph))
        b = [q for q in got if q["path"] == "/basic"]
        if c.check(b, "no Basic request arrived"):
            auth = re.search(rb"Authorization: Basic (\S+)", b[0]["raw"])
            c.check(auth and PH_ANY.search(base64.b64decode(auth.group(1)).decode("latin-1")),
                    "Basic credentials at the other server: %r" % (auth and auth.group(1)))
        check_no_use(c, r)
        check_no_leak(c, t, r, mark)
    return case


def unscoped_plain_case(path):
    def case(t, c):
        """Plain HTTP to other.vault.test:P with the placeholder in a
        header, body, path, query, Basic auth: each 403, a misuse event,
        and the server receives nothing of them."""
        mark = t.log.mark()
        ops = unscoped_ops(t, path == "proxy", False)
        ops.append(http_req("other.vault.test", t.P, "GET", "/control", proxy=path == "proxy"))
        r, res = t.client(ops)
        for w, x in zip(WHERE, res):
            c.check(x.get("status") == 403, "%s over plain HTTP: want 403, got %s" % (w, x))
        c.check(res[5].get("status") == 200, "control (no placeholder): %s" % res[5])
        got = reached(t, mark, "plain")
        c.check([q["path"] for q in got] == ["/control"],
                "the plain server received %s" % [q["path"] for q in got])
        check_misuse(c, r, NAME, "other.vault.test")
        check_no_use(c, r)
        check_no_leak(c, t, r, mark)
    return case


def case_plain_to_scoped(t, c):
    """Plain HTTP carrying the placeholder to the secret's own host and
    port (api.vault.test:A is TLS-only in the secret), through the proxy
    and transparently; and to api.vault.test on another port (P, not in
    the scope): 403 each, a misuse event, nothing reaches a server."""
    mark = t.log.mark()
    hdr = [("Authorization", "Bearer $" + NAME)]
    r, res = t.client([http_req("api.vault.test", t.A, "GET", "/auth", hdr, proxy=True),
                       http_req("api.vault.test", t.A, "GET", "/auth", hdr, proxy=False),
                       http_req("api.vault.test", t.P, "GET", "/auth", hdr, proxy=True),
                       http_req("api.vault.test", t.P, "GET", "/auth", hdr, proxy=False)])
    for x, what in zip(res, ("A via proxy", "A transparent", "P via proxy", "P transparent")):
        c.check(x.get("status") == 403, "plain HTTP to api.vault.test:%s: want 403, got %s" % (
            what, x))
    _, plain = t.log.since(mark, ("api",))
    c.check(not plain, "plain bytes reached the api server's TLS port: %r" % plain[:1])
    c.check(not reached(t, mark, "plain"), "the plain server was reached")
    check_misuse(c, r, NAME, "api.vault.test")
    check_no_use(c, r)
    check_no_leak(c, t, r, mark)


def case_redirect(t, c):
    """The secret's host redirects to the unscoped one.  curl -L
    --location-trusted (which re-sends Authorization to the new host) and
    urllib (which carries added headers along): the HTTPS target gets only
    the placeholder; a plain-HTTP target is refused (403, misuse); and a
    server that puts the credential it received into the Location (a
    hostile upstream) has it masked before the client sees it, so the
    next hop never gets it."""
    t.need("curl")
    mark = t.log.mark()
    to_tls = "https://other.vault.test:%d/landed" % t.O
    to_plain = "http://other.vault.test:%d/landed" % t.P
    red = "https://api.vault.test:%d/redirect?to=" % t.A
    rede = "https://api.vault.test:%d/redirect-echo?to=" % t.A
    q = urllib.parse.quote
    r = t.sh(BOTH + 'for u in "%s" "%s" "%s"; do curl -sS -L --location-trusted --cacert '
             '/tmp/both.pem -H "Authorization: Bearer $%s" -w "\\n@@%%{http_code} '
             '%%{url_effective}\\n" "$u"; done' % (red + q(to_tls, safe=""),
                                                  red + q(to_plain, safe=""),
                                                  rede + q(to_tls, safe=""), NAME))
    if check_ok(c, r):
        codes = re.findall(r"@@(\d+) (\S+)", r.out)
        c.check(len(codes) == 3 and codes[0][0] == "200" and codes[1][0] == "403" and
                codes[2][0] == "200", "curl -L: %s (want 200 at other, 403 for plain, 200)"
                % codes)
    r2, res = t.client([{"op": "urllib", "url": red + q(to_tls, safe=""), "cafile": "/e2e/ca.pem",
                         "headers": {"Authorization": "Bearer $" + NAME}},
                        {"op": "urllib", "url": red + q(to_plain, safe=""),
                         "headers": {"Authorization": "Bearer $" + NAME}}])
    c.check(res[0].get("status") == 200 and "/landed" in res[0].get("url", ""),
            "urllib to the HTTPS target: %s" % res[0])
    c.check(res[1].get("status") == 403, "urllib to the plain target: want 403, got %s" % res[1])
    landed = [x for x in reached(t, mark, "other") if x["path"].startswith("/landed")]
    c.check(len(landed) >= 3 and all(PH_ANY.search(x["raw"].decode("latin-1")) for x in landed
                                     if "leak=" not in x["path"]),
            "the redirect targets that arrived: %s" % [x["path"] for x in landed])
    c.check(not [x for x in reached(t, mark, "plain") if x["path"].startswith("/landed")],
            "the plain target was reached")
    check_misuse(c, r, NAME, "other.vault.test")
    check_misuse(c, r2, NAME, "other.vault.test")
    check_no_leak(c, t, r, mark)
    check_no_leak(c, t, r2, mark)


def case_dns_exfil(t, c):
    """The placeholder as a DNS label: getent hosts, and by hand a TXT
    query (UDP and TCP) and an A query with it upper-cased: no answer
    (NXDOMAIN/REFUSED) and a misuse event for each sandbox; a control name
    still resolves."""
    mark = t.log.mark()
    r = t.sh('getent hosts "$%s.other.vault.test"; echo "rc=$?"' % NAME)
    if check_ok(c, r):
        c.check(re.search(r"rc=[1-9]", r.out) and "127." not in r.out,
                "getent resolved it: %r" % r.out)
    check_misuse(c, r, NAME)
    check_no_leak(c, t, r, mark)
    labels = ["$" + NAME, "other", "vault", "test"]
    r2, res = t.client([{"op": "dns", "labels": labels, "qtype": 16},
                        {"op": "dns", "labels": labels, "qtype": 1, "upper": True},
                        {"op": "dns", "labels": labels, "qtype": 16, "tcp": True},
                        {"op": "dns", "name": "other.vault.test", "qtype": 1}])
    for x, what in ((res[0], "TXT"), (res[1], "A, upper case"), (res[2], "TXT over TCP")):
        c.check(x.get("rcode") in (3, 5) and not x.get("answers"),
                "%s <placeholder>.other.vault.test: want NXDOMAIN/REFUSED, got %s" % (what, x))
    c.check(res[3].get("rcode") == 0 and res[3].get("answers"),
            "control: A other.vault.test: %s" % res[3])
    check_misuse(c, r2, NAME)
    check_no_leak(c, t, r2, mark)


def case_name_exfil(t, c):
    """The placeholder in a CONNECT target and in an SNI (names the proxy
    reads before any tunnel): refused, a misuse event, nothing reaches the
    other server."""
    mark = t.log.mark()
    tgt = "$%s.other.vault.test:%d" % (NAME, t.O)
    r, res = t.client([
        {"op": "http", "proxy": True, "request": "CONNECT %s HTTP/1.1\r\nHost: %s\r\n"
         "Connection: close\r\n\r\n" % (tgt, tgt)},
        {"op": "https", "host": "other.vault.test", "port": t.O, "proxy": False, "verify": False,
         "sni": "$%s.other.vault.test" % NAME, "request": "GET / HTTP/1.1\r\nHost: "
         "other.vault.test\r\nConnection: close\r\n\r\n"}])
    c.check(res[0].get("status") == 403, "CONNECT <placeholder>.other.vault.test: %s" %
            str(res[0])[:300])
    c.check(not res[1].get("status"), "SNI <placeholder>.other.vault.test: %s" % str(res[1])[:300])
    c.check(not reached(t, mark, "other"), "the other server was reached")
    check_misuse(c, r, NAME)
    check_no_leak(c, t, r, mark)


def case_body_too_large(t, c):
    """A body over the bound the proxy rewrites (2 MiB > 1 MiB) holding the
    placeholder, to the secret's host, the placeholder at its start and
    after the 2 MiB: the request is refused (403/413) or cut, with a
    misuse event; the placeholder never reaches the server (the value
    cannot, it was never put in); the same with a small body
    authenticates (the control)."""
    mark = t.log.mark()
    big = dict(body="key=$" + NAME, pad=2 << 20)
    r, res = t.client([https_req("api.vault.test", t.A, "POST", "/auth", [], **big),
                       https_req("api.vault.test", t.A, "POST", "/auth", [], pad_first=True,
                                 **big),
                       https_req("api.vault.test", t.A, "POST", "/auth", [],
                                 body="key=$" + NAME, pad=1000)])
    for x, where in ((res[0], "at the start"), (res[1], "after 2 MiB")):
        c.check(x.get("handshake") and (x.get("status") in (403, 413) or
                                        (x.get("status") is None and not x.get("timeout"))),
                "a 2 MiB body, the placeholder %s: want 403/413 or the connection cut, got %s"
                % (where, str(x)[:300]))
    c.check(res[2].get("status") == 200, "control, a small body: %s" % str(res[2])[:300])
    got = reached(t, mark, "api")
    c.check(not [q for q in got if PH_ANY.search(q["raw"].decode("latin-1"))],
            "the placeholder reached the server")
    check_misuse(c, r, NAME)
    check_no_leak(c, t, r, mark)


# ---- the secret's host answering with it ----------------------------------------------


def case_echo(t, c):
    """The secret's host echoes what it got (the value, since the proxy
    put it in): raw request, base64 (both alphabets, three alignments),
    hex (both cases), percent-encoded and JSON-escaped, in response
    headers (X-Echo, Set-Cookie), and in a chunked body whose chunk
    boundaries (and the server's writes) cut through the value.  The
    sandbox sees '*' masks, never the value; the server did get it (the
    substitution happened)."""
    mark = t.log.mark()
    hdr = [("Authorization", "Bearer $" + NAME)]
    paths = ["/echo", "/echo-b64", "/echo-hex", "/echo-url", "/echo-header", "/echo-chunked"]
    ops = [https_req("api.vault.test", t.A, "GET", p, hdr, proxy=(i % 2 == 0))
           for i, p in enumerate(paths)]
    ops.append(https_req("api.vault.test", t.A, "POST", "/echo", [], body="key=$" + NAME))
    r, res = t.client(ops)
    for p, x in zip(paths + ["/echo (form body)"], res):
        c.check(x.get("status") == 200, "%s: %s" % (p, str(x)[:300]))
        body = x.get("body", "")
        if re.search(r"(?im)^transfer-encoding:\s*chunked", x.get("head", "")):
            body = dechunk(body)  # the value is whole only once the framing is gone
        f = find_leaks(x.get("head", "") + "\r\n\r\n" + body, t.values())
        c.check(not f, "%s: the value (%s) came back to the sandbox" % (p, ", ".join(f)))
    c.check(res[0].get("issuer") and res[0]["issuer"].get("commonName") != TEST_CA,
            "api.vault.test was not intercepted (issuer %s)" % res[0].get("issuer"))
    c.check("*" * len(t.value) in res[0].get("body", ""),
            "/echo: no '*' mask of the value's length: %r" % res[0].get("body", "")[:300])
    c.check("*" * len(t.value) in dechunk(res[5].get("body", "")),
            "/echo-chunked: no mask: %r" % res[5].get("body", "")[:300])
    got = [q for q in reached(t, mark, "api") if find_leaks(q["raw"], [t.value])]
    c.check(len(got) == len(ops), "the api server got the value in %d of %d requests (no "
            "substitution, so the scrubbing is not tested)" % (len(got), len(ops)))
    check_use(c, r, NAME, "api.vault.test")
    check_no_leak(c, t, r, mark)


def case_echo_compressed(t, c):
    """The secret's host hands the credential back gzip-compressed where
    the scrubber cannot read it, not as a Content-Encoding: as a
    transfer-coding (the request asks "TE: gzip") and as a folded
    "Content-Encoding:" line.  The proxy answers 502 to both (and drops
    TE): the sandbox gets no compressed bytes, so nothing to inflate."""
    mark = t.log.mark()
    hdr = [("Authorization", "Bearer $" + NAME), ("TE", "gzip")]
    paths = ["/echo-te-gzip", "/echo-ce-fold"]
    r, res = t.client([https_req("api.vault.test", t.A, "GET", p, hdr) for p in paths])
    for p, x in zip(paths, res):
        c.check(x.get("status") == 502, "%s: not refused: %s" % (p, str(x)[:300]))
        body = x.get("body", "").encode("latin-1")
        i = body.find(b"\x1f\x8b")
        c.check(i < 0, "%s: gzip bytes reached the sandbox: %r" % (p, body[:120]))
        if i >= 0:
            try:
                c.check(not find_leaks(gzip.decompress(body[i:]), t.values()),
                        "%s: the value, gzip-compressed, reached the sandbox" % p)
            except (OSError, EOFError):
                pass
    for q in reached(t, mark, "api"):
        c.check(not re.search(rb"(?im)^te:", q["raw"]), "TE reached the upstream: %r" %
                q["raw"][:300])
    check_no_leak(c, t, r, mark)


def case_host_sni(t, c):
    """TLS to api.vault.test (intercepted) with Host: other.vault.test:
    421; SNI other.vault.test into api.vault.test's CONNECT: refused.
    The api server receives neither."""
    mark = t.log.mark()
    req = ("GET /auth HTTP/1.1\r\nHost: other.vault.test:%d\r\nAuthorization: Bearer $%s\r\n"
           "Connection: close\r\n\r\n" % (t.A, NAME))
    r, res = t.client([{"op": "https", "host": "api.vault.test", "port": t.A, "proxy": True,
                        "request": req},
                       {"op": "https", "host": "api.vault.test", "port": t.A, "proxy": False,
                        "request": req},
                       {"op": "https", "host": "api.vault.test", "port": t.A, "proxy": True,
                        "sni": "other.vault.test", "verify": False,
                        "request": req.replace("other.vault.test", "api.vault.test")}])
    c.check(res[0].get("status") == 421, "Host other, SNI api (proxy): want 421, got %s" %
            str(res[0])[:300])
    c.check(res[1].get("status") == 421, "Host other, SNI api (transparent): want 421, got %s" %
            str(res[1])[:300])
    c.check(res[2].get("status") in (None, 421, 403) and res[2].get("status") != 200,
            "SNI other into api's tunnel: %s" % str(res[2])[:300])
    c.check(not reached(t, mark, "api"), "the api server was reached: %s" % [
        (q["method"], q["host"]) for q in reached(t, mark, "api")])
    c.check(not reached(t, mark, "other"), "the other server was reached")
    check_no_use(c, r)
    check_no_leak(c, t, r, mark)


def case_trace(t, c):
    """TRACE (which would echo the substituted request) to the secret's
    host: refused (403, 405 or 501), not forwarded; a control GET passes."""
    mark = t.log.mark()
    hdr = [("Authorization", "Bearer $" + NAME)]
    r, res = t.client([https_req("api.vault.test", t.A, "TRACE", "/echo", hdr),
                       https_req("api.vault.test", t.A, "TRACE", "/echo", hdr, proxy=False),
                       https_req("api.vault.test", t.A, "GET", "/auth", hdr)])
    for x in res[:2]:
        c.check(x.get("status") in (403, 405, 501), "TRACE: %s" % str(x)[:300])
    c.check(res[2].get("status") == 200, "control GET: %s" % str(res[2])[:300])
    c.check(not [q for q in reached(t, mark, "api") if q["method"] == "TRACE"],
            "TRACE reached the server")
    check_no_leak(c, t, r, mark)


def case_upstream_unverified(t, c):
    """Without --upstream-ca the proxy cannot verify api.vault.test's
    certificate (the test CA is not in the host's store): the request
    fails (502 or closed) and the value is never sent."""
    mark = t.log.mark()
    r, res = t.client([https_req("api.vault.test", t.A, "GET", "/auth",
                                 [("Authorization", "Bearer $" + NAME)])], upstream_ca=False)
    x = res[0]
    # Either the proxy completed the sandbox's handshake (with the vault's
    # CA) and answered an error, or it closed it; not: the sandbox's client
    # rejected a certificate (then the test CA's reached it: no
    # interception, and this case would prove nothing).
    c.check((x.get("handshake") and (x.get("issuer") or {}).get("commonName") != TEST_CA and
             x.get("status") != 200) or
            (not x.get("handshake") and "CERTIFICATE_VERIFY_FAILED" not in
             x.get("handshake_error", "")),
            "an upstream the proxy cannot verify: want an error or a closed connection from "
            "the proxy, got %s" % str(x)[:400])
    c.check(not reached(t, mark, "api"), "the api server got a request")
    check_no_use(c, r)
    check_no_leak(c, t, r, mark)


def case_foreign_placeholder(t, c):
    """Sandbox 1's placeholder used in sandbox 2 (same secret, its own
    placeholder) toward the secret's host, and a made-up token with the
    prefix: not substituted, 403 and a misuse event; the server gets
    nothing.  Sandbox 2's own placeholder works (the control)."""
    mark = t.log.mark()
    r1 = t.sh('echo "%s=$%s"' % (NAME, NAME))
    ph1 = placeholder_of(c, r1) if check_ok(c, r1) else None
    if not ph1:
        return
    fake = "petri-vault-" + secrets.token_hex(16)
    ops = [https_req("api.vault.test", t.A, "GET", "/auth", [("Authorization", "Bearer " + p)])
           for p in (ph1, fake)]
    ops.append(https_req("api.vault.test", t.A, "GET", "/auth",
                         [("Authorization", "Bearer $" + NAME)]))
    r2, res = t.client(ops)
    for x, what in ((res[0], "sandbox 1's placeholder"), (res[1], "a made-up token")):
        c.check(x.get("status") == 403, "%s: want 403, got %s" % (what, str(x)[:300]))
    c.check(res[2].get("status") == 200, "control, own placeholder: %s" % str(res[2])[:300])
    got = reached(t, mark, "api")
    c.check(len(got) == 1, "the api server got %d requests, want the control only" % len(got))
    c.check(not [q for q in got if ph1.encode() in q["raw"] or fake.encode() in q["raw"]],
            "a foreign token reached the server")
    check_misuse(c, r2)
    check_no_leak(c, t, r2, mark)


# ---- the CLI contract -------------------------------------------------------------------


def cli_error(t, c, args, what, must_mention=None):
    env = dict(os.environ, **{NAME: t.value.decode()})
    env.pop("NOPE_UNSET", None)
    p = subprocess.run([t.petri, "run", "--net", "proxy", "--allow",
                        "api.vault.test:%d=127.0.0.1" % t.A] + args +
                       ["--", "/bin/sh", "-c", "echo RAN"], capture_output=True, text=True,
                       timeout=60, env=env)
    err = p.stderr.strip()
    c.check(p.returncode == 125, "%s: want exit 125, got %d (stderr %r)" % (what, p.returncode,
                                                                            err))
    c.check(err and "\n" not in err, "%s: want a one-line error, got %r" % (what, err))
    c.check("RAN" not in p.stdout, "%s: the program ran" % what)
    f = find_leaks(p.stdout + p.stderr, t.values())
    c.check(not f, "%s: the error shows the value (%s)" % (what, ", ".join(f)))
    if must_mention:
        c.check(must_mention in err, "%s: the error does not name %r: %r" % (what, must_mention,
                                                                          err))


def case_cli_errors(t, c):
    """Bad --secret / --upstream-ca: exit 125, one line naming the
    problem, the value never in it."""
    h = "api.vault.test:%d" % t.A
    cli_error(t, c, ["--secret", "NOPE_UNSET@" + h], "a variable that is not set", "NOPE_UNSET")
    cli_error(t, c, ["--secret", NAME], "no hosts", NAME)
    cli_error(t, c, ["--secret", "%s@" % NAME], "empty hosts", NAME)
    cli_error(t, c, ["--secret", "1BAD@" + h], "a bad name", "1BAD")
    cli_error(t, c, ["--secret", "%s@%s=@/nonexistent/file" % (FNAME, h)], "a missing file",
              "/nonexistent/file")
    cli_error(t, c, ["--secret", NAME + "@" + h, "--secret", NAME + "@" + h], "a name twice",
              NAME)
    cli_error(t, c, ["--secret", NAME + "@" + h, "--upstream-ca", "/nonexistent/ca.pem"],
              "a missing --upstream-ca", "/nonexistent/ca.pem")
    cli_error(t, c, ["--upstream-ca", t.ca], "--upstream-ca without a secret", "upstream")
    p = subprocess.run([t.petri, "run", "--net", "none", "--secret", NAME + "@" + h, "--",
                        "/bin/true"], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, **{NAME: t.value.decode()}))
    c.check(p.returncode == 125 and "secret" in p.stderr,
            "--secret without --net proxy: exit %d %r" % (p.returncode, p.stderr.strip()))


CASES = [
    ("env_proc_memory", case_env_and_proc),
    ("curl_proxy", curl_case("proxy")),
    ("curl_transparent", curl_case("transparent")),
    ("urllib", case_urllib),
    ("node_fetch", case_node_fetch),
    ("git_proxy", git_case("proxy")),
    ("git_transparent", git_case("transparent")),
    ("plain_http_marked_host", case_plain_marked),
    ("python_binding", case_binding),
    ("output_scrubbed_cli", case_output_scrubbed_cli),
    ("cli_environ", case_cli_environ),
    ("unscoped_https_proxy", unscoped_tls_case("proxy")),
    ("unscoped_https_transparent", unscoped_tls_case("transparent")),
    ("unscoped_plain_proxy", unscoped_plain_case("proxy")),
    ("unscoped_plain_transparent", unscoped_plain_case("transparent")),
    ("plain_http_to_scoped", case_plain_to_scoped),
    ("redirect", case_redirect),
    ("dns_exfil", case_dns_exfil),
    ("name_exfil_connect_sni", case_name_exfil),
    ("body_too_large", case_body_too_large),
    ("echo_scrubbed", case_echo),
    ("echo_compressed", case_echo_compressed),
    ("host_sni_mismatch", case_host_sni),
    ("trace", case_trace),
    ("upstream_unverified", case_upstream_unverified),
    ("foreign_placeholder", case_foreign_placeholder),
    ("cli_errors", case_cli_errors),
]


def needs_openssl():
    if not shutil.which("openssl"):
        print("vault_e2e: needs openssl (the test CA)", file=sys.stderr)
        return 1
    return None


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--binding-child":
        return binding_child(json.loads(sys.argv[2]))
    ap = nettest.arg_parser(__doc__)
    ap.add_argument("--simulate", action="store_true",
                    help="check the harness on a petri without the vault: placeholders as "
                    "plain env vars, no --secret (most cases must FAIL then)")
    return nettest.main(
        "vault_e2e", ap, CASES, "petri-vault-e2e-",
        lambda args, tmp: T(os.path.abspath(args.petri), args.lib and os.path.abspath(args.lib),
                            args.no_lib, tmp, args.verbose, args.simulate),
        lambda t: "servers: api https %d, other https %d, plain %d, plain-secret %d" % (
            t.A, t.O, t.P, t.Q),
        needs_openssl)


if __name__ == "__main__":
    sys.exit(main())
