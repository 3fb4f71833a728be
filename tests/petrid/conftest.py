# SPDX-License-Identifier: Apache-2.0
"""Shared fixtures of petrid's HTTP tests (standard library only).

The ``petrid`` fixture is a factory: ``petrid(tenants={...}, **config)``
writes a config into a temporary directory, starts ``$PETRID`` (default
build/petrid) on a free 127.0.0.1 port, waits for ``GET /healthz`` and
returns a :class:`Petrid`.  Every tenant gets a random token (or the
``"token"`` you give in its dict; it is hashed into ``token_sha256``).  At
teardown each petrid still running gets SIGTERM, must exit 0, and must leave
no ``petri-<pid>-*`` cgroup and no unix socket behind.

    def test_x(petrid):
        d = petrid(tenants={"acme": {"max_sandboxes": 2}, "other": {}})
        r = d.request("POST", "/v1/sandboxes", {"language": "sh"}, tenant="acme")
        assert r.status == 201, r.body
        sid = r.body["id"]
        r = d.request("POST", f"/v1/sandboxes/{sid}/exec", {"argv": ["echo", "hi"]})
        assert r.body["stdout"] == "hi\\n"
        events = list(d.stream(f"/v1/sandboxes/{sid}/exec", {"code": "echo x"}).events())

Interface (kept stable for other branches' tests):
  Petrid.url, .host, .port, .unix_path (or None), .tokens {tenant: token},
  .admin_token, .pid, .proc, .config (dict), .config_path, .log_path, .dir
  Petrid.request(method, path, body=None, tenant=None|token=None,
                 headers=None, raw=None, timeout=60, unix=False) -> Response
      body: dict/list is sent as JSON (Content-Type: application/json), bytes
      as they are; raw=True returns the body as bytes whatever its type.
      tenant: whose token (default: the first tenant); token="" sends none.
  Response.status, .headers (lower-case names), .body (parsed JSON when the
      answer is JSON, else bytes), .data (the raw bytes)
  Petrid.stream(path, body, tenant=None, token=None, timeout=60) -> SSE
      SSE.events() yields (event, data) with data parsed as JSON; SSE.close()
      closes the socket (a client that disconnects); SSE.status, .headers,
      .sock
  Petrid.log() -> str (petrid's stderr so far)
  Petrid.reload(config=None) rewrites the config (when given) and sends SIGHUP
  Petrid.stop(sig=signal.SIGTERM, timeout=30) -> exit status
  Petrid.kill() -> SIGKILL and reap
  cgroups_of(pid) -> list of petri-<pid>-* cgroup directories left
"""
import hashlib
import http.client
import json
import os
import random
import secrets as _secrets
import signal
import socket
import subprocess
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PETRID = os.environ.get("PETRID") or os.path.join(ROOT, "build", "petrid")


def sha256_hex(token):
    return hashlib.sha256(token.encode()).hexdigest()


def free_port():
    """A free TCP port on 127.0.0.1 in 20000-29999 (the session's range)."""
    for _ in range(200):
        port = random.randint(20000, 29999)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 20000-29999")


def cgroups_of(pid, root="/sys/fs/cgroup", depth=4):
    """Directories named petri-<pid>-* under the cgroup trees."""
    prefix = "petri-%d-" % pid
    found = []

    def walk(d, level):
        try:
            entries = list(os.scandir(d))
        except OSError:
            return
        for e in entries:
            if not e.is_dir(follow_symlinks=False):
                continue
            if e.name.startswith(prefix):
                found.append(e.path)
            elif level > 0:
                walk(e.path, level - 1)

    walk(root, depth)
    return found


class Response:
    def __init__(self, status, headers, data):
        self.status = status
        self.headers = headers
        self.data = data
        ctype = headers.get("content-type", "")
        self.body = data
        if ctype.startswith("application/json") and data:
            self.body = json.loads(data)

    def __repr__(self):
        return "<Response %d %r>" % (self.status, self.body)


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


class SSE:
    """A streaming exec: Server-Sent Events read from an open response."""

    def __init__(self, conn, sock, resp):
        self.conn = conn
        self.sock = sock
        self.resp = resp
        self.status = resp.status
        self.headers = {k.lower(): v for k, v in resp.getheaders()}

    def events(self):
        event, data = None, []
        while True:
            line = self.resp.readline()
            if not line:
                return
            line = line.decode("utf-8").rstrip("\r\n")
            if line == "":
                if event is not None or data:
                    text = "\n".join(data)
                    yield event or "message", json.loads(text) if text else None
                event, data = None, []
            elif line.startswith(":"):
                continue
            elif line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip(" "))

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.resp.close()
        self.conn.close()


class Petrid:
    def __init__(self, directory, tenants, config, unix):
        self.dir = directory
        self.tokens = {}
        self.admin_token = "admin-" + _secrets.token_hex(16)
        self.port = free_port()
        self.host = "127.0.0.1"
        self.url = "http://%s:%d" % (self.host, self.port)
        self.unix_path = os.path.join(directory, "petrid.sock") if unix else None
        cfg_tenants = {}
        for name, t in (tenants or {"acme": {}}).items():
            t = dict(t)
            token = t.pop("token", None) or "tok-%s-%s" % (name, _secrets.token_hex(16))
            self.tokens[name] = token
            t.setdefault("token_sha256", sha256_hex(token))
            cfg_tenants[name] = t
        self.config = {
            "listen": ["127.0.0.1:%d" % self.port]
            + (["unix:" + self.unix_path] if unix else []),
            "admin_token_sha256": sha256_hex(self.admin_token),
            "tenants": cfg_tenants,
        }
        self.config.update(config)
        self.config_path = os.path.join(directory, "config.json")
        self.log_path = os.path.join(directory, "petrid.log")
        self._write_config(self.config)
        self.proc = None
        self.pid = None
        self.exited = False

    def _write_config(self, cfg):
        with open(self.config_path + ".tmp", "w") as f:
            json.dump(cfg, f)
        os.replace(self.config_path + ".tmp", self.config_path)

    def start(self, timeout=20):
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([PETRID, "--config", self.config_path],
                                     stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=self._log)
        self.pid = self.proc.pid
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("petrid exited with %d:\n%s" % (self.proc.returncode, self.log()))
            try:
                r = self.request("GET", "/healthz", token="", timeout=2)
                if r.status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("petrid not ready in %ds:\n%s" % (timeout, self.log()))

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def token_of(self, tenant=None, token=None):
        if token is not None:
            return token
        if tenant is None:
            tenant = next(iter(self.tokens))
        return self.tokens[tenant]

    def connection(self, timeout=60, unix=False):
        if unix:
            return _UnixConnection(self.unix_path, timeout)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def _headers(self, body, tenant, token, headers):
        h = {}
        tok = self.token_of(tenant, token)
        if tok:
            h["Authorization"] = "Bearer " + tok
        data = None
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        elif isinstance(body, str):
            data = body.encode()
        elif body is not None:
            data = bytes(body)
        h.update(headers or {})
        return h, data

    def request(self, method, path, body=None, tenant=None, token=None, headers=None,
                raw=None, timeout=60, unix=False):
        h, data = self._headers(body, tenant, token, headers)
        conn = self.connection(timeout, unix)
        try:
            conn.request(method, path, body=data, headers=h)
            resp = conn.getresponse()
            payload = resp.read()
            hdrs = {k.lower(): v for k, v in resp.getheaders()}
            r = Response(resp.status, hdrs, payload)
            if raw:
                r.body = payload
            return r
        finally:
            conn.close()

    def stream(self, path, body, tenant=None, token=None, timeout=60, headers=None):
        h, data = self._headers(body, tenant, token, headers)
        h.setdefault("Accept", "text/event-stream")
        conn = self.connection(timeout)
        conn.request("POST", path, body=data, headers=h)
        sock = conn.sock  # (a Connection: close answer takes it from conn)
        return SSE(conn, sock, conn.getresponse())

    def reload(self, config=None):
        if config is not None:
            self.config = config
            self._write_config(config)
        os.kill(self.pid, signal.SIGHUP)

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.exited:
            return self.proc.returncode
        os.kill(self.pid, sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        finally:
            self.exited = True
            self._log.close()
        return rc

    def kill(self):
        return self.stop(signal.SIGKILL)


def wait_for(pred, timeout=10, step=0.05):
    """Poll @pred until it returns a true value (returned) or time is up (None)."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            return None
        time.sleep(step)


@pytest.fixture
def petrid(tmp_path):
    started = []

    def factory(tenants=None, unix=False, start=True, **config):
        d = Petrid(str(tmp_path), tenants, config, unix)
        started.append(d)
        return d.start() if start else d

    yield factory
    for d in started:
        if d.proc is None:
            continue
        if not d.exited:
            rc = d.stop()
            assert rc == 0, "petrid exited %r on SIGTERM:\n%s" % (rc, d.log())
        left = wait_for(lambda: not cgroups_of(d.pid), timeout=15)
        assert left, "cgroups left by petrid %d: %s" % (d.pid, cgroups_of(d.pid))
        if d.unix_path:
            assert wait_for(lambda: not os.path.exists(d.unix_path), timeout=15), \
                "unix socket left: " + d.unix_path
