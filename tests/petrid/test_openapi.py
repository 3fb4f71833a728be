"""docs/openapi.yaml and the routes petrid serves are the same set.

(a) every path+method the document lists answers a valid request with one
    of the statuses the document gives it, a 2xx one;
(b) every other method on those paths is 405 method_not_allowed with an
    Allow header naming exactly the documented methods, and a list of
    plausible undocumented paths (extras, trailing slashes, other versions)
    is 404 not_found for every method.
The YAML is read with Debian's python3-yaml.
"""

import re

import pytest
import yaml

from contract import ROOT, Petrid

METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]
DOC = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text())
PATHS = {p: {m.upper() for m in ops if m.upper() in METHODS} for p, ops in DOC["paths"].items()}


@pytest.fixture(scope="module")
def pd():
    p = Petrid({"a": {"max_sandboxes": 5, "defaults": {"language": "sh", "timeout": 120}}},
               request_timeout=5)
    p.start()
    yield p
    p.close()


def test_document_is_openapi_31_with_bearer():
    assert DOC["openapi"].startswith("3.1")
    assert DOC["components"]["securitySchemes"]["bearer"] == {
        **DOC["components"]["securitySchemes"]["bearer"], "type": "http", "scheme": "bearer"}
    assert DOC["security"] == [{"bearer": []}]
    assert DOC["paths"]["/healthz"]["get"]["security"] == []
    # every operation of an authenticated route documents its 401
    for p, ops in DOC["paths"].items():
        for m, op in ops.items():
            if m == "parameters" or p == "/healthz":
                continue
            assert "401" in op["responses"], (p, m)


def fill(path, sid):
    return path.replace("{id}", sid).replace("{path}", "d/hello.txt").replace("{dir}", "d")


def request_for(method, template):
    """A valid request body for a documented operation."""
    if template == "/v1/sandboxes" and method == "POST":
        return {}
    if template.endswith("/exec"):
        return {"argv": ["true"]}
    if template.endswith("/keepalive"):
        return {}
    if method == "PUT":
        return b"hello\n"
    return None


def test_every_documented_route_is_served(pd):
    sid = pd.create()["id"]
    r = pd.request("PUT", f"/v1/sandboxes/{sid}/files/d/hello.txt", b"hello\n")
    assert r.status == 204, r
    ops = [(m, p) for p, ms in PATHS.items() for m in sorted(ms)]
    # destructive ones last: the file's DELETE, then the sandbox's
    ops.sort(key=lambda o: (o[0] == "DELETE", o[1] == "/v1/sandboxes/{id}"))
    seen = []
    for method, template in ops:
        r = pd.request(method, fill(template, sid), request_for(method, template))
        documented = set(DOC["paths"][template][method.lower()]["responses"])
        assert str(r.status) in documented, (method, template, r, sorted(documented))
        assert 200 <= r.status < 300, (method, template, r)
        seen.append((method, template))
    assert len(seen) == sum(len(ms) for ms in PATHS.values())


def test_other_methods_on_documented_paths_are_405_with_allow(pd):
    sid = pd.create()["id"]
    bad = []
    for template, allowed in PATHS.items():
        for method in METHODS:
            if method in allowed:
                continue
            r = pd.request(method, fill(template, sid), b"" if method in ("POST", "PUT", "PATCH") else None)
            allow = {m.strip().upper() for m in r.headers.get("allow", "").split(",") if m.strip()}
            ok = r.status == 405 and allow == allowed and (
                method == "HEAD" or r.error_code() == "method_not_allowed")
            if not ok:
                bad.append((method, template, r.status, r.headers.get("allow"), r.body[:120]))
    assert not bad, "\n".join(map(str, bad))
    pd.delete(sid)


EXTRAS = [
    "/", "/v1", "/v1/", "/v2/sandboxes", "/v0/sandboxes", "/V1/sandboxes", "/api/v1/sandboxes",
    "/v1/sandboxes/", "/v1/sandbox", "/v1/healthz", "/v1/metrics", "/healthz/", "/metrics/",
    "/health", "/openapi.yaml", "/openapi.json", "/docs", "/debug/pprof", "/v1/tenants",
    "/v1/sandboxes/{id}/", "/v1/sandboxes/{id}/exec/", "/v1/sandboxes/{id}/exec/stream",
    "/v1/sandboxes/{id}/cancel/", "/v1/sandboxes/{id}/keepalive/", "/v1/sandboxes/{id}/logs",
    "/v1/sandboxes/{id}/processes", "/v1/sandboxes/{id}/ttl", "/v1/sandboxes/{id}/file/x",
    "/v1/sandboxes/{id}/FILES/x", "/v1/sandboxes/{id}/metrics", "/v1/sandboxes/{id}/exec/x/y",
    "/v1/sandboxes/{id}/cancel/x", "/v1/sandboxes/{id}/keepalive/x",
    "/v1/sandboxes/{id}/x/files/y", "/v2/sandboxes/{id}/exec", "/metrics/x", "/healthz/x",
    # what peers serve, and what a daemon might grow by accident
    "/v1/sandboxes/{id}/stdin", "/v1/sandboxes/{id}/signal", "/v1/sandboxes/{id}/status",
    "/v1/sandboxes/{id}/pause", "/v1/sandboxes/{id}/resume", "/v1/sandboxes/{id}/snapshot",
    "/v1/sandboxes/{id}/timeout", "/v1/sandboxes/{id}/audit", "/v1/sandboxes/{id}/cmd",
    "/v1/sandboxes/{id}/watch", "/v1/audit", "/v1/admin", "/v1/config", "/v1/reload", "/v1/version",
    "/version", "/status", "/ready", "/readyz", "/livez", "/debug/vars", "/server-status",
    "/v1/sandboxes//exec", "/v1//sandboxes", "//v1/sandboxes",
]


def test_undocumented_paths_are_404_not_found(pd):
    sid = pd.create()["id"]
    bad = []
    for extra in EXTRAS:
        path = extra.replace("{id}", sid)
        for method in METHODS:
            r = pd.request(method, path, b"{}" if method in ("POST", "PUT", "PATCH") else None,
                           headers={"Content-Type": "application/json"})
            if r.status != 404 or (method != "HEAD" and r.error_code() != "not_found"):
                bad.append((method, path, r.status, r.body[:120]))
    assert not bad, "\n".join(map(str, bad))
    pd.delete(sid)


def test_every_documented_error_code_is_in_the_contract():
    codes = set(DOC["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"])
    table = (ROOT / "docs" / "petrid.md").read_text()
    in_doc = set(re.findall(r"^\| \d{3} \| `([a-z_]+)` \|", table, re.M))
    assert codes == in_doc
