"""A tenant's egress allowlist and secrets (docs/petrid.md, tenant `allow`,
`allow_host_net`, `secrets`; create fields `net`, `allow`, `secrets`): a
sandbox may only narrow its tenant's allowlist, may only name its own
tenant's secrets, and a secret's value never appears in any response, log or
metric."""

import secrets

import pytest

from contract import Petrid, Stream, read_all_events

VALUE_A = "s3cr3t-A-" + secrets.token_hex(12)
VALUE_B = "s3cr3t-B-" + secrets.token_hex(12)


@pytest.fixture(scope="module")
def pd(tmp_path_factory):
    d = tmp_path_factory.mktemp("secrets")
    (d / "a").write_text(VALUE_A)
    (d / "b").write_text(VALUE_B)
    defaults = {"language": "sh", "memory": "128M", "timeout": 60}
    p = Petrid({
        "a": {"max_sandboxes": 4, "defaults": defaults, "allow": ["*.example.com", "api.github.com"],
              "secrets": {"GH": {"value_file": str(d / "a"), "hosts": ["api.github.com"]}}},
        "b": {"max_sandboxes": 4, "defaults": defaults,
              "secrets": {"BTOKEN": {"value_file": str(d / "b"), "hosts": ["api.github.com"]}}},
    }, request_timeout=5)
    p.start()
    yield p
    p.close()


def err(r):
    return r.status, r.error_code()


@pytest.mark.parametrize("allow", [["evil.com"], ["example.com.evil.com"], ["*.com"], ["*"],
                                   ["api.github.com", "gist.github.com"], ["example.com"]])
def test_allow_must_be_covered_by_the_tenants(pd, allow):
    r = pd.request("POST", "/v1/sandboxes", {"allow": allow})
    if r.status == 201:
        pd.delete(r.json["id"])
    assert err(r) == (400, "invalid_argument"), (allow, r)


def test_covered_allow_implies_the_proxy(pd):
    r = pd.request("POST", "/v1/sandboxes", {"allow": ["api.example.com", "api.github.com"]})
    assert r.status == 201, r
    try:
        assert r.json["net"] == "proxy" and sorted(r.json["allow"]) == ["api.example.com", "api.github.com"]
    finally:
        pd.delete(r.json["id"])


def test_tenant_without_allow_gets_no_egress(pd):
    r = pd.request("POST", "/v1/sandboxes", {"allow": ["api.github.com"]}, token="b")
    if r.status == 201:
        pd.delete(r.json["id"], "b")
    assert err(r) == (400, "invalid_argument"), r


def test_host_net_needs_allow_host_net(pd):
    r = pd.request("POST", "/v1/sandboxes", {"net": "host"})
    if r.status == 201:
        pd.delete(r.json["id"])
    assert r.status == 400, r


@pytest.mark.parametrize("tenant,name", [("a", "BTOKEN"), ("b", "GH"), ("a", "NOPE")])
def test_only_own_secrets_can_be_named(pd, tenant, name):
    r = pd.request("POST", "/v1/sandboxes", {"secrets": [name]}, token=tenant)
    if r.status == 201:
        pd.delete(r.json["id"], tenant)
    assert err(r) == (400, "invalid_argument"), r
    assert VALUE_A not in r.body.decode() and VALUE_B not in r.body.decode()


def test_secret_value_is_never_shown(pd):
    r = pd.request("POST", "/v1/sandboxes", {"secrets": ["GH"]})
    assert r.status == 201, r
    sid = r.json["id"]
    try:
        assert r.json["secrets"] == ["GH"] and r.json["net"] == "proxy"
        seen = [r.body]
        res = pd.exec(sid, argv=["sh", "-c", 'echo "GH=$GH"; env'])
        assert res.status == 200
        assert "GH=" in res.json["stdout"] and res.json["stdout"].split("GH=")[1].split()[0] != ""
        seen.append(res.body)
        s = _stream_output(pd, sid)
        seen.append(s)
        for m, p in (("GET", f"/v1/sandboxes/{sid}"), ("GET", "/v1/sandboxes"), ("GET", "/metrics"),
                     ("GET", f"/v1/sandboxes/{sid}/files")):
            seen.append(pd.request(m, p).body)
        seen.append(pd.request("GET", "/metrics", token="admin").body)
        everything = b"".join(seen).decode(errors="replace") + pd.log_text()
        assert VALUE_A not in everything and VALUE_B not in everything
    finally:
        pd.delete(sid)


def _stream_output(pd, sid):
    s = Stream(pd, sid, {"argv": ["sh", "-c", 'printf "%s" "$GH"; cat /proc/self/environ']})
    evs = read_all_events(s)
    return repr(evs).encode()

