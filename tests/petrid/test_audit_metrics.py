# SPDX-License-Identifier: Apache-2.0
"""Per-tenant audit destinations and /metrics."""
import json
import os
import socket
import subprocess
import threading

from conftest import ROOT

PETRI = os.environ.get("PETRI_CLI") or os.path.join(ROOT, "build", "petri")


def create(d, tenant=None, **body):
    r = d.request("POST", "/v1/sandboxes", body, tenant=tenant)
    assert r.status == 201, r
    return r.body["id"]


def work(d, tenant):
    sid = create(d, tenant=tenant)
    r = d.request("POST", f"/v1/sandboxes/{sid}/exec", {"argv": ["true"]}, tenant=tenant)
    assert r.status == 200
    assert d.request("DELETE", f"/v1/sandboxes/{sid}", tenant=tenant).status == 204
    return sid


class Collector:
    """A unix stream socket server that keeps every byte it receives."""

    def __init__(self, path):
        self.path = path
        self.data = bytearray()
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(path)
        self.srv.listen(4)
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        conn, _ = self.srv.accept()
        while True:
            b = conn.recv(65536)
            if not b:
                break
            self.data += b
        conn.close()


def test_audit_file_and_unix_streams(petrid, tmp_path):
    f = str(tmp_path / "acme.audit")
    pb = Collector(str(tmp_path / "pb.sock"))
    jl = Collector(str(tmp_path / "jl.sock"))
    d = petrid(tenants={"acme": {"audit": {"file": f}},
                        "beta": {"audit": {"unix": pb.path}},
                        "gamma": {"audit": {"unix": jl.path, "format": "jsonl"}},
                        "none": {}})
    ids = {t: work(d, t) for t in ("acme", "beta", "gamma", "none")}
    assert d.stop() == 0
    pb.t.join(10)
    jl.t.join(10)
    # protobuf streams verify end to end (header ... StreamEnd, chain intact)
    out = tmp_path / "pb.audit"
    out.write_bytes(bytes(pb.data))
    for path, sid in ((f, ids["acme"]), (str(out), ids["beta"])):
        r = subprocess.run([PETRI, "audit", "verify", path], capture_output=True, text=True)
        assert r.returncode == 0, (path, r.stdout, r.stderr)
        text = subprocess.run([PETRI, "audit", "cat", path], capture_output=True,
                              text=True).stdout
        assert sid in text
        for other in ("acme", "beta", "gamma", "none"):
            if ids[other] != sid:
                assert ids[other] not in text
    # jsonl: one JSON object per line, intact
    lines = bytes(jl.data).decode().splitlines()
    assert len(lines) >= 5
    events = [json.loads(line) for line in lines]
    blob = json.dumps(events)
    assert ids["gamma"] in blob and ids["acme"] not in blob
    assert "petri-vault" not in blob


def test_metrics(petrid):
    d = petrid(tenants={"acme": {}, "beta": {}})
    sid = create(d, tenant="acme")
    d.request("POST", f"/v1/sandboxes/{sid}/exec", {"argv": ["true"]}, tenant="acme")
    d.request("POST", f"/v1/sandboxes/{sid}/exec", {"argv": ["sleep", "5"], "timeout": 0.2},
              tenant="acme")
    create(d, tenant="beta")
    r = d.request("GET", "/metrics", tenant="acme")
    assert r.status == 200 and r.headers["content-type"].startswith("text/plain")
    m = r.data.decode()
    for line in ['petrid_sandboxes_live{tenant="acme"} 1',
                 'petrid_sandboxes_created_total{tenant="acme"} 1',
                 'petrid_execs_total{tenant="acme",reason="exited"} 1',
                 'petrid_execs_total{tenant="acme",reason="timeout"} 1',
                 'petrid_exec_duration_seconds_count{tenant="acme"} 2',
                 'petrid_exec_duration_seconds_bucket{tenant="acme",le="+Inf"} 2',
                 'petrid_execs_running{tenant="acme"} 0']:
        assert line in m, line
    assert 'tenant="beta"' not in m and "petrid_http_requests_total" not in m
    for line in m.splitlines():
        assert line.startswith("#") or line.split(" ")[0].startswith("petrid_"), line
    m = d.request("GET", "/metrics", token=d.admin_token).data.decode()
    assert 'petrid_sandboxes_live{tenant="beta"} 1' in m
    assert 'petrid_http_requests_total{code="201"} 2' in m
    assert d.request("GET", "/metrics", token="").status == 401


def test_egress_decisions_counted_from_the_audit_stream(petrid, tmp_path):
    f = str(tmp_path / "acme.audit")
    d = petrid(tenants={"acme": {"allow": ["allowed.invalid"], "audit": {"file": f}}})
    sid = create(d, language="python", allow=["allowed.invalid"])
    code = ("import urllib.request\n"
            "for host in ['refused.invalid', 'allowed.invalid']:\n"
            "    try:\n"
            "        urllib.request.urlopen('http://%s/' % host, timeout=5)\n"
            "    except Exception as e:\n"
            "        print(host, e)\n")
    r = d.request("POST", f"/v1/sandboxes/{sid}/exec", {"code": code, "timeout": 20})
    assert r.status == 200 and "refused.invalid" in r.body["stdout"], r

    def counts():
        m = d.request("GET", "/metrics", tenant="acme").data.decode()
        got = {}
        for dec in ("allowed", "refused"):
            key = 'petrid_egress_decisions_total{tenant="acme",decision="%s"} ' % dec
            got[dec] = int(m.split(key, 1)[1].split("\n", 1)[0])
        return got

    from conftest import wait_for
    assert wait_for(lambda: counts()["refused"] >= 1 and counts()["allowed"] >= 1, 5), counts()
