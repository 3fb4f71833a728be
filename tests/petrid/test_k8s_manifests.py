# SPDX-License-Identifier: Apache-2.0
"""deploy/k8s: no cluster here, so what can be checked without one is:
every manifest parses (Debian's python3-yaml) and is consistent (names,
labels, ports, volumes, probes on /healthz, the privileges the DaemonSet
says it needs), the ConfigMap's petrid config is valid JSON with token
hashes only and petrid itself accepts it (--check), make-config.sh turns
pod addresses into node names HAProxy's rule routes (and refuses what it
cannot encode), and HAProxy accepts the embedded haproxy.cfg."""

import glob
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import time

import pytest

from deploy_util import (DEPLOY, IN_CI, PETRI, PETRID, Client, need, need_root,  # noqa: F401
                         procs, random_port, sha256_hex, start_petrid, wait_healthz, workdir)

try:
    import yaml  # Debian's python3-yaml (scripts/dev.sh installs it)
except ImportError:
    yaml = None

K8S = os.path.join(DEPLOY, "k8s")
NODE_RE = re.compile(r"^[a-z0-9]{1,16}$")


def load_all():
    docs = {}
    for path in sorted(glob.glob(os.path.join(K8S, "*.yaml"))):
        with open(path) as f:
            docs[os.path.basename(path)] = [d for d in yaml.safe_load_all(f) if d]
    return docs


def by_kind(docs, kind, name=None):
    out = [d for ds in docs.values() for d in ds
           if d.get("kind") == kind and (name is None or d["metadata"]["name"] == name)]
    assert out, "no %s %s in deploy/k8s" % (kind, name or "")
    return out


@pytest.fixture(scope="module")
def docs():
    if yaml is None:
        if IN_CI:
            pytest.fail("python3-yaml not installed (scripts/dev.sh deps installs it)")
        pytest.skip("python3-yaml not installed")
    return load_all()


def test_manifests_parse_and_agree(docs):
    kust = docs.pop("kustomization.yaml")[0]
    assert sorted(kust["resources"]) == sorted(docs), "kustomization.yaml lists every manifest"
    for name, ds in docs.items():
        for d in ds:
            assert d.get("apiVersion") and d.get("kind") and d["metadata"].get("name"), (name, d)
            if d["kind"] != "Namespace":
                assert d["metadata"]["namespace"] == "petri", (name, d["metadata"])

    ds = by_kind(docs, "DaemonSet", "petrid")[0]
    pod = ds["spec"]["template"]["spec"]
    labels = ds["spec"]["template"]["metadata"]["labels"]
    assert ds["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pod["hostPID"] is False and pod["hostUsers"] is True
    assert not pod.get("hostNetwork")
    (c,) = pod["containers"]
    assert c["securityContext"]["privileged"] is True
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports == {"http": 8480}
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert c[probe]["httpGet"] == {"path": "/healthz", "port": "http"}, probe
    assert c["resources"]["limits"]["memory"] and c["resources"]["requests"]["cpu"]
    env = {e["name"]: e for e in pod["initContainers"][0]["env"]}
    assert env["POD_IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    assert env["NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"

    # Every mount names a volume; every ConfigMap / Secret a volume names exists.
    volumes = {v["name"]: v for v in pod["volumes"]}
    for cont in pod["containers"] + pod["initContainers"]:
        for m in cont.get("volumeMounts", []):
            assert m["name"] in volumes, (cont["name"], m)
    cm = by_kind(docs, "ConfigMap", volumes["config-template"]["configMap"]["name"])[0]
    secret = by_kind(docs, "Secret", volumes["vault"]["secret"]["secretName"])[0]
    for item in volumes["config-template"]["configMap"]["items"]:
        assert item["key"] in cm["data"], item

    cfg = json.loads(cm["data"]["config.json"])
    assert cfg["node"] == "__PETRID_NODE__"
    assert cfg["listen"] == ["0.0.0.0:%d" % ports["http"]]
    assert c["command"][-1] == "/run/petrid/config.json"
    assert pod["terminationGracePeriodSeconds"] > cfg.get("drain_timeout", 10) + 5
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    # libpetri's host-id claims (/run/petri/host-ids.lock) must be the node's.
    assert mounts["audit"] == "/run/petri"
    assert volumes["audit"]["hostPath"]["path"] == "/run/petri"
    secret_keys = set(secret.get("stringData", {})) | set(secret.get("data", {}))
    for name, t in cfg["tenants"].items():
        hashes = t["token_sha256"] if isinstance(t["token_sha256"], list) else [t["token_sha256"]]
        for h in hashes:
            assert re.fullmatch(r"[0-9a-f]{64}", h), (name, h)
        assert not {k for k in t if "token" in k} - {"token_sha256"}, "a token in the ConfigMap"
        for sname, s in t.get("secrets", {}).items():
            d, key = os.path.split(s["value_file"])
            assert d == mounts["vault"] and key in secret_keys, (name, sname, s)
        if "audit" in t:
            dest = t["audit"].get("unix") or t["audit"].get("file")
            assert os.path.dirname(dest) == mounts["audit"], (name, t["audit"])

    # Services select the pods they mean; the policy admits HAProxy only.
    hp = by_kind(docs, "Deployment", "petrid-haproxy")[0]
    hp_labels = hp["spec"]["template"]["metadata"]["labels"]
    pods_svc = by_kind(docs, "Service", "petrid-pods")[0]
    assert pods_svc["spec"]["clusterIP"] == "None"
    assert pods_svc["spec"]["selector"].items() <= labels.items()
    assert by_kind(docs, "Service", "petrid")[0]["spec"]["selector"].items() <= hp_labels.items()
    pol = by_kind(docs, "NetworkPolicy")[0]
    assert pol["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    assert pol["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"].items() <= hp_labels.items()
    hp_env = {e["name"]: e["value"] for e in hp["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert hp_env["PETRID_PODS_DNS"].startswith("petrid-pods.petri.svc.")


def make_config(workdir, script, pod_ip):
    src = workdir / "in.json"
    out = workdir / "out.json"
    if out.exists():
        out.unlink()
    env = {"PATH": "/usr/bin:/bin", "POD_IP": pod_ip, "NODE_NAME": "worker-1.example.internal",
           "CONFIG_IN": str(src), "CONFIG_OUT": str(out)}
    r = subprocess.run(["/bin/sh", str(script)], env=env, capture_output=True, text=True, timeout=10)
    return r, out


def test_make_config_node_names(docs, workdir):
    cm = by_kind(docs, "ConfigMap", "petrid-config")[0]
    script = workdir / "make-config.sh"
    script.write_text(cm["data"]["make-config.sh"])
    (workdir / "in.json").write_text(cm["data"]["config.json"])
    hp_cfg = by_kind(docs, "ConfigMap", "petrid-haproxy")[0]["data"]["haproxy.cfg"]
    route = re.search(r"acl sandbox_path path_reg (\S+)", hp_cfg).group(1)
    template = json.loads(cm["data"]["config.json"])
    for ip, node in (("10.0.1.23", "p0a000117"), ("10.244.3.7", "p0af40307"),
                     ("255.255.255.255", "pffffffff"), ("0.0.0.0", "p00000000")):
        r, out = make_config(workdir, script, ip)
        assert r.returncode == 0, (ip, r.stderr)
        cfg = json.loads(out.read_text())
        assert cfg["node"] == node and NODE_RE.match(node), (ip, cfg["node"])
        assert {k: v for k, v in cfg.items() if k != "node"} == \
            {k: v for k, v in template.items() if k != "node"}
        assert re.match(route, "/v1/sandboxes/sb_%s_%s/exec" % (node, "0" * 24)), (route, node)
    for bad in ("fd00::1", "10.0.1", "10.0.1.256", "10.01.1.1", "10.0.0.1.2", "a.b.c.d", "", ".1.2.3"):
        r, out = make_config(workdir, script, bad)
        assert r.returncode != 0 and not out.exists(), (bad, r.stdout)
        assert r.stderr.strip().startswith("make-config: ") or "POD_IP" in r.stderr, (bad, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1, (bad, r.stderr)


def test_haproxy_accepts_k8s_config(docs, workdir):
    haproxy = need("haproxy")
    cfg = workdir / "haproxy.cfg"
    cfg.write_text(by_kind(docs, "ConfigMap", "petrid-haproxy")[0]["data"]["haproxy.cfg"])
    hp = by_kind(docs, "Deployment", "petrid-haproxy")[0]
    env = dict(os.environ, **{e["name"]: e["value"]
                              for e in hp["spec"]["template"]["spec"]["containers"][0]["env"]})
    # -c parses and checks only: no DNS query, no bind.
    r = subprocess.run([haproxy, "-c", "-f", str(cfg)], env=env, capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr


def test_petrid_accepts_k8s_config(docs, workdir):
    """The ConfigMap's config, as make-config.sh leaves it, with the
    Secret's files and the audit socket moved to a temp dir: petrid
    --check accepts it."""
    if not os.access(PETRID, os.X_OK):
        if IN_CI:
            pytest.fail("%s not built" % PETRID)
        pytest.skip("%s not built" % PETRID)
    cm = by_kind(docs, "ConfigMap", "petrid-config")[0]
    secret = by_kind(docs, "Secret", "petrid-vault")[0]
    cfg = json.loads(cm["data"]["config.json"])
    cfg["node"] = "p0a000117"
    listeners = []
    for t in cfg["tenants"].values():
        for s in t.get("secrets", {}).values():
            key = os.path.basename(s["value_file"])
            p = workdir / key
            p.write_text(secret["stringData"][key])
            p.chmod(0o400)
            s["value_file"] = str(p)
        a = t.get("audit", {})
        if "unix" in a:
            a["unix"] = str(workdir / os.path.basename(a["unix"]))
            srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            srv.bind(a["unix"])
            srv.listen(1)
            listeners.append(srv)
        elif "file" in a:
            a["file"] = str(workdir / os.path.basename(a["file"]))
    path = workdir / "config.json"
    path.write_text(json.dumps(cfg))
    try:
        r = subprocess.run([PETRID, "--config", str(path), "--check"], capture_output=True,
                           text=True, timeout=60)
    finally:
        for s in listeners:
            s.close()
    assert r.returncode == 0, r.stdout + r.stderr


def test_k8s_haproxy_routes_by_pod_address(docs, procs, workdir):  # noqa: F811
    """The embedded haproxy.cfg, run on loopback: two petrid "pods" on
    127.0.0.2 and 127.0.0.3 (one port), named as make-config.sh names
    them; an id reaches the pod its name encodes, a gone pod's ids get 503
    node_unavailable at once, an address outside the pod network is never
    dialled (404), X-Petri-Node picks a pod for id-less requests.  (Creates
    go through DNS discovery of the headless Service: not here; the DNS
    server given is a closed loopback port.)"""
    need_root()
    haproxy = need("haproxy")
    cfg = workdir / "haproxy.cfg"
    cfg.write_text(by_kind(docs, "ConfigMap", "petrid-haproxy")[0]["data"]["haproxy.cfg"])
    token = secrets.token_hex(16)
    tenants = {"acme": {"token_sha256": sha256_hex(token), "max_sandboxes": 4, "languages": ["sh"],
                        "defaults": {"language": "sh", "memory": "64M"}}}
    for attempt in range(5):
        port = random_port()
        free = True
        for ip in ("127.0.0.2", "127.0.0.3"):
            s = socket.socket()
            try:
                s.bind((ip, port))
            except OSError:
                free = False
            finally:
                s.close()
        if free:
            break
    pods = {}
    for ip, node in (("127.0.0.2", "p7f000002"), ("127.0.0.3", "p7f000003")):
        start_petrid(procs, str(workdir), node, tenants, host=ip, port=port)
        pods[node] = Client(host=ip, port=port, token=token)
    front_port = random_port(taken={port})
    env = dict(os.environ, PETRID_DNS="127.0.0.1:%d" % random_port(taken={port, front_port}),
               PETRID_BIND="127.0.0.1:%d" % front_port, PETRID_POD_PORT=str(port),
               PETRID_POD_CIDR="127.0.0.0/29", PETRID_PODS_DNS="petrid-pods.invalid")
    hp = procs.start("haproxy-k8s", [haproxy, "-db", "-f", str(cfg)], env=env)
    front = Client(port=front_port, token=token)
    deadline = time.monotonic() + 10
    while True:
        assert hp.alive(), hp.output()
        try:
            if front.request("GET", "/v1/sandboxes", headers={"X-Petri-Node": "p7f000002"})[0] == 200:
                break
        except OSError:
            pass
        assert time.monotonic() < deadline, hp.output()
        time.sleep(0.05)

    ids = {n: c.json("POST", "/v1/sandboxes", {}, expect=201)["id"] for n, c in pods.items()}
    for node, sid in ids.items():
        assert sid.startswith("sb_%s_" % node), sid
        r = front.json("POST", "/v1/sandboxes/%s/exec" % sid, {"code": "echo k8s"})
        assert r["stdout"] == "k8s\n" and r["sandbox_id"] == sid, r
        listed = front.json("GET", "/v1/sandboxes", headers={"X-Petri-Node": node})["sandboxes"]
        assert [s["id"] for s in listed] == [sid], listed
    # A pod that is gone (nothing at 127.0.0.4): refused, answered at once.
    t0 = time.monotonic()
    st, _, body = front.request("GET", "/v1/sandboxes/sb_p7f000004_" + "0" * 24)
    assert st == 503 and body["error"]["code"] == "node_unavailable", (st, body)
    assert time.monotonic() - t0 < 0.5
    # Outside PETRID_POD_CIDR: never dialled.
    st, _, body = front.request("GET", "/v1/sandboxes/sb_p0a000001_" + "0" * 24)
    assert st == 404 and body["error"]["code"] == "sandbox_not_found", (st, body)
    for node, sid in ids.items():
        assert front.request("DELETE", "/v1/sandboxes/" + sid)[0] == 204


def test_petrid_as_pid1_of_its_namespace(procs, workdir):  # noqa: F811
    """As in a pod without hostPID: petrid is pid 1 of its own pid
    namespace (unshare --pid --mount-proc).  The kernel audit's pids inside
    the sandbox are still exact, and SIGTERM to it drains and exits 0 with
    a complete audit stream."""
    need_root()
    unshare = need("unshare")
    if not os.access(PETRID, os.X_OK) or not os.access(PETRI, os.X_OK):
        if IN_CI:
            pytest.fail("%s or %s not built" % (PETRID, PETRI))
        pytest.skip("petrid or petri not built")
    token = secrets.token_hex(16)
    audit = str(workdir / "acme.audit")
    port = random_port()
    cfg = workdir / "config.json"
    cfg.write_text(json.dumps({
        "node": "p0a000117", "listen": ["127.0.0.1:%d" % port],
        "tenants": {"acme": {"token_sha256": sha256_hex(token), "languages": ["sh"],
                             "defaults": {"language": "sh", "memory": "64M"},
                             "audit": {"file": audit}}}}))
    # unshare --fork does not pass SIGTERM on: petrid is signalled itself.
    wrapper = procs.start("unshare-petrid", [unshare, "--pid", "--fork", "--mount-proc",
                                             PETRID, "--config", str(cfg)])
    petrid_pid = None
    try:
        client = Client(port=port, token=token)
        wait_healthz(client, wrapper, "petrid in its own pid namespace")
        with open("/proc/%d/task/%d/children" % (wrapper.pid, wrapper.pid)) as f:
            petrid_pid = int(f.read().split()[0])
        assert "pid 1" in wrapper.output(), wrapper.output()
        sid = client.json("POST", "/v1/sandboxes", {}, expect=201)["id"]
        r = client.json("POST", "/v1/sandboxes/%s/exec" % sid,
                        {"argv": ["/bin/sh", "-c", "echo $$; exec /bin/sleep 0.1"]})
        inside = int(r["stdout"])
        os.kill(petrid_pid, signal.SIGTERM)
        assert wrapper.p.wait(30) == 0, wrapper.output()
        petrid_pid = None
    finally:
        if petrid_pid is not None:
            try:
                os.kill(petrid_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    r = subprocess.run([PETRI, "audit", "verify", audit], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run([PETRI, "audit", "json", audit], capture_output=True, text=True, timeout=60)
    execs = [json.loads(line)["unmapped"]["petri"] for line in r.stdout.splitlines()]
    execs = [e for e in execs if e["kind"] == "process_exec"
             and e["process_exec"].get("argv", [None])[0] == "/bin/sh"]
    assert execs and all(e["process"]["pid_inside"] == inside for e in execs), (inside, execs)
