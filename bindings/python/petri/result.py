# SPDX-License-Identifier: Apache-2.0
"""The result of one exec, copied out of the library's petri_result."""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from . import _lib

__all__ = ["ExecResult", "REASONS"]

#: Every reason an exec can end with (petri_reason_name()).
REASONS = (
    "exited",
    "signaled",
    "timeout",
    "memory",
    "pids",
    "output_limit",
    "killed",
    "seccomp",
    "cpu",
    "file_size",
    "sandbox_died",
    "failed",  # audit streams only: the exec could not run
)


@dataclass(frozen=True)
class ExecResult:
    """How an exec ended and what it printed.

    ``stdout``/``stderr`` are the captured output decoded as UTF-8 (invalid
    bytes replaced); the raw bytes are ``stdout_bytes``/``stderr_bytes``.
    ``exit_code`` is None when the main process was killed by a signal
    (then ``signal`` is its number, else None).  ``reason`` says why it
    ended: "exited", "signaled", "timeout", "memory", "pids",
    "output_limit", "killed", "seccomp", "cpu", "file_size" or
    "sandbox_died".  ``limits_hit`` names the limits hit on the way
    ("memory", "pids", "output", "timeout", "cpu", "file_size").
    """

    stdout_bytes: bytes
    stderr_bytes: bytes
    exit_code: Optional[int]
    signal: Optional[int]
    reason: str
    limits_hit: List[str] = field(default_factory=list)
    wall_ms: float = 0.0
    cpu_ms: float = 0.0
    peak_memory_bytes: int = 0
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    stdout_total_bytes: int = 0
    stderr_total_bytes: int = 0
    seccomp_denials: int = 0
    sandbox_id: str = ""

    @property
    def stdout(self) -> str:
        return self.stdout_bytes.decode("utf-8", errors="replace")

    @property
    def stderr(self) -> str:
        return self.stderr_bytes.decode("utf-8", errors="replace")

    @property
    def output(self) -> str:
        """The captured stdout (the same as ``stdout``)."""
        return self.stdout

    @property
    def truncated(self) -> bool:
        """True when stdout or stderr went beyond its capture cap."""
        return self.stdout_truncated or self.stderr_truncated

    @property
    def ok(self) -> bool:
        """True when the program exited by itself with status 0."""
        return self.reason == "exited" and self.exit_code == 0

    def to_dict(self) -> Dict[str, Any]:
        """The result with the keys and value types of ``petri run --json``."""
        return {
            "exit_code": self.exit_code,
            "signal": self.signal,
            "reason": self.reason,
            "wall_ms": self.wall_ms,
            "cpu_ms": self.cpu_ms,
            "peak_memory_bytes": self.peak_memory_bytes,
            "stdout": self.stdout,
            "stderr": self.stderr,
            "stdout_truncated": self.stdout_truncated,
            "stderr_truncated": self.stderr_truncated,
            "stdout_total_bytes": self.stdout_total_bytes,
            "stderr_total_bytes": self.stderr_total_bytes,
            "limits_hit": list(self.limits_hit),
            "seccomp_denials": self.seccomp_denials,
            "sandbox_id": self.sandbox_id,
        }

    def __repr__(self) -> str:
        return "ExecResult(reason=%r, exit_code=%r, signal=%r, stdout=%r, stderr=%r)" % (
            self.reason,
            self.exit_code,
            self.signal,
            _short(self.stdout_bytes),
            _short(self.stderr_bytes),
        )

    @classmethod
    def _from_c(cls, res: ctypes.c_void_p, sandbox_id: str) -> "ExecResult":
        """Copy everything out of a petri_result (which the caller frees).

        Per exec, so kept lean: the object's fields are set in one step
        (what the frozen dataclass's __init__ would do one field at a time;
        there is no __post_init__), reason names are looked up once."""
        lib = _lib.lib()
        n = ctypes.c_size_t()
        p = lib.petri_result_stdout(res, ctypes.byref(n))
        out = ctypes.string_at(p, n.value) if p and n.value else b""
        p = lib.petri_result_stderr(res, ctypes.byref(n))
        err = ctypes.string_at(p, n.value) if p and n.value else b""
        sig = lib.petri_result_signal(res)
        code = lib.petri_result_exit_code(res)
        hit = lib.petri_result_limits_hit(res)
        self = cls.__new__(cls)
        self.__dict__.update(
            stdout_bytes=out,
            stderr_bytes=err,
            # As `petri run --json`: no exit code once a signal killed it.
            exit_code=None if sig > 0 or code < 0 else code,
            signal=sig if sig > 0 else None,
            reason=_reason_name(lib, lib.petri_result_reason(res)),
            limits_hit=[n for bit, n in _lib.LIMIT_NAMES if hit & bit] if hit else [],
            wall_ms=lib.petri_result_wall_ns(res) / 1e6,
            cpu_ms=lib.petri_result_cpu_ns(res) / 1e6,
            peak_memory_bytes=lib.petri_result_peak_memory_bytes(res),
            stdout_truncated=bool(lib.petri_result_stdout_truncated(res)),
            stderr_truncated=bool(lib.petri_result_stderr_truncated(res)),
            stdout_total_bytes=lib.petri_result_stdout_total(res),
            stderr_total_bytes=lib.petri_result_stderr_total(res),
            seccomp_denials=lib.petri_result_seccomp_denials(res),
            sandbox_id=sandbox_id,
        )
        return self

    @classmethod
    def _from_json(cls, d: Dict[str, Any]) -> "ExecResult":
        """The result of a remote exec, from the object petrid returns (the
        keys of ``petri run --json``).  Its stdout/stderr are JSON text in
        which bytes that were not UTF-8 became U+FFFD: ``stdout_bytes`` is
        that text encoded UTF-8, not the program's raw bytes (the
        ``*_total_bytes`` counts are the raw ones).  Raises ValueError
        (with the key) when the object is not a result."""

        def get(key: str, types: Any, default: Any = None, required: bool = False) -> Any:
            if key not in d or d[key] is None:
                if required:
                    raise ValueError("result: missing %r" % key)
                return default
            v = d[key]
            if isinstance(v, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
                raise ValueError("result: %r is %r" % (key, v))
            if not isinstance(v, types):
                raise ValueError("result: %r has type %s" % (key, type(v).__name__))
            return v

        limits = get("limits_hit", list, [])
        if not all(isinstance(x, str) for x in limits):
            raise ValueError("result: 'limits_hit' is not a list of names")
        return cls(
            stdout_bytes=get("stdout", str, "").encode("utf-8", "replace"),
            stderr_bytes=get("stderr", str, "").encode("utf-8", "replace"),
            exit_code=get("exit_code", int),
            signal=get("signal", int),
            reason=get("reason", str, required=True),
            limits_hit=list(limits),
            wall_ms=float(get("wall_ms", (int, float), 0.0)),
            cpu_ms=float(get("cpu_ms", (int, float), 0.0)),
            peak_memory_bytes=get("peak_memory_bytes", int, 0),
            stdout_truncated=get("stdout_truncated", bool, False),
            stderr_truncated=get("stderr_truncated", bool, False),
            stdout_total_bytes=get("stdout_total_bytes", int, 0),
            stderr_total_bytes=get("stderr_total_bytes", int, 0),
            seccomp_denials=get("seccomp_denials", int, 0),
            sandbox_id=get("sandbox_id", str, ""),
        )


_reason_names: Dict[int, str] = {}


def _reason_name(lib: Any, reason: int) -> str:
    """petri_reason_name(), decoded, looked up once per value."""
    name = _reason_names.get(reason)
    if name is None:
        raw = lib.petri_reason_name(reason)
        name = _reason_names[reason] = raw.decode("ascii", "replace") if raw else "unknown"
    return name


def _short(b: bytes, n: int = 60) -> str:
    s = b.decode("utf-8", errors="replace")
    return s if len(s) <= n else s[: n - 3] + "..."
