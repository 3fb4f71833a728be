# SPDX-License-Identifier: Apache-2.0
"""The C handles and the bookkeeping that keeps them safe (internal).

This is the bottom of the binding: it imports only _lib and errors, and
context/sandbox/audit build on it (imports flow one way: _lib, errors ->
_handles -> audit -> sandbox -> context, __init__).

Handles are never used after they are freed: every C call on a sandbox runs
under its state's lock, closing marks the state closed first (so later
calls raise SandboxClosedError in Python), a context destroys its
sandboxes before it is freed, and an audit stream is freed after the
sandboxes that borrow it.  A forked child forgets the parent's handles
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
from typing import Any, Dict, Optional, Sequence, Set, Tuple

from . import _lib
from .errors import PetriError, SandboxBusyError, SandboxClosedError, from_code

logger = logging.getLogger("petri")

LOG_LEVELS: Dict[str, int] = {
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
        self.audit: Optional["AuditHandle"] = None

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
    """A petri_ctx handle and the sandboxes created in it.

    Creates (and pool waits) run without holding ``lock`` across the C
    call, so that several threads create at once (the library is
    thread-safe); each one pins the handle (``busy``) and close() waits
    for the pins to drop before it frees the context."""

    def __init__(self, ptr: int) -> None:
        self.ptr: Optional[int] = ptr
        self.lock = threading.Lock()
        self.idle = threading.Condition(self.lock)  # busy dropped to 0
        self.busy = 0
        self.sandboxes: Set[SandboxState] = set()
        self.closed = False
        self.pid = os.getpid()
        # The petri.Context made for this state by default_context() (the
        # default context only): one object per state.
        self.public: Optional[ContextHandle] = None
        with _live_lock:
            _live.add(self)

    def pin(self) -> int:
        """The handle for one call made without ``lock``; unpin() after."""
        with self.lock:
            if self.closed or self.ptr is None:
                raise SandboxClosedError("the context is closed")
            self.busy += 1
            return self.ptr

    def unpin(self) -> None:
        with self.lock:
            self.busy -= 1
            if self.busy == 0:
                self.idle.notify_all()

    def create_sandbox(self, opts: Any) -> SandboxState:
        lib = _lib.lib()
        ptr = self.pin()  # the context is never freed during a create
        try:
            out = ctypes.c_void_p()
            call_with_error(lib.petri_sandbox_create, ptr, ctypes.byref(opts), ctypes.byref(out))
            raw = lib.petri_sandbox_id(out)
            state = SandboxState(out.value or 0, self, raw.decode("utf-8", "replace") if raw else "")
            with self.lock:
                self.sandboxes.add(state)
            return state
        finally:
            self.unpin()

    def forget_sandbox(self, state: SandboxState) -> None:
        with self.lock:
            self.sandboxes.discard(state)

    def close(self, wait: Optional[float] = None) -> None:
        with self.lock:
            if self.closed:
                return
            self.closed = True
            # Creates in flight finish first (their sandboxes join the set).
            while self.busy:
                self.idle.wait()
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
        self.idle = threading.Condition(self.lock)
        self.busy = 0
        for s in list(self.sandboxes):
            s.forget()
        self.sandboxes.clear()
        self.closed = True
        self.ptr = None


_live_lock = threading.Lock()
_live: Set[ContextState] = set()


def open_context(
    log_level: int, flags: int, host_uid_base: int, warm: Optional[Sequence[Tuple[Optional[str], int]]] = None
) -> ContextState:
    """A new petri_ctx (log level a LOG_* number, flags CTX_F_*, warm the
    pools as (language or None, count) pairs), its messages going to the
    "petri" logger; raises PetriError."""
    lib = _lib.lib()
    opts = _lib.CtxOpts()
    opts.sz = ctypes.sizeof(opts)
    opts.log_level = log_level
    opts.log_fn = _LOG_THUNK
    opts.log_userdata = None
    opts.host_uid_base = host_uid_base
    opts.flags = flags
    if warm:
        arr = (_lib.Warm * len(warm))()
        for i, (language, count) in enumerate(warm):
            arr[i].language = language.encode("utf-8") if language is not None else None
            arr[i].count = count
        opts.warm = arr  # copied by petri_ctx_new(); arr lives until it returns
        opts.nwarm = len(warm)
    out = ctypes.c_void_p()
    call_with_error(lib.petri_ctx_new, ctypes.byref(out), ctypes.byref(opts))
    return ContextState(out.value or 0)


_default_lock = threading.Lock()
_default: Optional[ContextState] = None


def default_context_state() -> ContextState:
    """The process-wide context's state, made on first use (thread-safe)
    and again after it was closed; freed at interpreter exit."""
    global _default
    st = _default
    if st is not None and not st.closed:
        return st
    with _default_lock:
        if _default is None or _default.closed:
            _default = open_context(_lib.LOG_WARN, 0, 0)
        return _default


class ContextHandle:
    """What the modules here need of a petri.Context (its base class): its
    state.  petri.Context is the only subclass."""

    _state: ContextState



class AuditHandle:
    """The petri_audit handle and the sandboxes sending events to it.

    The library borrows the handle in every sandbox created with it, so it
    is freed only after they are destroyed: close() destroys them first,
    and one whose destroy is left to a running exec (closed from its own
    output callback) defers the free until that destroy."""

    def __init__(self, ptr: int) -> None:
        self.ptr: Optional[int] = ptr
        self.lock = threading.Lock()
        self.sandboxes: Set[SandboxState] = set()
        self.closed = False
        self.deferred = False  # close() is waiting for a sandbox's destroy
        self.pid = os.getpid()

    def attach(self) -> int:
        """The handle for a sandbox being created (hold ``lock``)."""
        if self.closed or self.ptr is None:
            raise PetriError(errno.EBADF, "the audit stream is closed")
        if self.pid != os.getpid():
            raise PetriError(errno.EBADF, "the audit stream belongs to the parent process (fork)")
        return self.ptr

    def forget_sandbox(self, state: SandboxState) -> None:
        """Called once @state's sandbox is destroyed."""
        with self.lock:
            self.sandboxes.discard(state)
            last = self.deferred and not self.sandboxes and self.ptr is not None
        if last:  # a deferred close: nobody to tell but the log
            try:
                self._free()
            except PetriError as e:
                logger.error("%s", e.message)

    def close(self, wait: Optional[float] = None) -> None:
        with self.lock:
            if self.closed:
                return
            self.closed = True
            states = list(self.sandboxes)
        if self.pid != os.getpid():  # a forked child: the writer thread is the parent's
            self.ptr = None
            return
        for s in states:  # sandboxes first: they hold the handle
            s.close(wait)
        with self.lock:
            if self.sandboxes:
                # Destroyed later, by the exec holding it (or never, if it
                # is stuck): the free happens then, in forget_sandbox().
                self.deferred = True
                logger.warning(
                    "audit stream: close deferred until sandbox %s is destroyed",
                    next(iter(self.sandboxes)).id,
                )
                return
        self._free()

    def _free(self) -> None:
        with self.lock:
            ptr, self.ptr = self.ptr, None
        if ptr is not None:
            call_with_error(_lib.lib().petri_audit_close, ptr)


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
