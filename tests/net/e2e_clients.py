#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""End-to-end tests of `petri run --net proxy` (issue 12; DESIGN.md "Network"):
real clients (curl, Python urllib, pip, npm, git, Node fetch, Go net/http)
inside a sandbox reach servers this script starts on the HOST's loopback,
each through both paths (the explicit proxy that HTTP_PROXY/HTTPS_PROXY name,
and the transparent path a client takes when it ignores them); and what must
be refused is refused, never reaches the host's servers, and is recorded in
the audit stream.  Also: names normalised and wildcards, the byte budget, a
stuck upstream, slowloris, two sandboxes of one context (one with 1,000
connections; the Python binding), and the CLI's errors for bad allowlists.

    e2e_clients.py --petri build/petri [--lib build/libpetri.so | --no-lib WHY]
                   [--only REGEX] [--list] [-v]

Every server listens on 127.0.0.1 on an ephemeral port; the names the
sandbox uses (files.test, pkg.test, other.test, ...) are pinned there with
=127.0.0.1 in the allowlist.  Nothing here sends a packet anywhere but
loopback: the "outside" addresses the sandbox tries (192.0.2.1, 2001:db8::1)
fail inside it with ENETUNREACH, since its network namespace has only lo,
and the literals it asks the proxy for are all loopback ones.  (A broken
proxy could still ask the host's resolver about a refused .test name.)

How a case knows which path a client took: the kernel audit (eBPF) records
every connect() of the sandbox, so the proxy path is "every TCP connect went
to 127.0.0.1:3128" and the transparent one "every TCP connect went to a
synthetic address 127.80.x.y on the server's port"; the proxy's own events
must agree (their "via").  Those events (OCSF 4001/4002/4003 in `petri audit
json`, NetConnection and DnsQuery in audit.proto) are matched by name, port
and decision (see Run.net_events and decision()).

Output: one line per case (PASS/FAIL/SKIP and why), then "N passed, N
failed, N skipped"; exit status 1 when any case failed.  Under CI=true a
client this machine should have (curl, git, node, npm, go, pip, openssl)
that is missing is a failure, not a skip.
"""
import base64
import errno
import hashlib
import http.server
import io
import ipaddress
import json
import os
import re
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import tarfile
import threading
import time
import zipfile

from nettest import (CI, NOPROXY_ENV, PROXY, Skip, flat, make_certs, need_lib, petri_part,
                     run_host)
import nettest

HERE = os.path.dirname(os.path.abspath(__file__))
SYNTH = ipaddress.ip_network("127.80.0.0/16")
ENETUNREACH = errno.ENETUNREACH
ECONNREFUSED = errno.ECONNREFUSED
ECONNRESET = errno.ECONNRESET
# The sandbox's environment for every run (a writable HOME for npm and git).
BASE_ENV = {"HOME": "/workspace", "SSL_CERT_FILE": "/e2e/ca.pem",
            "NODE_EXTRA_CA_CERTS": "/e2e/ca.pem", "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0", "PIP_CONFIG_FILE": "/dev/null",
            "npm_config_update_notifier": "false", "npm_config_cache": "/workspace/.npm"}


FIXTURE_TOOL = {"tls": "openssl", "git": "git", "go": "go"}


# ---- servers on the host's loopback -----------------------------------------


class RequestLog:
    """What the host's servers saw, so a case can say "never reached the
    server" for what must be refused before any upstream connection."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = []  # (server, method, path, Host header)
        self.snis = []  # server names in TLS ClientHellos that reached us
        self.udp = []  # datagrams the host's UDP socket received

    def mark(self):
        with self.lock:
            return (len(self.requests), len(self.snis), len(self.udp))

    def since(self, mark):
        with self.lock:
            return (self.requests[mark[0]:], self.snis[mark[1]:], self.udp[mark[2]:])


def make_handler(docroot, log, label):
    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=docroot, **kw)

        def log_message(self, *a):
            pass

        def record(self):
            with log.lock:
                log.requests.append((label, self.command, self.path, self.headers.get("Host", "")))

        def do_GET(self):
            self.record()
            if self.path == "/whoami":
                body = ("%s %s\n" % (label, self.headers.get("Host", ""))).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            super().do_GET()

        def do_HEAD(self):
            self.record()
            super().do_HEAD()

    return Handler


class QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # refused handshakes and resets are what some cases do on purpose


class TLSServer(QuietServer):
    def __init__(self, addr, handler, ctx):
        super().__init__(addr, handler)
        self.ctx = ctx

    def get_request(self):
        sock, addr = self.socket.accept()
        sock.settimeout(15)
        # The handshake happens on the handler thread's first read, so a
        # stuck client cannot stall the accept loop.
        return self.ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr


def start_server(server):
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_address[1]


def start_udp(log):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))

    def loop():
        while True:
            data, peer = s.recvfrom(65536)
            with log.lock:
                log.udp.append((peer, data))

    threading.Thread(target=loop, daemon=True).start()
    return s.getsockname()[1]


def start_silent():
    """A server that accepts and never answers: a stuck upstream."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    held = []

    def loop():
        while True:
            c, _ = s.accept()
            held.append(c)

    threading.Thread(target=loop, daemon=True).start()
    return s.getsockname()[1]


# ---- fixtures -----------------------------------------------------------------


def record_line(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d" % (path, digest, len(data))


def make_wheel(path, token):
    """A valid pure-Python wheel: a module, METADATA, WHEEL and RECORD."""
    files = {
        "petri_e2e_pkg/__init__.py": ("TOKEN = %r\n" % token).encode(),
        "petri_e2e_pkg-1.0.dist-info/METADATA":
            b"Metadata-Version: 2.1\nName: petri-e2e-pkg\nVersion: 1.0\n"
            b"Summary: libpetri egress test package\n",
        "petri_e2e_pkg-1.0.dist-info/WHEEL":
            b"Wheel-Version: 1.0\nGenerator: petri-e2e\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n",
    }
    record = "".join(record_line(p, d) + "\n" for p, d in files.items())
    record += "petri_e2e_pkg-1.0.dist-info/RECORD,,\n"
    files["petri_e2e_pkg-1.0.dist-info/RECORD"] = record.encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for p, d in files.items():
            z.writestr(p, d)


def make_index(docroot, token):
    """A PEP 503 simple index with the one wheel, and the wheel."""
    wheel = "petri_e2e_pkg-1.0-py3-none-any.whl"
    os.makedirs(os.path.join(docroot, "packages"))
    make_wheel(os.path.join(docroot, "packages", wheel), token)
    with open(os.path.join(docroot, "packages", wheel), "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    os.makedirs(os.path.join(docroot, "simple", "petri-e2e-pkg"))
    with open(os.path.join(docroot, "simple", "index.html"), "w") as f:
        f.write('<!DOCTYPE html><html><body><a href="petri-e2e-pkg/">petri-e2e-pkg</a>'
                '</body></html>\n')
    with open(os.path.join(docroot, "simple", "petri-e2e-pkg", "index.html"), "w") as f:
        f.write('<!DOCTYPE html><html><body><a href="../../packages/%s#sha256=%s">%s</a>'
                '</body></html>\n' % (wheel, digest, wheel))


def make_npm_tarball(path, token):
    """What `npm pack` makes: package/package.json and package/index.js."""
    files = {
        "package/package.json": json.dumps({"name": "petri-e2e", "version": "1.0.0",
                                            "main": "index.js", "license": "Apache-2.0"}).encode(),
        "package/index.js": ("module.exports = %s;\n" % json.dumps(token)).encode(),
    }
    with tarfile.open(path, "w:gz") as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 1700000000
            t.addfile(info, io.BytesIO(data))


def build_go(src, out, tmp):
    env = dict(os.environ, CGO_ENABLED="0", GOTOOLCHAIN="local", GOPROXY="off",
               GOFLAGS="-buildvcs=false", GO111MODULE="on")
    if "HOME" not in os.environ and "GOCACHE" not in os.environ:
        env["GOCACHE"] = os.path.join(tmp, "gocache")
    run_host(["go", "build", "-o", out, src], cwd=tmp, env=env)


# ---- petri runs and their audit ---------------------------------------------


class Run(nettest.PetriRun):
    """One `petri run --json --audit FILE` and what it left."""

    def describe(self, cap=600):
        return "exit %s reason %s; stdout %r; stderr %r%s" % (
            self.exit_code, self.j.get("reason"), self.stdout[-cap:], self.stderr[-cap:],
            "; petri: %s" % self.j.get("error") if self.j.get("error") else "")

    def events(self):
        if self._events is None:
            self._events = []
            p = subprocess.run([self.t.petri, "audit", "json", self.audit_path],
                               capture_output=True, text=True, timeout=60)
            for line in p.stdout.splitlines():
                try:
                    self._events.append(json.loads(line))
                except ValueError:
                    pass
        return self._events

    def kernel_audit(self):
        for e in self.events():
            hdr = petri_part(e).get("stream_header")
            if hdr is not None:
                return bool(hdr.get("kernel_audit"))
        return False

    def kernel_net(self, op=None, protocol=None):
        """The kernel's records of the sandbox's own socket calls."""
        out = []
        for e in self.events():
            p = petri_part(e)
            if p.get("kind") != "network_activity":
                continue
            na = p.get("network_activity", {})
            if op and na.get("op") != op:
                continue
            if protocol and na.get("protocol") != protocol:
                continue
            out.append(na)
        return out

    def tcp_peers(self):
        """(address, port) of every TCP connect() the sandbox made, except
        to the DNS server."""
        return {(na.get("address_text"), na.get("port")) for na in self.kernel_net("connect", 6)
                if na.get("port") != 53}

    def net_events(self, name=None, port=None, classes=(4001, 4002, 4003)):
        """The proxy's events (not the kernel's) of @classes that mention
        @name (in any string field) and @port (in any field named *port)."""
        out = []
        for e in self.events():
            if e.get("class_uid") not in classes:
                continue
            if petri_part(e).get("kind") == "network_activity":
                continue  # the kernel's record of a socket call
            leaves = list(flat(e))
            if name is not None:
                n = name.lower().strip("[]")
                if not any(isinstance(v, str) and n in v.lower() for _, v in leaves):
                    continue
            if port is not None:
                hp = ":%s" % port
                if not any((k.endswith("port") and str(v) == str(port)) or
                           (isinstance(v, str) and hp in v and (name is None or name in v))
                           for k, v in leaves):
                    continue
            out.append(e)
        return out

    def net_summary(self, classes=(4001, 4002, 4003)):
        evs = self.net_events(None, None, classes)
        if not evs:
            return "no proxy events of class %s at all" % "/".join(map(str, classes))
        return "%d events, e.g. %s" % (len(evs), "; ".join(
            json.dumps(compact(e), sort_keys=True)[:400] for e in evs[:4]))


def compact(e):
    drop = {"metadata", "time_dt", "category_name", "category_uid", "type_uid", "severity_id"}
    out = {k: v for k, v in e.items() if k not in drop}
    p = dict(petri_part(e))
    for k in ("prev_hash", "hash", "seq", "time_unix_nano"):
        p.pop(k, None)
    out["unmapped"] = {"petri": p}
    return out


def decision(e):
    """'allowed', 'denied' or None, from whatever the event says: OCSF
    action_id (1 Allowed, 2 Denied) or disposition_id (1 Allowed, 2 Blocked,
    6 Dropped), or a petri field allowed / decision."""
    said = set()
    for k, v in flat(e):
        if k == "action_id" and v in (1, 2):
            said.add("allowed" if v == 1 else "denied")
        elif k == "disposition_id" and v in (1, 2, 6):
            said.add("allowed" if v == 1 else "denied")
        elif k == "allowed" and isinstance(v, bool):
            said.add("allowed" if v else "denied")
        elif k == "decision" and isinstance(v, str):
            lv = v.lower()
            if lv.startswith("allow"):
                said.add("allowed")
            elif lv.startswith(("den", "refus", "block", "reject")):
                said.add("denied")
    return said.pop() if len(said) == 1 else None


def dns_refused(e):
    """A DNS event that says the name got no answer (denied, or rcode
    NXDOMAIN 3 / REFUSED 5)."""
    if decision(e) == "denied":
        return True
    for k, v in flat(e):
        if k in ("rcode_id", "rcode") and (v in (3, 5) or
                                           str(v).lower() in ("nxdomain", "refused")):
            return True
    return False


# ---- the test harness -------------------------------------------------------


class T:
    """Everything the cases share: the servers, the fixtures, the runner."""

    def __init__(self, petri, lib, no_lib, tmp, verbose):
        self.petri = petri
        self.lib = lib
        self.no_lib = no_lib
        self.tmp = tmp
        self.verbose = verbose
        self.nrun = 0
        self.token = secrets.token_hex(8)
        self.log = RequestLog()
        self.fix = os.path.join(tmp, "fix")  # bound read-only at /e2e
        self.docroot = os.path.join(tmp, "www")
        os.makedirs(self.fix)
        os.makedirs(self.docroot)
        shutil.copy(os.path.join(HERE, "probe.py"), os.path.join(self.fix, "probe.py"))
        with open(os.path.join(self.docroot, "hello.txt"), "w") as f:
            f.write("hello %s\n" % self.token)
        with open(os.path.join(self.docroot, "big.bin"), "wb") as f:
            f.write(os.urandom(1 << 20))
        self.broken = {}  # fixture -> why it could not be made

        self.H = start_server(QuietServer(("127.0.0.1", 0),
                                          make_handler(self.docroot, self.log, "http")))
        self.S = None
        if shutil.which("openssl"):
            try:
                pki = os.path.join(tmp, "pki")  # the keys: not in the sandbox
                os.makedirs(pki, mode=0o700)
                make_certs(pki, "petri e2e test CA", "files.test",
                           ["files.test", "pkg.test", "other.test"])
                shutil.copy(os.path.join(pki, "ca.pem"), os.path.join(self.fix, "ca.pem"))
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(os.path.join(pki, "server.pem"),
                                    os.path.join(pki, "server.key"))
                ctx.sni_callback = self._sni
                self.S = start_server(TLSServer(("127.0.0.1", 0),
                                                make_handler(self.docroot, self.log, "https"), ctx))
            except Exception as e:  # noqa: BLE001
                self.broken["tls"] = str(e)
        else:
            self.broken["tls"] = "openssl not found"
        self.U = start_udp(self.log)
        self.STUCK = start_silent()
        make_index(self.docroot, self.token)
        make_npm_tarball(os.path.join(self.docroot, "petri-e2e-1.0.0.tgz"), self.token)
        if shutil.which("git"):
            try:
                nettest.make_git_repo(self.docroot, os.path.join(tmp, "gitwork"),
                                      "git %s\n" % self.token, "petri@files.test")
            except Exception as e:  # noqa: BLE001
                self.broken["git"] = str(e)
        if shutil.which("go"):
            try:
                build_go(os.path.join(HERE, "gohttp", "main.go"),
                         os.path.join(self.fix, "gohttp"), tmp)
            except Exception as e:  # noqa: BLE001
                self.broken["go"] = str(e)
        # The sandbox's user is not the host's root: it reads /e2e as others.
        os.chmod(tmp, 0o755)
        for root, dirs, files in os.walk(self.fix):
            for n in dirs:
                os.chmod(os.path.join(root, n), 0o755)
            for n in files:
                os.chmod(os.path.join(root, n), 0o755 if n == "gohttp" else 0o644)

        # The allowlist of every run unless a case says otherwise.  pkg.test
        # only on the HTTP port: "right name, wrong port" uses it on S.
        self.allow = ["files.test:%d=127.0.0.1" % self.H, "pkg.test:%d=127.0.0.1" % self.H,
                      "other.test:%d=127.0.0.1" % self.H]
        if self.S:
            self.allow += ["files.test:%d=127.0.0.1" % self.S, "other.test:%d=127.0.0.1" % self.S]

    def _sni(self, sslobj, name, ctx):
        with self.log.lock:
            self.log.snis.append(name)

    def need(self, tool, fixture=None):
        """Skip (outside CI) or fail (CI=true) when a client is missing;
        fail when a fixture could not be made although its tool is there."""
        for x in (tool, FIXTURE_TOOL.get(fixture)):
            if x and not shutil.which(x):
                if CI:
                    raise AssertionError("%s is not installed (CI=true: a failure)" % x)
                raise Skip("%s not installed" % x)
        if fixture and fixture in self.broken:
            raise AssertionError("fixture %s: %s" % (fixture, self.broken[fixture]))

    def run(self, cmd, allow=None, env=None, timeout=60, net=True, extra=()):
        self.nrun += 1
        audit = os.path.join(self.tmp, "audit-%d.bin" % self.nrun)
        argv = [self.petri, "run", "--json", "--timeout", str(timeout), "--audit", audit,
                "--bind", "%s:/e2e" % self.fix]
        if net:
            argv += ["--net", "proxy"]
            for a in self.allow if allow is None else allow:
                argv += ["--allow", a]
        for k, v in dict(BASE_ENV, **(env or {})).items():
            argv += ["--env", "%s=%s" % (k, v)]
        argv += list(extra) + ["--"] + list(cmd)
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout + 60)
        r = Run(self, argv, proc, audit)
        if self.verbose:
            print("    $ %s\n    -> %s" % (" ".join(argv), r.describe(1 << 20)))
        return r

    def probe(self, c, ops, **kw):
        """Run probe.py's @ops in one sandbox; the list of results."""
        r = self.run(["/usr/bin/python3", "/e2e/probe.py", json.dumps(ops)], **kw)
        if r.failed or r.exit_code != 0:
            raise AssertionError("probe did not run: " + r.describe())
        try:
            res = json.loads(r.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise AssertionError("probe output is not JSON: " + r.describe())
        return r, res

    def sh(self, script, **kw):
        return self.run(["/bin/sh", "-c", script], **kw)


# ---- checks shared by cases ---------------------------------------------------


def check_ok(c, r):
    if r.failed:
        c.check(False, "petri failed: %s" % (r.j.get("error") or r.cli_stderr.strip()))
        return False
    return c.check(r.exit_code == 0, "program failed: " + r.describe())


def check_path(c, r, path, ports):
    """The client went through the explicit proxy (path 'proxy') or the
    transparent listeners (path 'transparent' on @ports), per the kernel's
    record of the sandbox's connect() calls, and per the proxy's own events
    where they say (a field "via")."""
    vias = {v for e in r.net_events(None, None, (4001, 4002)) for k, v in flat(e) if k == "via"}
    c.check(vias <= {path}, "the audit says the connections came via %s, not %s only" % (
        sorted(vias), path))
    if not r.kernel_audit():
        if CI:
            c.check(False, "kernel audit unavailable: cannot tell the path (CI=true)")
        else:
            c.note("path not checked: no kernel audit")
        return
    peers = r.tcp_peers()
    proxy = {p for p in peers if p == PROXY}
    synth = {p for p in peers if p[0] and ipaddress.ip_address(p[0]) in SYNTH}
    other = peers - proxy - synth
    if not proxy and not synth and not other and \
            any(petri_part(e).get("kind") == "loss" for e in r.events()):
        c.note("path not judged: the kernel audit lost events")
        return
    if path == "proxy":
        c.check(proxy and not synth and not other,
                "expected every connection through the proxy 127.0.0.1:3128, saw %s" %
                sorted(peers, key=str))
    else:
        c.check(synth and not proxy and not other and {p for _, p in synth} <= set(ports),
                "expected connections to synthetic 127.80.x.y addresses on %s only, saw %s" %
                (sorted(ports), sorted(peers, key=str)))


def check_audit_allowed(c, r, name, port, path=None):
    """An event allows @name:@port (and names the plain-HTTP @path), and
    counts the bytes it carried."""
    evs = [e for e in r.net_events(name, port, (4001, 4002)) if decision(e) == "allowed"]
    if not c.check(evs, "no audit event (4001/4002) allowing %s:%s; saw: %s" % (
            name, port, r.net_summary((4001, 4002)))):
        return
    if path:
        c.check([e for e in evs if any(isinstance(v, str) and path in v for _, v in flat(e))],
                "no allowing event for %s:%s names the path %s: %s" % (
                    name, port, path, json.dumps(compact(evs[0]))[:400]))
    c.check([e for e in evs if any(k.startswith("bytes") and isinstance(v, int) and v > 0
                                   for k, v in flat(e))],
            "no allowing event for %s:%s counts bytes (a field bytes*, > 0): %s" % (
                name, port, json.dumps(compact(evs[0]))[:400]))


def check_stream_verifies(c, r):
    """The stream with the proxy's events in it still checks out (hash
    chain, completeness): `petri audit verify`."""
    p = subprocess.run([r.t.petri, "audit", "verify", r.audit_path], capture_output=True,
                       text=True, timeout=60)
    c.check(p.returncode == 0, "petri audit verify: exit %d: %s" % (
        p.returncode, (p.stdout + p.stderr).strip()[-400:]))


def check_audit_dns_answered(c, r, name):
    evs = [e for e in r.net_events(name, None, (4003,)) if not dns_refused(e)]
    c.check(evs, "no DNS audit event (4003) answering %s; saw: %s" % (
        name, r.net_summary((4003,))))


def check_audit_denied(c, r, name, port=None, classes=(4001, 4002)):
    evs = [e for e in r.net_events(name, port, classes) if decision(e) == "denied"]
    c.check(evs, "no audit event (%s) denying %s%s; saw: %s" % (
        "/".join(map(str, classes)), name, ":%s" % port if port else "", r.net_summary(classes)))


def check_audit_dns_refused(c, r, name):
    evs = [e for e in r.net_events(name, None, (4003,)) if dns_refused(e)]
    c.check(evs, "no DNS audit event (4003) refusing %s; saw: %s" % (
        name, r.net_summary((4003,))))


def check_kernel_unreach(c, r, addr, port, op):
    if not r.kernel_audit():
        if CI:
            c.check(False, "kernel audit unavailable (CI=true)")
        return
    hits = [na for na in r.kernel_net(op) if na.get("address_text") == addr and
            na.get("port") == port and na.get("result") == -ENETUNREACH]
    c.check(hits, "no kernel audit event (4001) for %s %s:%d failing with ENETUNREACH" % (
        op, addr, port))


def check_not_reached(c, t, mark, needle):
    reqs, snis, _ = t.log.since(mark)
    hit = [q for q in reqs if needle in q[3] or needle in q[2]]
    hit += [s for s in snis if s and needle in s]
    c.check(not hit, "the host's server was reached for %s: %s" % (needle, hit))


def refused_plain(x):
    """A plain HTTP request the far side refused: 403, or the connection
    closed or reset without an answer (not a hang, not a success)."""
    if x.get("status") == 403:
        return True
    if x.get("status") is None and not x.get("timeout"):
        return x.get("end") == "eof" or str(x.get("end", "")).startswith("error") or \
            x.get("errno") in (ECONNREFUSED, ECONNRESET)
    return False


def refused_tls(x):
    """A TLS handshake the far side refused promptly (closed, no hang)."""
    return not x.get("handshake") and not x.get("status") and x.get("ms", 0) < 4500 and \
        "timed out" not in x.get("handshake_error", "")


def is_synth(a):
    try:
        return ipaddress.ip_address(a) in SYNTH
    except ValueError:
        return False


def connect_req(target):
    return "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target, target)


def get_req(target, host):
    return "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (target, host)


def via_proxy(req):
    return {"op": "http", "host": PROXY[0], "port": PROXY[1], "request": req}


# ---- allowed: real clients, both paths --------------------------------------


def case_env(t, c):
    """Proxy mode sets the proxy variables and points DNS at 127.0.0.1."""
    _, (e,) = t.probe(c, [{"op": "env"}])
    env = e["env"]
    for k in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        c.check(env.get(k) and "127.0.0.1:3128" in env[k], "%s=%r" % (k, env.get(k)))
    for k in ("NO_PROXY", "no_proxy"):
        c.check(env.get(k) and {"localhost", "127.0.0.1"} <= set(env[k].split(",")),
                "%s=%r" % (k, env.get(k)))
    c.check(re.search(r"(?m)^nameserver\s+127\.0\.0\.1\s*$", e["resolv_conf"]),
            "resolv.conf: %r" % e["resolv_conf"])


def curl_case(scheme, path):
    def case(t, c):
        t.need("curl", "tls" if scheme == "https" else None)
        port = t.S if scheme == "https" else t.H
        mark = t.log.mark()
        pre = "" if path == "proxy" else "--noproxy '*' "
        r = t.sh("curl -sS --fail --max-time 20 --cacert /e2e/ca.pem %s"
                 "-w '\\n@@%%{remote_ip} %%{remote_port}' %s://files.test:%d/hello.txt" %
                 (pre, scheme, port))
        if not check_ok(c, r):
            return
        c.check("hello %s" % t.token in r.stdout, "body: %r" % r.stdout)
        m = re.search(r"@@(\S+) (\d+)", r.stdout)
        if c.check(m, "no remote address in %r" % r.stdout):
            ip, p = m.group(1), int(m.group(2))
            if path == "proxy":
                c.check((ip, p) == PROXY, "curl connected to %s:%d, not the proxy" % (ip, p))
            else:
                c.check(is_synth(ip) and p == port,
                        "curl connected to %s:%d, not a synthetic address on %d" % (ip, p, port))
        check_path(c, r, path, [port])
        check_audit_allowed(c, r, "files.test", port, "/hello.txt" if scheme == "http" else None)
        check_stream_verifies(c, r)
        if path == "transparent":
            check_audit_dns_answered(c, r, "files.test")
        reqs, snis, _ = t.log.since(mark)
        c.check(any(q[0] == scheme and q[2] == "/hello.txt" for q in reqs),
                "the %s server saw no GET /hello.txt: %s" % (scheme, reqs))
        if scheme == "https":
            c.check("files.test" in snis, "the TLS server saw SNI %s, not files.test" % snis)
    return case


def urllib_case(path):
    def case(t, c):
        t.need(None, "tls")
        mode = "env" if path == "proxy" else "none"
        ops = [{"op": "urllib", "proxies": mode, "url": "http://files.test:%d/hello.txt" % t.H},
               {"op": "urllib", "proxies": mode, "cafile": "/e2e/ca.pem",
                "url": "https://files.test:%d/hello.txt" % t.S}]
        r, res = t.probe(c, ops)
        for o, x in zip(ops, res):
            c.check(x.get("status") == 200 and "hello %s" % t.token in x.get("body", ""),
                    "%s: %s" % (o["url"], x))
        if path == "proxy":
            c.check({"http", "https"} <= set(res[0].get("env_proxies", [])),
                    "urllib found no proxies in the environment: %s" % res[0])
        check_path(c, r, path, [t.H, t.S])
        check_audit_allowed(c, r, "files.test", t.H)
        check_audit_allowed(c, r, "files.test", t.S)
    return case


def pip_case(path):
    def case(t, c):
        if not os.path.exists("/usr/lib/python3/dist-packages/pip"):
            if CI:
                raise AssertionError("pip (python3-pip) is not installed (CI=true)")
            raise Skip("python3-pip not installed")
        pre = " ".join(NOPROXY_ENV) + " " if path == "transparent" else ""
        r = t.sh("%s/usr/bin/python3 -m pip install --no-cache-dir --disable-pip-version-check "
                 "--no-input --no-deps --only-binary :all: --trusted-host pkg.test "
                 "--index-url http://pkg.test:%d/simple/ --target /workspace/x petri-e2e-pkg "
                 "&& /usr/bin/python3 -c 'import sys; sys.path.insert(0, \"/workspace/x\"); "
                 "import petri_e2e_pkg as m; print(\"TOKEN\", m.TOKEN)'" % (pre, t.H),
                 timeout=90)
        if not check_ok(c, r):
            return
        c.check("TOKEN %s" % t.token in r.stdout, "installed module: %r" % r.stdout[-300:])
        check_path(c, r, path, [t.H])
        check_audit_allowed(c, r, "pkg.test", t.H)
    return case


def npm_case(path):
    def case(t, c):
        t.need("npm")
        t.need("node")
        pre = " ".join(NOPROXY_ENV) + " " if path == "transparent" else ""
        r = t.sh("%snpm install --no-audit --no-fund --no-update-notifier --loglevel=error "
                 "--prefix /workspace/n http://pkg.test:%d/petri-e2e-1.0.0.tgz && "
                 "node -e 'console.log(\"TOKEN\", require(\"/workspace/n/node_modules/petri-e2e\"))'"
                 % (pre, t.H), timeout=120)
        if not check_ok(c, r):
            return
        c.check("TOKEN %s" % t.token in r.stdout, "installed module: %r" % r.stdout[-300:])
        check_path(c, r, path, [t.H])
        check_audit_allowed(c, r, "pkg.test", t.H)
    return case


def git_case(path):
    def case(t, c):
        t.need("git", "git")
        pre = " ".join(NOPROXY_ENV) + " " if path == "transparent" else ""
        r = t.sh("%sgit clone -q http://files.test:%d/repo.git /workspace/clone && "
                 "cat /workspace/clone/README" % (pre, t.H), timeout=60)
        if not check_ok(c, r):
            return
        c.check("git %s" % t.token in r.stdout, "clone: %r" % r.stdout[-300:])
        check_path(c, r, path, [t.H])
        check_audit_allowed(c, r, "files.test", t.H)
    return case


NODE_FETCH = ("const urls = process.argv.slice(1);"
              "(async () => { for (const u of urls) {"
              " const r = await fetch(u); console.log(u, r.status, (await r.text()).trim()); }"
              "})().catch(e => { console.log('ERR', e, e.cause); process.exit(1); });")


def node_case(vars_set):
    def case(t, c):
        t.need("node", "tls")
        urls = ["http://files.test:%d/hello.txt" % t.H, "https://files.test:%d/hello.txt" % t.S]
        cmd = ["node", "-e", NODE_FETCH] + urls
        r = t.run(cmd if vars_set else NOPROXY_ENV + cmd)
        if not check_ok(c, r):
            return
        for u in urls:
            c.check("%s 200 hello %s" % (u, t.token) in r.stdout, "fetch %s: %r" % (u, r.stdout))
        # fetch ignores the proxy variables: the transparent path either way.
        check_path(c, r, "transparent", [t.H, t.S])
        check_audit_allowed(c, r, "files.test", t.H)
        check_audit_allowed(c, r, "files.test", t.S)
    return case


def go_case(path):
    def case(t, c):
        t.need("go", "go")
        t.need(None, "tls")
        urls = ["http://files.test:%d/hello.txt" % t.H, "https://files.test:%d/hello.txt" % t.S]
        r = t.run(["/e2e/gohttp", "env" if path == "proxy" else "direct"] + urls)
        if not check_ok(c, r):
            return
        for u in urls:
            c.check("%s 200 hello %s" % (u, t.token) in r.stdout, "Go GET %s: %r" % (u, r.stdout))
        check_path(c, r, path, [t.H, t.S])
        check_audit_allowed(c, r, "files.test", t.H)
        check_audit_allowed(c, r, "files.test", t.S)
    return case


# ---- denied -------------------------------------------------------------------


def case_name_not_listed_proxy(t, c):
    """denied.test is on no list: 403 from the proxy, for a plain request
    and for CONNECT; files.test in the same sandbox works (the control)."""
    t.need("curl")
    mark = t.log.mark()
    r = t.sh("curl -sS -o /dev/null -w 'A%%{http_code}\\n' http://files.test:%d/hello.txt; "
             "curl -sS -o /dev/null -w 'D%%{http_code}\\n' http://denied.test:%d/hello.txt; "
             "exit 0" % (t.H, t.H))
    if not check_ok(c, r):
        return
    c.check("A200" in r.stdout, "control: files.test via the proxy: %r" % r.stdout)
    c.check("D403" in r.stdout, "denied.test via the proxy: want 403, got %r" % r.stdout)
    r2, res = t.probe(c, [via_proxy(connect_req("denied.test:%d" % t.S)),
                          via_proxy(connect_req("files.test:%d" % t.S))])
    c.check(res[0].get("status") == 403, "CONNECT denied.test: want 403, got %s" % res[0])
    c.check(res[1].get("status") == 200, "control: CONNECT files.test: %s" % res[1])
    check_not_reached(c, t, mark, "denied.test")
    check_audit_denied(c, r, "denied.test", t.H)
    check_audit_denied(c, r2, "denied.test", t.S)


def case_name_not_listed_dns(t, c):
    """The transparent path: no address for denied.test (NXDOMAIN), so
    the client cannot even connect; files.test gets a synthetic one."""
    t.need("curl")
    mark = t.log.mark()
    r, res = t.probe(c, [{"op": "resolve", "name": "files.test"},
                         {"op": "resolve", "name": "denied.test"},
                         {"op": "dns", "name": "denied.test", "qtype": 1},
                         {"op": "dns", "name": "files.test", "qtype": 1}])
    c.check(res[0].get("addrs") and all(is_synth(a) for a in res[0]["addrs"]),
            "control: files.test resolves to %s" % res[0])
    c.check("gaierror" in res[1], "denied.test resolved: %s" % res[1])
    c.check(res[2].get("rcode") in (3, 5) and not res[2].get("answers"),
            "DNS A denied.test: want NXDOMAIN/REFUSED, got %s" % res[2])
    c.check(res[3].get("rcode") == 0 and any(is_synth(a["data"]) for a in res[3].get("answers", [])),
            "control: DNS A files.test: %s" % res[3])
    r2 = t.sh("curl -sS --noproxy '*' http://denied.test:%d/hello.txt; echo rc=$?" % t.H)
    c.check(not r2.failed and "rc=6" in r2.stdout,
            "curl --noproxy to denied.test: want exit 6 (cannot resolve): " + r2.describe())
    check_not_reached(c, t, mark, "denied.test")
    check_audit_dns_answered(c, r, "files.test")
    check_audit_dns_refused(c, r, "denied.test")
    check_stream_verifies(c, r)
    check_audit_dns_refused(c, r2, "denied.test")


def case_wrong_port(t, c):
    """pkg.test is allowed on H only: refused on S through the proxy
    (CONNECT and plain), and on the transparent listener for S."""
    mark = t.log.mark()
    t.need(None, "tls")
    r, res = t.probe(c, [
        via_proxy(connect_req("pkg.test:%d" % t.H)),
        via_proxy(connect_req("pkg.test:%d" % t.S)),
        via_proxy(get_req("http://pkg.test:%d/whoami" % t.S, "pkg.test:%d" % t.S)),
        {"op": "http", "host": "pkg.test", "port": t.S,
         "request": get_req("/whoami", "pkg.test:%d" % t.S)},
        {"op": "tls", "host": "pkg.test", "port": t.S, "sni": "pkg.test"},
        {"op": "connect", "host": "pkg.test", "port": 9}])
    c.check(res[0].get("status") == 200, "control: CONNECT pkg.test:H: %s" % res[0])
    c.check(res[1].get("status") == 403, "CONNECT pkg.test:S: want 403, got %s" % res[1])
    c.check(res[2].get("status") == 403, "GET http://pkg.test:S/ via proxy: want 403, got %s" %
            res[2])
    c.check(refused_plain(res[3]),
            "plain HTTP to pkg.test's address on S: want 403 or closed, got %s" % res[3])
    c.check(refused_tls(res[4]), "TLS to pkg.test's address on S: want closed, got %s" % res[4])
    c.check(res[5].get("errno") == ECONNREFUSED,
            "a port on no list (9) at pkg.test's address: want ECONNREFUSED, got %s" % res[5])
    reqs, snis, _ = t.log.since(mark)
    c.check(not [q for q in reqs if q[0] == "https"] and not snis,
            "the TLS server was reached: %s %s" % (reqs, snis))
    check_audit_denied(c, r, "pkg.test", t.S)


def sni_case(path):
    def case(t, c):
        """Domain fronting: TLS for files.test's address (or CONNECT
        target) with the SNI of another name; refused even when that name
        is allowed itself (other.test)."""
        t.need(None, "tls")
        mark = t.log.mark()
        if path == "proxy":
            base = {"op": "tls", "proxy": True, "target": "files.test:%d" % t.S}
        else:
            base = {"op": "tls", "host": "files.test", "port": t.S}
        r, res = t.probe(c, [dict(base, sni="files.test"), dict(base, sni="other.test"),
                             dict(base, sni="denied.test")])
        c.check(res[0].get("handshake") and res[0].get("status") == 200 and
                "files.test" in res[0].get("body", ""), "control: SNI files.test: %s" % res[0])
        for x, sni in ((res[1], "other.test"), (res[2], "denied.test")):
            c.check(refused_tls(x), "SNI %s for files.test: want closed, got %s" % (sni, x))
            check_not_reached(c, t, mark, sni)
        check_audit_denied(c, r, "other.test")
        check_audit_denied(c, r, "denied.test")
    return case


def host_case(path):
    def case(t, c):
        """A plain HTTP request for files.test with the Host of another
        name: 421 Misdirected Request."""
        mark = t.log.mark()
        ops = []
        for host in ("files.test", "other.test", "denied.test"):
            hh = "%s:%d" % (host, t.H)
            if path == "proxy":
                ops.append(via_proxy(get_req("http://files.test:%d/whoami" % t.H, hh)))
            else:
                ops.append({"op": "http", "host": "files.test", "port": t.H,
                            "request": get_req("/whoami", hh)})
        r, res = t.probe(c, ops)
        c.check(res[0].get("status") == 200 and "files.test" in res[0].get("body", ""),
                "control: Host files.test: %s" % res[0])
        c.check(res[1].get("status") == 421, "Host other.test: want 421, got %s" % res[1])
        c.check(res[2].get("status") in (421, 403),
                "Host denied.test: want 421 (or 403), got %s" % res[2])
        check_not_reached(c, t, mark, "other.test")
        check_not_reached(c, t, mark, "denied.test")
        check_audit_denied(c, r, "other.test")
    return case


def case_literal_ip(t, c):
    """An IP literal on no list, in any spelling: 403, never dialled."""
    mark = t.log.mark()
    forms = ["127.0.0.1", "2130706433", "0177.0.0.1", "127.1", "0x7f000001", "[::1]",
             "[::ffff:127.0.0.1]"]
    ops = [via_proxy(connect_req("files.test:%d" % t.H))]
    ops += [via_proxy(connect_req("%s:%d" % (f, t.H))) for f in forms]
    ops.append(via_proxy(get_req("http://127.0.0.1:%d/whoami" % t.H, "127.0.0.1:%d" % t.H)))
    r, res = t.probe(c, ops)
    c.check(res[0].get("status") == 200, "control: CONNECT files.test: %s" % res[0])
    for f, x in zip(forms + ["GET http://127.0.0.1"], res[1:]):
        c.check(x.get("status") == 403, "CONNECT %s: want 403, got %s" % (f, x))
    reqs, _, _ = t.log.since(mark)
    c.check(not reqs, "the host's server was reached: %s" % reqs)
    check_audit_denied(c, r, "127.0.0.1", t.H)
    check_audit_denied(c, r, "::1", t.H)


def case_loopback_unpinned(t, c):
    """localhost is on the list but not pinned: the host resolves it to
    its own loopback and must not dial that.  Inside, "localhost" is the
    sandbox's own 127.0.0.1, where a transparent listener must not let it
    through either."""
    mark = t.log.mark()
    allow = ["localhost:%d" % t.H, "files.test:%d=127.0.0.1" % t.H]
    r, res = t.probe(c, [
        via_proxy(connect_req("files.test:%d" % t.H)),
        via_proxy(connect_req("localhost:%d" % t.H)),
        via_proxy(get_req("http://localhost:%d/whoami" % t.H, "localhost:%d" % t.H)),
        {"op": "http", "host": "127.0.0.1", "port": t.H,
         "request": get_req("/whoami", "localhost:%d" % t.H)}], allow=allow)
    c.check(res[0].get("status") == 200, "control: CONNECT files.test: %s" % res[0])
    c.check(res[1].get("status") == 403, "CONNECT localhost: want 403, got %s" % res[1])
    c.check(res[2].get("status") == 403, "GET http://localhost via proxy: want 403, got %s" %
            res[2])
    c.check(refused_plain(res[3]) or res[3].get("errno") == ECONNREFUSED,
            "plain HTTP to the sandbox's own 127.0.0.1:%d: want refused, got %s" % (t.H, res[3]))
    check_not_reached(c, t, mark, "localhost")
    check_audit_denied(c, r, "localhost", t.H)


def case_dns_exfil(t, c):
    """DNS answers nothing but A records for allowed names: data in
    labels (TXT or A) gets NXDOMAIN and never leaves; other types of an
    allowed name get no data; a malformed label gets no answer or FORMERR;
    and every one is in the audit stream."""
    secret = secrets.token_hex(31) + "a"  # 63 characters: the longest label
    labels = [secret, secret[::-1], secret, "exfil", "test"]
    r, res = t.probe(c, [
        {"op": "dns", "labels": labels, "qtype": 16},
        {"op": "dns", "labels": labels, "qtype": 1},
        {"op": "dns", "labels": labels, "qtype": 16, "tcp": True},
        {"op": "dns", "name": "files.test", "qtype": 16},
        {"op": "dns", "name": "files.test", "qtype": 28},
        {"op": "dns", "labels": ["x" * 64, "exfil", "test"], "qtype": 16, "timeout": 1},
        {"op": "dns", "raw_hex": "00", "timeout": 1},
        {"op": "dns", "name": "files.test", "qtype": 1, "tcp": True},
        {"op": "dns", "name": "files.test", "qtype": 1}])
    for i, what in ((0, "TXT"), (1, "A"), (2, "TXT over TCP")):
        c.check(res[i].get("rcode") in (3, 5) and not res[i].get("answers"),
                "%s for data.exfil.test: want NXDOMAIN/REFUSED, got %s" % (what, res[i]))
    for i, what in ((3, "TXT"), (4, "AAAA")):
        c.check(res[i].get("rcode") == 0 and not res[i].get("answers"),
                "%s for files.test: want NOERROR without data, got %s" % (what, res[i]))
    c.check(res[5].get("no_answer") or res[5].get("rcode") in (1, 3, 5),
            "a 64-byte label: want no answer or FORMERR, got %s" % res[5])
    c.check(res[6].get("no_answer"), "one garbage byte got an answer: %s" % res[6])
    for i, what in ((7, "TCP"), (8, "UDP")):
        c.check(res[i].get("rcode") == 0 and any(is_synth(a["data"]) for a in
                                                 res[i].get("answers", [])),
                "control (after the junk): A files.test over %s: %s" % (what, res[i]))
    check_audit_dns_refused(c, r, "exfil.test")


def case_direct_connect(t, c):
    """connect() to an outside address fails in the sandbox itself:
    ENETUNREACH (only lo in its namespace: no packet leaves), recorded
    by the kernel audit.  A synthetic address on a port with no listener:
    ECONNREFUSED."""
    r, res = t.probe(c, [{"op": "connect", "host": "192.0.2.1", "port": 80},
                         {"op": "connect", "host": "10.1.2.3", "port": 443},
                         {"op": "connect", "host": "files.test", "port": 9}])
    c.check(res[0].get("errno") == ENETUNREACH, "connect 192.0.2.1:80: %s" % res[0])
    c.check(res[1].get("errno") == ENETUNREACH, "connect 10.1.2.3:443: %s" % res[1])
    c.check(res[2].get("errno") == ECONNREFUSED, "connect files.test:9: %s" % res[2])
    check_kernel_unreach(c, r, "192.0.2.1", 80, "connect")
    check_kernel_unreach(c, r, "10.1.2.3", 443, "connect")


def case_udp(t, c):
    """UDP goes nowhere but the DNS socket: outside addresses are
    unreachable; the sandbox's 127.0.0.1:U is its own loopback, not the
    host's (the host's UDP server on U hears nothing); a synthetic
    address has no UDP listener."""
    mark = t.log.mark()
    r, res = t.probe(c, [{"op": "udp", "host": "192.0.2.1", "port": 53},
                         {"op": "udp", "host": "127.0.0.1", "port": t.U},
                         {"op": "udp", "host": "files.test", "port": t.H},
                         {"op": "dns", "name": "files.test", "qtype": 1}])
    c.check(res[0].get("errno") == ENETUNREACH, "sendto 192.0.2.1:53: %s" % res[0])
    c.check("recv" not in res[1], "UDP to 127.0.0.1:%d got an answer: %s" % (t.U, res[1]))
    c.check("recv" not in res[2], "UDP to files.test:%d got an answer: %s" % (t.H, res[2]))
    c.check(res[3].get("rcode") == 0, "control: DNS over UDP: %s" % res[3])
    time.sleep(0.2)
    _, _, udp = t.log.since(mark)
    c.check(not udp, "the host's UDP server received %s" % udp)
    check_kernel_unreach(c, r, "192.0.2.1", 53, "sendto")


def case_ipv6(t, c):
    """IPv6: no route out, no AAAA answers, and no v6 literal through the
    proxy."""
    mark = t.log.mark()
    r, res = t.probe(c, [{"op": "connect", "host": "2001:db8::1", "port": 80},
                         {"op": "udp", "host": "2001:db8::1", "port": 53},
                         {"op": "dns", "name": "files.test", "qtype": 28},
                         {"op": "resolve", "name": "files.test", "family": 6},
                         via_proxy(connect_req("[::1]:%d" % t.H)),
                         via_proxy(connect_req("[0:0:0:0:0:0:0:1]:%d" % t.S))])
    c.check(res[0].get("errno") == ENETUNREACH, "connect [2001:db8::1]:80: %s" % res[0])
    c.check(res[1].get("errno") == ENETUNREACH, "sendto [2001:db8::1]:53: %s" % res[1])
    c.check(res[2].get("rcode") == 0 and not res[2].get("answers"),
            "AAAA files.test: want NOERROR without data, got %s" % res[2])
    c.check(not res[3].get("addrs"), "files.test has an IPv6 address: %s" % res[3])
    c.check(res[4].get("status") == 403, "CONNECT [::1]: want 403, got %s" % res[4])
    c.check(res[5].get("status") == 403, "CONNECT [0:0:0:0:0:0:0:1]: want 403, got %s" % res[5])
    reqs, _, _ = t.log.since(mark)
    c.check(not reqs, "the host's server was reached: %s" % reqs)
    check_kernel_unreach(c, r, "2001:db8::1", 80, "connect")
    check_audit_denied(c, r, "::1", t.H)
    check_audit_denied(c, r, "::1", t.S)


def case_names(t, c):
    """Names are matched as normalised (upper case, a trailing dot), and
    "*.wild.test" allows its subdomains but not wild.test itself."""
    mark = t.log.mark()
    allow = t.allow + ["*.wild.test:%d=127.0.0.1" % t.H]
    h = t.H
    r, res = t.probe(c, [
        via_proxy(connect_req("FILES.Test.:%d" % h)),
        via_proxy(get_req("http://Files.TEST:%d/whoami" % h, "files.test.:%d" % h)),
        via_proxy(get_req("http://a.wild.test:%d/whoami" % h, "a.wild.test:%d" % h)),
        via_proxy(get_req("http://wild.test:%d/whoami" % h, "wild.test:%d" % h)),
        {"op": "resolve", "name": "A.Wild.Test."},
        {"op": "resolve", "name": "wild.test"},
        {"op": "http", "host": "b.wild.test", "port": h,
         "request": get_req("/whoami", "B.WILD.test:%d" % h)}], allow=allow)
    c.check(res[0].get("status") == 200, "CONNECT FILES.Test.: %s" % res[0])
    c.check(res[1].get("status") == 200, "GET http://Files.TEST: %s" % res[1])
    c.check(res[2].get("status") == 200 and "a.wild.test" in res[2].get("body", ""),
            "GET http://a.wild.test (*.wild.test allowed): %s" % res[2])
    c.check(res[3].get("status") == 403, "GET http://wild.test (only its subdomains are "
            "allowed): want 403, got %s" % res[3])
    c.check(res[4].get("addrs") and all(is_synth(a) for a in res[4]["addrs"]),
            "A.Wild.Test. resolves to %s" % res[4])
    c.check("gaierror" in res[5], "wild.test resolved: %s" % res[5])
    c.check(res[6].get("status") == 200 and "b.wild.test" in res[6].get("body", "").lower(),
            "transparent b.wild.test: %s" % res[6])
    reqs, _, _ = t.log.since(mark)
    c.check(not [q for q in reqs if q[3].lower().startswith("wild.test")],
            "the server was reached for wild.test: %s" % reqs)
    check_audit_denied(c, r, "wild.test", h)


def case_byte_budget(t, c):
    """--net-max-bytes 64K: a 1 MiB download is cut short, later requests
    are refused, and the audit says why."""
    t.need("curl")
    r = t.sh("curl -sS -o /workspace/big --max-time 20 http://files.test:%d/big.bin; "
             "echo rc=$?; wc -c < /workspace/big; "
             "curl -sS -o /dev/null -w 'then%%{http_code}\n' --max-time 10 "
             "http://files.test:%d/hello.txt; exit 0" % (t.H, t.H),
             extra=["--net-max-bytes", "64K"])
    if not check_ok(c, r):
        return
    m = re.search(r"rc=(\d+)\s+(\d+)", r.stdout)
    if c.check(m, "no result: %r" % r.stdout):
        c.check(m.group(1) != "0" and int(m.group(2)) <= 64 * 1024,
                "the 1 MiB download under a 64 KiB budget: curl exit %s, %s bytes" % (
                    m.group(1), m.group(2)))
    c.check(re.search(r"then(403|000)", r.stdout),
            "a request after the budget is spent: want refused, got %r" % r.stdout)
    evs = [e for e in r.net_events("files.test", t.H, (4001, 4002))
           if any(isinstance(v, str) and "byte" in v.lower() for _, v in flat(e))]
    c.check(evs, "no audit event for files.test gives the byte limit as the reason: %s" %
            r.net_summary((4001, 4002)))


# ---- faults ---------------------------------------------------------------------


def case_stuck_upstream(t, c):
    """An upstream that accepts and never answers holds its own
    connections, not the proxy: while ten requests to it hang (five
    through the proxy, five transparent), requests to files.test of the
    same sandbox are served at once."""
    allow = t.allow + ["stuck.test:%d=127.0.0.1" % t.STUCK]
    stuck = "stuck.test:%d" % t.STUCK
    r, res = t.probe(c, [
        {"op": "hold", "host": PROXY[0], "port": PROXY[1], "n": 5,
         "send": get_req("http://%s/" % stuck, stuck)},
        {"op": "hold", "host": "stuck.test", "port": t.STUCK, "n": 5,
         "send": get_req("/", stuck)},
        {"op": "sleep", "seconds": 0.3},
        via_proxy(get_req("http://files.test:%d/hello.txt" % t.H, "files.test:%d" % t.H)),
        {"op": "http", "host": "files.test", "port": t.H,
         "request": get_req("/hello.txt", "files.test:%d" % t.H)},
        {"op": "release"}], allow=allow)
    c.check(res[0].get("connected") == 5 and res[1].get("connected") == 5,
            "could not open the stuck connections: %s %s" % (res[0], res[1]))
    for i, what in ((3, "proxy"), (4, "transparent")):
        c.check(res[i].get("status") == 200 and res[i]["ms"] < 3000,
                "files.test while stuck.test hangs (%s): %s" % (what, res[i]))
    c.check(res[5].get("answered") == 0,
            "the never-answering upstream answered?: %s" % res[5])
    check_audit_allowed(c, r, "stuck.test", t.STUCK)


def case_slowloris(t, c):
    """Fifty connections each holding half a request head open (to the
    proxy and to a transparent listener): a complete request is still
    served at once."""
    r, res = t.probe(c, [
        {"op": "hold", "host": PROXY[0], "port": PROXY[1], "n": 25,
         "send": "GET http://files.test:%d/ HTTP/1.1\r\nHost: fil" % t.H},
        {"op": "hold", "host": "files.test", "port": t.H, "n": 25,
         "send": "GET / HTTP/1.1\r\nHo"},
        {"op": "sleep", "seconds": 0.3},
        via_proxy(get_req("http://files.test:%d/hello.txt" % t.H, "files.test:%d" % t.H)),
        {"op": "http", "host": "files.test", "port": t.H,
         "request": get_req("/hello.txt", "files.test:%d" % t.H)},
        {"op": "release"}])
    c.check(res[0].get("connected") == 25 and res[1].get("connected") == 25,
            "could not open the slow connections: %s %s" % (res[0], res[1]))
    for i, what in ((3, "proxy"), (4, "transparent")):
        c.check(res[i].get("status") == 200 and res[i]["ms"] < 3000,
                "a request among slow heads (%s): %s" % (what, res[i]))


def case_other_sandbox(t, c):
    """One context, two proxied sandboxes (the Python binding:
    two_sandboxes.py): A opens 1,000 connections to the proxy (the limit
    is 256: the rest are closed at once) and 20 to an upstream that never
    answers; meanwhile B's ten requests are each served at once.  After
    both are destroyed, every upstream connection of A is closed and the
    process holds the descriptors and threads it held before."""
    need_lib(t)
    env = dict(os.environ, PETRI_LIBRARY=t.lib,
               PYTHONPATH=os.path.join(HERE, "..", "..", "bindings", "python"))
    cfg = {"fix": t.fix, "allow": t.allow, "http_port": t.H}
    p = subprocess.run(["/usr/bin/python3", os.path.join(HERE, "two_sandboxes.py"),
                        json.dumps(cfg)], env=env, capture_output=True, text=True, timeout=120)
    try:
        o = json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise AssertionError("two_sandboxes.py: exit %d, stdout %r, stderr %r" % (
            p.returncode, p.stdout[-500:], p.stderr[-1500:]))
    c.check(all(x.get("status") == 200 for x in o["warm"]), "warm-up: %s" % o["warm"])
    c.check(o["a_loaded"], "A never held its connections: %s" % o.get("a"))
    a = o.get("a") or [{}] * 5
    c.check(a[0].get("connected") == 20 and a[1].get("connected") == 1000,
            "A's connections: %s %s" % (a[0], a[1]))
    rel = a[4]
    c.check(1000 - 256 <= rel.get("closed_by_peer", -1) < 1000 and rel.get("answered") == 0,
            "A's connections beyond the limit (256) should be closed at once, the others "
            "held: %s" % rel)
    slow = [x for x in o["b_during"] if x.get("status") != 200 or x["ms"] > 1000]
    c.check(not slow, "B while A is loaded: %s" % slow)
    c.check(o["a_still_running"], "A had finished before B's requests were done")
    c.check(all(x.get("status") == 200 for x in o["b_after"]), "B after A: %s" % o["b_after"])
    c.check(o["stuck_total"] == 20 and o["stuck_closed"] == 20,
            "upstream connections of A still open after its destroy: %d of %d" % (
                o["stuck_total"] - o["stuck_closed"], o["stuck_total"]))
    c.check(o["fds_after"] == o["fds_before"], "descriptors: %d before, %d after" % (
        o["fds_before"], o["fds_after"]))
    c.check(o["threads_after"] == o["threads_before"], "threads: %d before, %d after" % (
        o["threads_before"], o["threads_after"]))
    c.note("B: %d ms for 10 requests during A's load" % o["b_during_wall_ms"])


# ---- the CLI contract ------------------------------------------------------------


def cli_error(t, c, args, what, must_mention=None):
    p = subprocess.run([t.petri, "run"] + args + ["--", "/bin/sh", "-c", "echo RAN"],
                       capture_output=True, text=True, timeout=60)
    err = p.stderr.strip()
    c.check(p.returncode == 125, "%s: want exit 125, got %d (stderr %r)" % (what, p.returncode,
                                                                            err))
    c.check(err and "\n" not in err, "%s: want a one-line error, got %r" % (what, err))
    c.check("RAN" not in p.stdout, "%s: the program ran" % what)
    if must_mention:
        c.check(must_mention in err, "%s: the error does not name %r: %r" % (what, must_mention,
                                                                          err))


def case_cli_allow_without_proxy(t, c):
    cli_error(t, c, ["--allow", "files.test"], "--allow without --net", "--allow")
    cli_error(t, c, ["--net", "host", "--allow", "files.test"], "--allow with --net host",
              "--allow")
    cli_error(t, c, ["--net", "none", "--allow", "files.test"], "--allow with --net none",
              "--allow")


def case_cli_proxy_without_allow(t, c):
    cli_error(t, c, ["--net", "proxy"], "--net proxy without --allow", "allow")


def case_cli_malformed(t, c):
    for entry in ["files.test:0", "files.test:65536", "files.test:http", "files.test:80=nowhere",
                  "files.test:80=127.0.0.1=x", "bad host:80", "files.test:53", "files.test:3128",
                  "*.:443", "[::1:443", "a" * 64 + ".test"]:
        cli_error(t, c, ["--net", "proxy", "--allow", "files.test:80", "--allow", entry],
                  "--allow %r" % entry, entry if len(entry) < 40 else None)
    cli_error(t, c, ["--net", "proxy", "--allow", ""], "--allow ''")


def case_cli_valid(t, c):
    """The control for the three above: a well-formed allowlist runs."""
    r = t.run(["/bin/sh", "-c", "echo RAN"])
    if check_ok(c, r):
        c.check("RAN" in r.stdout, r.describe())


CASES = [
    ("env", case_env),
    ("curl_http_proxy", curl_case("http", "proxy")),
    ("curl_http_transparent", curl_case("http", "transparent")),
    ("curl_https_proxy", curl_case("https", "proxy")),
    ("curl_https_transparent", curl_case("https", "transparent")),
    ("urllib_proxy", urllib_case("proxy")),
    ("urllib_transparent", urllib_case("transparent")),
    ("pip_proxy", pip_case("proxy")),
    ("pip_transparent", pip_case("transparent")),
    ("npm_proxy", npm_case("proxy")),
    ("npm_transparent", npm_case("transparent")),
    ("git_proxy", git_case("proxy")),
    ("git_transparent", git_case("transparent")),
    ("node_fetch_vars_set", node_case(True)),
    ("node_fetch_vars_unset", node_case(False)),
    ("go_proxy", go_case("proxy")),
    ("go_transparent", go_case("transparent")),
    ("deny_name_proxy", case_name_not_listed_proxy),
    ("deny_name_dns", case_name_not_listed_dns),
    ("deny_wrong_port", case_wrong_port),
    ("deny_sni_mismatch_transparent", sni_case("transparent")),
    ("deny_sni_mismatch_proxy", sni_case("proxy")),
    ("deny_host_mismatch_transparent", host_case("transparent")),
    ("deny_host_mismatch_proxy", host_case("proxy")),
    ("deny_literal_ip", case_literal_ip),
    ("deny_loopback_unpinned", case_loopback_unpinned),
    ("deny_dns_exfil", case_dns_exfil),
    ("deny_direct_connect", case_direct_connect),
    ("deny_udp", case_udp),
    ("deny_ipv6", case_ipv6),
    ("names_normalised_and_wildcard", case_names),
    ("fault_byte_budget", case_byte_budget),
    ("fault_stuck_upstream", case_stuck_upstream),
    ("fault_slowloris", case_slowloris),
    ("fault_other_sandbox", case_other_sandbox),
    ("cli_allow_without_proxy", case_cli_allow_without_proxy),
    ("cli_proxy_without_allow", case_cli_proxy_without_allow),
    ("cli_malformed_allow", case_cli_malformed),
    ("cli_valid_allow", case_cli_valid),
]


def main():
    return nettest.main(
        "e2e_clients", nettest.arg_parser(__doc__), CASES, "petri-e2e-",
        lambda args, tmp: T(os.path.abspath(args.petri), args.lib and os.path.abspath(args.lib),
                            args.no_lib, tmp, args.verbose),
        lambda t: "servers: http 127.0.0.1:%d, https 127.0.0.1:%s, udp 127.0.0.1:%d" % (
            t.H, t.S, t.U))


if __name__ == "__main__":
    sys.exit(main())
