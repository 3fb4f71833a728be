# SPDX-License-Identifier: Apache-2.0
"""A Sandbox served by petrid, the REST service (docs/petrid.md).

    from petri import Sandbox
    with Sandbox(language="python", url="http://127.0.0.1:8480", token="...") as sb:
        print(sb.exec("print(1+1)").stdout)

``Sandbox(url=...)``, or ``Sandbox()`` with ``PETRI_URL`` (and
``PETRI_TOKEN``) in the environment, makes a :class:`RemoteSandbox`: the
same API as the in-process Sandbox (it is a subclass), spoken over HTTP
with the standard library only.  ``url`` is ``http://HOST:PORT[/PREFIX]``,
``https://...`` (TLS from a front proxy) or ``unix:///PATH`` (petrid's unix
socket).

Differences from in-process, all from what crosses the wire:
  - stdout/stderr (results and streamed chunks) are JSON text: bytes that
    were not UTF-8 arrive as U+FFFD, so ``stdout_bytes`` is that text
    encoded UTF-8, not the program's raw bytes; code, args, argv, env and
    cwd must be text (UTF-8); stdin may be any bytes.
  - options naming things of the caller's host or process (binds,
    workspace_dir, rootfs, id, landlock, context, audit, upstream_ca) are
    refused with TypeError; secrets are the *names* of the tenant's
    secrets in petrid's config (``secrets=["GITHUB_TOKEN"]``), not values.
  - ``ttl`` (seconds) is the sandbox's idle TTL: petrid destroys a sandbox
    idle that long (then SandboxExpiredError); execs and file writes renew
    it, reads do not; ``keepalive()`` renews it explicitly.
  - errors carry ``.code``/``.status``/``.url``; unreachable or silent
    servers raise PetriConnectionError (a stream's read times out after
    ``stream_timeout`` seconds without data: petrid sends a heartbeat every
    5 s, so silence means it is gone).
"""

from __future__ import annotations

import base64
import errno as _errno
import http.client
import json
import os
import socket
import ssl
import threading
import time
import urllib.parse
import weakref
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Type, Union

from . import _convert as conv
from .errors import _BY_ERRNO
from .errors import (
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    PetriConnectionError,
    PetriError,
    QuotaExceededError,
    SandboxBusyError,
    SandboxClosedError,
    SandboxDeadError,
    SandboxExpiredError,
    SandboxNotFoundError,
    ServiceUnavailableError,
    TooLargeError,
    UnauthorizedError,
    UnsafePathError,
)
from .result import ExecResult
from .sandbox import ENV_URL, ExecStream, OutputCallback, Sandbox, register_remote, remote_url_from_env

__all__ = ["RemoteSandbox", "RemoteExecStream", "ENV_URL", "ENV_TOKEN", "remote_url_from_env"]

ENV_TOKEN = "PETRI_TOKEN"

#: Seconds to connect and to wait for an ordinary answer.
DEFAULT_TIMEOUT = 30.0
#: Seconds a stream may stay silent: petrid sends a heartbeat every 5 s.
DEFAULT_STREAM_TIMEOUT = 15.0
#: petrid's default exec timeout (docs/petrid.md), and the margin a
#: non-streamed exec's answer may take beyond the exec's own timeout.
_EXEC_DEFAULT_TIMEOUT = 30.0
_EXEC_MARGIN = 30.0
#: The longest an exec waits for another exec of the same object to end
#: (petrid's largest max_exec_timeout is the tenant's choice; beyond this,
#: SandboxBusyError).
_BUSY_WAIT = 600.0
#: read_file's default cap, as the library's.
_READ_MAX_DEFAULT = 64 << 20
#: A kept-alive connection idle longer than this is not reused (petrid's
#: request_timeout, which closes idle connections, is 30 s by default).
_IDLE_REUSE = 10.0


# ---------------------------------------------------------------------------
# Transport: one endpoint, a small pool of kept-alive connections.
# ---------------------------------------------------------------------------


class _UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over an AF_UNIX stream socket (petrid's ``unix:/path`` listener)."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._unix_path = path

    def connect(self) -> None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.settimeout(self.timeout)
            s.connect(self._unix_path)
        except BaseException:
            s.close()
            raise
        self.sock = s


class _Endpoint:
    """A parsed petrid URL."""

    def __init__(self, url: str) -> None:
        if not isinstance(url, str):
            raise TypeError("url must be str, not %s" % type(url).__name__)
        self.url = url.rstrip("/") if not url.startswith("unix:") else url
        if url.startswith("unix:"):
            # unix:///abs/path (URL form) or unix:/abs/path (petrid's config form)
            rest = url[len("unix:") :]
            path = rest[2:] if rest.startswith("//") else rest
            if not path.startswith("/") or "\0" in path:
                raise ValueError("url %r: a unix socket is unix:///ABSOLUTE/PATH" % url)
            self.scheme, self.unix_path, self.host, self.port, self.prefix = "unix", path, "", 0, ""
            return
        u = urllib.parse.urlsplit(url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError("url %r: expected http://HOST:PORT, https://HOST[:PORT] or unix:///PATH" % url)
        if u.query or u.fragment or u.username or u.password:
            raise ValueError("url %r: no query, fragment or credentials (pass token=)" % url)
        try:
            port = u.port
        except ValueError as e:
            raise ValueError("url %r: %s" % (url, e)) from None
        self.scheme = u.scheme
        self.unix_path = ""
        self.host = u.hostname
        self.port = port or (443 if u.scheme == "https" else 80)
        self.prefix = u.path.rstrip("/")

    def connect(self, timeout: float) -> http.client.HTTPConnection:
        if self.scheme == "unix":
            return _UnixHTTPConnection(self.unix_path, timeout)
        if self.scheme == "https":
            return http.client.HTTPSConnection(
                self.host, self.port, timeout=timeout, context=ssl.create_default_context()
            )
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)


_CODE_CLASSES: Dict[str, Tuple[Type[PetriError], int]] = {
    "bad_json": (InvalidArgumentError, _errno.EINVAL),
    "unknown_field": (InvalidArgumentError, _errno.EINVAL),
    "invalid_argument": (InvalidArgumentError, _errno.EINVAL),
    "unsafe_path": (UnsafePathError, _errno.ELOOP),
    "unauthorized": (UnauthorizedError, _errno.EACCES),
    "sandbox_not_found": (SandboxNotFoundError, _errno.ESRCH),
    "sandbox_expired": (SandboxExpiredError, _errno.ESRCH),
    "sandbox_dead": (SandboxDeadError, _errno.ESRCH),
    "file_not_found": (NotFoundError, _errno.ENOENT),
    "sandbox_busy": (SandboxBusyError, _errno.EBUSY),
    "body_too_large": (TooLargeError, _errno.E2BIG),
    "quota_exceeded": (QuotaExceededError, _errno.EDQUOT),
    "too_many_execs": (QuotaExceededError, _errno.EAGAIN),
    "unread_answers": (QuotaExceededError, _errno.EAGAIN),
    "bad_request": (InvalidArgumentError, _errno.EINVAL),
    "node_timeout": (ServiceUnavailableError, _errno.ETIMEDOUT),
    "request_timeout": (PetriConnectionError, _errno.ETIMEDOUT),
    "shutting_down": (ServiceUnavailableError, _errno.EAGAIN),
    "node_unavailable": (ServiceUnavailableError, _errno.EHOSTUNREACH),
    "internal": (PetriError, _errno.EIO),
    # A route or method this petrid does not have: another version.
    "not_found": (PetriError, _errno.ENOSYS),
    "method_not_allowed": (PetriError, _errno.ENOSYS),
    "unsupported_media_type": (PetriError, _errno.EPROTO),
}
_STATUS_CLASSES: Dict[int, Tuple[Type[PetriError], int]] = {
    400: (InvalidArgumentError, _errno.EINVAL),
    401: (UnauthorizedError, _errno.EACCES),
    404: (NotFoundError, _errno.ENOENT),
    409: (SandboxBusyError, _errno.EBUSY),
    410: (SandboxExpiredError, _errno.ESRCH),
    413: (TooLargeError, _errno.E2BIG),
    429: (QuotaExceededError, _errno.EAGAIN),
    503: (ServiceUnavailableError, _errno.EAGAIN),
}


def _make_error(
    url: str,
    status: Optional[int],
    err: Any,
    retry_after: Optional[str] = None,
) -> PetriError:
    """The exception for petrid's error object {"code", "message", ...}
    (answered with HTTP @status, or None inside a stream)."""
    code = err.get("code") if isinstance(err, dict) else None
    message = err.get("message") if isinstance(err, dict) else None
    code = code if isinstance(code, str) else None
    if not isinstance(message, str) or not message:
        message = "petrid answered HTTP %s%s" % (status, " (%s)" % code if code else "")
    if code in _CODE_CLASSES:
        cls, eno = _CODE_CLASSES[code]
    elif status in _STATUS_CLASSES:
        cls, eno = _STATUS_CLASSES[status]  # type: ignore[index]
    else:
        cls, eno = PetriError, _errno.EIO
    # The library's errno, when petrid says it ("errno": "ENOTEMPTY"): the
    # same exception as in-process for what petrid's codes lump together.
    named = err.get("errno") if isinstance(err, dict) else None
    lib_eno = getattr(_errno, named, None) if isinstance(named, str) and named.startswith("E") else None
    if isinstance(lib_eno, int) and code in (None, "invalid_argument", "internal"):
        cls, eno = _BY_ERRNO.get(lib_eno, PetriError), lib_eno
    if code == "unauthorized" or (code is None and status == 401):
        message += " (token from token= or %s)" % ENV_TOKEN
    e: PetriError
    if cls is QuotaExceededError:
        quota = err.get("quota") if isinstance(err, dict) else None
        ra: Optional[float] = None
        try:
            ra = float(retry_after) if retry_after else None
        except ValueError:
            pass
        e = QuotaExceededError(eno, message, quota if isinstance(quota, str) else None, ra)
    else:
        e = cls(eno, message)
    e.code, e.status, e.url = code, status, url
    return e


def _conn_error(url: str, what: str, exc: BaseException) -> PetriConnectionError:
    if isinstance(exc, socket.timeout):
        eno = _errno.ETIMEDOUT
        why = "no answer (timed out)"
    elif isinstance(exc, OSError) and exc.errno:
        eno = exc.errno
        why = exc.strerror or os.strerror(exc.errno)
    elif isinstance(exc, (http.client.RemoteDisconnected, http.client.IncompleteRead)):
        eno = _errno.ECONNRESET
        why = "the connection closed before the answer was complete"
    elif isinstance(exc, http.client.HTTPException):
        eno = _errno.EPROTO
        why = "not an HTTP answer (%s)" % type(exc).__name__
    else:
        eno = _errno.EIO
        why = str(exc) or type(exc).__name__
    e = PetriConnectionError(eno, "petri: %s: %s: %s" % (url, what, why))
    e.url = url
    return e


class _Client:
    """Requests to one petrid.  Thread-safe: each request takes a kept-alive
    connection from a small pool, or makes one."""

    def __init__(self, url: str, token: Optional[str], timeout: float, stream_timeout: float) -> None:
        self.endpoint = _Endpoint(url)
        self.url = self.endpoint.url
        if token is not None:
            if not isinstance(token, str):
                raise TypeError("token must be str, not %s" % type(token).__name__)
            if not token or any(c in token for c in "\r\n\0 "):
                raise ValueError("token must be a non-empty string without spaces or line breaks")
        self._auth = "Bearer " + token if token else None
        self.timeout = timeout
        self.stream_timeout = stream_timeout
        self._idle: List[Tuple[http.client.HTTPConnection, float]] = []
        self._lock = threading.Lock()
        _clients.add(self)

    # -- connections ---------------------------------------------------------

    def _take(self) -> Tuple[http.client.HTTPConnection, bool]:
        now = time.monotonic()
        with self._lock:
            while self._idle:
                conn, since = self._idle.pop()
                if now - since < _IDLE_REUSE:
                    return conn, True
                conn.close()
        return self.endpoint.connect(self.timeout), False

    def _give_back(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if len(self._idle) < 4:
                self._idle.append((conn, time.monotonic()))
                return
        conn.close()

    def forget_connections(self) -> None:
        """Drop the pool without closing (after fork: the parent owns them)."""
        self._idle = []
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn, _ in idle:
            conn.close()

    def headers(self, extra: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
        h = {"User-Agent": "petri-python", "Accept": "application/json"}
        if self._auth:
            h["Authorization"] = self._auth
        if extra:
            h.update(extra)
        return h

    # -- requests ------------------------------------------------------------

    def send(
        self,
        method: str,
        path: str,
        body: Optional[bytes],
        headers: Dict[str, str],
        timeout: Optional[float],
        what: str,
    ) -> Tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        """Send a request; the caller reads the response and then calls
        finish() (or closes the connection).  A kept-alive connection that
        the server closed meanwhile is replaced once: petrid closes idle
        connections, and such a request never reached it."""
        target = self.endpoint.prefix + path
        for attempt in (0, 1):
            conn, reused = self._take()
            try:
                conn.timeout = timeout if timeout is not None else self.timeout
                if conn.sock is not None:
                    conn.sock.settimeout(conn.timeout)
                try:
                    conn.request(method, target, body=body, headers=headers)
                except (BrokenPipeError, ConnectionResetError):
                    # petrid may have answered before the body was all
                    # sent (413 body_too_large) and closed: read that.
                    # Else (a stale kept-alive connection) this raises too.
                    pass
                return conn, conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as e:
                conn.close()
                if reused and attempt == 0:
                    continue
                raise _conn_error(self.url, what, e) from None
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                raise _conn_error(self.url, what, e) from None
            except BaseException:
                conn.close()
                raise
        raise AssertionError("unreachable")

    def finish(self, conn: http.client.HTTPConnection, resp: http.client.HTTPResponse) -> None:
        """Return the connection to the pool once its response was read whole."""
        if resp.isclosed() and not resp.will_close:
            self._give_back(conn)
        else:
            conn.close()

    def call(
        self,
        method: str,
        path: str,
        what: str,
        *,
        json_body: Any = None,
        body: Optional[bytes] = None,
        content_type: Optional[str] = None,
        ok: Sequence[int] = (200,),
        timeout: Optional[float] = None,
        max_bytes: Optional[int] = None,
    ) -> Tuple[int, bytes]:
        """One request answered whole: (status, body); raises the mapped
        PetriError for an error status, PetriConnectionError when petrid
        cannot be reached.  @max_bytes bounds the body read (TooLargeError
        beyond it)."""
        extra: Dict[str, str] = {}
        if json_body is not None:
            body = json.dumps(json_body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
            extra["Content-Type"] = "application/json"
        elif content_type:
            extra["Content-Type"] = content_type
        if method in ("POST", "PUT") and body is None:
            body = b""
        conn, resp = self.send(method, path, body, self.headers(extra), timeout, what)
        try:
            if resp.status in ok:
                if max_bytes is not None:
                    data = resp.read(max_bytes + 1)
                    if len(data) > max_bytes:
                        conn.close()
                        big = TooLargeError(_errno.EFBIG, "%s: more than %d bytes" % (what, max_bytes))
                        big.url = self.url
                        raise big
                else:
                    data = resp.read()
            else:
                data = resp.read(1 << 20)
        except PetriError:
            raise
        except (OSError, http.client.HTTPException) as e:
            conn.close()
            raise _conn_error(self.url, what, e) from None
        except BaseException:
            conn.close()
            raise
        self.finish(conn, resp)
        if resp.status not in ok:
            raise self.error_of(resp, data, what)
        return resp.status, data

    def call_json(self, method: str, path: str, what: str, **kw: Any) -> Any:
        _, data = self.call(method, path, what, **kw)
        return self.parse_json(data, what)

    def parse_json(self, data: bytes, what: str) -> Any:
        try:
            return json.loads(data)
        except ValueError:
            e = PetriConnectionError(
                _errno.EPROTO, "petri: %s: %s: the answer is not JSON: %r" % (self.url, what, data[:80])
            )
            e.url = self.url
            raise e from None

    def error_of(self, resp: http.client.HTTPResponse, data: bytes, what: str) -> PetriError:
        err: Any = None
        try:
            doc = json.loads(data)
            err = doc.get("error") if isinstance(doc, dict) else None
        except ValueError:
            pass
        if not isinstance(err, dict):
            # Not petrid's error object: a proxy in front, another server.
            text = data[:200].decode("utf-8", "replace").strip()
            err = {
                "message": "petri: %s: %s: HTTP %d %s%s"
                % (self.url, what, resp.status, resp.reason, ": " + text if text else "")
            }
        return _make_error(self.url, resp.status, err, resp.getheader("Retry-After"))


# Every client, so that a forked child drops the parent's connections.
_clients: "weakref.WeakSet[_Client]" = weakref.WeakSet()


def _after_fork() -> None:
    for c in list(_clients):
        c.forget_connections()


os.register_at_fork(after_in_child=_after_fork)


# ---------------------------------------------------------------------------
# Argument conversion: the in-process checks (same TypeError/ValueError),
# then to JSON.
# ---------------------------------------------------------------------------


def _text(name: str, b: bytes) -> str:
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("%s is not UTF-8: a remote sandbox takes text here" % name) from None


def _seconds(ms: int) -> Union[int, float]:
    return ms // 1000 if ms % 1000 == 0 else ms / 1000.0


def _exec_body(
    argv: Optional[Sequence[Any]], code: Any, language: Optional[str], kw: Mapping[str, Any]
) -> Dict[str, Any]:
    body: Dict[str, Any] = {}
    if argv is not None:
        body["argv"] = [_text("argv[%d]" % i, a) for i, a in enumerate(conv.argv_list(argv))]
    else:
        if not isinstance(code, (str, bytes)):
            raise TypeError("code must be str or bytes, not %s" % type(code).__name__)
        body["code"] = _text("code", conv.cstr("code", code))
        args = kw.get("args")
        if args is not None:
            if not isinstance(args, (list, tuple)):
                raise TypeError("args must be a list of str, not %s" % type(args).__name__)
            body["args"] = [_text("args[%d]" % i, conv.cstr("args[%d]" % i, a)) for i, a in enumerate(args)]
        if language is not None:
            if not isinstance(language, str):
                raise TypeError("language must be str, not %s" % type(language).__name__)
            body["language"] = _text("language", conv.cstr("language", language))
    stdin = kw.get("stdin")
    if stdin is not None:
        if isinstance(stdin, str):
            body["stdin"] = stdin
        else:
            body["stdin_b64"] = base64.b64encode(conv.data("stdin", stdin)).decode("ascii")
    env = conv.env_list("env", kw.get("env"))
    if env is not None:
        body["env"] = dict(_text("env", e).split("=", 1) for e in env)
    cwd = kw.get("cwd")
    if cwd is not None:
        body["cwd"] = _text("cwd", conv.path("cwd", cwd))
    for key, field in (("timeout", "timeout"), ("cpu", "cpu")):
        ms = conv.duration_ms(key, kw.get(key))
        if ms:
            body[field] = _seconds(ms)
    for key in ("stdout_limit", "stderr_limit", "output_kill", "file_size"):
        n = conv.size(key, kw.get(key))
        if n:
            body[key] = n
    n = conv.count("nofile", kw.get("nofile"))
    if n:
        body["nofile"] = n
    return body


def _file_path(name: str, path: Any, directory: bool = False) -> str:
    """@path as the URL tail of /files/: relative to /workspace (a leading
    "/workspace/" or "/" is dropped, as the library does), each component
    percent-encoded, "." and ".." encoded too so that nothing on the way
    normalises them away (petrid refuses them: unsafe_path)."""
    p = _text(name, conv.path(name, path)) if not (directory and path in ("", None)) else ""
    if p == "/workspace" or p.startswith("/workspace/"):
        p = p[len("/workspace") :]
    p = p.lstrip("/")
    parts = []
    for comp in p.split("/"):
        if comp in (".", ".."):
            parts.append(comp.replace(".", "%2E"))
        else:
            parts.append(urllib.parse.quote(comp, safe=""))
    tail = "/".join(parts)
    if not directory:
        if not tail:
            # petrid's ".../files/" is the listing of /workspace: not a file.
            raise PetriError(_errno.EISDIR, "/workspace is a directory, not a file")
        if tail.endswith("/"):
            # "dir/" (must be a directory, as in-process): a trailing "/"
            # in the URL would ask for the listing route instead.
            tail = tail[:-1] + "%2F"
    return tail


# ---------------------------------------------------------------------------
# The sandbox.
# ---------------------------------------------------------------------------


_LOCAL_ONLY = {
    "binds": "host paths are not sent to petrid",
    "workspace_dir": "host paths are not sent to petrid",
    "rootfs": "host paths are not sent to petrid",
    "upstream_ca": "host paths are not sent to petrid (the CA of upstream servers is petrid's)",
    "id": "petrid names its sandboxes (sb_<node>_<hex>)",
    "context": "a Context is an in-process library context",
    "audit": "petrid writes the audit stream to the tenant's destination in its config",
}

# Thread-local: the remote state whose exec is calling an output callback.
_callback_tls = threading.local()


class _RemoteState:
    """What the finalizer and the streams share with the sandbox object
    (never the object itself, so that dropping it destroys the sandbox)."""

    def __init__(self, client: _Client, sandbox_id: str) -> None:
        self.client = client
        self.id = sandbox_id
        self.pid = os.getpid()
        self.closed = False
        self.lock = threading.Lock()  # serialises this object's non-streamed execs
        self.meta = threading.Lock()
        self.execs: Dict[int, bool] = {}  # execs in flight: key -> True
        self.next_key = 0
        self.abandoned = False  # a stream was dropped unfinished: the server may still end it

    def base(self) -> str:
        return "/v1/sandboxes/" + urllib.parse.quote(self.id, safe="")

    def check_open(self) -> None:
        if self.closed:
            raise SandboxClosedError("sandbox %s is closed" % self.id)
        if os.getpid() != self.pid:
            raise SandboxClosedError("sandbox %s belongs to the parent process (fork)" % self.id)

    def check_not_in_callback(self) -> None:
        if getattr(_callback_tls, "state", None) is self:
            raise SandboxBusyError(
                _errno.EBUSY,
                "sandbox %s is running an exec in this thread "
                "(an output callback cannot use its own sandbox)" % self.id,
            )

    def begin_exec(self) -> int:
        with self.meta:
            self.next_key += 1
            self.execs[self.next_key] = True
            return self.next_key

    def end_exec(self, key: int) -> None:
        with self.meta:
            self.execs.pop(key, None)

    def cancel_once(self) -> bool:
        _, data = self.client.call("POST", self.base() + "/cancel", "cancel %s" % self.id, json_body={})
        doc = self.client.parse_json(data, "cancel")
        return bool(isinstance(doc, dict) and doc.get("cancelled"))

    def cancel(self) -> bool:
        """POST cancel.  An exec of ours whose request is still on its way
        is not running yet for petrid (cancelled: false): while it is in
        flight here, send again (the same rule as in-process)."""
        with self.meta:
            mine = set(self.execs)
        if self.closed:
            return False
        done = self.cancel_once()
        if done or not mine:
            return done
        deadline = time.monotonic() + 5.0
        delay = 0.01
        while time.monotonic() < deadline:
            with self.meta:
                if not mine & set(self.execs):
                    return True  # it ended (by the cancel or by itself)
            time.sleep(delay)
            delay = min(delay * 2, 0.25)
            if self.cancel_once():
                return True
        return True

    def retry_busy(self, key: int, attempt: int) -> bool:
        """After 409 sandbox_busy for exec @key: when the exec that runs is
        one of this object's (another thread's stream, or a stream dropped
        unfinished whose connection petrid is still tearing down), wait for
        it to end and say to try again, as an in-process exec waits for the
        one before it; else (another client's exec) False."""
        with self.meta:
            others = any(k != key for k in self.execs)
            abandoned = self.abandoned
        if attempt >= 3 or not (others or abandoned):
            return False
        self.wait_idle(_BUSY_WAIT if others else 10.0)
        with self.meta:
            self.abandoned = False
        return True

    def wait_idle(self, limit: float) -> None:
        """Poll until petrid says no exec runs in the sandbox (after a
        409 sandbox_busy); at most @limit seconds."""
        deadline = time.monotonic() + limit
        delay = 0.02
        while time.monotonic() < deadline:
            doc = self.client.call_json("GET", self.base(), "get %s" % self.id)
            if not isinstance(doc, dict) or doc.get("state") != "running":
                return
            time.sleep(delay)
            delay = min(delay * 2, 0.25)

    def close(self, wait: float = 30.0, timeout: Optional[float] = None) -> None:
        """DELETE the sandbox (idempotent).  An exec running in another
        thread is cancelled by petrid and waited for (at most @wait s);
        @timeout bounds the DELETE (default: the client's)."""
        with self.meta:
            if self.closed:
                return
            self.closed = True
        try:
            if os.getpid() != self.pid:
                return  # a forked child: the sandbox is the parent's
            try:
                self.client.call("DELETE", self.base(), "delete %s" % self.id, ok=(204, 200), timeout=timeout)
            except (SandboxNotFoundError, SandboxExpiredError):
                pass  # already gone: nothing remains, which is what close wants
            if getattr(_callback_tls, "state", None) is not self and self.lock.acquire(timeout=wait):
                self.lock.release()
        finally:
            self.client.close()

    def close_quietly(self) -> None:
        """The finalizer: close, never raising (also at interpreter exit)."""
        try:
            self.close(wait=5.0, timeout=5.0)  # bounded: it may run at interpreter exit
        except Exception:  # noqa: BLE001 - a finalizer cannot report
            pass



class RemoteSandbox(Sandbox):
    """A sandbox that lives in petrid (see the module's documentation).

    Made by ``Sandbox(url=...)`` or ``Sandbox()`` with PETRI_URL set; it is
    a :class:`petri.Sandbox` with the same methods.  Options as in-process
    (memory, pids, cpus, tmp_size, workspace_size, net, allow,
    net_max_conns, net_max_bytes, env, hostname), plus:

      url             petrid: http://HOST:PORT, https://..., unix:///PATH
                      (default: PETRI_URL)
      token           the tenant's bearer token (default: PETRI_TOKEN)
      ttl             idle TTL in seconds (petrid's "timeout"; default the
                      tenant's, else 600)
      secrets         ["NAME", ...]: the tenant's secrets (petrid's config)
                      this sandbox may use; env NAME holds a placeholder
      http_timeout    seconds to connect and to wait for an answer (30)
      stream_timeout  seconds a stream may stay silent (15; petrid sends a
                      heartbeat every 5 s)
    """

    _rstate: _RemoteState

    def __init__(  # noqa: C901 - one check per option
        self,
        language: Optional[str] = None,
        *,
        url: Optional[str] = None,
        token: Optional[str] = None,
        ttl: Optional[conv.DurationArg] = None,
        http_timeout: Optional[float] = None,
        stream_timeout: Optional[float] = None,
        memory: Optional[conv.SizeArg] = None,
        pids: Optional[int] = None,
        cpus: Optional[Union[int, float]] = None,
        tmp_size: Optional[conv.SizeArg] = None,
        workspace_size: Optional[conv.SizeArg] = None,
        net: Optional[str] = None,
        allow: Optional[Sequence[str]] = None,
        net_max_conns: Optional[int] = None,
        net_max_bytes: Optional[conv.SizeArg] = None,
        secrets: Optional[Sequence[str]] = None,
        env: Optional[Mapping[str, str]] = None,
        hostname: Optional[str] = None,
        landlock: bool = True,
        no_pool: bool = False,
        **local_only: Any,
    ) -> None:
        self._finalizer: Optional[weakref.finalize] = None
        from_env = url is None
        if url is None:
            url = remote_url_from_env()
        if url is None:
            raise ValueError("RemoteSandbox needs url= or %s" % ENV_URL)
        where = "url %s%s" % (url, " (from %s)" % ENV_URL if from_env else "")
        for k, v in local_only.items():
            if k == "timeout":
                raise TypeError(
                    "Sandbox() has no timeout=: the idle TTL is ttl=, the HTTP timeout http_timeout= "
                    "(an exec's timeout is exec(timeout=))"
                )
            if k not in _LOCAL_ONLY:
                raise TypeError("Sandbox() got an unexpected keyword argument %r" % k)
            if v is not None:
                raise TypeError(
                    "%s= is not available for a remote sandbox (%s): %s" % (k, where, _LOCAL_ONLY[k])
                )
        if landlock is not True:
            raise TypeError("landlock= is not available for a remote sandbox (%s): petrid decides" % where)
        if no_pool is not False:
            raise TypeError(
                "no_pool= is not available for a remote sandbox (%s): the warm pool is petrid's "
                '(its node config\'s "warm" and "recycle")' % where
            )
        if token is None:
            token = os.environ.get(ENV_TOKEN) or None
        to = DEFAULT_TIMEOUT if http_timeout is None else _positive("http_timeout", http_timeout)
        sto = DEFAULT_STREAM_TIMEOUT
        if stream_timeout is not None:
            sto = _positive("stream_timeout", stream_timeout)

        body: Dict[str, Any] = {}
        if language is not None:
            if not isinstance(language, str):
                raise TypeError("language must be str, not %s" % type(language).__name__)
            body["language"] = language
        for key, v in (
            ("memory", memory),
            ("tmp_size", tmp_size),
            ("workspace_size", workspace_size),
            ("net_max_bytes", net_max_bytes),
        ):
            if v is not None:
                body[key] = conv.size(key, v)
        for key, c in (("pids", pids), ("net_max_conns", net_max_conns)):
            if c is not None:
                body[key] = conv.count(key, c)
        if cpus is not None:
            body["cpus"] = conv.cpus("cpus", cpus) / 1000.0
        if net is not None:
            if not isinstance(net, str):
                raise TypeError("net must be str, not %s" % type(net).__name__)
            if net not in ("none", "proxy", "host"):
                raise ValueError("net must be 'none', 'proxy' or 'host', not %r" % net)
            body["net"] = net
        if allow is not None:
            body["allow"] = [_text("allow[%d]" % i, a) for i, a in enumerate(conv.allow_list(allow) or [])]
        if secrets is not None:
            if not isinstance(secrets, (list, tuple)):
                raise TypeError(
                    "secrets of a remote sandbox (%s) are the names of the tenant's secrets "
                    "in petrid's config, a list such as ['GITHUB_TOKEN'], not %s"
                    % (where, type(secrets).__name__)
                )
            for i, s in enumerate(secrets):
                if not isinstance(s, str):
                    raise TypeError("secrets[%d] must be a name (str), not %s" % (i, type(s).__name__))
            body["secrets"] = list(secrets)
        envl = conv.env_list("env", env)
        if envl is not None:
            body["env"] = dict(_text("env", e).split("=", 1) for e in envl)
        if hostname is not None:
            body["hostname"] = _text("hostname", conv.cstr("hostname", hostname))
        if ttl is not None:
            body["timeout"] = _seconds(conv.duration_ms("ttl", ttl))

        try:
            client = _Client(url, token, to, sto)
        except ValueError as e:
            if from_env and "url" in str(e):
                raise ValueError("%s (from %s)" % (e, ENV_URL)) from None
            raise
        doc = client.call_json("POST", "/v1/sandboxes", "create a sandbox", json_body=body, ok=(201, 200))
        sid = doc.get("id") if isinstance(doc, dict) else None
        if not isinstance(sid, str) or not sid:
            client.close()
            raise _bad_answer(client.url, "create a sandbox (no id)")
        self._rstate = _RemoteState(client, sid)
        lang = doc.get("language")
        self._language = lang if isinstance(lang, str) and lang else language
        self._info = doc
        self._finalizer = weakref.finalize(self, self._rstate.close_quietly)

    # -- properties -------------------------------------------------------------

    @property
    def id(self) -> str:
        """petrid's sandbox id (sb_<node>_<hex>), also after close."""
        return self._rstate.id

    @property
    def url(self) -> str:
        """The petrid this sandbox lives in."""
        return self._rstate.client.url

    @property
    def closed(self) -> bool:
        return self._rstate.closed

    @property
    def language(self) -> Optional[str]:
        return self._language

    @property
    def context(self) -> Any:
        """None: a remote sandbox has no in-process Context."""
        return None

    @property
    def audit(self) -> Any:
        """None: petrid sends the audit stream where the tenant's config says."""
        return None

    @property
    def init_pid(self) -> Optional[int]:
        """None: init runs on petrid's host."""
        return None

    @property
    def host_uid(self) -> int:
        raise PetriError(_errno.ENOTSUP, "host_uid is not available for a remote sandbox (%s)" % self.url)

    @property
    def reuses(self) -> int:
        raise PetriError(
            _errno.ENOTSUP, "reuses is not available for a remote sandbox (%s): the pool is petrid's" % self.url
        )

    @property
    def cgroup_id(self) -> int:
        raise PetriError(_errno.ENOTSUP, "cgroup_id is not available for a remote sandbox (%s)" % self.url)

    def info(self) -> Dict[str, Any]:
        """petrid's sandbox object (state, created, expires, limits, usage);
        reading it does not renew the TTL."""
        st = self._rstate
        st.check_open()
        doc = st.client.call_json("GET", st.base(), "get %s" % st.id)
        if not isinstance(doc, dict):
            raise _bad_answer(st.client.url, "get %s" % st.id)
        return doc

    def keepalive(self, ttl: Optional[conv.DurationArg] = None) -> Dict[str, Any]:
        """Renew the idle TTL (and with @ttl, change it); returns the sandbox object."""
        st = self._rstate
        st.check_open()
        body = {} if ttl is None else {"timeout": _seconds(conv.duration_ms("ttl", ttl))}
        doc = st.client.call_json("POST", st.base() + "/keepalive", "keepalive %s" % st.id, json_body=body)
        if not isinstance(doc, dict):
            raise _bad_answer(st.client.url, "keepalive %s" % st.id)
        return doc

    # -- lifecycle --------------------------------------------------------------

    def close(self) -> None:
        """DELETE the sandbox in petrid (idempotent): an exec running in
        another thread is cancelled and waited for.  When petrid cannot be
        reached, the sandbox is closed here all the same and
        PetriConnectionError says so (petrid destroys it when its TTL
        passes; a petrid that died took it along)."""
        if self._finalizer is not None:
            self._finalizer.detach()
        self._rstate.close()

    destroy = close

    def __exit__(self, *exc: Any) -> None:
        try:
            self.close()
        except PetriError:
            if exc[0] is None:
                raise  # else the exception in flight says more

    def cancel(self) -> bool:
        """Kill the exec running in the sandbox, if any (reason "killed");
        from any thread.  Returns whether one was running."""
        st = self._rstate
        if st.closed:
            return False
        return st.cancel()

    def __repr__(self) -> str:
        return "<petri.Sandbox %s%s url=%s%s>" % (
            self.id,
            " language=%s" % self._language if self._language else "",
            self.url,
            " closed" if self.closed else "",
        )

    # -- exec ---------------------------------------------------------------------

    def exec(self, code: Union[str, bytes], **kw: Any) -> ExecResult:  # type: ignore[override]
        """As Sandbox.exec (same keyword arguments)."""
        _check_kw(kw, _EXEC_KW)
        return self._run(None, code, kw.pop("language", None), kw)

    def run(self, argv: Sequence[str], **kw: Any) -> ExecResult:  # type: ignore[override]
        """As Sandbox.run (same keyword arguments)."""
        _check_kw(kw, _RUN_KW)
        return self._run(argv, None, None, kw)

    def stream(  # type: ignore[override]
        self, code: Optional[Union[str, bytes]] = None, *, argv: Optional[Sequence[str]] = None, **kw: Any
    ) -> "RemoteExecStream":
        """As Sandbox.stream: an iterator of ("stdout" | "stderr", bytes)."""
        _check_kw(kw, _STREAM_KW)
        language = kw.pop("language", None)
        if (code is None) == (argv is None):
            raise TypeError("stream() takes exactly one of code and argv")
        if argv is not None and language is not None:
            raise TypeError("language applies to code, not to argv")
        if argv is not None and kw.get("args") is not None:
            raise TypeError("args apply to code (put a command's arguments in argv)")
        self._rstate.check_open()
        self._rstate.check_not_in_callback()
        body = _exec_body(argv, code, language, kw)
        return RemoteExecStream(self._rstate, body)

    def _run(self, argv: Any, code: Any, language: Optional[str], kw: Dict[str, Any]) -> ExecResult:
        on_output = kw.pop("on_output", None)
        if on_output is not None and not callable(on_output):
            raise TypeError("on_output must be callable(stream, data), not %s" % type(on_output).__name__)
        body = _exec_body(argv, code, language, kw)
        st = self._rstate
        st.check_open()
        st.check_not_in_callback()
        with st.lock:
            st.check_open()
            try:
                if on_output is None:
                    return self._exec_plain(body)
                return self._exec_streamed(body, on_output)
            except SandboxNotFoundError:
                if st.closed:  # close() in another thread got there first
                    raise SandboxClosedError("sandbox %s is closed" % st.id) from None
                raise

    def _exec_plain(self, body: Dict[str, Any]) -> ExecResult:
        st = self._rstate
        wait = float(body.get("timeout", _EXEC_DEFAULT_TIMEOUT)) + _EXEC_MARGIN + st.client.timeout
        key = st.begin_exec()
        try:
            attempt = 0
            while True:
                try:
                    doc = st.client.call_json(
                        "POST", st.base() + "/exec", "exec in %s" % st.id, json_body=body, timeout=wait
                    )
                    break
                except SandboxBusyError:
                    if not st.retry_busy(key, attempt):
                        raise
                    attempt += 1
        except BaseException as e:
            if not isinstance(e, PetriError):
                # Interrupted (Ctrl-C): the closed connection cancels the
                # exec in petrid; make sure, and wait for it to end, so the
                # sandbox is usable at once (as in-process).
                _stop_quietly(st)
            raise
        finally:
            st.end_exec(key)
        return _result_of(st.client.url, doc)

    def _exec_streamed(self, body: Dict[str, Any], on_output: OutputCallback) -> ExecResult:
        st = self._rstate
        s = RemoteExecStream(st, body)
        try:
            for name, chunk in s:
                prev = getattr(_callback_tls, "state", None)
                _callback_tls.state = st
                try:
                    on_output(name, chunk)
                finally:
                    _callback_tls.state = prev
        except BaseException as e:
            interrupted = s.done and not isinstance(e, PetriError)
            s.close()  # cancel and wait for the end
            if interrupted:
                _stop_quietly(st)  # Ctrl-C while reading: the connection is closed; make sure
            raise
        return s.result

    # -- files --------------------------------------------------------------------

    def _files(self, tail: str) -> str:
        return self._rstate.base() + "/files/" + tail

    def _enter_files(self) -> _RemoteState:
        st = self._rstate
        st.check_open()
        st.check_not_in_callback()
        return st

    def _file_call(self, method: str, url: str, what: str, **kw: Any) -> bytes:
        """A files request; petrid refuses one while an exec runs (409): when
        that exec is this object's, wait for it, as in-process."""
        st = self._enter_files()
        attempt = 0
        while True:
            try:
                return st.client.call(method, url, what, **kw)[1]
            except SandboxBusyError:
                if not st.retry_busy(0, attempt):
                    raise
                attempt += 1

    def write_file(self, path: conv.StrPath, data: Union[bytes, str], mode: int = 0o644) -> None:
        """As Sandbox.write_file: PUT the bytes; parents are created."""
        tail = _file_path("path", path)
        b = conv.data("data", data)
        if isinstance(mode, bool) or not isinstance(mode, int):
            raise TypeError("mode must be int, not %s" % type(mode).__name__)
        if not 0 <= mode <= 0o7777:
            raise ValueError("mode must be between 0 and 0o7777, got %o" % mode)
        self._file_call(
            "PUT",
            self._files(tail) + "?mode=%04o" % mode,
            "write %s in %s" % (path, self.id),
            body=b,
            content_type="application/octet-stream",
            ok=(204, 200, 201),
        )

    def read_file(self, path: conv.StrPath, max_bytes: Optional[conv.SizeArg] = None) -> bytes:
        """As Sandbox.read_file: a file larger than @max_bytes (default
        64 MiB) raises TooLargeError."""
        tail = _file_path("path", path)
        mx = conv.size("max_bytes", max_bytes) or _READ_MAX_DEFAULT
        return self._file_call("GET", self._files(tail), "read %s in %s" % (path, self.id), max_bytes=mx)

    def remove_file(self, path: conv.StrPath) -> None:
        """Remove a file, a symlink (itself) or an empty directory."""
        tail = _file_path("path", path)
        self._file_call("DELETE", self._files(tail), "remove %s in %s" % (path, self.id), ok=(204, 200))

    def list_dir(self, path: conv.StrPath = "", max_entries: Optional[int] = None) -> Any:
        """As Sandbox.list_dir: the entries of a directory of /workspace ("":
        the workspace itself), one level, sorted by name, as a
        petri.DirListing of petri.DirEntry; ``truncated`` when there were
        more than @max_entries (default, and petrid's cap: 10000)."""
        from .files import DirEntry, DirListing

        if max_entries is not None:
            if isinstance(max_entries, bool) or not isinstance(max_entries, int):
                raise TypeError("max_entries must be int, not %s" % type(max_entries).__name__)
            if not 1 <= max_entries <= 0xFFFFFFFF:
                raise ValueError("max_entries must be between 1 and 2**32-1, got %d" % max_entries)
        tail = _file_path("path", path, directory=True)
        st = self._rstate
        url = st.base() + "/files" + ("/" + tail.rstrip("/") + "/" if tail.strip("/") else "")
        what = "list %s in %s" % (path or "/workspace", st.id)
        doc = st.client.parse_json(self._file_call("GET", url, what), what)
        entries = doc.get("entries") if isinstance(doc, dict) else None
        if not isinstance(entries, list):
            raise _bad_answer(st.client.url, what)
        try:
            out = [
                DirEntry(
                    name=_str_field(e, "name"),
                    type=_str_field(e, "type"),
                    size=_int_field(e, "size"),
                    mode=_int_field(e, "mode"),
                    mtime=_time_field(e, "mtime"),
                )
                for e in entries
            ]
        except (TypeError, ValueError, KeyError, AttributeError):
            raise _bad_answer(st.client.url, what) from None
        truncated = bool(doc.get("truncated"))
        if max_entries is not None and len(out) > max_entries:
            out, truncated = out[:max_entries], True
        return DirListing(out, truncated)


def _str_field(e: Dict[str, Any], k: str) -> str:
    v = e[k]
    if not isinstance(v, str):
        raise TypeError(k)
    return v


def _int_field(e: Dict[str, Any], k: str) -> int:
    v = e[k]
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(k)
    return v


def _time_field(e: Dict[str, Any], k: str) -> float:
    """Seconds since the epoch, from a number (seconds) or an RFC 3339 time
    (docs/petrid.md does not say which; the sandbox object uses RFC 3339)."""
    v = e[k]
    if isinstance(v, bool):
        raise TypeError(k)
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        import datetime

        return datetime.datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp()
    raise TypeError(k)


_EXEC_KW = {
    "args", "timeout", "cpu", "stdin", "env", "cwd", "stdout_limit", "stderr_limit",
    "output_kill", "file_size", "nofile", "language", "on_output",
}  # fmt: skip
_RUN_KW = _EXEC_KW - {"args", "language"}
_STREAM_KW = _EXEC_KW - {"on_output"}


def _check_kw(kw: Mapping[str, Any], allowed: set) -> None:  # type: ignore[type-arg]
    for k in kw:
        if k not in allowed:
            raise TypeError("got an unexpected keyword argument %r" % k)


def _positive(name: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
        raise ValueError("%s must be a positive number of seconds, got %r" % (name, v))
    return float(v)


def _bad_answer(url: str, what: str) -> PetriConnectionError:
    e = PetriConnectionError(_errno.EPROTO, "petri: %s: %s: the answer is not petrid's" % (url, what))
    e.url = url
    return e


def _result_of(url: str, doc: Any) -> ExecResult:
    """The ExecResult of petrid's result object; an exec that could not
    start (``error``, reason "failed") raises as in-process: 127 not found
    (NotFoundError), 126 not executable (PermissionDeniedError)."""
    if not isinstance(doc, dict):
        raise _bad_answer(url, "exec")
    err = doc.get("error")
    if isinstance(err, str) and err:
        code = doc.get("exit_code")
        cls: Type[PetriError] = (
            NotFoundError if code == 127 else PermissionDeniedError if code == 126 else PetriError
        )
        eno = _errno.ENOENT if code == 127 else _errno.EACCES if code == 126 else _errno.EIO
        e = cls(eno, err)
        e.url = url
        raise e
    try:
        return ExecResult._from_json(doc)
    except ValueError as ve:
        e2 = PetriConnectionError(_errno.EPROTO, "petri: %s: exec: %s" % (url, ve))
        e2.url = url
        raise e2 from None


def _stop_quietly(st: _RemoteState) -> None:
    """After an interrupted exec: cancel it and wait (a few seconds at most)
    until petrid has ended it; errors are dropped (the interruption is
    what the caller sees)."""
    try:
        st.cancel_once()
        st.wait_idle(5.0)
    except Exception:  # noqa: BLE001
        pass


# ---------------------------------------------------------------------------
# Streaming (Server-Sent Events).
# ---------------------------------------------------------------------------


class RemoteExecStream(ExecStream):
    """The output of a remote exec as it is produced: an iterator of
    ("stdout" | "stderr", bytes) like :class:`petri.ExecStream`, read from
    petrid's event stream in the iterating thread.

    The chunks are UTF-8 text (invalid bytes arrive as U+FFFD).  When the
    client reads too slowly, petrid drops chunks and says so: ``gaps`` lists
    the ``(stream, dropped_bytes)`` it reported, ``dropped_bytes`` sums them.
    ``heartbeats`` counts petrid's keep-alive events.  A read waits at most
    the sandbox's ``stream_timeout`` (15 s; petrid sends a heartbeat every
    5 s): silence beyond it, or a connection that ends without a result,
    raises PetriConnectionError.  ``close()`` (or leaving ``with``) cancels
    the exec and waits for its result; dropping the iterator unfinished
    closes the connection, which makes petrid cancel the exec."""

    def __init__(self, st: _RemoteState, body: Dict[str, Any]) -> None:  # noqa: super not called: no thread
        self._st = st
        self._finished = False
        self._result: Optional[ExecResult] = None
        self._error: Optional[BaseException] = None
        self._conn: Optional[http.client.HTTPConnection] = None
        self._resp: Optional[http.client.HTTPResponse] = None
        self.gaps: List[Tuple[str, int]] = []
        self.heartbeats = 0
        self._key = st.begin_exec()
        try:
            self._open(body)
        except PetriError as e:
            self._error = e  # raised from the iteration, as in-process
            st.end_exec(self._key)
        except BaseException:
            st.end_exec(self._key)
            raise

    def _open(self, body: Dict[str, Any]) -> None:
        st = self._st
        c = st.client
        data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        h = c.headers({"Content-Type": "application/json", "Accept": "text/event-stream"})
        attempt = 0
        while True:
            conn, resp = c.send("POST", st.base() + "/exec", data, h, c.stream_timeout, "exec in %s" % st.id)
            if resp.status == 200:
                ctype = (resp.getheader("Content-Type") or "").split(";")[0].strip()
                if ctype != "text/event-stream":
                    conn.close()
                    what = "exec in %s (Content-Type %r, not an event stream)" % (st.id, ctype)
                    raise _bad_answer(c.url, what)
                self._conn, self._resp = conn, resp
                return
            try:
                payload = resp.read(1 << 20)
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                raise _conn_error(c.url, "exec in %s" % st.id, e) from None
            c.finish(conn, resp)
            err = c.error_of(resp, payload, "exec in %s" % st.id)
            if isinstance(err, SandboxBusyError) and st.retry_busy(self._key, attempt):
                attempt += 1
                continue
            raise err

    # -- reading events -------------------------------------------------------

    def _read_event(self) -> Tuple[str, str]:
        """The next event (name, data), skipping comments; raises
        PetriConnectionError on silence or a connection that ends."""
        assert self._resp is not None
        name, data, have = "message", [], False
        what = "exec stream of %s" % self._st.id
        while True:
            try:
                raw = self._resp.readline()
            except (OSError, http.client.HTTPException) as e:
                raise _conn_error(self._st.client.url, what, e) from None
            if not raw:
                e = PetriConnectionError(
                    _errno.ECONNRESET,
                    "petri: %s: %s: the stream ended without a result (petrid died or the connection broke)"
                    % (self._st.client.url, what),
                )
                e.url = self._st.client.url
                raise e
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if not line:
                if have:
                    return name, "\n".join(data)
                continue
            if line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
            if field == "event":
                name, have = value, True
            elif field == "data":
                data.append(value)
                have = True

    def _parse(self, data: str) -> Any:
        try:
            return json.loads(data)
        except ValueError:
            what = "exec stream of %s (event data %r)" % (self._st.id, data[:80])
            raise _bad_answer(self._st.client.url, what) from None

    def __next__(self) -> Tuple[str, bytes]:
        if self._finished:
            raise StopIteration
        if self._error is not None:
            self._end()
            e, self._error = self._error, None
            raise e
        try:
            while True:
                name, data = self._read_event()
                if name in ("stdout", "stderr"):
                    doc = self._parse(data)
                    chunk = doc.get("data") if isinstance(doc, dict) else None
                    if not isinstance(chunk, str):
                        raise _bad_answer(self._st.client.url, "exec stream (a %s event without data)" % name)
                    return name, chunk.encode("utf-8", "replace")
                if name == "heartbeat":
                    self.heartbeats += 1
                elif name == "gap":
                    doc = self._parse(data)
                    if isinstance(doc, dict):
                        n = doc.get("dropped_bytes")
                        self.gaps.append((str(doc.get("stream", "")), n if isinstance(n, int) else 0))
                elif name == "result":
                    doc = self._parse(data)
                    self._end(complete=True)
                    self._result = _result_of(self._st.client.url, doc)
                    raise StopIteration
                elif name == "error":
                    doc = self._parse(data)
                    self._end(complete=True)
                    err = doc.get("error") if isinstance(doc, dict) else None
                    raise _make_error(self._st.client.url, None, err)
                # other events: from a newer petrid, ignored
        except StopIteration:
            raise
        except BaseException:
            self._end()
            raise

    def _end(self, complete: bool = False) -> None:
        """Done: give the connection back (when its response was read to
        the end) or close it (which cancels an exec still running)."""
        if self._finished:
            return
        self._finished = True
        conn, resp, self._conn, self._resp = self._conn, self._resp, None, None
        if conn is not None and resp is not None:
            if complete:
                try:
                    resp.read()  # the chunked terminator
                    self._st.client.finish(conn, resp)
                except (OSError, http.client.HTTPException):
                    conn.close()
            else:
                conn.close()
        self._st.end_exec(self._key)

    # -- the ExecStream API -------------------------------------------------------

    @property
    def dropped_bytes(self) -> int:
        """Output bytes petrid dropped because the client read too slowly."""
        return sum(n for _, n in self.gaps)

    @property
    def done(self) -> bool:
        return self._finished

    @property
    def result(self) -> ExecResult:
        if not self._finished:
            raise RuntimeError("the exec is still streaming: iterate to the end or call wait()")
        if self._result is None:
            raise RuntimeError("the exec failed: no result")
        return self._result

    def cancel(self) -> None:
        """Kill the exec (reason "killed"); the iteration then ends."""
        if not self._finished:
            self._st.cancel()

    def wait(self) -> ExecResult:
        """Let the exec run to its end, dropping the chunks not yet read,
        and return its result."""
        for _ in self:
            pass
        return self.result

    def close(self) -> None:
        """Cancel the exec if it still runs and wait for its result (at
        most stream_timeout without news); a broken connection is closed."""
        if self._finished:
            return
        try:
            if self._error is None:
                self._st.cancel()
            self.wait()
        except Exception:  # noqa: BLE001 - closing: the error is not wanted
            self._end()

    def __del__(self) -> None:
        try:
            if not self._finished:
                # No HTTP from a finalizer: closing the connection makes
                # petrid cancel the exec; the next exec waits for its end.
                self._st.abandoned = True
                self._end()
        except Exception:  # noqa: BLE001 - never raise from __del__
            pass


register_remote(RemoteSandbox)
