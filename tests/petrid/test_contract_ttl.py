"""TTL (docs/petrid.md, "TTL: what renews it"): reads never renew it; an exec,
a keepalive, a file PUT or DELETE do; a running exec never expires; an
expired sandbox is destroyed and its id answers 410 sandbox_expired;
`expires` is `last_active` + `timeout`."""

import time
from datetime import datetime, timezone

import pytest

from contract import Petrid, metric_value, wait_for

SLACK = 2.5  # how late after `expires` petrid may notice


@pytest.fixture(scope="module")
def pd():
    p = Petrid({"a": {"max_sandboxes": 2, "max_ttl": 30,
                      "defaults": {"language": "sh", "memory": "128M", "timeout": 30}}},
               request_timeout=5)
    p.start()
    yield p
    p.close()


def ts(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def now():
    return datetime.now(timezone.utc).timestamp()


def expires(pd, sid):
    r = pd.get(sid)
    assert r.status == 200, r
    return ts(r.json["expires"])


def test_expires_is_last_active_plus_timeout(pd):
    t0 = now()
    s = pd.create(timeout=7)
    try:
        assert s["timeout"] == 7
        c, la, ex = ts(s["created"]), ts(s["last_active"]), ts(s["expires"])
        assert c <= la + 0.001
        assert abs(ex - (la + 7)) < 0.01, s
        assert t0 - 1 < c < now() + 1, (t0, s["created"])
        assert s["state"] == "idle"
    finally:
        pd.delete(s["id"])


def test_reads_never_renew(pd):
    sid = pd.create(timeout=3)["id"]
    r = pd.request("PUT", f"/v1/sandboxes/{sid}/files/f.txt", b"x")
    assert r.status == 204
    ex = expires(pd, sid)
    deadline = ex - 0.6
    while now() < deadline:  # read it every way, all the time, until just before it expires
        assert pd.get(sid).status == 200
        assert sid in pd.live_ids()
        assert pd.request("GET", f"/v1/sandboxes/{sid}/files/f.txt").status == 200
        assert pd.request("GET", f"/v1/sandboxes/{sid}/files").status == 200
        assert pd.request("GET", "/metrics").status == 200
        time.sleep(0.2)
    assert expires(pd, sid) == ex
    expired = wait_for(lambda: pd.get(sid).status == 410, ex - now() + SLACK)
    assert expired, f"still there {now() - ex:.1f}s after expires: {pd.get(sid)}"


@pytest.mark.parametrize("how", ["exec", "keepalive", "put", "delete_file"])
def test_writes_renew(pd, how):
    sid = pd.create(timeout=3)["id"]
    try:
        pd.request("PUT", f"/v1/sandboxes/{sid}/files/f.txt", b"x")
        ex0 = expires(pd, sid)
        time.sleep(1.5)
        if how == "exec":
            r = pd.exec(sid, argv=["true"])
            assert r.status == 200, r
        elif how == "keepalive":
            r = pd.request("POST", f"/v1/sandboxes/{sid}/keepalive")
            assert r.status == 200, r
            assert abs(ts(r.json["expires"]) - (now() + 3)) < 0.5, r.json
        elif how == "put":
            assert pd.request("PUT", f"/v1/sandboxes/{sid}/files/g.txt", b"y").status == 204
        else:
            assert pd.request("DELETE", f"/v1/sandboxes/{sid}/files/f.txt").status == 204
        ex1 = expires(pd, sid)
        assert ex1 - ex0 > 1.2, (how, ex0, ex1)
        # past the first expiry, it is still there
        time.sleep(max(0, ex0 - now()) + 0.7)
        assert pd.get(sid).status == 200, how
    finally:
        pd.delete(sid)


def test_keepalive_changes_the_timeout(pd):
    sid = pd.create(timeout=3)["id"]
    try:
        r = pd.request("POST", f"/v1/sandboxes/{sid}/keepalive", {"timeout": 20})
        assert r.status == 200 and r.json["timeout"] == 20, r
        assert abs(ts(r.json["expires"]) - (now() + 20)) < 1, r.json
        time.sleep(3.5)
        assert pd.get(sid).status == 200
    finally:
        pd.delete(sid)


def test_a_running_exec_never_expires(pd):
    sid = pd.create(timeout=2)["id"]
    try:
        r = pd.exec(sid, argv=["sleep", "4"], timeout=20)
        assert r.status == 200 and r.json["reason"] == "exited" and r.json["exit_code"] == 0, r
        s = pd.get(sid)
        assert s.status == 200 and s.json["state"] == "idle", s
        assert ts(s.json["expires"]) > now() + 1.0, s.json  # counted from the exec's end
    finally:
        pd.delete(sid)


def test_expired_is_410_everywhere_and_destroyed(pd):
    before = pd.metrics("admin")
    expired0 = metric_value(before, "petrid_sandboxes_destroyed_total", tenant="a", reason="expired") or 0
    other = pd.create(timeout=30)["id"]
    sid = pd.create(timeout=1)["id"]
    try:
        assert wait_for(lambda: pd.get(sid).status == 410, 1 + SLACK + 1)
        for m, p, body in (("GET", "", None), ("DELETE", "", None),
                           ("POST", "/exec", {"argv": ["true"]}), ("POST", "/keepalive", {}),
                           ("POST", "/cancel", None), ("GET", "/files", None),
                           ("GET", "/files/x", None), ("PUT", "/files/x", b"x")):
            r = pd.request(m, f"/v1/sandboxes/{sid}{p}", body)
            assert r.status == 410 and r.json["error"]["code"] == "sandbox_expired", (m, p, r)
        assert pd.live_ids() == [other]
        text = pd.metrics("admin")
        assert metric_value(text, "petrid_sandboxes_live", tenant="a") == 1
        assert metric_value(text, "petrid_sandboxes_destroyed_total", tenant="a",
                            reason="expired") == expired0 + 1
        # its quota slot is free again (max_sandboxes 2)
        third = pd.create(timeout=30)["id"]
        pd.delete(third)
    finally:
        pd.delete(other)
