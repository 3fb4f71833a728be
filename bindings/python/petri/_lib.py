# SPDX-License-Identifier: Apache-2.0
"""Loading libpetri and declaring its C API for ctypes.

Everything here mirrors include/petri/petri.h exactly: the option structs
field by field (fixed-width integers and pointers, so the layout is the
same as C's), and every function's argument and return types.  Nothing
outside this module touches ctypes prototypes.

The library is found through the environment variable PETRI_LIBRARY (a full
path) or else the normal loader search ("petri" through
ctypes.util.find_library, then libpetri.so.0).  It is loaded lazily, on the
first use of the binding, so that ``import petri`` works without it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from typing import List, Optional

__all__ = [
    "CtxOpts",
    "Warm",
    "PoolStats",
    "SandboxOpts",
    "SecretOpts",
    "ExecOpts",
    "AuditOpts",
    "AuditReaderOpts",
    "Dirent",
    "LOG_FN",
    "OUTPUT_FN",
    "LibraryNotFoundError",
    "lib",
]

c_u32 = ctypes.c_uint32
c_u64 = ctypes.c_uint64
c_char_pp = ctypes.POINTER(ctypes.c_char_p)

# typedef void (*petri_log_fn)(int level, const char *msg, void *userdata);
LOG_FN = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)
# typedef int (*petri_output_fn)(int stream, const char *data, size_t len, void *userdata);
# data is declared as a void pointer: it is not NUL-terminated.
OUTPUT_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)


class Warm(ctypes.Structure):
    """struct petri_warm (one pool of petri_ctx_opts.warm)."""

    _fields_ = [
        ("language", ctypes.c_char_p),
        ("count", c_u32),
        ("reserved", c_u32),
    ]


class CtxOpts(ctypes.Structure):
    """struct petri_ctx_opts."""

    _fields_ = [
        ("sz", c_u32),
        ("log_level", c_u32),
        ("log_fn", LOG_FN),
        ("log_userdata", ctypes.c_void_p),
        ("host_uid_base", c_u32),
        ("flags", c_u32),
        ("warm", ctypes.POINTER(Warm)),
        ("nwarm", c_u32),
        ("reserved0", c_u32),
    ]


class PoolStats(ctypes.Structure):
    """struct petri_pool_stats."""

    _fields_ = [
        ("sz", c_u32),
        ("ready", c_u32),
        ("target", c_u32),
        ("reserved0", c_u32),
        ("hits", c_u64),
        ("misses", c_u64),
        ("created", c_u64),
        ("recycled", c_u64),
        ("discarded", c_u64),
        ("failed", c_u64),
    ]


class SecretOpts(ctypes.Structure):
    """struct petri_secret (TenantVault)."""

    _fields_ = [
        ("sz", c_u32),
        ("flags", c_u32),
        ("name", ctypes.c_char_p),
        ("value", ctypes.c_void_p),  # value_len bytes, not NUL-terminated
        ("value_len", ctypes.c_size_t),
        ("hosts", c_char_pp),
    ]


class SandboxOpts(ctypes.Structure):
    """struct petri_sandbox_opts."""

    _fields_ = [
        ("sz", c_u32),
        ("flags", c_u32),
        ("language", ctypes.c_char_p),
        ("id", ctypes.c_char_p),
        ("hostname", ctypes.c_char_p),
        ("rootfs", ctypes.c_char_p),
        ("workspace_dir", ctypes.c_char_p),
        ("binds", c_char_pp),
        ("env", c_char_pp),
        ("memory_bytes", c_u64),
        ("tmp_bytes", c_u64),
        ("workspace_bytes", c_u64),
        ("pids_max", c_u32),
        ("net", c_u32),
        ("audit", ctypes.c_void_p),  # struct petri_audit * (borrowed)
        ("inotify_instances_max", c_u32),
        ("inotify_watches_max", c_u32),
        ("sigpending_max", c_u32),
        ("reserved1", c_u32),
        ("msgqueue_bytes", c_u64),
        ("cpus_milli", c_u32),
        ("reserved2", c_u32),
        ("allow", c_char_pp),
        ("net_max_conns", c_u32),
        ("reserved3", c_u32),
        ("net_max_bytes", c_u64),
        ("secrets", ctypes.POINTER(ctypes.POINTER(SecretOpts))),  # NULL-terminated
        ("upstream_ca", ctypes.c_char_p),
    ]


class ExecOpts(ctypes.Structure):
    """struct petri_exec_opts."""

    _fields_ = [
        ("sz", c_u32),
        ("flags", c_u32),
        ("argv", c_char_pp),
        ("code", ctypes.c_char_p),
        ("language", ctypes.c_char_p),
        ("env", c_char_pp),
        ("cwd", ctypes.c_char_p),
        ("stdin_data", ctypes.c_char_p),
        ("stdin_len", c_u64),
        ("timeout_ms", c_u64),
        ("cpu_ms", c_u64),
        ("stdout_max", c_u64),
        ("stderr_max", c_u64),
        ("output_kill_bytes", c_u64),
        ("file_size_max", c_u64),
        ("nofile_max", c_u32),
        ("reserved0", c_u32),
        ("on_output", OUTPUT_FN),
        ("userdata", ctypes.c_void_p),
        ("args", c_char_pp),
        ("code_file", ctypes.c_char_p),
    ]


# typedef int (*petri_audit_sink_fn)(const void *data, size_t len, void *userdata);
AUDIT_SINK_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)


class AuditOpts(ctypes.Structure):
    """struct petri_audit_opts (petri/audit.h)."""

    _fields_ = [
        ("sz", c_u32),
        ("sink", c_u32),
        ("path", ctypes.c_char_p),
        ("fd", ctypes.c_int32),
        ("flags", c_u32),
        ("sink_fn", AUDIT_SINK_FN),
        ("sink_userdata", ctypes.c_void_p),
        ("queue_events", c_u32),
        ("close_timeout_ms", c_u32),
        ("kernel_audit", c_u32),
        ("reserved0", c_u32),
        ("kernel_audit_reason", ctypes.c_char_p),
        ("ctx", ctypes.c_void_p),
        ("max_bytes", c_u64),
    ]


class AuditReaderOpts(ctypes.Structure):
    """struct petri_audit_reader_opts (petri/audit.h)."""

    _fields_ = [
        ("sz", c_u32),
        ("source", c_u32),
        ("flags", c_u32),
        ("fd", ctypes.c_int32),
        ("path", ctypes.c_char_p),
        ("data", ctypes.c_void_p),
        ("data_len", c_u64),
        ("max_event_bytes", c_u64),
    ]


# Constants of petri.h.
LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG = 0, 1, 2, 3
CTX_F_REQUIRE_CGROUPS = 1 << 0
CTX_F_CGROUP_LEAF = 1 << 1
CTX_F_NO_RECYCLE = 1 << 2
WARM_MAX = 16  # petri_ctx_opts.nwarm at most
WARM_COUNT_MAX = 1024  # petri_warm.count: 1 to this
CGROUP_NONE, CGROUP_V1, CGROUP_V2 = 0, 1, 2
NET_NONE, NET_HOST, NET_PROXY = 0, 1, 2
SANDBOX_F_NO_LANDLOCK = 1 << 0
SANDBOX_F_NO_POOL = 1 << 1
STREAM_STDOUT, STREAM_STDERR = 1, 2
# Constants of petri/audit.h.
AUDIT_SINK_FILE, AUDIT_SINK_FD, AUDIT_SINK_UNIX, AUDIT_SINK_CALLBACK = 1, 2, 3, 4
AUDIT_SRC_PATH, AUDIT_SRC_FD, AUDIT_SRC_MEMORY = 1, 2, 3
AUDIT_READER_F_NO_VERIFY = 1 << 0
AUDIT_FORMAT_TEXT, AUDIT_FORMAT_JSON = 1, 2
LIMIT_NAMES = (  # bit, name: in the order `petri run --json` lists them
    (1 << 0, "memory"),
    (1 << 1, "pids"),
    (1 << 2, "output"),
    (1 << 3, "timeout"),
    (1 << 4, "cpu"),
    (1 << 5, "file_size"),
)

class Dirent(ctypes.Structure):
    """struct petri_dirent (one entry of petri_sandbox_list_dir's block)."""

    _fields_ = [
        ("name", ctypes.c_void_p),  # const char *, NUL-terminated, in the block
        ("type", c_u32),
        ("mode", c_u32),
        ("size", c_u64),
        ("mtime_ns", ctypes.c_int64),
    ]


_P = ctypes.c_void_p  # opaque handles: petri_ctx *, petri_sandbox *, ...
_PP = ctypes.POINTER(ctypes.c_void_p)

# name: (restype, argtypes)
_PROTOTYPES = {
    "petri_version": (ctypes.c_char_p, []),
    "petri_error_message": (ctypes.c_char_p, [_P]),
    "petri_error_code": (ctypes.c_int, [_P]),
    "petri_error_free": (None, [_P]),
    "petri_ctx_opts_init": (None, [_P]),
    "petri_ctx_new": (ctypes.c_int, [_PP, ctypes.POINTER(CtxOpts), _PP]),
    "petri_ctx_free": (None, [_P]),
    "petri_ctx_cgroup_mode": (ctypes.c_int, [_P]),
    "petri_ctx_pool_stats": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.POINTER(PoolStats)]),
    "petri_ctx_pool_wait": (ctypes.c_int, [_P, c_u64]),
    "petri_sandbox_opts_init": (None, [_P]),
    "petri_sandbox_create": (ctypes.c_int, [_P, ctypes.POINTER(SandboxOpts), _PP, _PP]),
    "petri_sandbox_destroy": (None, [_P]),
    "petri_sandbox_id": (ctypes.c_char_p, [_P]),
    "petri_sandbox_init_pid": (ctypes.c_int, [_P]),
    "petri_sandbox_host_uid": (ctypes.c_int64, [_P]),
    "petri_sandbox_cgroup_id": (c_u64, [_P]),
    "petri_sandbox_reuses": (ctypes.c_int64, [_P]),
    "petri_exec_opts_init": (None, [_P]),
    "petri_reason_name": (ctypes.c_char_p, [ctypes.c_int]),
    "petri_sandbox_exec": (ctypes.c_int, [_P, ctypes.POINTER(ExecOpts), _PP, _PP]),
    "petri_sandbox_cancel": (ctypes.c_int, [_P]),
    "petri_result_free": (None, [_P]),
    "petri_result_reason": (ctypes.c_int, [_P]),
    "petri_result_exit_code": (ctypes.c_int, [_P]),
    "petri_result_signal": (ctypes.c_int, [_P]),
    "petri_result_limits_hit": (c_u32, [_P]),
    "petri_result_seccomp_denials": (ctypes.c_uint64, [_P]),
    "petri_result_wall_ns": (c_u64, [_P]),
    "petri_result_cpu_ns": (c_u64, [_P]),
    "petri_result_peak_memory_bytes": (c_u64, [_P]),
    # Output is not NUL-terminated: a void pointer plus the length.
    "petri_result_stdout": (_P, [_P, ctypes.POINTER(ctypes.c_size_t)]),
    "petri_result_stderr": (_P, [_P, ctypes.POINTER(ctypes.c_size_t)]),
    "petri_result_stdout_truncated": (ctypes.c_int, [_P]),
    "petri_result_stderr_truncated": (ctypes.c_int, [_P]),
    "petri_result_stdout_total": (c_u64, [_P]),
    "petri_result_stderr_total": (c_u64, [_P]),
    "petri_sandbox_write_file": (
        ctypes.c_int,
        [_P, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t, c_u32, _PP],
    ),
    "petri_sandbox_read_file": (
        ctypes.c_int,
        [_P, ctypes.c_char_p, c_u64, _PP, ctypes.POINTER(ctypes.c_size_t), _PP],
    ),
    "petri_sandbox_remove_file": (ctypes.c_int, [_P, ctypes.c_char_p, _PP]),
    "petri_sandbox_list_dir": (
        ctypes.c_int,
        [
            _P,
            ctypes.c_char_p,
            c_u32,
            ctypes.POINTER(ctypes.POINTER(Dirent)),
            ctypes.POINTER(ctypes.c_size_t),
            ctypes.POINTER(ctypes.c_int),
            _PP,
        ],
    ),
    "petri_free": (None, [_P]),
}


# The audit stream (petri/audit.h), part of every libpetri.
_PROTOTYPES.update({
    "petri_audit_kind_name": (ctypes.c_char_p, [ctypes.c_int]),
    "petri_audit_opts_init": (None, [_P]),
    "petri_audit_open": (ctypes.c_int, [_PP, ctypes.POINTER(AuditOpts), _PP]),
    "petri_audit_close": (ctypes.c_int, [_P, _PP]),
    "petri_audit_reader_opts_init": (None, [_P]),
    "petri_audit_reader_open": (ctypes.c_int, [_PP, ctypes.POINTER(AuditReaderOpts), _PP]),
    "petri_audit_reader_close": (None, [_P]),
    "petri_audit_reader_next": (ctypes.c_int, [_P, _PP]),
    "petri_audit_reader_seq": (c_u64, [_P]),
    "petri_audit_reader_kind": (ctypes.c_int, [_P]),
    "petri_audit_reader_first_bad_seq": (c_u64, [_P]),
    # char **out, freed with petri_free(): a void pointer.
    "petri_audit_reader_format": (ctypes.c_int, [_P, c_u32, ctypes.POINTER(ctypes.c_void_p), _PP]),
    "petri_audit_reader_verify": (ctypes.c_int, [_P, ctypes.POINTER(c_u64), _PP]),
})


class LibraryNotFoundError(ImportError):
    """libpetri.so could not be loaded (see PETRI_LIBRARY)."""


_lock = threading.Lock()
_lib: Optional[ctypes.CDLL] = None


def _candidates() -> List[str]:
    explicit = os.environ.get("PETRI_LIBRARY")
    if explicit:
        return [explicit]
    names = []
    found = ctypes.util.find_library("petri")
    if found:
        names.append(found)
    names += ["libpetri.so.0", "libpetri.so"]
    return names


def _check_layout(dll: ctypes.CDLL, path: str) -> None:
    """Refuse a library whose option structs cannot be ours.

    petri_*_opts_init() writes the size the library was compiled with into
    `sz`.  It may differ from ours: the structs only grow, and the library
    reads the fields of a smaller (older) caller's struct with defaults for
    the rest, and refuses non-zero fields it does not know (from a newer
    caller) with a clear message.  So any size is usable as long as it is a
    plausible one; the field layout itself is checked against the header by
    the tests.  The init functions write into a scratch buffer larger than
    any struct.
    """
    for init in ("petri_ctx_opts_init", "petri_sandbox_opts_init", "petri_exec_opts_init"):
        scratch = ctypes.create_string_buffer(4096)
        getattr(dll, init)(scratch)
        sz = c_u32.from_buffer(scratch).value
        if not 8 <= sz <= 4096:
            raise LibraryNotFoundError("%s: %s says sizeof is %d: not a libpetri" % (path, init, sz))


def _load() -> ctypes.CDLL:
    errors = []
    for name in _candidates():
        try:
            dll = ctypes.CDLL(name)
        except OSError as e:
            errors.append("%s: %s" % (name, e))
            continue
        for fn, (restype, argtypes) in _PROTOTYPES.items():
            try:
                f = getattr(dll, fn)
            except AttributeError:
                raise LibraryNotFoundError("%s: symbol %s missing (is it libpetri?)" % (name, fn)) from None
            f.restype = restype
            f.argtypes = argtypes
        _check_layout(dll, name)
        return dll
    raise LibraryNotFoundError(
        "cannot load libpetri (set PETRI_LIBRARY to the full path of libpetri.so, "
        "or install it where the loader finds it): " + "; ".join(errors)
    )


def lib() -> ctypes.CDLL:
    """The loaded library (loaded on first call; thread-safe)."""
    global _lib
    dll = _lib
    if dll is not None:
        return dll
    with _lock:
        if _lib is None:
            _lib = _load()
        return _lib
