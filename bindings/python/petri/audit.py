# SPDX-License-Identifier: Apache-2.0
"""The audit stream (petri/audit.h): write one, read one back.

    from petri import Sandbox
    from petri.audit import AuditStream, read_stream

    with AuditStream("run.audit") as audit:
        with Sandbox(language="python", audit=audit) as sb:
            sb.exec("print(1)")
    for ev in read_stream("run.audit"):          # verified as it goes
        print(ev.seq, ev.kind, ev.exec_id, ev.body)

A stream is a sequence of hash-chained protobuf events (framing and chain:
audit/README.md).  :class:`AuditStream` wraps the library's writer (a file
or an inherited fd as sink); a sandbox given ``audit=`` sends its lifecycle,
exec and limit events to it.  :func:`read_stream` decodes a stream with the
library's hardened reader, which checks sequence and chain: on a broken
chain it raises :class:`AuditIntegrityError` after the good events.
"""

from __future__ import annotations

import ctypes
import errno
import json
import logging
import os
import weakref
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, Optional

from . import _convert as conv
from . import _lib
from ._handles import (
    AuditHandle,
    ContextHandle,
    call_with_error,
    default_context_state,
    raise_error,
)
from .errors import PetriError

__all__ = [
    "MAX_BYTES_DEFAULT",
    "MAX_BYTES_MIN",
    "MAX_BYTES_UNLIMITED",
    "AuditStream",
    "AuditEvent",
    "AuditIntegrityError",
    "read_stream",
    "verify_stream",
]

logger = logging.getLogger("petri")

#: AuditStream(max_bytes=...): the library's default size bound (1 GiB), the
#: smallest accepted, and "no bound" (PETRI_AUDIT_MAX_BYTES_* in audit.h).
MAX_BYTES_DEFAULT = 1 << 30
MAX_BYTES_MIN = 256 << 10
MAX_BYTES_UNLIMITED = (1 << 64) - 1


class AuditIntegrityError(PetriError):
    """The stream is not an intact, complete chain (EBADMSG): an event was
    altered, removed, reordered or duplicated, or the stream is truncated.
    ``first_bad_seq`` is the sequence number the first bad or missing event
    should have had; every event before it is good."""

    def __init__(self, errno: int, message: str, first_bad_seq: int) -> None:
        super().__init__(errno, message)
        self.first_bad_seq = first_bad_seq


def kind_name(kind: int) -> str:
    """ "exec_started", ... for a PETRI_AUDIT_KIND_* number; "unknown" otherwise."""
    raw: Optional[bytes] = _lib.lib().petri_audit_kind_name(kind)
    return raw.decode("ascii", "replace") if raw else "unknown"


# ---------------------------------------------------------------------------
# Writer
# ---------------------------------------------------------------------------


class AuditStream:
    """An audit stream being written: ``AuditStream(path)`` creates (0600)
    or truncates the file at @path; ``AuditStream(fd=N)`` writes to a
    duplicate of the open fd N (a pipe, a socket, a file; yours stays
    open).  ``queue_events`` bounds the writer's queue (default 4096):
    when the sink cannot keep up, events are dropped and the stream reports
    the loss with exact counts, never blocking the sandbox.  ``max_bytes``
    bounds the stream's size (default :data:`MAX_BYTES_DEFAULT`, 1 GiB; at
    least :data:`MAX_BYTES_MIN`; :data:`MAX_BYTES_UNLIMITED` for none):
    past ``max_bytes`` - 80 KiB the events the code causes (process, file,
    network, denials) are dropped and reported as ``loss`` events with
    ``where`` ``size_limit``, while exec ends, destroys and the end of the
    stream are still written (audit.h, "Size bound").

    Pass it to ``Sandbox(audit=...)``: every sandbox given it sends its
    events here.  The header says whether kernel (eBPF) events are in the
    stream as ``context`` (default: the process-wide one, which sandboxes
    use unless given another) reports it: that loads the kernel half now
    rather than at the first sandbox.  :meth:`close` (or leaving ``with``) destroys those
    sandboxes still open, writes the StreamEnd and waits (up to 5 s) for
    the sink; it raises PetriError when the stream could not be completed
    (sink failed or too slow: the file then fails verification)."""

    def __init__(
        self,
        path: Optional[conv.StrPath] = None,
        *,
        fd: Optional[int] = None,
        queue_events: Optional[int] = None,
        max_bytes: Optional[int] = None,
        context: Optional[ContextHandle] = None,
    ) -> None:
        self._finalizer: Optional[weakref.finalize] = None
        if (path is None) == (fd is None):
            raise TypeError("AuditStream takes exactly one of path and fd")
        if context is not None and not isinstance(context, ContextHandle):
            raise TypeError("context must be a petri.Context, not %s" % type(context).__name__)
        o = _lib.AuditOpts()
        o.sz = ctypes.sizeof(o)
        o.fd = -1
        if path is not None:
            o.sink = _lib.AUDIT_SINK_FILE
            o.path = conv.path("path", path)
            self._where = os.fsdecode(os.fspath(path))
        else:
            if isinstance(fd, bool) or not isinstance(fd, int):
                raise TypeError("fd must be int, not %s" % type(fd).__name__)
            if not 0 <= fd <= 0x7FFFFFFF:
                raise ValueError("fd out of range: %d" % fd)
            o.sink = _lib.AUDIT_SINK_FD
            o.fd = fd
            self._where = "fd %d" % fd
        if queue_events is not None:
            if isinstance(queue_events, bool) or not isinstance(queue_events, int):
                raise TypeError("queue_events must be int, not %s" % type(queue_events).__name__)
            if not 2 <= queue_events <= 1 << 24:
                raise ValueError("queue_events must be between 2 and 2**24, got %d" % queue_events)
            o.queue_events = queue_events
        if max_bytes is not None:
            if isinstance(max_bytes, bool) or not isinstance(max_bytes, int):
                raise TypeError("max_bytes must be int, not %s" % type(max_bytes).__name__)
            if not MAX_BYTES_MIN <= max_bytes <= MAX_BYTES_UNLIMITED:
                raise ValueError(
                    "max_bytes must be at least %d (256 KiB) or MAX_BYTES_UNLIMITED, got %d"
                    % (MAX_BYTES_MIN, max_bytes)
                )
            o.max_bytes = max_bytes
        out = ctypes.c_void_p()
        lib = _lib.lib()
        state = context._state if context is not None else default_context_state()
        with state.lock:  # the context is not freed while the header asks it
            if state.closed or state.ptr is None:
                raise PetriError(errno.EBADF, "the context is closed")
            o.ctx = state.ptr
            call_with_error(lib.petri_audit_open, ctypes.byref(out), ctypes.byref(o))
        self._handle = AuditHandle(out.value or 0)
        self._finalizer = weakref.finalize(self, _close_quietly, self._handle)

    @property
    def closed(self) -> bool:
        return self._handle.closed

    def close(self) -> None:
        """Destroy the sandboxes still sending to the stream, end it and
        close the sink (idempotent).  Raises PetriError with the library's
        message when the stream is incomplete."""
        if self._finalizer is not None:
            self._finalizer.detach()
        self._handle.close()

    def __enter__(self) -> "AuditStream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return "<petri.audit.AuditStream %s%s>" % (
            self._where,
            " closed" if self.closed else "",
        )


def _close_quietly(handle: AuditHandle) -> None:
    try:
        handle.close(5.0)
    except PetriError as e:  # garbage-collected or at exit: nobody to raise to
        logger.error("%s", e.message)


# ---------------------------------------------------------------------------
# Reader
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditEvent:
    """One event of a stream.  ``kind`` is its name ("stream_header",
    "sandbox_created", "exec_started", "limit_hit", "exec_ended", ...);
    ``data`` every field of the event as the library formats it in JSON
    (``unmapped.petri`` of `petri audit json`): kind, seq, ids, process,
    prev_hash/hash (hex) and the body under the kind's name, whose fields
    are also :attr:`body`."""

    seq: int
    kind: str
    time_unix_nano: int
    sandbox_id: str
    exec_id: str
    data: Dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def body(self) -> Dict[str, Any]:
        """The kind-specific fields, e.g. ``{"result": {"reason": "timeout", ...}}``
        for exec_ended; empty when there are none."""
        b = self.data.get(self.kind)
        return b if isinstance(b, dict) else {}


class _Reader:
    def __init__(self, path: conv.StrPath, verify: bool) -> None:
        self.lib = _lib.lib()
        o = _lib.AuditReaderOpts()
        o.sz = ctypes.sizeof(o)
        o.source = _lib.AUDIT_SRC_PATH
        o.flags = 0 if verify else _lib.AUDIT_READER_F_NO_VERIFY
        o.fd = -1
        o.path = conv.path("path", path)
        out = ctypes.c_void_p()
        call_with_error(self.lib.petri_audit_reader_open, ctypes.byref(out), ctypes.byref(o))
        self.ptr: Optional[int] = out.value
        self.verify = verify

    def free(self) -> None:
        ptr, self.ptr = self.ptr, None
        if ptr:
            self.lib.petri_audit_reader_close(ptr)

    def fail(self, rc: int, err: ctypes.c_void_p) -> None:
        """Raise the reader's error: AuditIntegrityError for a bad chain."""
        try:
            raise_error(rc, err)
        except PetriError as e:
            if e.errno != errno.EBADMSG or not self.verify:
                raise
            bad = int(self.lib.petri_audit_reader_first_bad_seq(self.ptr))
            raise AuditIntegrityError(e.errno, e.message, bad) from None

    def next(self) -> bool:
        err = ctypes.c_void_p()
        rc = self.lib.petri_audit_reader_next(self.ptr, ctypes.byref(err))
        if rc < 0:
            self.fail(rc, err)
        return bool(rc > 0)

    def event(self) -> AuditEvent:
        out = ctypes.c_void_p()
        call_with_error(
            self.lib.petri_audit_reader_format,
            self.ptr,
            _lib.AUDIT_FORMAT_JSON,
            ctypes.byref(out),
        )
        try:
            text = ctypes.string_at(out.value) if out.value else b"{}"
        finally:
            _lib.lib().petri_free(out)
        doc = json.loads(text.decode("utf-8", "replace"))
        data = doc.get("unmapped", {}).get("petri", {})
        if not isinstance(data, dict):
            data = {}
        kind = kind_name(int(self.lib.petri_audit_reader_kind(self.ptr)))
        return AuditEvent(
            seq=int(self.lib.petri_audit_reader_seq(self.ptr)),
            kind=kind,
            time_unix_nano=int(data.get("time_unix_nano", 0)),
            sandbox_id=str(data.get("sandbox_id", "")),
            exec_id=str(data.get("exec_id", "")),
            data=data,
        )

    def verify_rest(self) -> None:
        err = ctypes.c_void_p()
        bad = _lib.c_u64()
        rc = self.lib.petri_audit_reader_verify(self.ptr, ctypes.byref(bad), ctypes.byref(err))
        if rc < 0:
            self.fail(rc, err)


def read_stream(path: conv.StrPath, verify: bool = True) -> Iterator[AuditEvent]:
    """The events of the stream at @path, in order, as :class:`AuditEvent`.

    With @verify (the default) the chain is checked as it is read, and the
    stream must be complete (end with its StreamEnd): the events up to the
    first bad one are yielded, then AuditIntegrityError is raised.  Without
    it, a damaged stream is decoded as far as its framing allows, and a
    framing error raises plain PetriError (EBADMSG).  A record larger than
    1 MiB raises TooLargeError (EFBIG), a missing file NotFoundError."""
    r = _Reader(path, verify)
    try:
        while r.next():
            yield r.event()
        if verify:
            r.verify_rest()  # at the end: was the StreamEnd there?
    finally:
        r.free()


def verify_stream(path: conv.StrPath) -> None:
    """Check that the stream at @path is intact and complete (header first,
    gap-free seq, every hash chained, StreamEnd last); raises
    AuditIntegrityError (with ``first_bad_seq``) when not, PetriError when
    it cannot be read."""
    r = _Reader(path, True)
    try:
        r.verify_rest()
    finally:
        r.free()
