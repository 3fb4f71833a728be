# SPDX-License-Identifier: Apache-2.0
"""petrid as a process: SIGTERM drain, SIGKILL leaves nothing, SIGHUP
reload, config errors, --check."""
import copy
import json
import os
import signal
import subprocess
import threading
import time

from conftest import PETRID, cgroups_of, sha256_hex, wait_for


def create(d, tenant=None, **body):
    r = d.request("POST", "/v1/sandboxes", body, tenant=tenant)
    assert r.status == 201, r
    return r.body["id"]


def test_sigterm_drains_running_exec(petrid):
    d = petrid(drain_timeout=5)
    a = create(d)
    b = create(d)
    # a finishes within the drain timeout; b is cancelled at its end
    s_a = d.stream(f"/v1/sandboxes/{a}/exec", {"argv": ["sleep", "1"]})
    s_b = d.stream(f"/v1/sandboxes/{b}/exec", {"argv": ["sleep", "60"]})
    plain = {}

    def plain_exec():
        plain["r"] = d.request("POST", f"/v1/sandboxes/{a}/exec", {"argv": ["true"]})

    time.sleep(0.3)
    t0 = time.monotonic()
    os.kill(d.pid, signal.SIGTERM)
    time.sleep(0.3)
    r = d.request("GET", "/healthz", token="")
    assert r.status == 503 and r.body["status"] == "draining"
    r = d.request("GET", "/v1/sandboxes")
    assert r.status == 503 and r.body["error"]["code"] == "shutting_down"
    th = threading.Thread(target=plain_exec)
    th.start()
    th.join()
    assert plain["r"].status == 503
    ev_a = list(s_a.events())
    assert ev_a[-1][0] == "result" and ev_a[-1][1]["reason"] == "exited"
    ev_b = list(s_b.events())
    assert ev_b[-1][0] == "result" and ev_b[-1][1]["reason"] == "killed"
    rc = d.proc.wait(timeout=30)
    d.exited = True
    assert rc == 0
    assert 4 <= time.monotonic() - t0 < 20
    assert not cgroups_of(d.pid)
    log = d.log()
    assert "destroyed (drained" in log and "stopped" in log


def test_sigkill_leaves_nothing(petrid):
    d = petrid(unix=True)
    for _ in range(2):
        create(d)
    s = d.stream(f"/v1/sandboxes/{create(d)}/exec", {"argv": ["sleep", "60"]})
    time.sleep(0.3)
    inits = subprocess.run(["pgrep", "-P", str(d.pid), "petri-init"], capture_output=True,
                           text=True).stdout.split()
    assert len(inits) == 3
    assert cgroups_of(d.pid)
    d.kill()
    assert wait_for(lambda: not any(os.path.exists(f"/proc/{p}") for p in inits), 10), \
        "sandbox inits survived"
    assert wait_for(lambda: not cgroups_of(d.pid), 15), cgroups_of(d.pid)
    assert wait_for(lambda: not os.path.exists(d.unix_path), 15), "unix socket left"
    assert "undertaker: swept" in d.log()
    s.close()


def test_sighup_reload(petrid):
    d = petrid(tenants={"acme": {"max_sandboxes": 1}})
    sid = create(d, tenant="acme")
    cfg = copy.deepcopy(d.config)
    cfg["tenants"]["newco"] = {"token_sha256": sha256_hex("tok-newco")}
    cfg["tenants"]["acme"]["max_sandboxes"] = 2
    d.tokens["newco"] = "tok-newco"
    d.reload(cfg)
    assert wait_for(lambda: "config reloaded" in d.log(), 5)
    assert d.request("GET", "/v1/sandboxes", tenant="newco").status == 200
    # the live sandbox survived, and the new quota applies
    r = d.request("POST", f"/v1/sandboxes/{sid}/exec", {"argv": ["echo", "ok"]}, tenant="acme")
    assert r.body["stdout"] == "ok\n"
    create(d, tenant="acme")
    # a bad config is refused and the old one stays
    bad = copy.deepcopy(cfg)
    bad["tenants"]["acme"]["max_memory"] = "lots"
    d.reload(bad)
    assert wait_for(lambda: "reload refused" in d.log(), 5)
    assert "tenants.acme.max_memory" in d.log()
    assert d.request("GET", "/v1/sandboxes", tenant="newco").status == 200
    # a removed tenant's token stops working; its sandboxes live on
    gone = copy.deepcopy(cfg)
    del gone["tenants"]["acme"]
    d.reload(gone)
    assert wait_for(lambda: d.log().count("config reloaded") == 2, 5)
    assert d.request("GET", "/v1/sandboxes", tenant="acme").status == 401
    m = d.request("GET", "/metrics", token=d.admin_token).data.decode()
    assert 'petrid_sandboxes_live{tenant="acme"} 2' in m


def _run(tmp_path, cfg, *args):
    p = tmp_path / "c.json"
    p.write_text(cfg if isinstance(cfg, str) else json.dumps(cfg))
    return subprocess.run([PETRID, "--config", str(p), *args], capture_output=True, text=True,
                          timeout=60)


def test_bad_configs_refused_naming_the_key(tmp_path):
    h = sha256_hex("t")
    base = {"listen": ["127.0.0.1:1"], "tenants": {"acme": {"token_sha256": h}}}
    cases = [
        ("{", "not JSON"),
        ({"tenants": {"acme": {"token_sha256": h}}}, "listen"),
        ({"listen": []} | {"tenants": base["tenants"]}, "listen"),
        (base | {"bogus": 1}, "bogus"),
        (base | {"node": "N_1"}, "node"),
        (base | {"max_execs": "8"}, "max_execs"),
        ({"listen": base["listen"], "tenants": {"acme": {"token_sha256": "AB"}}},
         "tenants.acme.token_sha256"),
        ({"listen": base["listen"], "tenants": {"acme": {}}}, "tenants.acme"),
        ({"listen": base["listen"], "tenants": {"a b": {"token_sha256": h}}}, "tenants.a b"),
        ({"listen": base["listen"],
          "tenants": {"acme": {"token_sha256": h, "max_memory": "8X"}}}, "tenants.acme.max_memory"),
        ({"listen": base["listen"],
          "tenants": {"acme": {"token_sha256": h, "defaults": {"memory": "x"}}}},
         "tenants.acme.defaults.memory"),
        ({"listen": base["listen"],
          "tenants": {"acme": {"token_sha256": h, "languages": ["cobol"]}}},
         "tenants.acme.languages"),
        ({"listen": base["listen"],
          "tenants": {"acme": {"token_sha256": h, "secrets": {"S": {"value_env": "NOPE_X"}}}}},
         "tenants.acme.secrets.S"),
        ({"listen": base["listen"],
          "tenants": {"acme": {"token_sha256": h, "audit": {"file": "rel"}}}},
         "tenants.acme.audit.file"),
    ]
    for cfg, key in cases:
        r = _run(tmp_path, cfg)
        assert r.returncode == 1, (cfg, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("petrid: config: "), r.stderr
        assert key in lines[0], (key, lines[0])


def test_check(tmp_path):
    h = sha256_hex("t")
    r = _run(tmp_path, {"listen": ["127.0.0.1:1"], "tenants": {"acme": {"token_sha256": h}}},
             "--check")
    assert r.returncode == 0, r.stderr
    assert "ok" in r.stdout


def test_secret_never_echoed_or_logged(petrid, tmp_path):
    secret = "s3cr3t-" + os.urandom(8).hex()
    f = tmp_path / "gh"
    f.write_text(secret + "\n")
    d = petrid(tenants={"acme": {"allow": ["api.example.com"],
                                 "secrets": {"GH": {"value_file": str(f),
                                                    "hosts": ["api.example.com"]}}}})
    r = d.request("POST", "/v1/sandboxes", {"secrets": ["GH"], "language": "sh"})
    assert r.status == 201, r
    sid = r.body["id"]
    assert r.body["net"] == "proxy" and r.body["secrets"] == ["GH"]
    r = d.request("POST", f"/v1/sandboxes/{sid}/exec", {"code": 'echo "$GH"'})
    assert r.body["stdout"].startswith("petri-vault-") and secret not in r.data.decode()
    assert secret not in d.log()
    assert secret not in d.request("GET", "/metrics", token=d.admin_token).data.decode()
    r = d.request("POST", "/v1/sandboxes", {"secrets": ["NOPE"]})
    assert r.status == 400
    r = d.request("POST", "/v1/sandboxes", {"allow": ["evil.com"]})
    assert r.status == 400 and "evil.com" in r.body["error"]["message"]
