# SPDX-License-Identifier: Apache-2.0
"""petri: run untrusted code in a libpetri sandbox, from Python.

    from petri import Sandbox
    with Sandbox(language="python") as sb:
        result = sb.exec("print('hello from isolation')")
        print(result.output)

Pure ctypes over libpetri.so, found through PETRI_LIBRARY (a full path) or
the normal loader search; or, with url= (or PETRI_URL, PETRI_TOKEN), the
same API served by petrid over HTTP (petri.remote).  See
bindings/python/README.md.
"""

from .audit import AuditEvent, AuditIntegrityError, AuditStream, read_stream, verify_stream
from .context import Context, PoolStats, default_context, library_version
from .errors import (
    InvalidArgumentError,
    LibraryNotFoundError,
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
from .files import DirEntry, DirListing
from .result import REASONS, ExecResult
from .sandbox import ExecStream, OutputCallback, Sandbox
from .remote import RemoteExecStream, RemoteSandbox
from .secret import Secret

__version__ = "0.1.0"

__all__ = [
    "Sandbox",
    "Secret",
    "ExecResult",
    "ExecStream",
    "DirEntry",
    "DirListing",
    "OutputCallback",
    "Context",
    "PoolStats",
    "default_context",
    "library_version",
    "REASONS",
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
    "RemoteSandbox",
    "RemoteExecStream",
    "AuditStream",
    "AuditEvent",
    "AuditIntegrityError",
    "read_stream",
    "verify_stream",
]
