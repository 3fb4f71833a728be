"""The config file (docs/petrid.md, "Configuration"): unknown keys, wrong
types and bad values make petrid refuse to start (exit 1) with one line
naming the key; `--check` says the same and exits; `node` and `listen` are
read once (a reload that changes them is logged and ignored)."""

import json
import os
import signal
import subprocess
import tempfile
import time

import pytest

from contract import Petrid, free_port, petrid_binary, sha256_hex

TOKEN = "tok-config-test"


def good():
    return {"listen": [f"127.0.0.1:{free_port()}"],
            "tenants": {"acme": {"token_sha256": sha256_hex(TOKEN), "max_sandboxes": 2}}}


def run(config, *extra):
    d = tempfile.mkdtemp(prefix="petrid-cfg-")
    path = os.path.join(d, "config.json")
    with open(path, "w") as f:
        f.write(config if isinstance(config, str) else json.dumps(config))
    p = subprocess.run([petrid_binary(), "--config", path, *extra], capture_output=True, text=True,
                       timeout=30)
    return p.returncode, p.stderr


def with_(path, value):
    c = good()
    node = c
    keys = path.split(".")
    for k in keys[:-1]:
        node = node[k]
    if value is KeyError:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    return c


BAD = [
    ("bogus_top", with_("bogus_top", 1)),
    ("tenants.acme.bogus", with_("tenants.acme.bogus", 1)),
    ("listen", with_("listen", KeyError)),
    ("listen", with_("listen", [])),
    ("listen", with_("listen", "127.0.0.1:1")),
    ("tenants", with_("tenants", KeyError)),
    ("node", with_("node", "N1!")),
    ("node", with_("node", "a" * 17)),
    ("max_body_bytes", with_("max_body_bytes", "lots")),
    ("request_timeout", with_("request_timeout", -1)),
    ("max_connections", with_("max_connections", "x")),
    ("tenants.acme.token_sha256", with_("tenants.acme.token_sha256", "abc")),
    ("tenants.acme.token_sha256", with_("tenants.acme.token_sha256", sha256_hex(TOKEN).upper())),
    ("tenants.acme.max_memory", with_("tenants.acme.max_memory", "lots")),
    ("tenants.acme.max_sandboxes", with_("tenants.acme.max_sandboxes", -1)),
    ("tenants.acme.languages", with_("tenants.acme.languages", ["cobol"])),
    ("tenants.acme.defaults", with_("tenants.acme.defaults", {"memory": "lots"})),
    ("tenants.acme.allow", with_("tenants.acme.allow", "example.com")),
    ("tenants.acme.secrets", with_("tenants.acme.secrets", {"X": {"value_file": "/nonexistent/x",
                                                                  "hosts": ["example.com"]}})),
    ("tenants.a b", {**good(), "tenants": {"a b": {"token_sha256": sha256_hex(TOKEN)}}}),
]


@pytest.mark.parametrize("key,config", BAD, ids=[f"{k}-{i}" for i, (k, _) in enumerate(BAD)])
def test_bad_config_is_refused_naming_the_key(key, config):
    for extra in ((), ("--check",)):
        rc, err = run(config, *extra)
        assert rc == 1, (extra, rc, err[-500:])
        lines = [line for line in err.splitlines() if "config" in line]
        assert lines and key.split(".")[-1] in lines[-1], (extra, err[-500:])


def test_not_json_and_missing_file_are_refused():
    rc, err = run("{ not json")
    assert rc == 1 and "config" in err, err
    p = subprocess.run([petrid_binary(), "--config", "/nonexistent/petrid.json"], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 1 and "/nonexistent/petrid.json" in p.stderr, p.stderr


def test_check_accepts_a_good_config_and_exits():
    rc, err = run(good(), "--check")
    assert rc == 0, err[-500:]


def test_node_and_listen_are_read_once():
    pd = Petrid({"a": {"defaults": {"language": "sh"}}})
    pd.start()
    try:
        port = pd.port
        pd.config["node"] = "other"
        pd.config["listen"] = [f"127.0.0.1:{free_port()}"]
        pd.write_config()
        pd.signal(signal.SIGHUP)
        time.sleep(1)
        assert pd.proc.poll() is None, pd.log_text()
        assert pd.request("GET", "/healthz", token=None).json["node"] == "t1"
        sid = pd.create()["id"]
        assert sid.startswith("sb_t1_"), sid
        assert pd.port == port
    finally:
        pd.close()


def _healthz_over_unix(path):
    import socket
    c = socket.socket(socket.AF_UNIX)
    c.settimeout(5)
    try:
        c.connect(path)
        c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return c.recv(4096).split(b"\r\n", 1)[0]
    finally:
        c.close()


def test_unix_listen_replaces_only_a_stale_socket():
    import socket
    import stat as st
    d = tempfile.mkdtemp(prefix="petrid-unix-")
    stale = os.path.join(d, "stale.sock")
    s = socket.socket(socket.AF_UNIX)
    s.bind(stale)
    s.close()  # a socket file nobody listens on
    first = Petrid({"a": {}}, extra_listen=[f"unix:{stale}"])
    first.start()
    try:
        assert _healthz_over_unix(stale) == b"HTTP/1.1 200 OK"
        # a live one is not taken over
        second = Petrid({"a": {}}, extra_listen=[f"unix:{stale}"])
        with pytest.raises(AssertionError):
            second.start(timeout=10)
        assert second.proc.returncode == 1
        assert _healthz_over_unix(stale) == b"HTTP/1.1 200 OK"
    finally:
        first.close()


def test_unix_listen_never_replaces_a_regular_file():
    import stat as st
    d = tempfile.mkdtemp(prefix="petrid-unix-")
    regular = os.path.join(d, "precious")
    with open(regular, "w") as f:
        f.write("precious")
    third = Petrid({"a": {}}, extra_listen=[f"unix:{regular}"])
    try:
        with pytest.raises(AssertionError):
            third.start(timeout=10)
    finally:
        third.close()
    assert st.S_ISREG(os.lstat(regular).st_mode), "petrid replaced a regular file by its socket"
    assert open(regular).read() == "precious"
