# SPDX-License-Identifier: Apache-2.0
"""Sandbox: create one, run code or commands in it, move files in and out.

    from petri import Sandbox
    with Sandbox(language="python") as sb:
        result = sb.exec("print('hello from isolation')")
        print(result.output)

Every limit is a keyword argument; left out, it takes the library's default
(see include/petri/petri.h).  Sizes are bytes or strings like "64M";
durations are seconds (int or float), a timedelta or strings like "500ms".
"""

from __future__ import annotations

import ctypes
import dataclasses
import errno
import itertools
import os
import queue
import re
import threading
import weakref
from typing import (
    Any,
    Callable,
    Dict,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from . import _convert as conv
from . import _lib
from ._handles import (
    LOG_LEVELS,
    ContextHandle,
    ContextState,
    SandboxState,
    call_with_error,
    callback_tls,
    default_context_state,
    open_context,
    raise_error,
)
from .audit import AuditStream
from .errors import NotFoundError, SandboxBusyError, SandboxClosedError, from_code
from .files import DirListing
from .files import _from_c as _listing_from_c
from .result import ExecResult
from .secret import Secret

ENV_URL = "PETRI_URL"


#: The remote Sandbox class; petri.remote sets it when imported (the
#: package's __init__ imports it), so that this module needs nothing of it.
_remote_class: Optional[type] = None


def register_remote(cls: type) -> None:
    """Called once by petri.remote: Sandbox(url=...) then makes a @cls."""
    global _remote_class
    _remote_class = cls


def remote_url_from_env() -> Optional[str]:
    """PETRI_URL, or None when unset or empty."""
    u = os.environ.get(ENV_URL)
    return u if u else None

__all__ = [
    "Sandbox",
    "ExecStream",
    "OutputCallback",
    "Context",
    "PoolStats",
    "default_context",
    "library_version",
]

#: on_output(stream, data): stream is "stdout" or "stderr", data the bytes
#: just written.  The return value is ignored; raising kills the exec and
#: the exception propagates out of exec() once the exec has ended.
OutputCallback = Callable[[str, bytes], Any]


_SECRET_NAME = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]{0,63}\Z")


class _SecretBuffers(list):  # type: ignore[type-arg]
    """The ctypes copies of secret values made for one create: wiped after it."""


def _secret_list(secrets: Optional[Mapping[str, Secret]]) -> Tuple[Any, Any]:
    """A NULL-terminated petri_secret ** for @secrets (NULL for None or {}),
    and what keeps its memory alive; the values' copies are wiped by
    _wipe_secrets().  Names and hosts are checked by the library, whose
    errors name the secret and never show its value."""
    if secrets is None:
        return None, None
    if not isinstance(secrets, Mapping):
        raise TypeError("secrets must be a mapping {NAME: petri.Secret}, not %s" % type(secrets).__name__)
    bufs = _SecretBuffers()
    structs = []
    for name, sec in secrets.items():
        if not isinstance(name, str):
            raise TypeError("secrets: a name must be str, not %s" % type(name).__name__)
        if not _SECRET_NAME.match(name):
            raise ValueError("secrets: name %r must match [A-Za-z_][A-Za-z0-9_]{0,63} (it is an env var)" % name)
        if not isinstance(sec, Secret):
            raise TypeError("secrets[%r] must be a petri.Secret, not %s" % (name, type(sec).__name__))
        value = ctypes.create_string_buffer(sec._value, len(sec._value))
        hosts, k = conv.strv([conv.cstr("secrets[%r].hosts[%d]" % (name, i), h) for i, h in enumerate(sec.hosts)])
        st = _lib.SecretOpts()
        st.sz = ctypes.sizeof(st)
        st.name = conv.cstr("secrets name", name)
        st.value = ctypes.cast(value, ctypes.c_void_p)
        st.value_len = len(sec._value)
        st.hosts = hosts
        bufs.append(value)
        structs.append((st, k))
    if not structs:
        return None, None
    arr = (ctypes.POINTER(_lib.SecretOpts) * (len(structs) + 1))(*[ctypes.pointer(st) for st, _ in structs])
    return ctypes.cast(arr, ctypes.POINTER(ctypes.POINTER(_lib.SecretOpts))), (arr, structs, bufs)


def _wipe_secrets(keep: List[Any]) -> None:
    for k in keep:
        if isinstance(k, tuple) and len(k) == 3 and isinstance(k[2], _SecretBuffers):
            for b in k[2]:
                ctypes.memset(b, 0, ctypes.sizeof(b))


#: Keyword arguments of a remote Sandbox only (petri.remote.RemoteSandbox).
_REMOTE_ONLY = ("token", "ttl", "http_timeout", "stream_timeout")

_NETS = {"none": _lib.NET_NONE, "host": _lib.NET_HOST, "proxy": _lib.NET_PROXY}
_SANDBOX_OPTS_SZ = ctypes.sizeof(_lib.SandboxOpts)
_EXEC_OPTS_SZ = ctypes.sizeof(_lib.ExecOpts)
# exec()/run() keyword -> petri_exec_opts field, converted when given.
_EXEC_DURATIONS = (("timeout", "timeout_ms"), ("cpu", "cpu_ms"))
_EXEC_SIZES = (
    ("stdout_limit", "stdout_max"),
    ("stderr_limit", "stderr_max"),
    ("output_kill", "output_kill_bytes"),
    ("file_size", "file_size_max"),
)
_STREAM_NAMES = {_lib.STREAM_STDOUT: "stdout", _lib.STREAM_STDERR: "stderr"}


# ---------------------------------------------------------------------------
# Output callbacks.  One C thunk for the whole module; each exec registers
# its Python callable under a key passed as the C userdata.  Exceptions are
# stored and re-raised by exec() after the library returns (raising through
# C is not possible), and the thunk returns 1 so that the library kills the
# exec at once.
# ---------------------------------------------------------------------------


class _CallbackSlot:
    __slots__ = ("fn", "state", "error")

    def __init__(self, fn: OutputCallback, state: SandboxState) -> None:
        self.fn = fn
        self.state = state
        self.error: Optional[BaseException] = None


_slots: Dict[int, _CallbackSlot] = {}
_slot_keys = itertools.count(1)


def _on_output(stream: int, data: Optional[int], length: int, userdata: Optional[int]) -> int:
    slot = _slots.get(userdata or 0)
    if slot is None or slot.error is not None:
        return 1
    prev = getattr(callback_tls, "state", None)
    callback_tls.state = slot.state
    try:
        chunk = ctypes.string_at(data, length) if data and length else b""
        slot.fn(_STREAM_NAMES.get(stream, str(stream)), chunk)
        return 0
    except BaseException as e:  # noqa: BLE001 - re-raised by exec()
        slot.error = e
        return 1
    finally:
        callback_tls.state = prev


_OUTPUT_THUNK = _lib.OUTPUT_FN(_on_output)


class _Prepared:
    """An exec's option struct plus every Python object it points into."""

    __slots__ = ("opts", "keep", "on_output")

    def __init__(self, opts: _lib.ExecOpts, keep: List[Any], on_output: Optional[OutputCallback]) -> None:
        self.opts = opts
        self.keep = keep
        self.on_output = on_output


class Sandbox:
    """An isolated environment to run untrusted code in, repeatedly.

    Files written to /workspace persist from one exec to the next;
    processes do not outlive their exec.  Close it (or use ``with``) to
    destroy it; one that is garbage-collected unclosed is destroyed then,
    and any left at interpreter exit are destroyed at exit.

    Arguments (all optional; left out, the library's default):
      language        "python", "node", "go" or "sh": what exec(code) runs
      memory          memory limit (cgroup), bytes or "64M"; default 512 MiB
      pids            processes+threads; default 256
      cpus            CPUs the sandbox's processes may use together (a
                      number: 0.5, 2); default: no limit
      tmp_size        size of /tmp; default 64 MiB
      workspace_size  size of the /workspace tmpfs; default 256 MiB
      net             "none" (default: loopback only), "host" (trusted
                      code only) or "proxy": loopback only, and the host's
                      egress proxy and DNS for the names in allow
      allow           with net="proxy" (required there, refused elsewhere):
                      ["HOST[:PORT][=ADDR]", ...]: a name, "*.NAME"
                      (subdomains), an IP literal ("[v6]"); PORT default 80
                      and 443; =ADDR the address the host dials for it
      net_max_conns   net="proxy": connections open at once; default 256
      net_max_bytes   net="proxy": bytes both ways in all; default 16 GiB
      secrets         net="proxy" (implied when net is not given):
                      {"NAME": petri.Secret(value, hosts=[...])}:
                      the code sees env NAME = a placeholder, which the
                      proxy replaces by the value only in HTTPS requests to
                      the secret's hosts (allowed as if in allow, which may
                      then be left out); the value never enters the sandbox
                      and is masked in the output exec returns
      upstream_ca     with secrets: a PEM file of extra CAs for verifying
                      the secret hosts' servers (beside the system's)
      env             {"NAME": "value"} passed to every exec
      binds           ["SRC:DST[:ro|rw][,sockets]", ...] or
                      [(src, dst[, "rw"|"ro"|"ro,sockets"|...])]: host paths
                      shown inside, read-only unless "rw"; host unix sockets
                      in a bound directory refuse connections unless
                      "sockets" (with an "rw" bind, workspace_dir or rootfs,
                      sendmsg to a pathname socket fails with EPERM: see
                      the README's "unix guard")
      workspace_dir   host directory bound read-write at /workspace
      hostname        hostname inside; default "petri"
      id              sandbox id, [A-Za-z0-9_-]{1,48}; default generated
      rootfs          custom root directory, bound read-only
      landlock        False disables Landlock (debugging only)
      no_pool         True: never taken from the context's warm pool nor
                      recycled into it (PETRI_SANDBOX_F_NO_POOL): built
                      for this sandbox and torn down by close()
      context         a Context; default: the process-wide one
      audit           a petri.audit.AuditStream that receives the sandbox's
                      lifecycle, exec and limit events; kept open at least
                      as long as the sandbox (closing it destroys the
                      sandboxes still using it first)
      url             a petrid to create the sandbox in ("http://HOST:PORT",
                      "unix:///PATH"); default PETRI_URL, and in-process
                      when neither is set.  The object is then a
                      petri.remote.RemoteSandbox, with the same API (see
                      there for token=, ttl= and what differs)
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> "Sandbox":
        # Sandbox(url=...) or PETRI_URL: the same API, served by petrid.
        # RemoteSandbox is a subclass, so Python then calls its __init__.
        if cls is Sandbox and (kwargs.get("url") is not None or remote_url_from_env()):
            assert _remote_class is not None, "petri.remote registers itself on import"
            return super().__new__(_remote_class)
        return super().__new__(cls)

    def __init__(
        self,
        language: Optional[str] = None,
        *,
        memory: Optional[conv.SizeArg] = None,
        pids: Optional[int] = None,
        cpus: Optional[Union[int, float]] = None,
        tmp_size: Optional[conv.SizeArg] = None,
        workspace_size: Optional[conv.SizeArg] = None,
        net: Optional[str] = None,
        allow: Optional[Sequence[str]] = None,
        net_max_conns: Optional[int] = None,
        net_max_bytes: Optional[conv.SizeArg] = None,
        secrets: Optional[Mapping[str, Secret]] = None,
        upstream_ca: Optional[conv.StrPath] = None,
        env: Optional[Mapping[str, str]] = None,
        binds: Optional[Sequence[Union[str, Tuple[str, ...]]]] = None,
        workspace_dir: Optional[conv.StrPath] = None,
        hostname: Optional[str] = None,
        id: Optional[str] = None,
        rootfs: Optional[conv.StrPath] = None,
        landlock: bool = True,
        no_pool: bool = False,
        context: Optional[Context] = None,
        audit: Optional[AuditStream] = None,
        url: None = None,
        **remote_only: Any,
    ) -> None:
        self._finalizer: Optional[weakref.finalize] = None
        for k, v in remote_only.items():
            if k not in _REMOTE_ONLY:
                raise TypeError("Sandbox() got an unexpected keyword argument %r" % k)
            if v is not None:
                raise TypeError("%s= applies to a remote sandbox (give url= or set %s)" % (k, ENV_URL))
        if language is not None and not isinstance(language, str):
            raise TypeError("language must be str, not %s" % type(language).__name__)
        if net is not None and not isinstance(net, str):
            raise TypeError("net must be str, not %s" % type(net).__name__)
        if net is not None and net not in _NETS:
            raise ValueError("net must be 'none', 'proxy' or 'host', not %r" % net)
        if not isinstance(landlock, bool):
            raise TypeError("landlock must be bool")
        if not isinstance(no_pool, bool):
            raise TypeError("no_pool must be bool")
        if context is not None and not isinstance(context, Context):
            raise TypeError("context must be a petri.Context, not %s" % type(context).__name__)
        if audit is not None and not isinstance(audit, AuditStream):
            raise TypeError("audit must be a petri.audit.AuditStream, not %s" % type(audit).__name__)

        keep: List[Any] = []
        o = _lib.SandboxOpts()
        o.sz = _SANDBOX_OPTS_SZ
        o.flags = (0 if landlock else _lib.SANDBOX_F_NO_LANDLOCK) | (_lib.SANDBOX_F_NO_POOL if no_pool else 0)
        # Only what was given is converted: the struct starts zeroed, and
        # 0/NULL is every field's default (a pooled create is mostly this
        # code, so it stays short).
        if language is not None:
            o.language = conv.cstr("language", language)
        if id is not None:
            o.id = conv.cstr("id", id)
        if hostname is not None:
            o.hostname = conv.cstr("hostname", hostname)
        if rootfs is not None:
            o.rootfs = conv.path("rootfs", rootfs)
        if workspace_dir is not None:
            o.workspace_dir = conv.path("workspace_dir", workspace_dir)
        if binds is not None:
            o.binds, k = conv.strv(conv.bind_list(binds))
            keep.append(k)
        if env is not None:
            o.env, k = conv.strv(conv.env_list("env", env))
            keep.append(k)
        if memory is not None:
            o.memory_bytes = conv.size("memory", memory)
        if tmp_size is not None:
            o.tmp_bytes = conv.size("tmp_size", tmp_size)
        if workspace_size is not None:
            o.workspace_bytes = conv.size("workspace_size", workspace_size)
        if pids is not None:
            o.pids_max = conv.count("pids", pids)
        if cpus is not None:
            o.cpus_milli = conv.cpus("cpus", cpus)
        # net not given: proxy when there are secrets (the only way one is
        # ever sent), else none.
        o.net = _NETS[net] if net is not None else _lib.NET_PROXY if secrets else _lib.NET_NONE
        if allow is not None:
            o.allow, k = conv.strv(conv.allow_list(allow))
            keep.append(k)
        if net_max_conns is not None:
            o.net_max_conns = conv.count("net_max_conns", net_max_conns)
        if net_max_bytes is not None:
            o.net_max_bytes = conv.size("net_max_bytes", net_max_bytes)
        if secrets is not None:
            o.secrets, k = _secret_list(secrets)
            keep.append(k)
        if upstream_ca is not None:
            o.upstream_ca = conv.path("upstream_ca", upstream_ca)

        self._context = context if context is not None else default_context()
        self._language = language
        # The stream outlives the sandbox: referenced here (so it is not
        # collected first) and told when the sandbox is destroyed (so that
        # closing it destroys the sandbox first).
        self._audit = audit
        try:
            if audit is None:
                self._state = self._context._state.create_sandbox(o)
            else:
                h = audit._handle
                with h.lock:  # not closed during the create
                    o.audit = h.attach()
                    self._state = self._context._state.create_sandbox(o)
                    self._state.audit = h
                    h.sandboxes.add(self._state)
        finally:
            if secrets is not None:
                _wipe_secrets(keep)  # the library has its own copy (or none)
        del keep
        # Destroy it when garbage-collected (or at exit) without close().
        self._finalizer = weakref.finalize(self, self._state.close, 5.0)

    # -- properties ---------------------------------------------------------

    @property
    def id(self) -> str:
        """The sandbox id (also after close)."""
        return self._state.id

    @property
    def closed(self) -> bool:
        return self._state.closed

    @property
    def language(self) -> Optional[str]:
        return self._language

    @property
    def context(self) -> Context:
        return self._context

    @property
    def audit(self) -> Optional[AuditStream]:
        """The audit stream given at creation, or None."""
        return self._audit

    @property
    def init_pid(self) -> Optional[int]:
        """Host pid of the sandbox's init, or None once closed or dead."""
        st = self._state
        with st.meta:
            if st.ptr is None:
                return None
            pid = _lib.lib().petri_sandbox_init_pid(st.ptr)
        return pid if pid > 0 else None

    @property
    def host_uid(self) -> int:
        """Host uid the sandbox user (uid 1000 inside) runs as."""
        return int(self._peek(_lib.lib().petri_sandbox_host_uid))

    @property
    def cgroup_id(self) -> int:
        """cgroup v2 inode id of the sandbox (0 if none)."""
        return int(self._peek(_lib.lib().petri_sandbox_cgroup_id))

    @property
    def reuses(self) -> int:
        """How many times this sandbox was recycled before this create: 0
        for one built fresh (by this create or by the pool's refill), n
        after n recycles (see Context(warm=...))."""
        return int(self._peek(_lib.lib().petri_sandbox_reuses))

    def _peek(self, fn: Callable[[int], Any]) -> Any:
        st = self._state
        with st.meta:
            if st.ptr is None:
                raise SandboxClosedError("sandbox %s is closed" % st.id)
            return fn(st.ptr)

    # -- lifecycle ----------------------------------------------------------

    def close(self) -> None:
        """Destroy the sandbox: kill everything in it and remove its cgroup
        and workspace.  Idempotent.  An exec running in another thread is
        cancelled and waited for; called from an output callback, the
        destroy happens as soon as that exec returns."""
        if self._finalizer is not None:
            self._finalizer.detach()
        self._state.close()

    destroy = close

    def cancel(self) -> bool:
        """Kill the exec running on this sandbox, if any (reason "killed").
        Safe from any thread, including output callbacks.  Returns whether
        an exec was running."""
        return self._state.cancel()

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return "<petri.Sandbox %s%s%s>" % (
            self.id,
            " language=%s" % self._language if self._language else "",
            " closed" if self.closed else "",
        )

    # -- exec ---------------------------------------------------------------

    def exec(
        self,
        code: Union[str, bytes],
        *,
        args: Optional[Sequence[Union[str, bytes]]] = None,
        timeout: Optional[conv.DurationArg] = None,
        cpu: Optional[conv.DurationArg] = None,
        stdin: Optional[Union[bytes, str]] = None,
        env: Optional[Mapping[str, str]] = None,
        cwd: Optional[str] = None,
        stdout_limit: Optional[conv.SizeArg] = None,
        stderr_limit: Optional[conv.SizeArg] = None,
        output_kill: Optional[conv.SizeArg] = None,
        file_size: Optional[conv.SizeArg] = None,
        nofile: Optional[int] = None,
        language: Optional[str] = None,
        on_output: Optional[OutputCallback] = None,
    ) -> ExecResult:
        """Run @code in the sandbox's language (or @language) and wait.

        args          arguments for the code, after its source file:
                      python sys.argv[1:], node process.argv.slice(2),
                      sh "$@", go os.Args[1:]
        timeout       wall clock (default 30 s); cpu: CPU time per process
                      (default: more than the timeout allows)
        stdin         bytes (or str) fed to the program, then EOF
        env           {"NAME": "value"} on top of the sandbox's env
        cwd           working directory (default /workspace)
        stdout_limit, stderr_limit   bytes captured per stream (default 1 MiB);
                      beyond it output is dropped and flagged as truncated
        output_kill   total output after which the exec is killed (64 MiB)
        file_size     largest file a process may write (default 1 GiB)
        nofile        open files per process (default 1024)
        on_output     callable(stream, data) called as output arrives, with
                      every byte up to output_kill (captured or not)

        Returns an ExecResult whatever the program's exit status; raises
        PetriError when the exec could not be started."""
        p = self._prepare(None, code, language, on_output, locals())
        return self._exec_prepared(p)

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: Optional[conv.DurationArg] = None,
        cpu: Optional[conv.DurationArg] = None,
        stdin: Optional[Union[bytes, str]] = None,
        env: Optional[Mapping[str, str]] = None,
        cwd: Optional[str] = None,
        stdout_limit: Optional[conv.SizeArg] = None,
        stderr_limit: Optional[conv.SizeArg] = None,
        output_kill: Optional[conv.SizeArg] = None,
        file_size: Optional[conv.SizeArg] = None,
        nofile: Optional[int] = None,
        on_output: Optional[OutputCallback] = None,
    ) -> ExecResult:
        """Run a command (argv[0] looked up in PATH inside) and wait; the
        keyword arguments are those of exec()."""
        p = self._prepare(argv, None, None, on_output, locals())
        return self._exec_prepared(p)

    def stream(
        self,
        code: Optional[Union[str, bytes]] = None,
        *,
        argv: Optional[Sequence[str]] = None,
        args: Optional[Sequence[Union[str, bytes]]] = None,
        timeout: Optional[conv.DurationArg] = None,
        cpu: Optional[conv.DurationArg] = None,
        stdin: Optional[Union[bytes, str]] = None,
        env: Optional[Mapping[str, str]] = None,
        cwd: Optional[str] = None,
        stdout_limit: Optional[conv.SizeArg] = None,
        stderr_limit: Optional[conv.SizeArg] = None,
        output_kill: Optional[conv.SizeArg] = None,
        file_size: Optional[conv.SizeArg] = None,
        nofile: Optional[int] = None,
        language: Optional[str] = None,
    ) -> "ExecStream":
        """Start @code (or the command @argv) and iterate over its output:

            s = sb.stream("for i in range(3): print(i, flush=True)")
            for stream, chunk in s:      # ("stdout" | "stderr", bytes)
                ...
            print(s.result.reason)       # the ExecResult, after the loop

        The exec runs in a worker thread; leaving the loop early (break,
        exception, close()) cancels it."""
        if (code is None) == (argv is None):
            raise TypeError("stream() takes exactly one of code and argv")
        if argv is not None and language is not None:
            raise TypeError("language applies to code, not to argv")
        if argv is not None and args is not None:
            raise TypeError("args apply to code (put a command's arguments in argv)")
        if self._state.closed:
            raise SandboxClosedError("sandbox %s is closed" % self.id)
        if self._state._is_mine():
            # From its own output callback: the stream's worker would wait
            # for this exec, which waits for the callback (a deadlock).
            raise SandboxBusyError(
                errno.EBUSY,
                "sandbox %s is running an exec in this thread "
                "(an output callback cannot use its own sandbox)" % self.id,
            )
        return ExecStream(self, argv, code, language, locals())

    def _prepare(
        self,
        argv: Optional[Sequence[str]],
        code: Optional[Union[str, bytes]],
        language: Optional[str],
        on_output: Optional[OutputCallback],
        kw: Dict[str, Any],
    ) -> _Prepared:
        keep: List[Any] = []
        o = _lib.ExecOpts()
        o.sz = _EXEC_OPTS_SZ
        if argv is not None:
            o.argv, k = conv.strv(conv.argv_list(argv))
            keep.append(k)
        else:
            if not isinstance(code, (str, bytes)):
                raise TypeError("code must be str or bytes, not %s" % type(code).__name__)
            o.code = conv.cstr("code", code)
            args = kw.get("args")
            if args is not None:
                if not isinstance(args, (list, tuple)):
                    raise TypeError("args must be a list of str, not %s" % type(args).__name__)
                o.args, k = conv.strv([conv.cstr("args[%d]" % i, a) for i, a in enumerate(args)])
                keep.append(k)
            if language is not None:
                if not isinstance(language, str):
                    raise TypeError("language must be str, not %s" % type(language).__name__)
                o.language = conv.cstr("language", language)
        # Only what was given is converted (the struct starts zeroed: 0 and
        # NULL are the defaults).
        get = kw.get
        if get("stdin") is not None:
            data = conv.data("stdin", kw["stdin"])
            o.stdin_data = data
            o.stdin_len = len(data)
            keep.append(data)
        if get("env") is not None:
            o.env, k = conv.strv(conv.env_list("env", kw["env"]))
            keep.append(k)
        cwd = get("cwd")
        if cwd is not None:
            o.cwd = conv.path("cwd", cwd)
        for key, field in _EXEC_DURATIONS:
            v = get(key)
            if v is not None:
                setattr(o, field, conv.duration_ms(key, v))
        for key, field in _EXEC_SIZES:
            v = get(key)
            if v is not None:
                setattr(o, field, conv.size(key, v))
        if get("nofile") is not None:
            o.nofile_max = conv.count("nofile", kw["nofile"])
        if on_output is not None and not callable(on_output):
            raise TypeError("on_output must be callable(stream, data), not %s" % type(on_output).__name__)
        return _Prepared(o, keep, on_output)

    def _exec_prepared(self, p: _Prepared) -> ExecResult:
        st = self._state
        slot_key = 0
        if p.on_output is not None:
            slot_key = next(_slot_keys)
            slot = _CallbackSlot(p.on_output, st)
            _slots[slot_key] = slot
            p.opts.on_output = _OUTPUT_THUNK
            p.opts.userdata = slot_key
        lib = _lib.lib()
        res = ctypes.c_void_p()
        err = ctypes.c_void_p()
        try:
            ptr = st.enter()
            try:
                rc = _call_exec(st, lib, ptr, p.opts, res, err)
            finally:
                st.leave()
        finally:
            if slot_key:
                del _slots[slot_key]
        callback_error = slot.error if slot_key else None
        if rc < 0:
            if callback_error is not None:
                lib.petri_error_free(err)
                raise callback_error
            raise_error(rc, err)
        try:
            result = ExecResult._from_c(res, st.id)
        finally:
            lib.petri_result_free(res)
        if callback_error is not None:
            raise callback_error
        return result

    # -- files --------------------------------------------------------------

    def write_file(self, path: conv.StrPath, data: Union[bytes, str], mode: int = 0o644) -> None:
        """Write @data (bytes, or str encoded UTF-8) to @path in /workspace
        (relative to /workspace; a leading "/workspace/" or "/" is
        accepted); parent directories are created.  Symlinks and ".." are
        refused (PetriError)."""
        p = conv.path("path", path)
        b = conv.data("data", data)
        if isinstance(mode, bool) or not isinstance(mode, int):
            raise TypeError("mode must be int, not %s" % type(mode).__name__)
        if not 0 <= mode <= 0o7777:
            raise ValueError("mode must be between 0 and 0o7777, got %o" % mode)
        st = self._state
        ptr = st.enter()
        try:
            call_with_error(_lib.lib().petri_sandbox_write_file, ptr, p, b, len(b), mode)
        finally:
            st.leave()

    def read_file(self, path: conv.StrPath, max_bytes: Optional[conv.SizeArg] = None) -> bytes:
        """The contents of @path in /workspace.  A file larger than
        @max_bytes (default 64 MiB) raises TooLargeError; symlinks, ".."
        and mount crossings planted by the code raise PetriError."""
        p = conv.path("path", path)
        mx = conv.size("max_bytes", max_bytes)
        lib = _lib.lib()
        data = ctypes.c_void_p()
        n = ctypes.c_size_t()
        st = self._state
        ptr = st.enter()
        try:
            call_with_error(lib.petri_sandbox_read_file, ptr, p, mx, ctypes.byref(data), ctypes.byref(n))
        finally:
            st.leave()
        try:
            return ctypes.string_at(data, n.value) if data and n.value else b""
        finally:
            lib.petri_free(data)


    def remove_file(self, path: conv.StrPath) -> None:
        """Remove @path in /workspace: a file, a symlink (itself, never its
        target) or an empty directory ("dir/" must be a directory).  A
        missing entry raises NotFoundError, a non-empty directory
        PetriError (errno ENOTEMPTY); ".." and /workspace itself are
        refused, a symlink on the way raises UnsafePathError."""
        p = conv.path("path", path)
        st = self._state
        ptr = st.enter()
        try:
            call_with_error(_lib.lib().petri_sandbox_remove_file, ptr, p)
        finally:
            st.leave()

    def list_dir(self, path: conv.StrPath = "", max_entries: Optional[int] = None) -> DirListing:
        """The entries of the directory @path in /workspace ("" or "/": the
        workspace itself), one level, sorted by name: a list of
        :class:`petri.DirEntry` ``(name, type, size, mode, mtime)``, with
        ``.truncated`` True when there were more than @max_entries
        (default 10000; the first ones by name are returned).  Symlinks are
        listed as themselves; a symlink on the way raises UnsafePathError,
        a file raises PetriError (errno ENOTDIR)."""
        p = None if isinstance(path, (str, bytes)) and not path else conv.path("path", path)
        if max_entries is None:
            mx = 0
        elif isinstance(max_entries, bool) or not isinstance(max_entries, int):
            raise TypeError("max_entries must be int, not %s" % type(max_entries).__name__)
        elif not 1 <= max_entries <= 0xFFFFFFFF:
            raise ValueError("max_entries must be between 1 and 2**32-1, got %d" % max_entries)
        else:
            mx = max_entries
        lib = _lib.lib()
        entries = ctypes.POINTER(_lib.Dirent)()
        n = ctypes.c_size_t()
        truncated = ctypes.c_int()
        st = self._state
        ptr = st.enter()
        try:
            call_with_error(
                lib.petri_sandbox_list_dir,
                ptr,
                p,
                mx,
                ctypes.byref(entries),
                ctypes.byref(n),
                ctypes.byref(truncated),
            )
        finally:
            st.leave()
        try:
            return _listing_from_c(entries, n.value, bool(truncated.value))
        finally:
            lib.petri_free(entries)


# Run the main thread's execs on the helper thread (below), so that Ctrl-C
# interrupts them.  Measured cost: ~0.1 ms per exec.  Internal knob (for
# benchmarks and debugging), not API.
_interruptible_main = True


class _Job:
    """One exec handed to the helper thread.  ``lock`` orders the helper
    starting it against the caller abandoning it (interrupted before the
    helper took it): an abandoned job is never run."""

    __slots__ = ("fn", "rc", "done", "lock", "started", "abandoned")

    def __init__(self, fn: Callable[[], int]) -> None:
        self.fn = fn
        self.rc: Optional[int] = None
        self.done = threading.Lock()
        self.done.acquire()
        self.lock = threading.Lock()
        self.started = False
        self.abandoned = False


class _MainHelper:
    """A thread that runs the main thread's execs (see _call_exec), started
    on first use and again after fork.  Handing a call over costs tens of
    microseconds; starting a thread per exec costs far more."""

    lock = threading.Lock()
    jobs: "Optional[queue.SimpleQueue[_Job]]" = None

    @classmethod
    def submit(cls, job: _Job) -> None:
        jobs = cls.jobs
        if jobs is None:
            with cls.lock:
                if cls.jobs is None:
                    q: "queue.SimpleQueue[_Job]" = queue.SimpleQueue()
                    threading.Thread(target=cls._serve, args=(q,), name="petri-exec", daemon=True).start()
                    cls.jobs = q
                jobs = cls.jobs
        jobs.put(job)

    @staticmethod
    def _serve(jobs: "queue.SimpleQueue[_Job]") -> None:
        while True:
            job = jobs.get()
            try:
                with job.lock:
                    if job.abandoned:
                        continue
                    job.started = True
                job.rc = job.fn()
            finally:
                job.done.release()

    @classmethod
    def after_fork(cls) -> None:
        cls.lock = threading.Lock()
        cls.jobs = None


os.register_at_fork(after_in_child=_MainHelper.after_fork)


def _call_exec(
    st: SandboxState,
    lib: ctypes.CDLL,
    ptr: int,
    opts: _lib.ExecOpts,
    res: ctypes.c_void_p,
    err: ctypes.c_void_p,
) -> int:
    """petri_sandbox_exec(), interruptible from the main thread.

    ctypes releases the GIL during the call, so other threads run; but the
    main thread would not see Ctrl-C (KeyboardInterrupt) until the exec
    ended, up to its timeout.  There the call runs in a helper thread while
    the main thread waits interruptibly: on any exception (KeyboardInterrupt
    from a signal handler), the exec is cancelled, waited for, and the
    exception re-raised."""

    def call() -> int:
        return int(lib.petri_sandbox_exec(ptr, ctypes.byref(opts), ctypes.byref(res), ctypes.byref(err)))

    if not _interruptible_main or threading.current_thread() is not threading.main_thread():
        return call()
    job = _Job(call)
    try:
        _MainHelper.submit(job)
        job.done.acquire()
    except BaseException:
        with job.lock:
            job.abandoned = True
            started = job.started
        if started:
            st._cancel_once()
            while not job.done.acquire(timeout=0.05):
                try:
                    st._cancel_once()  # again: one sent before the exec began is dropped
                except BaseException:  # noqa: BLE001 - another Ctrl-C: keep stopping it
                    pass
            if job.rc is not None and job.rc >= 0:
                lib.petri_result_free(res)
            elif err:
                lib.petri_error_free(err)
        raise
    if job.rc is None:
        raise RuntimeError("petri: the exec helper thread failed")
    return job.rc


class _StreamShared:
    """What the worker thread and the iterator share.  The worker holds no
    reference to the ExecStream, so dropping the iterator early lets it be
    collected, which cancels the exec."""

    __slots__ = ("queue", "result", "error")

    def __init__(self) -> None:
        self.queue: "queue.SimpleQueue[Any]" = queue.SimpleQueue()
        self.result: Optional[ExecResult] = None
        self.error: Optional[BaseException] = None


_DONE = object()


def _stream_work(sandbox: Sandbox, prepared: _Prepared, shared: _StreamShared) -> None:
    try:
        shared.result = sandbox._exec_prepared(prepared)
    except BaseException as e:  # noqa: BLE001 - handed to the consumer
        shared.error = e
    finally:
        shared.queue.put(_DONE)


class ExecStream(Iterator[Tuple[str, bytes]]):
    """Iterator over an exec's output as ("stdout" | "stderr", bytes) chunks,
    in the order the library read them; every byte up to output_kill is
    delivered.  After the loop, ``result`` is the ExecResult.  An error
    starting the exec (PetriError), or an exception inside the worker, is
    raised from the iteration.  ``close()`` (also on leaving a ``with``
    block, or when the iterator is dropped unfinished) cancels the exec."""

    def __init__(
        self,
        sandbox: Sandbox,
        argv: Optional[Sequence[str]],
        code: Optional[Union[str, bytes]],
        language: Optional[str],
        kw: Dict[str, Any],
    ) -> None:
        self._sandbox = sandbox
        self._shared = shared = _StreamShared()
        self._finished = False
        # Validated in the caller's thread: TypeError/ValueError raise here.
        prepared = sandbox._prepare(argv, code, language, lambda s, d: shared.queue.put((s, d)), kw)
        self._thread = threading.Thread(
            target=_stream_work, args=(sandbox, prepared, shared), name="petri-stream", daemon=True
        )
        self._thread.start()

    def __iter__(self) -> "ExecStream":
        return self

    def __next__(self) -> Tuple[str, bytes]:
        if self._finished:
            raise StopIteration
        item = self._get()
        if item is _DONE:
            self._finish()
            raise StopIteration
        return item  # type: ignore[no-any-return]

    def _get(self) -> Any:
        try:
            return self._shared.queue.get()
        except BaseException:  # KeyboardInterrupt while waiting: stop the exec
            self.cancel()
            raise

    def _finish(self) -> None:
        self._finished = True
        self._thread.join()
        if self._shared.error is not None:
            e, self._shared.error = self._shared.error, None
            raise e

    @property
    def done(self) -> bool:
        """True once the iteration has reached its end."""
        return self._finished

    @property
    def result(self) -> ExecResult:
        """The ExecResult, once the iteration has ended (see wait())."""
        if not self._finished:
            raise RuntimeError("the exec is still streaming: iterate to the end or call wait()")
        if self._shared.result is None:
            raise RuntimeError("the exec failed: no result")
        return self._shared.result

    def cancel(self) -> None:
        """Kill the exec (reason "killed"); the iteration then ends."""
        if not self._finished and self._thread.is_alive():
            self._sandbox.cancel()

    def wait(self) -> ExecResult:
        """Let the exec run to its end, dropping the chunks not yet read,
        and return its result."""
        while not self._finished:
            if self._get() is _DONE:
                self._finish()
        return self.result

    def close(self) -> None:
        """Cancel the exec if it still runs and wait for it to end."""
        if self._finished:
            return
        self.cancel()
        try:
            self.wait()
        except Exception:  # noqa: BLE001 - closing: the error is not wanted
            pass

    def __enter__(self) -> "ExecStream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if not self._finished and self._thread.is_alive():
                self._sandbox.cancel()
        except Exception:  # noqa: BLE001 - never raise from __del__
            pass


# ---------------------------------------------------------------------------
# Contexts.  Context.sandbox() makes a Sandbox and Sandbox.context is a
# Context (the default one unless given): the two classes live together.
# ---------------------------------------------------------------------------


class Context(ContextHandle):
    """A libpetri context: owns the supervisor thread that spawns sandboxes,
    the compiled seccomp program and the cgroup layout.

    Most programs never make one: sandboxes share a process-wide default
    context (:func:`default_context`).  Make one to choose its options or to
    free everything it owns at once with :meth:`close`, which destroys the
    sandboxes still open in it.

    ``log_level`` is "error", "warn" (default), "info" or "debug"; the
    library's messages go to the ``logging`` logger named "petri".
    ``require_cgroups`` refuses to create sandboxes when cgroup limits cannot
    be enforced.  ``cgroup_leaf`` (pure cgroup v2 only, PETRI_CTX_F_CGROUP_LEAF
    in petri.h): when this process's cgroup holds processes, so that cgroup
    v2 will not enable memory and pids for its children, move the whole
    process into "<its cgroup>/petri-host" and create the sandboxes' cgroups
    beside it -- for a service in a delegated cgroup (systemd Delegate=yes);
    without it the library never moves the process.  ``host_uid_base`` sets where the host id ranges start when
    running as root: each sandbox maps its ids 0..65535 onto 65536 host ids
    of its own at base + k * 65536 (0: the library's default, 0xc8000000; at
    most 0xfffeffff).

    ``warm`` keeps sandboxes ready (the warm pool, petri_warm in petri.h):
    ``{"sh": 8, "python": 4}``, a language ("python", "node", "go", "sh",
    or None for sandboxes without one) and how many of it, 1 to 1024, at
    most 16 languages.  A create with that language whose other options
    are only env, id, audit, memory, pids and cpus takes a ready one (any
    other option, or ``no_pool=True``, builds one as without a pool); a
    background thread refills the pool.  ``recycle`` (default True):
    closing such a sandbox resets it (fresh /tmp, /workspace, home and
    /dev/shm, a new IPC namespace and cgroup, every process killed) and
    puts it back when it is proven clean, else it is torn down;
    ``recycle=False`` always tears down and refills with fresh ones.
    :meth:`pool_stats` and :meth:`pool_wait` look at the pool.  The pool is
    in-process: a remote sandbox (url=, or PETRI_URL) uses petrid's own
    pool (its node config's "warm"), and with PETRI_URL set
    ``ctx.sandbox()`` raises TypeError (context= is in-process only)
    rather than go to petrid without the pool.
    """

    def __init__(
        self,
        *,
        log_level: str = "warn",
        require_cgroups: bool = False,
        host_uid_base: int = 0,
        cgroup_leaf: bool = False,
        warm: Optional[Mapping[Optional[str], int]] = None,
        recycle: bool = True,
    ) -> None:
        if not isinstance(log_level, str):
            raise TypeError("log_level must be str, not %s" % type(log_level).__name__)
        if log_level.lower() not in LOG_LEVELS:
            raise ValueError("log_level must be one of error, warn, info, debug; got %r" % log_level)
        if not isinstance(require_cgroups, bool):
            raise TypeError("require_cgroups must be bool")
        if not isinstance(cgroup_leaf, bool):
            raise TypeError("cgroup_leaf must be bool")
        if isinstance(host_uid_base, bool) or not isinstance(host_uid_base, int):
            raise TypeError("host_uid_base must be int")
        if not 0 <= host_uid_base <= _lib.c_u32(-1).value:
            raise ValueError("host_uid_base out of range: %d" % host_uid_base)
        if not isinstance(recycle, bool):
            raise TypeError("recycle must be bool")
        pools = _warm_list(warm)
        flags = _lib.CTX_F_REQUIRE_CGROUPS if require_cgroups else 0
        if cgroup_leaf:
            flags |= _lib.CTX_F_CGROUP_LEAF
        if not recycle:
            flags |= _lib.CTX_F_NO_RECYCLE
        self._state = open_context(LOG_LEVELS[log_level.lower()], flags, host_uid_base, pools)
        self._finalizer = weakref.finalize(self, self._state.close, 2.0)

    @classmethod
    def _of_state(cls, state: ContextState) -> "Context":
        """The Context of an existing state (the default context's)."""
        self = cls.__new__(cls)
        self._state = state
        self._finalizer = weakref.finalize(self, state.close, 2.0)
        return self

    @property
    def closed(self) -> bool:
        return self._state.closed

    @property
    def cgroup_mode(self) -> str:
        """How memory and pids limits are enforced: "v2", "v1" or "none"
        (rlimit fallbacks only)."""
        st = self._state
        with st.lock:
            if st.ptr is None:
                raise SandboxClosedError("the context is closed")
            mode = _lib.lib().petri_ctx_cgroup_mode(st.ptr)
        return {_lib.CGROUP_V1: "v1", _lib.CGROUP_V2: "v2"}.get(mode, "none")

    def sandbox(self, **kwargs: Any) -> "Sandbox":
        """A Sandbox in this context (same keyword arguments as Sandbox)."""
        return Sandbox(context=self, **kwargs)

    def pool_stats(self, language: Optional[str] = None) -> "PoolStats":
        """The counts of the warm pool of @language (None: the pool of
        sandboxes without a language) since the context was made.  Raises
        NotFoundError when the context has no such pool."""
        if language is not None and not isinstance(language, str):
            raise TypeError("language must be str or None, not %s" % type(language).__name__)
        name = None if language is None else conv.cstr("language", language)
        out = _lib.PoolStats()
        out.sz = ctypes.sizeof(out)
        st = self._state
        with st.lock:
            if st.ptr is None:
                raise SandboxClosedError("the context is closed")
            rc = _lib.lib().petri_ctx_pool_stats(st.ptr, name, ctypes.byref(out))
        if rc == -errno.ENOENT:
            raise NotFoundError(errno.ENOENT, "the context has no warm pool for %s" % (
                "sandboxes without a language" if language is None else "language %r" % language))
        if rc < 0:
            raise from_code(rc, None)
        return PoolStats(
            language=language,
            ready=out.ready,
            target=out.target,
            hits=out.hits,
            misses=out.misses,
            created=out.created,
            recycled=out.recycled,
            discarded=out.discarded,
            failed=out.failed,
        )

    def pool_wait(self, timeout: Optional[conv.DurationArg] = 30.0) -> bool:
        """Wait until every warm pool of the context is full, for at most
        @timeout (seconds, or "500ms"...; 0: just check; None: no limit).
        For start-up, tests and benchmarks: creates never need it.  Returns
        True when full (also for a context without a pool), False when the
        time ran out; raises PetriError with the refill's errno when a pool
        is not full and its last build failed (e.g. PermissionDeniedError:
        the kernel refuses a namespace).  Other threads may create
        sandboxes meanwhile."""
        if timeout is None:
            ms = conv.U64_MAX  # the library caps it (at ~49 days)
        elif isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout == 0:
            ms = 0
        else:
            ms = conv.duration_ms("timeout", timeout)
        st = self._state
        ptr = st.pin()
        try:
            rc = int(_lib.lib().petri_ctx_pool_wait(ptr, ms))
        finally:
            st.unpin()
        if rc == -errno.ETIMEDOUT:
            return False
        if rc < 0:
            raise from_code(rc, "the warm pool cannot be filled: %s" % os.strerror(-rc))
        return True

    def close(self) -> None:
        """Destroy every sandbox still open in the context, then free it.
        Execs running in other threads are cancelled and waited for."""
        self._finalizer.detach()
        self._state.close()

    def __enter__(self) -> "Context":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return "<petri.Context%s>" % (" closed" if self.closed else "")


@dataclasses.dataclass(frozen=True)
class PoolStats:
    """The counts of one warm pool (struct petri_pool_stats), from
    :meth:`Context.pool_stats`."""

    language: Optional[str]  #: the pool's language (None: no language)
    ready: int  #: sandboxes ready in the pool now
    target: int  #: the pool's count (Context(warm=...))
    hits: int  #: creates served from the pool
    misses: int  #: matching creates that found it empty
    created: int  #: sandboxes the refill thread built
    recycled: int  #: closed sandboxes reset and put back
    discarded: int  #: closed sandboxes torn down instead (not proven clean, or the pool was full)
    failed: int  #: refill builds or resets that failed


def _warm_list(warm: Optional[Mapping[Optional[str], int]]) -> List[Tuple[Optional[str], int]]:
    """Context(warm=...) as (language, count) pairs, checked."""
    if warm is None:
        return []
    if not isinstance(warm, Mapping):
        raise TypeError(
            "warm must be a mapping {language: count}, e.g. {'python': 4, 'sh': 8}, not %s" % type(warm).__name__
        )
    pools: List[Tuple[Optional[str], int]] = []
    for language, count in warm.items():
        if language is not None and not isinstance(language, str):
            raise TypeError("warm: a language must be str or None, not %s" % type(language).__name__)
        if language is not None:
            conv.cstr("warm language", language)  # NUL-free
        what = "warm[%r]" % language
        if isinstance(count, bool) or not isinstance(count, int):
            raise TypeError("%s must be an int (sandboxes kept ready), not %s" % (what, type(count).__name__))
        if not 1 <= count <= _lib.WARM_COUNT_MAX:
            raise ValueError("%s must be between 1 and %d, got %d" % (what, _lib.WARM_COUNT_MAX, count))
        pools.append((language, count))
    if len(pools) > _lib.WARM_MAX:
        raise ValueError("warm: at most %d languages, got %d" % (_lib.WARM_MAX, len(pools)))
    return pools


def default_context() -> Context:
    """The process-wide context, created on first use (thread-safe) and
    freed at interpreter exit; again after it was closed."""
    state = default_context_state()
    with state.lock:
        ctx = state.public
        if not isinstance(ctx, Context):
            ctx = state.public = Context._of_state(state)
        return ctx


def library_version() -> str:
    """The loaded libpetri's version, e.g. "0.1.0"."""
    v: Optional[bytes] = _lib.lib().petri_version()
    return v.decode("ascii", "replace") if v else ""
