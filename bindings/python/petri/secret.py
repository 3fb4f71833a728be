# SPDX-License-Identifier: Apache-2.0
"""petri.Secret: a value the sandboxed code can use but never read (TenantVault).

    from petri import Sandbox, Secret
    key = Secret(os.environ["OPENAI_API_KEY"], hosts=["api.openai.com"])
    with Sandbox(language="python", net="proxy", secrets={"OPENAI_API_KEY": key}) as sb:
        sb.exec("import os, urllib.request; ...")  # os.environ holds a placeholder

Inside, the environment variable NAME holds a random placeholder; the
host's proxy puts the value in its place only in HTTPS requests to the
secret's hosts (README "Secrets").  The value is copied into the library
when the sandbox is created; this object keeps its own copy (Python
cannot wipe immutable bytes), so drop it when no longer needed.
"""

from __future__ import annotations

from typing import Iterable, Tuple, Union

__all__ = ["Secret"]


class Secret:
    """A secret's value (bytes, or str encoded UTF-8) and the hosts it may
    be sent to: "[http://]HOST[:PORT]" as in ``allow`` (PORT default 443;
    "http://" also allows plain HTTP to that host, port 80 by default).

    The value is never shown: not by repr(), str() or an error message, and
    a Secret cannot be pickled or copied into another process by accident.
    """

    __slots__ = ("_value", "_hosts")

    def __init__(self, value: Union[bytes, str], hosts: Iterable[str]) -> None:
        if isinstance(value, str):
            value = value.encode("utf-8")
        elif isinstance(value, (bytearray, memoryview)):
            value = bytes(value)
        elif not isinstance(value, bytes):
            raise TypeError("Secret value must be bytes or str, not %s" % type(value).__name__)
        if not value:
            raise ValueError("Secret value must not be empty")
        if isinstance(hosts, (str, bytes)):
            raise TypeError("Secret hosts must be a list of 'HOST[:PORT]' strings, not a single string")
        hs = tuple(hosts)
        if not hs:
            raise ValueError("Secret hosts must name at least one host")
        for i, h in enumerate(hs):
            if not isinstance(h, str):
                raise TypeError("Secret hosts[%d] must be str, not %s" % (i, type(h).__name__))
        self._value = value
        self._hosts = hs

    @property
    def hosts(self) -> Tuple[str, ...]:
        """The hosts the value may be sent to."""
        return self._hosts

    def __len__(self) -> int:
        """The value's length in bytes."""
        return len(self._value)

    def __repr__(self) -> str:
        return "Secret(<%d bytes>, hosts=%r)" % (len(self._value), list(self._hosts))

    __str__ = __repr__

    def __reduce__(self) -> Tuple[object, ...]:
        raise TypeError("a petri.Secret cannot be pickled")
