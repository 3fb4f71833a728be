# SPDX-License-Identifier: Apache-2.0
"""The library context (petri_ctx): :class:`Context`, :func:`default_context`
and :func:`library_version`.

One process-wide context is created lazily (thread-safe) the first time a
Sandbox is made without an explicit one, and freed at interpreter exit.
A :class:`Context` can also be made explicitly (e.g. one per tenant).

Context.sandbox() makes a Sandbox and a Sandbox's .context is its Context,
so both classes are defined in petri.sandbox; this module is where the
context's names have always been importable from.  The handle bookkeeping
(states, locks, fork and exit handling) is in petri._handles.
"""

from .sandbox import Context, PoolStats, default_context, library_version

__all__ = ["Context", "PoolStats", "default_context", "library_version"]
