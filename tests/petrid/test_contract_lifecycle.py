"""petrid's process lifecycle (docs/petrid.md, "Running it" and
"Configuration"): SIGTERM drains (running execs finish or are cancelled,
streams get their result, exit 0, nothing left); SIGKILL leaves nothing (no
sandbox process, no cgroup, no unix socket); SIGHUP reloads the tenants and
keeps live sandboxes, and a broken config keeps the old one."""

import json
import os
import signal
import stat
import threading
import time

import pytest

from contract import (Petrid, Stream, alive, cgroups_of, final_events, pids_with_cmdline,
                      read_all_events, run_marker, sandbox_inits, wait_for)

DEFAULTS = {"language": "sh", "memory": "128M", "timeout": 120}


def make(**kw):
    tenants = kw.pop("tenants", None) or {"a": {"max_sandboxes": 4, "defaults": DEFAULTS}}
    p = Petrid(tenants, request_timeout=5, **kw)
    p.start()
    return p


@pytest.fixture
def factory():
    made = []

    def f(**kw):
        p = make(**kw)
        made.append(p)
        return p

    yield f
    for p in made:
        if p.proc.poll() is None:
            p.proc.kill()
            p.proc.wait()
        p.log.close()


def wait_running(pd, sid):
    assert wait_for(lambda: pd.get(sid).json.get("state") == "running", 10), pd.get(sid)


def test_sigterm_lets_running_execs_finish(factory):
    pd = factory(drain_timeout=10, extra_listen=["unix:{dir}/petrid.sock"])
    sock_path = os.path.join(pd.dir, "petrid.sock")
    assert stat.S_ISSOCK(os.stat(sock_path).st_mode)
    assert stat.S_IMODE(os.stat(sock_path).st_mode) == 0o660, oct(os.stat(sock_path).st_mode)
    s1, s2 = pd.create()["id"], pd.create()["id"]
    stream = Stream(pd, s1, {"argv": ["sh", "-c", "echo one; sleep 2; echo two"], "timeout": 30})
    plain = {}
    t = threading.Thread(target=lambda: plain.update(r=pd.exec(s2, argv=["sh", "-c", "sleep 2; echo done"])))
    t.start()
    wait_running(pd, s1)
    wait_running(pd, s2)
    inits = sandbox_inits(pd.pid)
    assert len(inits) == 2, inits
    pd.signal(signal.SIGTERM)
    # while draining: new work is refused, /healthz says so (for the front proxy)
    time.sleep(0.3)
    r = pd.request("POST", "/v1/sandboxes", {}, timeout=3)
    assert r.status == 503 and r.json["error"]["code"] == "shutting_down", r
    h = pd.request("GET", "/healthz", token=None, timeout=3)
    assert h.status == 503 and h.json["status"] == "draining", h
    evs = read_all_events(stream)
    finals = final_events(evs)
    assert [e[0] for e in finals] == ["result"] and evs[-1] is finals[0], [e[0] for e in evs]
    res = finals[0][1]
    assert res["reason"] == "exited" and res["exit_code"] == 0 and res["stdout"] == "one\ntwo\n", res
    t.join(15)
    assert plain["r"].status == 200 and plain["r"].json["stdout"] == "done\n", plain
    assert pd.proc.wait(15) == 0, pd.log_text()
    assert wait_for(lambda: not any(alive(p) for p in inits), 3), "a sandbox init outlived petrid"
    assert wait_for(lambda: not cgroups_of(pd.pid), 3), cgroups_of(pd.pid)
    assert not os.path.exists(sock_path)


def test_sigterm_cancels_execs_past_drain_timeout(factory):
    pd = factory(drain_timeout=1)
    sid = pd.create()["id"]
    mark = run_marker()
    stream = Stream(pd, sid, {"argv": ["sleep", mark], "timeout": 50})
    wait_running(pd, sid)
    pids = wait_for(lambda: pids_with_cmdline("sleep " + mark), 5)
    assert pids
    t0 = time.monotonic()
    pd.signal(signal.SIGTERM)
    evs = read_all_events(stream)
    finals = final_events(evs)
    assert len(finals) == 1 and evs[-1] is finals[0], [e[0] for e in evs]
    name, res, _ = finals[0]
    assert name == "error" or res["reason"] in ("killed", "sandbox_died"), finals[0]
    assert pd.proc.wait(10) == 0, pd.log_text()
    assert time.monotonic() - t0 < 6, "drain_timeout 1 s took far longer"
    assert not any(alive(p) for p in pids)
    assert wait_for(lambda: not cgroups_of(pd.pid), 3), cgroups_of(pd.pid)


def test_sigkill_leaves_nothing(factory):
    pd = factory(extra_listen=["unix:{dir}/petrid.sock"])
    sock_path = os.path.join(pd.dir, "petrid.sock")
    busy, idle = pd.create()["id"], pd.create()["id"]
    pd.request("PUT", f"/v1/sandboxes/{idle}/files/f", b"x")
    mark = run_marker()
    def hang():
        try:
            pd.exec(busy, argv=["sleep", mark], timeout=50)
        except OSError:
            pass  # petrid is killed under it

    t = threading.Thread(target=hang, daemon=True)
    t.start()
    wait_running(pd, busy)
    sleepers = wait_for(lambda: pids_with_cmdline("sleep " + mark), 5)
    inits = sandbox_inits(pd.pid)
    assert len(sleepers) == 1 and len(inits) == 2, (sleepers, inits)
    assert cgroups_of(pd.pid), "no petri-<pid>-* cgroup found while sandboxes live"
    pid = pd.pid
    pd.proc.kill()
    pd.proc.wait()
    survivors = lambda: [p for p in sleepers + inits if alive(p)]  # noqa: E731
    assert wait_for(lambda: not survivors(), 3), f"survived SIGKILL of petrid: {survivors()}"
    assert wait_for(lambda: not cgroups_of(pid), 5), f"cgroups left: {cgroups_of(pid)}"
    assert wait_for(lambda: not os.path.exists(sock_path), 5), "the unix socket stayed"
    mounts = [line for line in open("/proc/self/mountinfo") if pd.dir in line or f"petri-{pid}-" in line]
    assert not mounts, mounts
    # nothing of petrid's still runs (its undertaker included)
    assert wait_for(lambda: not pids_with_cmdline(pd.config_path, anywhere=True), 5), \
        pids_with_cmdline(pd.config_path, anywhere=True)


def test_sighup_reload(factory):
    pd = factory(tenants={"a": {"max_sandboxes": 4, "defaults": DEFAULTS},
                          "b": {"max_sandboxes": 4, "defaults": DEFAULTS}})
    a_sb, b_sb = pd.create("a")["id"], pd.create("b")["id"]
    b_token = pd.tokens["b"]
    b_inits = sandbox_inits(pd.pid)
    # add c, remove b, lower a's quota
    del pd.config["tenants"]["b"]
    pd.add_tenant("c", max_sandboxes=1, defaults=DEFAULTS)
    pd.config["tenants"]["a"]["max_sandboxes"] = 1
    pd.write_config()
    pd.signal(signal.SIGHUP)
    assert wait_for(lambda: pd.request("GET", "/v1/sandboxes", token="c").status == 200, 5), pd.log_text()
    c_sb = pd.create("c")["id"]
    r = pd.request("GET", "/v1/sandboxes", token="Bearer " + b_token)
    assert r.status == 401 and r.json["error"]["code"] == "unauthorized", r
    # a's live sandbox survived and works; its new quota applies to new requests
    assert pd.get(a_sb).status == 200
    r = pd.exec(a_sb, argv=["echo", "still"])
    assert r.status == 200 and r.json["stdout"] == "still\n", r
    r = pd.request("POST", "/v1/sandboxes", {})
    assert r.status == 429 and r.json["error"].get("quota") == "max_sandboxes", r
    # b's sandbox keeps running though no one can reach it
    assert all(alive(p) for p in b_inits)
    assert b_sb not in pd.live_ids("a") + pd.live_ids("c")

    # a broken config is refused, the old one stays
    for broken in ("{ not json", json.dumps({**pd.config, "tenants": {"a": {
            **pd.config["tenants"]["a"], "max_memory": "lots"}}}),
            json.dumps({**pd.config, "bogus_key": 1})):
        pd.write_config(broken)
        pd.signal(signal.SIGHUP)
        time.sleep(1)
        assert pd.proc.poll() is None, pd.log_text()
        assert pd.request("GET", "/v1/sandboxes", token="c").status == 200
        assert pd.request("GET", "/v1/sandboxes", token="a").status == 200
        assert pd.get(c_sb, "c").status == 200
    log = pd.log_text()
    assert "max_memory" in log and "bogus_key" in log, log
    pd.write_config()
    assert pd.stop() == 0, pd.log_text()


def test_sighup_token_rotation(factory):
    """token_sha256 may be a list: both tokens work while both are listed;
    the dropped one is 401 after the reload, the kept one still works, and
    the tenant's sandboxes stay theirs."""
    from contract import sha256_hex
    pd = factory()
    old = pd.tokens["a"]
    new = "tok-a-rotated-" + os.urandom(8).hex()
    sid = pd.create()["id"]
    pd.config["tenants"]["a"]["token_sha256"] = [sha256_hex(old), sha256_hex(new)]
    pd.write_config()
    pd.signal(signal.SIGHUP)
    assert wait_for(lambda: pd.request("GET", "/v1/sandboxes", token="Bearer " + new).status == 200, 5)
    assert pd.request("GET", "/v1/sandboxes", token="Bearer " + old).status == 200
    pd.config["tenants"]["a"]["token_sha256"] = [sha256_hex(new)]
    pd.write_config()
    pd.signal(signal.SIGHUP)
    assert wait_for(lambda: pd.request("GET", "/v1/sandboxes", token="Bearer " + old).status == 401, 5)
    r = pd.request("GET", f"/v1/sandboxes/{sid}", token="Bearer " + new)
    assert r.status == 200 and r.json["id"] == sid, r
