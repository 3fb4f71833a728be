# SPDX-License-Identifier: Apache-2.0
"""Checking and converting Python arguments before they reach C.

Wrong types raise TypeError and bad values ValueError here, so that the C
library only ever sees well-formed, NUL-free strings and in-range integers.
Sizes and durations follow the `petri` CLI's syntax.
"""

from __future__ import annotations

import ctypes
import datetime
import math
import os
import re
from typing import Any, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

SizeArg = Union[int, str]
DurationArg = Union[int, float, str, datetime.timedelta]
StrPath = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]

U32_MAX = (1 << 32) - 1
U64_MAX = (1 << 64) - 1

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:([kmgt])(?:i?b)?|b)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$", re.IGNORECASE)
_DURATION_UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}


def _type_name(v: Any) -> str:
    return type(v).__name__


def size(name: str, v: Optional[SizeArg], limit: int = U64_MAX) -> int:
    """Bytes from an int or a size string ("64M", "1.5G", "512KiB", "4096").

    None gives 0, which the library reads as "its default".  An explicit
    size must be positive: 0 would silently mean the default."""
    if v is None:
        return 0
    if isinstance(v, bool) or not isinstance(v, (int, str)):
        raise TypeError(
            "%s must be an int (bytes) or a size string such as '64M', not %s" % (name, _type_name(v))
        )
    if isinstance(v, str):
        m = _SIZE_RE.match(v)
        if not m:
            raise ValueError("%s: invalid size %r (examples: 4096, '512K', '64M', '1.5G')" % (name, v))
        num, unit = m.group(1), (m.group(2) or "").lower()
        scale = _SIZE_UNITS.get(unit, 1)
        if "." in num and scale == 1:
            raise ValueError("%s: invalid size %r (fractional bytes)" % (name, v))
        whole, _, frac = num.partition(".")
        n: int = int(whole) * scale
        if frac:
            n += int(frac) * scale // 10 ** len(frac)
    else:
        n = v
    if n <= 0:
        raise ValueError("%s must be greater than 0 (leave it out for the default), got %r" % (name, v))
    if n > limit:
        raise ValueError("%s is too large: %r" % (name, v))
    return n


def duration_ms(name: str, v: Optional[DurationArg]) -> int:
    """Milliseconds from seconds (int or float), a timedelta, or a string
    like the CLI's ("10", "0.5", "500ms", "2s", "1.5m", "1h"); rounded up so
    that a positive duration stays positive.  None gives 0 (the default)."""
    if v is None:
        return 0
    if isinstance(v, bool):
        raise TypeError("%s must be a number of seconds, not bool" % name)
    if isinstance(v, datetime.timedelta):
        ms = v.total_seconds() * 1000.0
    elif isinstance(v, (int, float)):
        ms = float(v) * 1000.0
    elif isinstance(v, str):
        m = _DURATION_RE.match(v)
        if not m:
            raise ValueError("%s: invalid duration %r (examples: 10, 0.5, '500ms', '2s', '1.5m')" % (name, v))
        ms = float(m.group(1)) * _DURATION_UNITS[(m.group(2) or "s").lower()]
    else:
        raise TypeError(
            "%s must be seconds (int or float), a timedelta or a string like '500ms', not %s"
            % (name, _type_name(v))
        )
    if not math.isfinite(ms) or ms <= 0:
        raise ValueError("%s must be a positive duration (leave it out for the default), got %r" % (name, v))
    out = int(math.ceil(ms))
    if out > U64_MAX:
        raise ValueError("%s is too large: %r" % (name, v))
    return out


def count(name: str, v: Optional[int]) -> int:
    """A positive uint32 count (pids, nofile); None gives 0 (the default)."""
    if v is None:
        return 0
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError("%s must be an int, not %s" % (name, _type_name(v)))
    if v <= 0 or v > U32_MAX:
        raise ValueError("%s must be between 1 and %d, got %d" % (name, U32_MAX, v))
    return v


def cpus(name: str, v: Optional[Union[int, float]]) -> int:
    """A number of CPUs (int or float, e.g. 0.5 or 2) as thousandths of a
    CPU; None gives 0 (no limit).  The library checks the range (0.01 to
    the CPUs online)."""
    if v is None:
        return 0
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TypeError("%s must be a number of CPUs (int or float), not %s" % (name, _type_name(v)))
    if not math.isfinite(v) or v <= 0:
        raise ValueError("%s must be a positive number of CPUs (leave it out for no limit), got %r" % (name, v))
    milli = int(round(v * 1000))
    if milli == 0:
        raise ValueError("%s is below the minimum of 0.01 CPUs: %r" % (name, v))
    if milli > U32_MAX:
        raise ValueError("%s is too large: %r" % (name, v))
    return milli


def cstr(name: str, v: Union[str, bytes]) -> bytes:
    """A str (encoded UTF-8) or bytes, without NUL bytes, as bytes."""
    if isinstance(v, str):
        b = v.encode("utf-8", "surrogateescape")
    elif isinstance(v, bytes):
        b = v
    else:
        raise TypeError("%s must be str or bytes, not %s" % (name, _type_name(v)))
    if b"\0" in b:
        raise ValueError("%s contains a NUL byte" % name)
    return b


def opt_cstr(name: str, v: Optional[Union[str, bytes]]) -> Optional[bytes]:
    return None if v is None else cstr(name, v)


def path(name: str, v: Any) -> bytes:
    """A path (str, bytes or os.PathLike) as NUL-free bytes."""
    if isinstance(v, (str, bytes)) or isinstance(v, os.PathLike):
        b = os.fsencode(v)
    else:
        raise TypeError("%s must be a path (str, bytes or os.PathLike), not %s" % (name, _type_name(v)))
    if b"\0" in b:
        raise ValueError("%s contains a NUL byte" % name)
    if not b:
        raise ValueError("%s is empty" % name)
    return b


def opt_path(name: str, v: Any) -> Optional[bytes]:
    return None if v is None else path(name, v)


def data(name: str, v: Any) -> bytes:
    """File contents or stdin: bytes-like, or str (encoded UTF-8)."""
    if isinstance(v, bytes):
        return v
    if isinstance(v, str):
        return v.encode("utf-8")
    if isinstance(v, (bytearray, memoryview)):
        return bytes(v)
    raise TypeError("%s must be bytes or str, not %s" % (name, _type_name(v)))


def env_list(name: str, env: Optional[Mapping[str, str]]) -> Optional[List[bytes]]:
    """{"K": "V"} as [b"K=V", ...]; the library validates the rest."""
    if env is None:
        return None
    if not isinstance(env, Mapping):
        raise TypeError("%s must be a mapping of str to str, not %s" % (name, _type_name(env)))
    out = []
    for k, val in env.items():
        if not isinstance(k, str):
            raise TypeError("%s: keys must be str, not %s" % (name, _type_name(k)))
        if not isinstance(val, str):
            raise TypeError("%s[%r] must be str, not %s" % (name, k, _type_name(val)))
        if not k or "=" in k:
            raise ValueError("%s: invalid variable name %r" % (name, k))
        out.append(cstr("%s[%r]" % (name, k), k + "=" + val))
    return out


def argv_list(argv: Any) -> List[bytes]:
    if isinstance(argv, (str, bytes)):
        raise TypeError(
            "argv must be a list of strings, not a single %s "
            "(to run a shell line, use exec(line, language='sh'))" % _type_name(argv)
        )
    if not isinstance(argv, (list, tuple)):
        raise TypeError("argv must be a list of str, not %s" % _type_name(argv))
    if not argv:
        raise ValueError("argv is empty")
    out = []
    for i, a in enumerate(argv):
        if isinstance(a, os.PathLike):
            a = os.fsencode(a)
        out.append(cstr("argv[%d]" % i, a))
    return out


def allow_list(allow: Optional[Iterable[Any]]) -> Optional[List[bytes]]:
    """The proxy's allowlist: "HOST[:PORT][=ADDR]" strings (checked by the library)."""
    if allow is None:
        return None
    if isinstance(allow, (str, bytes)):
        raise TypeError("allow must be a list of 'HOST[:PORT][=ADDR]' strings, not a single string")
    return [cstr("allow[%d]" % i, a) for i, a in enumerate(allow)]


def bind_list(binds: Optional[Iterable[Any]]) -> Optional[List[bytes]]:
    """Binds as "SRC:DST[:ro|rw][,sockets]" strings, or (src, dst[, OPTIONS]) tuples,
    OPTIONS a comma-separated list of ro, rw and sockets (checked by the library)."""
    if binds is None:
        return None
    if isinstance(binds, (str, bytes)):
        raise TypeError("binds must be a list of 'SRC:DST[:ro|rw][,sockets]' strings, not a single string")
    out = []
    for i, b in enumerate(binds):
        if isinstance(b, tuple):
            if len(b) not in (2, 3):
                raise ValueError("binds[%d]: a tuple must be (src, dst) or (src, dst, 'rw'|'ro'[,sockets])" % i)
            parts = [
                os.fsdecode(path("binds[%d] source" % i, b[0])),
                os.fsdecode(path("binds[%d] target" % i, b[1])),
            ]
            if len(b) == 3:
                if not isinstance(b[2], str) or not all(
                    o in ("rw", "ro", "sockets") for o in b[2].split(",")
                ):
                    raise ValueError(
                        "binds[%d]: options must be ro, rw and/or sockets, comma-separated, not %r"
                        % (i, b[2])
                    )
                parts.append(b[2])
            out.append(cstr("binds[%d]" % i, ":".join(parts)))
        else:
            out.append(cstr("binds[%d]" % i, b))
    return out


def strv(items: Optional[Sequence[bytes]]) -> Tuple[Any, Any]:
    """A NULL-terminated char ** for @items (or NULL for None).

    Returns (pointer, keepalive): the array refers into the bytes objects,
    which the caller must keep alive (keepalive holds them) during the call."""
    if items is None:
        return None, None
    arr = (ctypes.c_char_p * (len(items) + 1))(*items)  # the last one stays NULL
    return ctypes.cast(arr, ctypes.POINTER(ctypes.c_char_p)), (arr, items)
