# SPDX-License-Identifier: Apache-2.0
"""Three petrid nodes (n1, n2, n3) behind a real HAProxy running
deploy/haproxy/haproxy.cfg verbatim (its environment variables point it at
loopback): creates spread over the healthy nodes, every request for a
sandbox reaches the node in its id, SSE passes through unbuffered, and a
node killed with SIGKILL answers 503 node_unavailable fast while the others
keep working and creates go on."""

import os
import secrets
import signal
import threading
import time

import pytest

from deploy_util import (DEPLOY, Client, need, need_root, procs, random_port,  # noqa: F401
                         server_states, sha256_hex, start_petrid, wait_healthz, wait_states,
                         workdir)

HAPROXY_CFG = os.path.join(DEPLOY, "haproxy", "haproxy.cfg")
NODES = ("n1", "n2", "n3")
# The test's health check interval: a dead node is marked down after
# "fall 2" failed checks, i.e. within ~2 intervals (+ fastinter).
CHECK_INTER = "200ms"


def node_of(sandbox_id):
    assert sandbox_id.startswith("sb_"), sandbox_id
    return sandbox_id.split("_")[1]


@pytest.fixture
def cluster(procs, workdir):  # noqa: F811
    need_root()
    haproxy = need("haproxy")
    token = secrets.token_hex(16)
    tenants = {"acme": {"token_sha256": sha256_hex(token), "max_sandboxes": 40,
                        "languages": ["sh"], "defaults": {"language": "sh", "memory": "64M"}}}
    nodes = {}
    for name in NODES:
        proc, port = start_petrid(procs, str(workdir), name, tenants)
        nodes[name] = {"proc": proc, "port": port,
                       "client": Client(port=port, token=token)}
    admin_sock = str(workdir / "haproxy-admin.sock")
    for attempt in range(5):
        front = random_port(taken={n["port"] for n in nodes.values()})
        env = dict(os.environ,
                   PETRID_BIND="127.0.0.1:%d" % front,
                   PETRID_HAPROXY_SOCK=admin_sock,
                   PETRID_HAPROXY_LOG="stderr",
                   PETRID_CHECK_INTER=CHECK_INTER,
                   **{"PETRID_" + n.upper(): "127.0.0.1:%d" % nodes[n]["port"] for n in NODES})
        hp = procs.start("haproxy", [haproxy, "-db", "-f", HAPROXY_CFG], env=env)
        try:
            wait_healthz(Client(port=front), hp, "haproxy", timeout=10)
            break
        except AssertionError:
            if hp.alive() or "ddress already in use" not in hp.output() or attempt == 4:
                raise
    wait_states(admin_sock, {n: "UP" for n in NODES})
    yield {"nodes": nodes, "front": Client(port=front, token=token), "haproxy": hp,
           "admin": admin_sock, "token": token, "procs": procs}


def test_multinode(cluster):
    front, nodes = cluster["front"], cluster["nodes"]

    # --- creates are balanced: 9 creates over 3 healthy nodes (round robin)
    ids = []
    for _ in range(9):
        sb = front.json("POST", "/v1/sandboxes", {}, expect=201)
        assert sb["node"] == node_of(sb["id"]), sb
        ids.append(sb["id"])
    by_node = {n: [i for i in ids if node_of(i) == n] for n in NODES}
    assert sum(1 for n in NODES if by_node[n]) >= 2, by_node
    # Round robin over three UP servers: each gets three.
    assert sorted(len(v) for v in by_node.values()) == [3, 3, 3], by_node

    # --- every other request reaches the id's node (another node says 404)
    for i in ids:
        n = node_of(i)
        assert front.json("GET", "/v1/sandboxes/" + i)["id"] == i
        other = nodes[NODES[(NODES.index(n) + 1) % 3]]["client"]
        st, _, body = other.request("GET", "/v1/sandboxes/" + i)
        assert st == 404 and body["error"]["code"] == "sandbox_not_found", (st, body)
        r = front.json("POST", "/v1/sandboxes/%s/exec" % i, {"code": "echo node-$((6*7))"})
        assert r["exit_code"] == 0 and r["stdout"] == "node-42\n", r
        payload = ("from %s\n" % i).encode()
        st, _, body = front.request("PUT", "/v1/sandboxes/%s/files/dir/hello.txt" % i, payload)
        assert st == 204, (st, body)
        st, _, body = front.request("GET", "/v1/sandboxes/%s/files/dir/hello.txt" % i)
        assert st == 200 and body == payload, (st, body)
        r = front.json("POST", "/v1/sandboxes/%s/exec" % i, {"code": "cat dir/hello.txt"})
        assert r["stdout"] == payload.decode(), r

    # --- X-Petri-Node sends an id-less request to that node: its own list
    for n in NODES:
        listed = front.json("GET", "/v1/sandboxes", headers={"X-Petri-Node": n})["sandboxes"]
        assert sorted(s["id"] for s in listed) == sorted(by_node[n]), (n, listed)

    # --- an id of a node the proxy does not know: the contract's answers
    ghost = "sb_zz9_" + "0" * 24
    st, _, body = front.request("GET", "/v1/sandboxes/" + ghost)
    assert st == 404 and body["error"]["code"] == "sandbox_not_found", (st, body)
    st, _, body = front.request("POST", "/v1/sandboxes/%s/exec" % ghost, {"code": "true"})
    assert st == 404 and body["error"]["code"] == "sandbox_not_found", (st, body)
    st, _, body = front.request("GET", "/v1/sandboxes/" + ghost, token=False)
    assert st == 401, (st, body)

    # --- SSE through HAProxy: each event arrives as the program writes it
    i = by_node["n1"][0]
    events = list(front.stream("/v1/sandboxes/%s/exec" % i,
                               {"code": "for k in 1 2 3; do echo tick $k; sleep 0.6; done"}))
    outs = [(d["data"], t) for e, d, t in events if e == "stdout"]
    assert "".join(d for d, _ in outs) == "tick 1\ntick 2\ntick 3\n", events
    assert events[-1][0] == "result" and events[-1][1]["exit_code"] == 0, events
    t_first, t_result = outs[0][1], events[-1][2]
    # Buffered, the first chunk would come with the result (>= 1.8 s later).
    assert t_result - t_first > 1.0, "first chunk %.2fs, result %.2fs: buffered" % (t_first, t_result)

    # --- DELETE through the proxy
    gone = by_node["n3"].pop()
    st, _, _ = front.request("DELETE", "/v1/sandboxes/" + gone)
    assert st == 204
    st, _, body = front.request("GET", "/v1/sandboxes/" + gone)
    assert st == 404 and body["error"]["code"] == "sandbox_not_found", (st, body)

    # --- a stream open on n2 when n2 dies ends at once (no hang)
    n2_id = by_node["n2"][0]
    ended = {}

    def reader():
        try:
            for e, d, t in front.stream("/v1/sandboxes/%s/exec" % n2_id,
                                        {"code": "echo started; sleep 60", "timeout": 90},
                                        timeout=120):
                ended.setdefault("first", e)
        except Exception as exc:  # the cut stream: IncompleteRead or a reset
            ended["exc"] = repr(exc)
        ended["at"] = time.monotonic()

    th = threading.Thread(target=reader)
    th.start()
    deadline = time.monotonic() + 10
    while "first" not in ended and time.monotonic() < deadline:
        time.sleep(0.02)
    assert ended.get("first") == "stdout", ended

    # --- SIGKILL n2
    t_kill = time.monotonic()
    nodes["n2"]["proc"].kill(signal.SIGKILL)
    th.join(10)
    assert not th.is_alive(), "the stream on the dead node still hangs"
    assert ended["at"] - t_kill < 2.0, ended

    # Every request for n2's sandboxes, from the kill on: JSON
    # node_unavailable, each answered fast: 502 when it went out on a kept-
    # alive connection to n2 that the kill cut, 503 when the connection is
    # refused (before the health check marks n2 down) and from the rule on
    # nbsrv after.
    worst, down_at, seen = 0.0, None, set()
    while True:
        t0 = time.monotonic()
        st, hdrs, body = front.request("POST", "/v1/sandboxes/%s/exec" % n2_id, {"code": "true"})
        took = time.monotonic() - t0
        worst = max(worst, took)
        seen.add(st)
        assert st in (502, 503) and hdrs["content-type"].startswith("application/json"), (st, body)
        assert body["error"]["code"] == "node_unavailable", body
        assert down_at is None or st == 503, (st, body)
        if down_at is None and server_states(cluster["admin"]).get("n2") == "DOWN":
            down_at = time.monotonic()
        if down_at is not None and time.monotonic() - down_at > 0.3:
            break
        assert time.monotonic() - t_kill < 10, "n2 never marked down"
        time.sleep(0.02)
    assert worst < 0.5, "a request for the dead node took %.3fs" % worst
    print("n2 marked DOWN %.2fs after SIGKILL; slowest node_unavailable answer %.1f ms; statuses %s"
          % (down_at - t_kill, worst * 1000, sorted(seen)))

    # Once down: each id of n2, every route, answers at once.
    for i in by_node["n2"]:
        for method, path, body in (("GET", "", None), ("DELETE", "", None),
                                   ("POST", "/exec", {"code": "true"}),
                                   ("GET", "/files/dir/hello.txt", None)):
            t0 = time.monotonic()
            st, _, b = front.request(method, "/v1/sandboxes/" + i + path, body)
            took = time.monotonic() - t0
            assert st == 503 and b["error"]["code"] == "node_unavailable", (method, path, st, b)
            assert "n2" in b["error"]["message"], b
            assert took < 0.2, "%s %s took %.3fs" % (method, path, took)

    # The others keep working, creates go to the live nodes only.
    for i in by_node["n1"] + by_node["n3"]:
        r = front.json("POST", "/v1/sandboxes/%s/exec" % i, {"code": "echo alive"})
        assert r["stdout"] == "alive\n", r
    new = [front.json("POST", "/v1/sandboxes", {}, expect=201)["id"] for _ in range(6)]
    assert {node_of(i) for i in new} == {"n1", "n3"}, new
    for i in new:
        assert front.json("POST", "/v1/sandboxes/%s/exec" % i, {"code": "echo ok"})["stdout"] == "ok\n"

    # Clean up through the proxy (the killed node's sandboxes died with it).
    for i in by_node["n1"] + by_node["n3"] + new:
        st, _, _ = front.request("DELETE", "/v1/sandboxes/" + i)
        assert st == 204
    assert cluster["haproxy"].alive()
