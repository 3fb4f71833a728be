# SPDX-License-Identifier: Apache-2.0
"""The library context (petri_ctx) and the bookkeeping that keeps handles safe.

One process-wide context is created lazily (thread-safe) the first time a
Sandbox is made without an explicit one, and freed at interpreter exit.
A :class:`Context` can also be made explicitly (e.g. one per tenant).

Handles are never used after they are freed: every C call on a sandbox runs
under its state's lock, closing marks the state closed first (so later
calls raise SandboxClosedError in Python), and a context destroys its
sandboxes before it is freed.  A forked child forgets the parent's handles
(the library's supervisor thread does not survive fork) and makes its own.
"""

from __future__ import annotations

import atexit
import ctypes
import errno
import logging
import os
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any, Dict, Optional, Set

from . import _lib
from .errors import SandboxBusyError, SandboxClosedError, from_code

if TYPE_CHECKING:  # pragma: no cover
    from .audit import _AuditHandle
    from .sandbox import Sandbox

__all__ = ["Context", "default_context", "library_version"]

logger = logging.getLogger("petri")

_LOG_LEVELS: Dict[str, int] = {
    "error": _lib.LOG_ERROR,
    "warn": _lib.LOG_WARN,
    "warning": _lib.LOG_WARN,
    "info": _lib.LOG_INFO,
    "debug": _lib.LOG_DEBUG,
}
_TO_PY_LEVEL = {
    _lib.LOG_ERROR: logging.ERROR,
    _lib.LOG_WARN: logging.WARNING,
    _lib.LOG_INFO: logging.INFO,
    _lib.LOG_DEBUG: logging.DEBUG,
}


def _on_log(level: int, msg: Optional[bytes], userdata: Any) -> None:
    # Called by the library, possibly from its supervisor thread: never raise.
    try:
        text = msg.decode("utf-8", "replace") if msg else ""
        logger.log(_TO_PY_LEVEL.get(level, logging.DEBUG), "%s", text)
    except BaseException:  # noqa: BLE001 - nothing may escape into C
        pass


# One C thunk for every context, alive as long as the module.
_LOG_THUNK = _lib.LOG_FN(_on_log)


def call_with_error(fn: Any, *args: Any) -> int:
    """Call a libpetri function whose last argument is petri_error **.

    Returns its non-negative result, or raises the matching PetriError with
    the library's message."""
    err = ctypes.c_void_p()
    rc = fn(*args, ctypes.byref(err))
    if rc < 0:
        raise_error(rc, err)
    return int(rc)


def raise_error(rc: int, err: ctypes.c_void_p) -> None:
    lib = _lib.lib()
    msg = None
    code = rc
    if err:
        raw = lib.petri_error_message(err)
        msg = raw.decode("utf-8", "replace") if raw else None
        code = lib.petri_error_code(err) or rc
        lib.petri_error_free(err)
    raise from_code(code, msg)


# Set while an output callback runs, to the SandboxState whose exec called
# it: the callback may run on a helper thread (see sandbox.py).
callback_tls = threading.local()


class SandboxState:
    """The C handle of one sandbox and the locks guarding it.

    ``lock`` is held during every C call that uses the handle (exec, files,
    destroy); ``meta`` guards the fields and is only held briefly, so that
    cancel() can reach a running exec without waiting for it."""

    def __init__(self, ptr: int, ctx: "ContextState", sandbox_id: str) -> None:
        self.ptr: Optional[int] = ptr
        self.ctx = ctx
        self.id = sandbox_id
        self.lock = threading.Lock()
        self.meta = threading.Lock()
        self.owner = 0  # thread ident holding `lock`
        self.gen = 0  # counts operations, so a late re-cancel spares the next one
        self.closed = False
        self.destroy_pending = False
        # The audit stream the library borrows (sandbox_opts.audit): told
        # once the sandbox is destroyed, so that it is freed after it.
        self.audit: Optional["_AuditHandle"] = None

    def enter(self) -> int:
        """Take the handle for one operation; raises once closed.  Other
        threads wait for the operation in progress; the thread running an
        exec (or its output callback) gets SandboxBusyError instead of a
        deadlock."""
        if self.closed:
            raise SandboxClosedError("sandbox %s is closed" % self.id)
        if self._is_mine():
            raise SandboxBusyError(
                errno.EBUSY,
                "sandbox %s is running an exec in this thread "
                "(an output callback cannot use its own sandbox)" % self.id,
            )
        self.lock.acquire()
        with self.meta:
            if self.closed or self.ptr is None:
                self.lock.release()
                raise SandboxClosedError("sandbox %s is closed" % self.id)
            self.owner = threading.get_ident()
            self.gen += 1
            return self.ptr

    def leave(self) -> None:
        with self.meta:
            pending = self.destroy_pending
            self.owner = 0
            if not pending:
                self.lock.release()
                return
        try:
            self._destroy_locked()
        finally:
            self.lock.release()

    def cancel(self) -> bool:
        """Kill the running exec, if any (thread-safe, never blocks long).

        The library drops a cancel that arrives before its exec has
        started (so that a stale one cannot kill the next exec); one sent
        in that window would be lost.  So while the same operation still
        holds the handle, a daemon thread sends it again a few times."""
        with self.meta:
            if self.ptr is None:
                return False
            running = self.lock.locked()
            gen = self.gen
            _lib.lib().petri_sandbox_cancel(self.ptr)
        if running:
            threading.Thread(target=self._cancel_again, args=(gen,), name="petri-cancel", daemon=True).start()
        return running

    def _cancel_once(self) -> None:
        with self.meta:
            if self.ptr is not None:
                _lib.lib().petri_sandbox_cancel(self.ptr)

    def _cancel_again(self, gen: int) -> None:
        for delay in (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0):
            time.sleep(delay)
            with self.meta:
                if self.ptr is None or self.gen != gen or not self.lock.locked():
                    return
                _lib.lib().petri_sandbox_cancel(self.ptr)

    def close(self, wait: Optional[float] = None) -> bool:
        """Destroy the sandbox (idempotent).  An exec running in another
        thread is cancelled and waited for; from inside an exec's own
        callback, the destroy happens when that exec returns.  With @wait,
        give up after that many seconds and leave the destroy to the thread
        holding the handle; returns False then."""
        with self.meta:
            self.closed = True
            if self.ptr is None:
                return True
            if self._is_mine():
                self.destroy_pending = True
                _lib.lib().petri_sandbox_cancel(self.ptr)
                return True
        start = time.monotonic()
        if self.lock.locked():
            self._cancel_once()
        while not self.lock.acquire(timeout=0.05):
            self._cancel_once()  # again: one sent before the exec began is dropped
            if wait is not None and time.monotonic() - start >= wait:
                with self.meta:
                    if not self.lock.acquire(blocking=False):
                        self.destroy_pending = True
                        return False
                break
        try:
            self._destroy_locked()
        finally:
            self.lock.release()
        return True

    def _is_mine(self) -> bool:
        """Does this thread hold the handle, or run one of its callbacks?"""
        return self.owner == threading.get_ident() or getattr(callback_tls, "state", None) is self

    def forget(self) -> None:
        """After fork: drop the handle without touching C (it is the parent's)."""
        self.lock = threading.Lock()
        self.meta = threading.Lock()
        self.owner = 0
        self.closed = True
        self.ptr = None

    def _destroy_locked(self) -> None:
        with self.meta:
            ptr, self.ptr = self.ptr, None
            self.closed = True
            self.destroy_pending = False
        if ptr is not None:
            _lib.lib().petri_sandbox_destroy(ptr)
        self.ctx.forget_sandbox(self)
        audit, self.audit = self.audit, None
        if audit is not None:
            audit.forget_sandbox(self)


class ContextState:
    """A petri_ctx handle and the sandboxes created in it."""

    def __init__(self, ptr: int) -> None:
        self.ptr: Optional[int] = ptr
        self.lock = threading.Lock()
        self.sandboxes: Set[SandboxState] = set()
        self.closed = False
        self.pid = os.getpid()
        with _live_lock:
            _live.add(self)

    def create_sandbox(self, opts: Any) -> SandboxState:
        lib = _lib.lib()
        with self.lock:  # a context is never freed during a create
            if self.closed or self.ptr is None:
                raise SandboxClosedError("the context is closed")
            out = ctypes.c_void_p()
            call_with_error(lib.petri_sandbox_create, self.ptr, ctypes.byref(opts), ctypes.byref(out))
            raw = lib.petri_sandbox_id(out)
            state = SandboxState(out.value or 0, self, raw.decode("utf-8", "replace") if raw else "")
            self.sandboxes.add(state)
            return state

    def forget_sandbox(self, state: SandboxState) -> None:
        with self.lock:
            self.sandboxes.discard(state)

    def close(self, wait: Optional[float] = None) -> None:
        with self.lock:
            if self.closed:
                return
            self.closed = True
            states = list(self.sandboxes)
        leak = False
        for s in states:
            if not s.close(wait):
                leak = True
        with self.lock:
            ptr, self.ptr = self.ptr, None
        with _live_lock:
            _live.discard(self)
        # A sandbox still running an exec in a thread that never returned
        # (a daemon thread at exit) would be freed under it: leave the
        # context to the process's end (the sandboxes die with it).
        if ptr is not None and not leak:
            _lib.lib().petri_ctx_free(ptr)

    def forget(self) -> None:
        self.lock = threading.Lock()
        for s in list(self.sandboxes):
            s.forget()
        self.sandboxes.clear()
        self.closed = True
        self.ptr = None


_live_lock = threading.Lock()
_live: Set[ContextState] = set()


class Context:
    """A libpetri context: owns the supervisor thread that spawns sandboxes,
    the compiled seccomp program and the cgroup layout.

    Most programs never make one: sandboxes share a process-wide default
    context (:func:`default_context`).  Make one to choose its options or to
    free everything it owns at once with :meth:`close`, which destroys the
    sandboxes still open in it.

    ``log_level`` is "error", "warn" (default), "info" or "debug"; the
    library's messages go to the ``logging`` logger named "petri".
    ``require_cgroups`` refuses to create sandboxes when cgroup limits cannot
    be enforced.  ``host_uid_base`` sets where the host id ranges start when
    running as root: each sandbox maps its ids 0..65535 onto 65536 host ids
    of its own at base + k * 65536 (0: the library's default, 0xc8000000; at
    most 0xfffeffff).
    """

    def __init__(
        self,
        *,
        log_level: str = "warn",
        require_cgroups: bool = False,
        host_uid_base: int = 0,
    ) -> None:
        if not isinstance(log_level, str):
            raise TypeError("log_level must be str, not %s" % type(log_level).__name__)
        if log_level.lower() not in _LOG_LEVELS:
            raise ValueError("log_level must be one of error, warn, info, debug; got %r" % log_level)
        if not isinstance(require_cgroups, bool):
            raise TypeError("require_cgroups must be bool")
        if isinstance(host_uid_base, bool) or not isinstance(host_uid_base, int):
            raise TypeError("host_uid_base must be int")
        if not 0 <= host_uid_base <= _lib.c_u32(-1).value:
            raise ValueError("host_uid_base out of range: %d" % host_uid_base)
        lib = _lib.lib()
        opts = _lib.CtxOpts()
        opts.sz = ctypes.sizeof(opts)
        opts.log_level = _LOG_LEVELS[log_level.lower()]
        opts.log_fn = _LOG_THUNK
        opts.log_userdata = None
        opts.host_uid_base = host_uid_base
        opts.flags = _lib.CTX_F_REQUIRE_CGROUPS if require_cgroups else 0
        out = ctypes.c_void_p()
        call_with_error(lib.petri_ctx_new, ctypes.byref(out), ctypes.byref(opts))
        self._state = ContextState(out.value or 0)
        self._finalizer = weakref.finalize(self, self._state.close, 2.0)

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
        from .sandbox import Sandbox

        return Sandbox(context=self, **kwargs)

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


_default_lock = threading.Lock()
_default: Optional[Context] = None


def default_context() -> Context:
    """The process-wide context, created on first use (thread-safe) and
    freed at interpreter exit."""
    global _default
    ctx = _default
    if ctx is not None and not ctx.closed:
        return ctx
    with _default_lock:
        if _default is None or _default.closed:
            _default = Context()
        return _default


def library_version() -> str:
    """The loaded libpetri's version, e.g. "0.1.0"."""
    v: Optional[bytes] = _lib.lib().petri_version()
    return v.decode("ascii", "replace") if v else ""


@atexit.register
def _close_all_at_exit() -> None:
    # Sandboxes first (through their contexts), then the contexts; an exec
    # stuck in a daemon thread gets 2 s to stop after being cancelled.
    with _live_lock:
        states = [s for s in _live if s.pid == os.getpid()]
    for s in states:
        try:
            s.close(wait=2.0)
        except Exception:  # noqa: BLE001 - exiting anyway
            pass


def _after_fork_in_child() -> None:
    global _default, _default_lock, _live_lock
    _default_lock = threading.Lock()
    _live_lock = threading.Lock()
    for s in list(_live):
        s.forget()
    _live.clear()
    _default = None


os.register_at_fork(after_in_child=_after_fork_in_child)
