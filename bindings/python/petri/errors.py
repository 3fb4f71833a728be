# SPDX-License-Identifier: Apache-2.0
"""Exceptions raised by the binding.

Every failure the library reports becomes a :class:`PetriError` carrying the
library's own message (``petri_error_message``) and the errno it returned;
common errnos get a subclass, so callers can catch what they care about.
Mistakes that Python can see before calling C (a wrong type, a negative
size, a NUL byte in a string) raise TypeError or ValueError instead.
"""

from __future__ import annotations

import errno as _errno
import os
from typing import Dict, Optional, Type

from ._lib import LibraryNotFoundError

__all__ = [
    "PetriError",
    "InvalidArgumentError",
    "NotFoundError",
    "PermissionDeniedError",
    "UnsafePathError",
    "TooLargeError",
    "SandboxBusyError",
    "SandboxDeadError",
    "SandboxClosedError",
    "LibraryNotFoundError",
    "UnauthorizedError",
    "SandboxNotFoundError",
    "SandboxExpiredError",
    "QuotaExceededError",
    "ServiceUnavailableError",
    "PetriConnectionError",
]


class PetriError(Exception):
    """A failure reported by libpetri.

    ``errno`` is the positive errno (as in :class:`OSError`, comparable with
    the constants of the ``errno`` module); ``message`` is the library's
    one-line message, which is also ``str(error)``.

    Errors of a remote sandbox (one served by petrid, see petri.remote)
    also carry ``code`` (petrid's error code, e.g. ``"sandbox_busy"``),
    ``status`` (the HTTP status) and ``url`` (the petrid the request went
    to); for in-process errors all three are None.
    """

    code: Optional[str] = None
    status: Optional[int] = None
    url: Optional[str] = None

    def __init__(self, errno: int, message: str) -> None:
        super().__init__(message)
        self.errno = errno
        self.message = message

    @property
    def errno_name(self) -> str:
        """The errno's symbolic name, e.g. ``"ENOENT"``."""
        return _errno.errorcode.get(self.errno, str(self.errno))

    def __repr__(self) -> str:
        return "%s(%s, %r)" % (type(self).__name__, self.errno_name, self.message)


class InvalidArgumentError(PetriError):
    """EINVAL: options the library refused (unknown language, bad bind, ...)."""


class NotFoundError(PetriError):
    """ENOENT: a program, file, bind source or rootfs that does not exist."""


class PermissionDeniedError(PetriError):
    """EPERM or EACCES: not allowed (a path leaving /workspace, not executable, ...)."""


class UnsafePathError(PetriError):
    """ELOOP or EXDEV: a symlink or mount crossing in a workspace path, refused."""


class TooLargeError(PetriError):
    """E2BIG or EFBIG: code, arguments, environment or a file beyond the library's caps."""


class SandboxBusyError(PetriError):
    """EBUSY: another exec is running on the sandbox."""


class SandboxDeadError(PetriError):
    """ESRCH: the sandbox's init died (e.g. killed by the OOM killer)."""


class SandboxClosedError(PetriError):
    """The sandbox (or its context) was closed; raised by Python, not C."""

    def __init__(self, message: str = "sandbox is closed") -> None:
        super().__init__(_errno.EBADF, message)


class UnauthorizedError(PermissionDeniedError):
    """Remote only (HTTP 401 ``unauthorized``): petrid refused the token,
    or none was given (``token=`` or ``PETRI_TOKEN``)."""


class SandboxNotFoundError(SandboxDeadError):
    """Remote only (HTTP 404 ``sandbox_not_found``): petrid has no such
    sandbox for this token: deleted, its node restarted, or another
    tenant's.  A SandboxDeadError: the sandbox is gone, make a new one."""


class SandboxExpiredError(SandboxNotFoundError):
    """Remote only (HTTP 410 ``sandbox_expired``): the sandbox was idle past
    its TTL and petrid destroyed it (see ``Sandbox(ttl=)``, ``keepalive()``)."""


class QuotaExceededError(PetriError):
    """Remote only (HTTP 429): a tenant quota (``code`` ``"quota_exceeded"``,
    ``quota`` names it: ``"max_sandboxes"``, ``"max_memory"``,
    ``"max_exec_timeout"``, ``"max_execs"``, ``"max_ttl"``), or petrid's
    node-wide limit of running execs (``code`` ``"too_many_execs"``,
    ``quota`` None, ``retry_after`` seconds)."""

    def __init__(
        self, errno: int, message: str, quota: Optional[str] = None, retry_after: Optional[float] = None
    ) -> None:
        super().__init__(errno, message)
        self.quota = quota
        self.retry_after = retry_after


class ServiceUnavailableError(PetriError):
    """Remote only (HTTP 503): petrid is draining (``shutting_down``), or the
    front proxy says the sandbox's node is down (``node_unavailable``)."""


class PetriConnectionError(PetriError):
    """Remote only: petrid could not be reached, the connection broke, it
    stayed silent past the client's timeout, or its answer was not
    petrid's protocol.  ``url`` names the server, ``errno`` is the socket
    error's (ECONNREFUSED, ENOENT for a missing unix socket, ETIMEDOUT,
    ECONNRESET, EPROTO for a malformed answer)."""


_BY_ERRNO: Dict[int, Type[PetriError]] = {
    _errno.EINVAL: InvalidArgumentError,
    _errno.ENOENT: NotFoundError,
    _errno.EPERM: PermissionDeniedError,
    _errno.EACCES: PermissionDeniedError,
    _errno.ELOOP: UnsafePathError,
    _errno.EXDEV: UnsafePathError,
    _errno.E2BIG: TooLargeError,
    _errno.EFBIG: TooLargeError,
    _errno.EBUSY: SandboxBusyError,
    _errno.ESRCH: SandboxDeadError,
}


def from_code(code: int, message: Optional[str]) -> PetriError:
    """The exception for a negative errno returned by the library."""
    e = -code if code < 0 else code
    if not message:
        message = os.strerror(e) if e else "unknown error"
    return _BY_ERRNO.get(e, PetriError)(e, message)
