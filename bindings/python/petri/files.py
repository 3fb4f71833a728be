# SPDX-License-Identifier: Apache-2.0
"""Directory listings of /workspace: :class:`DirEntry` and :class:`DirListing`.

The same types come back from an in-process sandbox (petri_sandbox_list_dir)
and from a remote one (petrid's ``GET /v1/sandboxes/{id}/files/``), so code
that lists a workspace does not care which transport it runs on.
"""

from __future__ import annotations

import ctypes
import os
from typing import Iterable, List, NamedTuple

from . import _lib

__all__ = ["DirEntry", "DirListing", "DIRENT_TYPES"]

#: The values of DirEntry.type (PETRI_DIRENT_FILE, _DIR, _SYMLINK, _OTHER).
DIRENT_TYPES = ("file", "dir", "symlink", "other")


class DirEntry(NamedTuple):
    """One entry of a directory, as the entry itself (a symlink is reported
    as "symlink", never followed).

    ``name`` has no "/" (decoded as by os.fsdecode, so a name that is not
    UTF-8 still round-trips to read_file/remove_file); ``type`` is one of
    "file", "dir", "symlink", "other" (FIFO, socket, device); ``size`` is
    st_size in bytes (a symlink: the length of its target); ``mode`` the
    permission bits (``& 0o7777``); ``mtime`` the modification time in
    seconds since the epoch (float, as os.stat's st_mtime)."""

    name: str
    type: str
    size: int
    mode: int
    mtime: float


class DirListing(List[DirEntry]):
    """The entries of one directory, sorted by name (bytewise), "." and ".."
    left out: a list of :class:`DirEntry`.  ``truncated`` is True when the
    directory had more entries than were asked for (then these are the
    first ones by name)."""

    truncated: bool

    def __init__(self, entries: Iterable[DirEntry] = (), truncated: bool = False) -> None:
        super().__init__(entries)
        self.truncated = bool(truncated)

    def __repr__(self) -> str:
        return "DirListing(%s, truncated=%r)" % (list.__repr__(self), self.truncated)


_TYPE_NAMES = {1: "file", 2: "dir", 3: "symlink", 4: "other"}


def _from_c(entries: "ctypes._Pointer[_lib.Dirent]", n: int, truncated: bool) -> DirListing:
    """Copy @n petri_dirent out of the library's block (the caller frees it)."""
    out = []
    for i in range(n):
        e = entries[i]
        out.append(
            DirEntry(
                name=os.fsdecode(ctypes.string_at(e.name)),
                type=_TYPE_NAMES.get(e.type, "other"),
                size=int(e.size),
                mode=int(e.mode),
                mtime=e.mtime_ns / 1e9,
            )
        )
    return DirListing(out, truncated)
