# SPDX-License-Identifier: Apache-2.0
"""TenantVault from Python: petri.Secret keeps its value out of sight, and
Sandbox(secrets=..., upstream_ca=...) passes secrets to the library, which
gives the code a placeholder and masks the value in returned output.
Bad input raises with a message that names the secret, never its value."""

from __future__ import annotations

import pickle
import re

import pytest

import petri
from petri import Sandbox, Secret

VALUE = "petri-py-secret-value-4e7a"
PLACEHOLDER = re.compile(r"^petri-vault-[0-9a-f]{32}$")


def secret(**kw: object) -> Secret:
    return Secret(kw.get("value", VALUE), hosts=kw.get("hosts", ["api.example.test"]))  # type: ignore[arg-type]


def test_secret_hides_its_value() -> None:
    s = secret()
    assert VALUE not in repr(s) and VALUE not in str(s)
    assert repr(s) == "Secret(<26 bytes>, hosts=['api.example.test'])"
    assert len(s) == len(VALUE) and s.hosts == ("api.example.test",)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(s)
    assert len(Secret(b"\x00\xffbytes", hosts=["h.test"])) == 7


@pytest.mark.parametrize(
    "value,hosts,exc,fragment",
    [
        (b"", ["h.test"], ValueError, "empty"),
        ("", ["h.test"], ValueError, "empty"),
        (42, ["h.test"], TypeError, "bytes or str"),
        (VALUE, [], ValueError, "at least one host"),
        (VALUE, "h.test", TypeError, "not a single string"),
        (VALUE, [b"h.test"], TypeError, "hosts[0]"),
    ],
)
def test_bad_secret(value: object, hosts: object, exc: type, fragment: str) -> None:
    with pytest.raises(exc) as e:
        Secret(value, hosts=hosts)  # type: ignore[arg-type]
    assert fragment in str(e.value) and VALUE not in str(e.value)


@pytest.mark.parametrize(
    "kwargs,exc,fragment",
    [
        ({"secrets": {"TOKEN": None}}, TypeError, "petri.Secret"),
        ({"secrets": [("TOKEN", None)]}, TypeError, "mapping"),
        ({"secrets": {1: None}}, TypeError, "name must be str"),
        ({"net": "none"}, petri.InvalidArgumentError, "secrets need net proxy"),
        ({"net": "host"}, petri.InvalidArgumentError, "secrets need net proxy"),
        ({"secrets": None, "upstream_ca": "/etc/hostname"}, petri.InvalidArgumentError, "upstream_ca"),
        ({"upstream_ca": "/nonexistent/petri-ca.pem"}, petri.NotFoundError, "/nonexistent/petri-ca.pem"),
        ({"secrets": {"OTHER": "x"}}, TypeError, "OTHER"),
        ({"secrets": {"BAD-NAME": secret()}}, ValueError, "BAD-NAME"),
        ({"secrets": {"1X": secret()}}, ValueError, "1X"),
        ({"secrets": {"A" * 65: secret()}}, ValueError, "A" * 65),
        ({"secrets": {"TOKEN": secret(hosts=["exa mple.test"])}}, petri.InvalidArgumentError, "exa mple.test"),
    ],
)
def test_bad_sandbox_secrets(kwargs: dict, exc: type, fragment: str) -> None:
    args: dict = {"net": "proxy", "secrets": {"TOKEN": secret()}}
    args.update(kwargs)
    if args.get("secrets") is None:
        args.pop("secrets")
    with pytest.raises(exc) as e:
        Sandbox(**args)
    assert fragment in str(e.value)
    assert VALUE not in str(e.value) and VALUE not in repr(e.value)


def test_placeholder_and_scrubbed_output() -> None:
    s = secret()
    with Sandbox(language="python", net="proxy", secrets={"TOKEN": s}) as sb:
        r = sb.exec("import os; print(os.environ['TOKEN'])")
        assert r.exit_code == 0, r.stderr
        assert PLACEHOLDER.match(r.stdout.strip()), r.stdout
        # The test wrote the value into the code: what comes back is masked.
        r = sb.exec("import sys; print('x' + 'petri-py-' + 'secret-value-4e7a' + 'y'); "
                    "sys.stderr.write('petri-py-secret-value-4e7a')")
        assert r.stdout == "x" + "*" * len(VALUE) + "y\n"
        assert r.stderr == "*" * len(VALUE)
        chunks: list = []
        r = sb.exec("import os, time\nfor b in b'<petri-py-secret-value-4e7a>':\n"
                    "    os.write(1, bytes([b])); time.sleep(0.002)\n",
                    on_output=lambda stream, data: chunks.append(data))
        joined = b"".join(c if isinstance(c, bytes) else c.encode() for c in chunks)
        assert joined == b"<" + b"*" * len(VALUE) + b">", joined
    # A bytes value, no allow list: the secret's host is allowed by itself;
    # net not given: secrets mean the proxy.
    with Sandbox(secrets={"B": Secret(b"bytes-value-91", hosts=["b.example.test:8443"])}) as sb:
        assert "HTTPS_PROXY=http://127.0.0.1:3128" in sb.exec("env", language="sh").stdout
        r = sb.exec("echo $B; echo bytes-value-91", language="sh")
        lines = r.stdout.splitlines()
        assert PLACEHOLDER.match(lines[0]) and lines[1] == "*" * 14, r.stdout
