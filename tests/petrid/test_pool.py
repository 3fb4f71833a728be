# SPDX-License-Identifier: Apache-2.0
"""petrid's warm pool (docs/petrid.md "warm", "recycle"): the config keys
are checked like the others, poolable creates are served from the node's
pool, deleted sandboxes are recycled clean (also across tenants), the
counts are in /metrics for the admin token only, /healthz says whether the
pools are full, and a reload does not change the pool (logged)."""

import json
import os
import re
import subprocess
import tempfile
import time

import pytest

from conftest import PETRID, sha256_hex, wait_for

WAIT = 60  # seconds for a pool to fill on a loaded machine


def run_config(config, *extra):
    d = tempfile.mkdtemp(prefix="petrid-pool-cfg-")
    path = os.path.join(d, "config.json")
    with open(path, "w") as f:
        json.dump(config, f)
    p = subprocess.run([PETRID, "--config", path, *extra], capture_output=True, text=True,
                       timeout=30)
    return p.returncode, p.stderr


def base():
    return {"listen": ["127.0.0.1:1"], "tenants": {"a": {"token_sha256": sha256_hex("t")}}}


BAD = [
    ({"warm": ["sh"]}, "warm: must be an object"),
    ({"warm": {"cobol": 1}}, "warm.cobol: unknown language"),
    ({"warm": {"sh": 0}}, "warm.sh: must be 1 to 1024"),
    ({"warm": {"sh": 1025}}, "warm.sh: must be 1 to 1024"),
    ({"warm": {"sh": "4"}}, "warm.sh: must be a non-negative integer"),
    ({"warm": {"": -1}}, 'warm."": must be a non-negative integer'),
    ({"warm": {"l%d" % i: 1 for i in range(17)}}, "warm: at most 16 languages, got 17"),
    ({"recycle": "yes"}, "recycle: must be true or false"),
]


@pytest.mark.parametrize("extra,message", BAD, ids=[m.split(":")[0] + str(i) for i, (_, m) in enumerate(BAD)])
def test_bad_warm_or_recycle_is_refused_in_one_line(extra, message):
    for args in ((), ("--check",)):
        rc, err = run_config({**base(), **extra}, *args)
        assert rc == 1, (args, rc, err[-500:])
        last = [line for line in err.splitlines() if "config" in line][-1]
        assert last.endswith("config: " + message) or message in last, (args, last)


def test_check_accepts_warm_and_recycle():
    rc, err = run_config({**base(), "warm": {"sh": 2, "python": 1, "": 1}, "recycle": False},
                         "--check")
    assert rc == 0, err[-500:]


def metrics(d, **who):
    return d.request("GET", "/metrics", **who).data.decode()


def pool(d, series, language):
    """petrid_pool_<series> (gauges) or petrid_pool_<series>_total (counters)."""
    name = "petrid_pool_" + series + ("" if series in ("ready", "target") else "_total")
    m = re.search(r"^%s\{language=\"%s\"\} (\d+)$" % (name, language),
                  metrics(d, token=d.admin_token), re.M)
    assert m, "no %s for %r" % (name, language)
    return int(m.group(1))


def healthz(d):
    r = d.request("GET", "/healthz", token="")
    assert r.status == 200, r.body
    return r.body


def wait_full(d):
    assert wait_for(lambda: healthz(d).get("pool_full") is True, timeout=WAIT), healthz(d)


def create(d, tenant, body):
    r = d.request("POST", "/v1/sandboxes", body, tenant=tenant)
    assert r.status == 201, r.body
    return r.body["id"]


def run(d, tenant, sid, argv):
    r = d.request("POST", "/v1/sandboxes/%s/exec" % sid, {"argv": argv}, tenant=tenant)
    assert r.status == 200, r.body
    return r.body


def delete(d, tenant, sid):
    assert d.request("DELETE", "/v1/sandboxes/" + sid, tenant=tenant).status == 204


def test_without_warm_there_is_no_pool_anywhere(petrid):
    d = petrid()
    assert "pool_full" not in healthz(d)
    assert "petrid_pool_" not in metrics(d, token=d.admin_token)


def test_poolable_creates_are_hits_and_deletes_recycle_clean_across_tenants(petrid):
    # Two ready: a take leaves one, so the refill waits a moment for the
    # taken one to come back instead of building at once (with one, the
    # deleted sandbox would find the pool full and be discarded).
    d = petrid(tenants={"a": {}, "b": {}}, warm={"sh": 2, "": 1})
    wait_full(d)
    assert pool(d, "target", "sh") == 2 and pool(d, "ready", "sh") == 2
    assert pool(d, "target", "") == 1
    # Tenants never see the node's pool.
    assert "petrid_pool_" not in metrics(d, tenant="a")

    # a leaves traces; b, served the recycled sandbox, finds none.
    sid = create(d, "a", {"language": "sh", "env": {"X": "1"}, "memory": "128M"})
    assert pool(d, "hits", "sh") == 1
    out = run(d, "a", sid, ["sh", "-c", "echo a > /workspace/f; echo a > /tmp/t; echo a > /dev/shm/s; echo $X"])
    assert out["stdout"] == "1\n", out
    delete(d, "a", sid)
    assert wait_for(lambda: pool(d, "recycled", "sh") + pool(d, "discarded", "sh") >= 1,
                    timeout=WAIT)
    wait_full(d)
    sid = create(d, "b", {"language": "sh"})
    assert pool(d, "hits", "sh") == 2 and pool(d, "misses", "sh") == 0
    out = run(d, "b", sid, ["sh", "-c", "find /workspace /tmp /dev/shm -mindepth 1"])
    assert out["stdout"] == "", out
    delete(d, "b", sid)
    # Several rounds: a deleted pooled sandbox is recycled (not only
    # discarded) at least once.
    for _ in range(3):
        wait_full(d)
        delete(d, "a", create(d, "a", {"language": "sh"}))
    assert wait_for(lambda: pool(d, "recycled", "sh") >= 1, timeout=WAIT), metrics(
        d, token=d.admin_token)

    # What a pool cannot give is built as without one: not a hit, not a miss.
    hits, misses = pool(d, "hits", "sh"), pool(d, "misses", "sh")
    for body in ({"language": "sh", "hostname": "h"}, {"language": "sh", "tmp_size": "8M"}):
        delete(d, "a", create(d, "a", body))
    assert (pool(d, "hits", "sh"), pool(d, "misses", "sh")) == (hits, misses)
    # The language-less pool serves creates without a language.
    delete(d, "a", create(d, "a", {}))
    assert pool(d, "hits", "") == 1


def test_recycle_false_never_recycles(petrid):
    d = petrid(warm={"sh": 1}, recycle=False)
    for _ in range(3):
        wait_full(d)
        delete(d, "acme", create(d, "acme", {"language": "sh"}))
    wait_full(d)
    assert pool(d, "hits", "sh") == 3
    assert pool(d, "recycled", "sh") == 0
    assert pool(d, "created", "sh") >= 4


def test_a_reload_keeps_the_pool_and_says_so(petrid):
    d = petrid(warm={"sh": 1})
    wait_full(d)
    cfg = dict(d.config)
    cfg["warm"] = {"sh": 3, "python": 1}
    cfg["recycle"] = False
    d.reload(cfg)
    assert wait_for(lambda: "warm or recycle changed: ignored until restart" in d.log(), timeout=10), \
        d.log()[-2000:]
    assert pool(d, "target", "sh") == 1
    assert "petrid_pool_target{language=\"python\"}" not in metrics(d, token=d.admin_token)
    # The same pool in another order is no change.
    n = d.log().count("warm or recycle changed")
    cfg2 = dict(d.config)
    cfg2["warm"] = {"sh": 1}
    cfg2.pop("recycle", None)
    d.reload(cfg2)
    time.sleep(1)
    assert d.log().count("warm or recycle changed") == n
    assert d.request("POST", "/v1/sandboxes", {"language": "sh"}).status == 201
