"""A tenant never learns that another tenant's sandbox exists
(docs/petrid.md, "Authentication and tenancy"): every route on A's id
answers B exactly as a never-existing id does, B's list and B's /metrics
show nothing of A, and nothing B does touches A's sandbox."""

import secrets
import threading

import pytest

from contract import Petrid, Stream, metric_value, wait_for

A_NAME = "alphacorp"
B_NAME = "betainc"


@pytest.fixture(scope="module")
def pd():
    d = {"language": "sh", "memory": "128M", "timeout": 60}
    p = Petrid({A_NAME: {"max_sandboxes": 4, "defaults": d},
                B_NAME: {"max_sandboxes": 4, "defaults": d}}, request_timeout=5)
    p.start()
    yield p
    p.close()


@pytest.fixture(scope="module")
def a_sb(pd):
    sid = pd.create(A_NAME)["id"]
    r = pd.request("PUT", f"/v1/sandboxes/{sid}/files/secret.txt", b"A's data", token=A_NAME)
    assert r.status == 204, r
    r = pd.exec(sid, tenant=A_NAME, argv=["true"])
    assert r.status == 200, r
    yield sid
    pd.delete(sid, A_NAME)


def routes(sid):
    return [
        ("GET", f"/v1/sandboxes/{sid}", None),
        ("POST", f"/v1/sandboxes/{sid}/exec", {"argv": ["sh", "-c", "rm -rf /workspace/*"]}),
        ("POST", f"/v1/sandboxes/{sid}/cancel", None),
        ("POST", f"/v1/sandboxes/{sid}/keepalive", {"timeout": 1}),
        ("GET", f"/v1/sandboxes/{sid}/files", None),
        ("GET", f"/v1/sandboxes/{sid}/files/", None),
        ("GET", f"/v1/sandboxes/{sid}/files/secret.txt", None),
        ("PUT", f"/v1/sandboxes/{sid}/files/secret.txt", b"B was here"),
        ("DELETE", f"/v1/sandboxes/{sid}/files/secret.txt", None),
        ("DELETE", f"/v1/sandboxes/{sid}", None),
    ]


def test_other_tenants_id_is_exactly_a_never_existing_id(pd, a_sb):
    never = "sb_t1_" + secrets.token_hex(12)
    before = pd.get(a_sb, A_NAME).json
    for (m, p, body), (_, p2, _) in zip(routes(a_sb), routes(never)):
        theirs = pd.request(m, p, body, token=B_NAME)
        nothing = pd.request(m, p2, body, token=B_NAME)
        assert theirs.status == 404, (m, p, theirs)
        assert theirs.json["error"]["code"] == "sandbox_not_found", theirs
        # the same body, once the id itself is taken out of it
        assert theirs.body.replace(a_sb.encode(), b"ID") == nothing.body.replace(never.encode(), b"ID"), \
            (m, theirs, nothing)
        assert set(theirs.headers) == set(nothing.headers), (m, p)
    # and A's sandbox is untouched: same file, same TTL, same exec count
    after = pd.get(a_sb, A_NAME).json
    assert after["expires"] == before["expires"] and after["timeout"] == before["timeout"]
    assert after["usage"]["execs"] == before["usage"]["execs"]
    r = pd.request("GET", f"/v1/sandboxes/{a_sb}/files/secret.txt", token=A_NAME)
    assert r.status == 200 and r.body == b"A's data", r


def test_other_tenants_stream_is_404_not_an_event_stream(pd, a_sb):
    s = Stream(pd, a_sb, {"argv": ["echo", "hi"]}, tenant=B_NAME)
    assert s.status == 404, s.status
    assert not s.resp.getheader("Content-Type", "").startswith("text/event-stream")
    s.close()


def test_lists_show_only_own_ids(pd, a_sb):
    b_sb = pd.create(B_NAME)["id"]
    try:
        assert a_sb in pd.live_ids(A_NAME)
        b_ids = pd.live_ids(B_NAME)
        assert b_ids == [b_sb]
        assert b_sb not in pd.live_ids(A_NAME)
        raw = pd.request("GET", "/v1/sandboxes", token=B_NAME).body
        assert a_sb.encode() not in raw
    finally:
        pd.delete(b_sb, B_NAME)


def test_metrics_of_a_tenant_show_no_other_tenant(pd, a_sb):
    b_sb = pd.create(B_NAME)["id"]
    try:
        text_b = pd.metrics(B_NAME)
        assert A_NAME not in text_b, [l for l in text_b.splitlines() if A_NAME in l]
        assert a_sb not in text_b
        assert metric_value(text_b, "petrid_sandboxes_live", tenant=B_NAME) == 1
        text_a = pd.metrics(A_NAME)
        assert B_NAME not in text_a
        assert metric_value(text_a, "petrid_sandboxes_live", tenant=A_NAME) == 1
        # admin-only series are not shown to a tenant
        assert "petrid_http_requests_total" not in text_a
        admin = pd.metrics("admin")
        assert metric_value(admin, "petrid_sandboxes_live", tenant=A_NAME) == 1
        assert metric_value(admin, "petrid_sandboxes_live", tenant=B_NAME) == 1
        assert "petrid_http_requests_total" in admin
    finally:
        pd.delete(b_sb, B_NAME)


def test_other_tenants_exec_cannot_reach_a_files(pd, a_sb):
    """B's sandbox sees its own empty /workspace, not A's."""
    b_sb = pd.create(B_NAME)["id"]
    try:
        r = pd.exec(b_sb, tenant=B_NAME, argv=["sh", "-c", "ls -A /workspace; cat /workspace/secret.txt"])
        assert r.status == 200 and "A's data" not in r.json["stdout"], r
    finally:
        pd.delete(b_sb, B_NAME)


def test_ids_are_unguessable_and_name_the_node(pd):
    ids = [pd.create(B_NAME)["id"] for _ in range(3)]
    for sid in ids:
        pd.delete(sid, B_NAME)
    import re
    for sid in ids:
        assert re.fullmatch(r"sb_t1_[0-9a-f]{24}", sid), sid
    assert len(set(i[-24:] for i in ids)) == 3


def test_other_tenants_expired_and_deleted_ids_are_404_not_410(pd):
    """A's tombstones (410 for A) must not tell B that the id existed."""
    never = "sb_t1_" + secrets.token_hex(12)
    expired = pd.create(A_NAME, timeout=1)["id"]
    deleted = pd.create(A_NAME)["id"]
    assert pd.delete(deleted, A_NAME).status == 204
    assert wait_for(lambda: pd.get(expired, A_NAME).status == 410, 5), pd.get(expired, A_NAME)
    nothing = pd.get(never, B_NAME)
    for sid in (expired, deleted):
        for m, p, body in routes(sid):
            r = pd.request(m, p, body, token=B_NAME)
            n = pd.request(m, p.replace(sid, never), body, token=B_NAME)
            assert r.status == 404 and r.error_code() == "sandbox_not_found", (m, p, r)
            assert r.body.replace(sid.encode(), b"ID") == n.body.replace(never.encode(), b"ID"), (r, n)
    assert nothing.status == 404


def test_other_tenant_cannot_cancel_a_running_exec(pd, a_sb):
    out = {}
    t = threading.Thread(target=lambda: out.update(r=pd.exec(a_sb, tenant=A_NAME,
                                                              argv=["sh", "-c", "sleep 1.5; echo done"])))
    t.start()
    assert wait_for(lambda: pd.get(a_sb, A_NAME).json["state"] == "running", 5)
    r = pd.request("POST", f"/v1/sandboxes/{a_sb}/cancel", token=B_NAME)
    assert r.status == 404 and r.error_code() == "sandbox_not_found", r
    r = pd.delete(a_sb, B_NAME)
    assert r.status == 404, r
    t.join(10)
    assert out["r"].status == 200 and out["r"].json["reason"] == "exited", out
    assert out["r"].json["stdout"] == "done\n"


def test_admin_token_sees_metrics_and_nothing_else(pd, a_sb):
    for m, p, body in routes(a_sb) + [("GET", "/v1/sandboxes", None), ("POST", "/v1/sandboxes", {})]:
        r = pd.request(m, p, body, token="admin")
        assert r.status == 401 and r.error_code() == "unauthorized", (m, p, r)
    assert pd.get(a_sb, A_NAME).status == 200
