"""Helpers of the outside-view petrid tests (tests/petrid/test_contract_*.py,
test_openapi.py).

These tests are written from docs/petrid.md only: they start the petrid
binary with a config of their own, talk to it over TCP on loopback with the
standard library, and look at it from outside (/proc, /sys/fs/cgroup).  They
do not use tests/petrid/conftest.py's factory because several of them need
the process itself (its pid, its config file, signals).

The binary: $PETRID, else build/petrid under the repository root.  Without
it the tests skip, except under CI=true where they fail.
"""

import hashlib
import http.client
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CI = os.environ.get("CI") == "true"


def petrid_binary():
    path = os.environ.get("PETRID") or str(ROOT / "build" / "petrid")
    if not os.access(path, os.X_OK):
        msg = f"no petrid binary at {path} (build it, or set PETRID)"
        if CI:
            pytest.fail(msg)
        pytest.skip(msg)
    return path


def sha256_hex(token):
    return hashlib.sha256(token.encode()).hexdigest()


def free_port():
    """A port of 20000-29999 nobody listens on now (the session's rule)."""
    for _ in range(200):
        port = random.randint(20000, 29999)
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError("no free port in 20000-29999")


class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # {lowercase name: value}
        self.body = body

    @property
    def json(self):
        return json.loads(self.body)

    def error_code(self):
        try:
            return self.json["error"]["code"]
        except (ValueError, KeyError, TypeError):
            return None

    def __repr__(self):
        return f"<{self.status} {self.body[:300]!r}>"


class Petrid:
    """One petrid process on 127.0.0.1:<random port>, tenants given as
    {name: {tenant keys}}; each tenant gets a fresh token (self.tokens)."""

    def __init__(self, tenants, extra_listen=(), **config):
        self.dir = tempfile.mkdtemp(prefix="petrid-ct-")
        self.extra_listen = [x.replace("{dir}", self.dir) for x in extra_listen]
        self.tokens = {}
        self.config = {"node": "t1", "listen": [], "tenants": {}}
        self.config.update(config)
        for name, t in tenants.items():
            self.add_tenant(name, **t)
        self.admin_token = "admin-" + secrets.token_hex(16)
        self.config.setdefault("admin_token_sha256", sha256_hex(self.admin_token))
        self.proc = None
        self.port = None
        self.log_path = os.path.join(self.dir, "petrid.log")
        self.config_path = os.path.join(self.dir, "config.json")

    def add_tenant(self, name, **t):
        token = f"tok-{name}-" + secrets.token_hex(16)
        self.tokens[name] = token
        t.setdefault("token_sha256", sha256_hex(token))
        self.config["tenants"][name] = t

    def write_config(self, text=None):
        tmp = self.config_path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text if text is not None else json.dumps(self.config, indent=1))
        os.rename(tmp, self.config_path)

    def start(self, timeout=15):
        binary = petrid_binary()
        for _ in range(5):
            self.port = free_port()
            self.config["listen"] = [f"127.0.0.1:{self.port}"] + self.extra_listen
            self.write_config()
            self.log = open(self.log_path, "ab")
            self.proc = subprocess.Popen(
                [binary, "--config", self.config_path],
                stdin=subprocess.DEVNULL,
                stdout=self.log,
                stderr=self.log,
            )
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    if self.request("GET", "/healthz", token=None, timeout=1).status == 200:
                        return self
                except OSError:
                    pass
                time.sleep(0.05)
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"petrid not ready in {timeout}s:\n{self.log_text()}")
            if "in use" not in self.log_text():
                break
        raise AssertionError(
            f"petrid exited {self.proc.returncode} at start:\n{self.log_text()}"
        )

    @property
    def pid(self):
        return self.proc.pid

    def log_text(self):
        try:
            return Path(self.log_path).read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=20):
        """SIGTERM, wait; the exit status (None when it had to be killed)."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    # ---- HTTP ----
    def conn(self, timeout=30):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, token="a", headers=None, timeout=30, raw=False):
        """One request on a new connection.  token: a tenant name, "admin",
        None (no Authorization), or a literal "Bearer ..."/other header value
        when it contains a space.  body: a dict/list (sent as JSON) or bytes."""
        h = {}
        if token is not None:
            if " " in token:
                h["Authorization"] = token
            elif token == "admin":
                h["Authorization"] = "Bearer " + self.admin_token
            else:
                h["Authorization"] = "Bearer " + self.tokens[token]
        if body is not None and not isinstance(body, (bytes, bytearray)):
            body = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        c = self.conn(timeout)
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
            return Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
        finally:
            c.close()

    def create(self, tenant="a", **fields):
        r = self.request("POST", "/v1/sandboxes", fields, token=tenant)
        assert r.status == 201, r
        return r.json

    def get(self, sid, tenant="a"):
        return self.request("GET", f"/v1/sandboxes/{sid}", token=tenant)

    def delete(self, sid, tenant="a"):
        return self.request("DELETE", f"/v1/sandboxes/{sid}", token=tenant)

    def exec(self, sid, tenant="a", http_timeout=90, **fields):
        """An exec; @fields is its body (`timeout` there is the exec's)."""
        return self.request("POST", f"/v1/sandboxes/{sid}/exec", fields, token=tenant,
                            timeout=http_timeout)

    def metrics(self, token="admin"):
        r = self.request("GET", "/metrics", token=token)
        assert r.status == 200, r
        return r.body.decode()

    def live_ids(self, tenant="a"):
        r = self.request("GET", "/v1/sandboxes", token=tenant)
        assert r.status == 200, r
        return sorted(s["id"] for s in r.json["sandboxes"])

    # ---- the process seen from outside ----
    def threads(self):
        return len(os.listdir(f"/proc/{self.pid}/task"))

    def fds(self):
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def close(self):
        self.stop()
        try:
            self.log.close()
        except Exception:
            pass


def metric_value(text, name, **labels):
    """The sum of the samples of @name whose labels include @labels."""
    total, seen = 0.0, False
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        rest = line[len(name):]
        if rest[:1] not in ("{", " "):
            continue
        lab = {}
        if rest.startswith("{"):
            inner, rest = rest[1:].split("}", 1)
            for part in _split_labels(inner):
                k, v = part.split("=", 1)
                lab[k.strip()] = json.loads(v)
        if all(lab.get(k) == v for k, v in labels.items()):
            total += float(rest.split()[0])
            seen = True
    return total if seen else None


def _split_labels(inner):
    out, cur, q, esc = [], "", False, False
    for ch in inner:
        if esc:
            cur += ch
            esc = False
        elif ch == "\\":
            cur += ch
            esc = True
        elif ch == '"':
            cur += ch
            q = not q
        elif ch == "," and not q:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur)
    return out


# ---- SSE ----
class Stream:
    """An exec with Accept: text/event-stream, read event by event."""

    def __init__(self, pd, sid, body, tenant="a", timeout=60, rcvbuf=None):
        self.conn = pd.conn(timeout)
        self.conn.connect()
        if rcvbuf:
            self.conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock = self.conn.sock
        self.conn.request(
            "POST", f"/v1/sandboxes/{sid}/exec", body=json.dumps(body).encode(),
            headers={"Authorization": "Bearer " + pd.tokens[tenant],
                     "Content-Type": "application/json",
                     "Accept": "text/event-stream"})
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.t0 = time.monotonic()

    def next_event(self):
        """(name, data dict, seconds since the response) or None at the end."""
        name, data = None, []
        while True:
            line = self.resp.readline()
            if not line:
                return None
            line = line.decode().rstrip("\r\n")
            if line == "":
                if name is None and not data:
                    continue
                return (name or "message", json.loads("\n".join(data)) if data else None,
                        time.monotonic() - self.t0)
            if line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)

    def events(self):
        while True:
            ev = self.next_event()
            if ev is None:
                return
            yield ev

    def close(self):
        self.conn.close()


def read_all_events(stream):
    evs = list(stream.events())
    stream.close()
    return evs


def final_events(evs):
    return [e for e in evs if e[0] in ("result", "error")]


# ---- host processes and cgroups ----
def pids_with_cmdline(needle, anywhere=False):
    """Pids whose command line starts with @needle (or holds it)."""
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if cmd.startswith(needle.encode()) or (anywhere and needle.encode() in cmd):
            out.append(int(p))
    return out


def pidns(pid):
    return os.readlink(f"/proc/{pid}/ns/pid")


def descendants(parent):
    """Every live descendant of @parent (host pids)."""
    children = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            st = Path(f"/proc/{p}/stat").read_text()
        except OSError:
            continue
        children.setdefault(int(st.rsplit(")", 1)[1].split()[1]), []).append(int(p))
    out, todo = [], [parent]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def ppid_of(pid):
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def sandbox_inits(parent):
    """The host pids of @parent's descendants that are the first of a pid
    namespace other than @parent's: the inits of its sandboxes (an exec
    may run in a pid namespace nested in its sandbox's; that one's pid 1 is
    not counted)."""
    mine = pidns(parent)
    out = []
    for p in descendants(parent):
        try:
            if pidns(p) != mine and pidns(ppid_of(p)) == mine:
                out.append(p)
        except OSError:
            continue
    return sorted(out)


def sandbox_init_of(pid):
    """The host pid of the init of the sandbox that process @pid runs in:
    its outermost ancestor outside the test's own pid namespace."""
    host = pidns(os.getpid())
    try:
        while pidns(ppid_of(pid)) != host:
            pid = ppid_of(pid)
    except OSError:
        return None
    return pid if pidns(pid) != host else None


def wait_for(pred, timeout, step=0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(step)


def alive(pid):
    try:
        st = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return st.rsplit(")", 1)[1].split()[0] != "Z"


def cgroups_of(pid, root="/sys/fs/cgroup", depth=5):
    """Every cgroup directory named petri-<pid>-* under @root."""
    prefix = f"petri-{pid}-"
    found = []

    def walk(d, n):
        try:
            with os.scandir(d) as it:
                for e in it:
                    if e.is_dir(follow_symlinks=False):
                        if e.name.startswith(prefix):
                            found.append(e.path)
                        elif n > 0:
                            walk(e.path, n - 1)
        except OSError:
            pass

    walk(root, depth)
    return found


def run_marker():
    """A unique `sleep` duration to find an exec's process on the host."""
    return f"{random.randint(100, 999)}.{random.randint(100000, 999999)}"


# ---- raw HTTP over a socket (for what http.client will not send) ----
def raw_exchange(port, data, timeout=10, shut=False):
    """Send @data (bytes, or a list of bytes sent one after the other,
    stopping early when the peer closes), read until the peer closes or a
    full response arrived; (status or None, {header: value}, body)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        parts = data if isinstance(data, list) else [data]
        for part in parts:
            try:
                s.sendall(part)
            except OSError:
                break
        if shut:
            s.shutdown(socket.SHUT_WR)
        buf = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            buf += chunk
            parsed = parse_response(buf)
            if parsed and parsed[3]:
                break
        p = parse_response(buf)
        return (p[0], p[1], p[2]) if p else (None, {}, buf)
    finally:
        s.close()


def parse_response(buf):
    """(status, headers, body, complete) or None before the head is whole."""
    head, sep, body = buf.partition(b"\r\n\r\n")
    if not sep:
        return None
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        n = int(headers["content-length"])
        return status, headers, body[:n], len(body) >= n
    if headers.get("transfer-encoding", "").lower() == "chunked":
        out, rest = b"", body
        while True:
            size_line, sep, rest = rest.partition(b"\r\n")
            if not sep:
                return status, headers, out, False
            n = int(size_line.split(b";")[0], 16)
            if n == 0:
                return status, headers, out, True
            if len(rest) < n + 2:
                return status, headers, out, False
            out, rest = out + rest[:n], rest[n + 2:]
    return status, headers, body, False
