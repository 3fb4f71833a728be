# SPDX-License-Identifier: Apache-2.0
"""Helpers of the deployment tests (test_multinode, test_tls_front,
test_audit_rsyslog, test_k8s_manifests): start petrid and the Debian
daemons in front of or behind it (haproxy, nginx, rsyslogd) on loopback,
talk HTTP to them with the standard library only, and stop exactly what
was started, by pid.

Why not conftest.py's petrid factory alone: these tests need several
petrids with chosen node names, unix-socket listeners and tenant audit
destinations side by side with other daemons; the pieces below are small
and say what they do.

PETRID overrides the petrid under test (default: build/petrid), PETRI_CLI
the petri CLI (default: build/petri), as in tests/petrid/CMakeLists.txt.
"""

import hashlib
import http.client
import json
import os
import pathlib
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEPLOY = os.path.join(ROOT, "deploy")
PETRID = os.environ.get("PETRID") or os.path.join(ROOT, "build", "petrid")
PETRI = os.environ.get("PETRI_CLI") or os.path.join(ROOT, "build", "petri")
IN_CI = os.environ.get("CI") == "true"


def need(tool):
    """The absolute path of @tool (a path or a name on PATH and in the
    sbin directories).  Missing: skip, but fail under CI=true (the project
    installs it: scripts/dev.sh)."""
    path = tool if os.path.isabs(tool) else shutil.which(
        tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if path and os.access(path, os.X_OK):
        return path
    msg = "%s not installed (scripts/dev.sh deps installs it)" % tool
    if IN_CI:
        pytest.fail(msg)
    pytest.skip(msg)


def need_root():
    if os.geteuid() != 0:
        if IN_CI:
            pytest.fail("these tests need root (petrid makes namespaces and cgroups)")
        pytest.skip("needs root")


def sha256_hex(token):
    return hashlib.sha256(token.encode()).hexdigest()


def random_port(taken=()):
    """A free TCP port on 127.0.0.1 picked at random from 20000-29999 (other
    tests run their own servers on this machine at the same time)."""
    for _ in range(200):
        port = random.randint(20000, 29999)
        if port in taken:
            continue
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError("no free port in 20000-29999")


class Proc:
    """A daemon this test started: its pid, and its output in a file."""

    def __init__(self, name, argv, logdir, env=None, cwd=None):
        self.name = name
        self.argv = argv
        self.log = os.path.join(logdir, name + ".log")
        with open(self.log, "ab") as out:
            self.p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, env=env, cwd=cwd,
                                      start_new_session=True)
        self.pid = self.p.pid

    def alive(self):
        return self.p.poll() is None

    def output(self):
        try:
            with open(self.log, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def kill(self, sig=signal.SIGKILL):
        if self.alive():
            os.kill(self.pid, sig)

    def stop(self, timeout=15.0):
        """SIGTERM, wait, then SIGKILL; returns the exit status."""
        if self.alive():
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.p.wait(10)
        return self.p.returncode


class Procs:
    """Everything a test started, stopped in reverse order at teardown."""

    def __init__(self, logdir):
        self.logdir = logdir
        self.all = []

    def start(self, name, argv, **kw):
        p = Proc(name, argv, self.logdir, **kw)
        self.all.append(p)
        return p

    def stop_all(self):
        for p in reversed(self.all):
            try:
                p.stop()
            except Exception:  # keep stopping the others
                pass

    def dump(self):
        return "\n".join("--- %s (pid %d, rc %s):\n%s" % (p.name, p.pid, p.p.poll(), p.output()[-3000:])
                         for p in self.all)


@pytest.fixture
def workdir():
    """A temp dir (a pathlib.Path) removed at the end, pass or fail, after
    the processes in it were stopped: pytest's tmp_path keeps the last runs'
    dirs.  Mode 0711: unprivileged workers (nginx's) may traverse it."""
    d = tempfile.mkdtemp(prefix="petri-deploy-")
    os.chmod(d, 0o711)
    yield pathlib.Path(d)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def procs(workdir):
    ps = Procs(str(workdir))
    yield ps
    ps.stop_all()


# --- HTTP ------------------------------------------------------------------

class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


class Client:
    """A small JSON client: connect() makes a new connection per request
    (keeps the tests independent of keep-alive)."""

    def __init__(self, host="127.0.0.1", port=None, unix=None, ssl_context=None,
                 token=None, timeout=30):
        self.host, self.port, self.unix = host, port, unix
        self.ssl_context, self.token, self.timeout = ssl_context, token, timeout

    def connect(self, timeout=None):
        t = timeout or self.timeout
        if self.unix:
            return UnixHTTPConnection(self.unix, timeout=t)
        if self.ssl_context:
            return http.client.HTTPSConnection(self.host, self.port, timeout=t,
                                               context=self.ssl_context)
        return http.client.HTTPConnection(self.host, self.port, timeout=t)

    def headers(self, extra=None, token=True):
        h = {}
        if token and self.token:
            h["Authorization"] = "Bearer " + self.token
        h.update(extra or {})
        return h

    def request(self, method, path, body=None, headers=None, token=True, timeout=None):
        """(status, headers dict lowercased, body: parsed JSON or bytes)."""
        h = self.headers(headers, token)
        data = body
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        c = self.connect(timeout)
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            raw = r.read()
            hdrs = {k.lower(): v for k, v in r.getheaders()}
        finally:
            c.close()
        if hdrs.get("content-type", "").startswith("application/json"):
            try:
                return r.status, hdrs, json.loads(raw)
            except ValueError:
                pass
        return r.status, hdrs, raw

    def json(self, method, path, body=None, expect=200, **kw):
        st, _, b = self.request(method, path, body, **kw)
        assert st == expect, "%s %s: %d %r (expected %d)" % (method, path, st, b, expect)
        return b

    def stream(self, path, body, timeout=None):
        """POST @body with Accept: text/event-stream; yields (event, data,
        seconds since the request) as each event arrives."""
        # Accept-Encoding as browsers send it: a proxy that compresses
        # (and so buffers) the stream shows up as a Content-Encoding.
        h = self.headers({"Accept": "text/event-stream", "Content-Type": "application/json",
                          "Accept-Encoding": "gzip, deflate"})
        c = self.connect(timeout)
        t0 = time.monotonic()
        try:
            c.request("POST", path, body=json.dumps(body).encode(), headers=h)
            r = c.getresponse()
            assert r.status == 200, "stream %s: %d %r" % (path, r.status, r.read())
            assert r.getheader("Content-Type", "").startswith("text/event-stream")
            assert r.getheader("Content-Encoding") is None, r.getheader("Content-Encoding")
            event, data = None, []
            while True:
                line = r.readline()
                if not line:
                    return
                line = line.decode().rstrip("\r\n")
                if line == "":
                    if event is not None or data:
                        yield event or "message", json.loads("\n".join(data)), time.monotonic() - t0
                    event, data = None, []
                elif line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].lstrip(" "))
        finally:
            c.close()


def wait_healthz(client, proc, what, timeout=30.0):
    """Wait until GET /healthz answers 200; fails at once if @proc died."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if not proc.alive():
            raise AssertionError("%s exited (%s) before it was ready:\n%s"
                                 % (what, proc.p.returncode, proc.output()[-3000:]))
        try:
            st, _, body = client.request("GET", "/healthz", token=False, timeout=2)
            if st == 200:
                return body
            last = st
        except (OSError, http.client.HTTPException) as e:
            last = e
        time.sleep(0.05)
    raise AssertionError("%s not ready after %.0fs (last: %r):\n%s"
                         % (what, timeout, last, proc.output()[-3000:]))


# --- HAProxy's admin socket ----------------------------------------------

def admin(sock_path, cmd):
    """One command on HAProxy's admin socket; its answer."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(sock_path)
    s.sendall(cmd.encode() + b"\n")
    out = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
    s.close()
    return out.decode()


def server_states(sock_path):
    """{server name: status} of HAProxy's be_create ("UP", "DOWN", "UP 1/2" ...)."""
    lines = admin(sock_path, "show stat").splitlines()
    head = lines[0].lstrip("# ").split(",")
    px, sv, st = head.index("pxname"), head.index("svname"), head.index("status")
    out = {}
    for line in lines[1:]:
        f = line.split(",")
        if len(f) > st and f[px] == "be_create" and True:
            out[f[sv]] = f[st]
    return out


def wait_states(sock_path, want, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        states = server_states(sock_path)
        if all(states.get(n) == s for n, s in want.items()):
            return time.monotonic()
        if time.monotonic() > deadline:
            raise AssertionError("HAProxy server states %r, wanted %r" % (states, want))
        time.sleep(0.02)



# --- petrid ----------------------------------------------------------------

def petrid_config(path, node, listen, tenants, **extra):
    cfg = {"node": node, "listen": listen, "tenants": tenants}
    cfg.update(extra)
    with open(path, "w") as f:
        json.dump(cfg, f, indent=1)
    return path


def start_petrid(procs, tmpdir, node, tenants, unix=None, tcp=True, host="127.0.0.1", port=None,
                 **extra):
    """Start one petrid named @node listening on @host:@port (default: a
    random free port) and/or the unix socket @unix; returns (proc, port or
    None).  A random port another process took meanwhile: try another."""
    if not os.access(PETRID, os.X_OK):
        msg = "%s not built" % PETRID
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    fixed = port
    for attempt in range(5):
        port = (fixed or random_port()) if tcp else None
        listen = (["%s:%d" % (host, port)] if tcp else []) + (["unix:" + unix] if unix else [])
        cfg = petrid_config(os.path.join(tmpdir, "petrid-%s.json" % node), node, listen,
                            tenants, **extra)
        p = procs.start("petrid-%s" % node, [PETRID, "--config", cfg])
        client = Client(host=host, port=port) if tcp else Client(unix=unix)
        try:
            wait_healthz(client, p, "petrid " + node)
            return p, port
        except AssertionError:
            if p.alive() or "in use" not in p.output() or fixed or attempt == 4:
                raise
    raise AssertionError("unreachable")
