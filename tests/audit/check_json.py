"""check_json.py - `petri audit json` output, read by a real JSON parser.

Reads JSON lines on stdin; fails unless every line is a JSON object with the
OCSF fields a SIEM keys on (class_uid, time, metadata.sequence consecutive
from 0, metadata.product.name, type_uid = class_uid * 100 + activity_id) and
the petri payload under unmapped.petri.  The egress proxy's events must have
their OCSF class: a plain HTTP request (protocol http with a method) HTTP
Activity 4002 with http_request; any other connection Network Activity 4001,
Open (1) or, refused, Refuse (5), with dst_endpoint; a DNS exchange DNS
Activity 4003 with query, rcode_id and answers.  TenantVault's: a secret's
use HTTP Activity 4002 with the secret's name in enrichments; a misuse
Detection Finding 2004 with finding_info, severity High and action Denied.
"""
import json
import sys

n = net = 0
for n, line in enumerate(sys.stdin, start=1):
    ev = json.loads(line)  # raises on malformed JSON
    assert isinstance(ev, dict), f"line {n}: not an object"
    for key in ("class_uid", "time", "metadata"):
        assert key in ev, f"line {n}: no {key}"
    md = ev["metadata"]
    assert md["sequence"] == n - 1, f"line {n}: sequence {md['sequence']}"
    assert md["product"]["name"] == "libpetri", f"line {n}: product {md['product']}"
    assert md["product"]["version"], f"line {n}: no product version"
    assert ev["unmapped"]["petri"]["seq"] == n - 1, f"line {n}: petri.seq"
    assert ev["type_uid"] == ev["class_uid"] * 100 + ev["activity_id"], f"line {n}: type_uid"
    petri = ev["unmapped"]["petri"]
    if petri["kind"] == "net_connection":
        c = petri["net_connection"]
        assert ev["category_uid"] == 4, f"line {n}: category"
        if c["protocol"] == "http" and c["http_method"]:
            assert ev["class_uid"] == 4002, f"line {n}: HTTP request in class {ev['class_uid']}"
            assert ev["http_request"]["http_method"] == c["http_method"], f"line {n}"
            assert ev["http_request"]["url"]["hostname"], f"line {n}: no url.hostname"
            if c["http_status"]:
                assert ev["http_response"]["code"] == c["http_status"], f"line {n}"
        else:
            assert ev["class_uid"] == 4001, f"line {n}: connection in class {ev['class_uid']}"
            want = 5 if c["decision"] == "denied" else 1
            assert ev["activity_id"] == want, f"line {n}: activity {ev['activity_id']}"
        assert ev["dst_endpoint"]["port"] == c["port"], f"line {n}: dst_endpoint"
        assert ev["status_id"] == (1 if c["decision"] == "allowed" and not c["upstream_errno"]
                                   and c["http_status"] < 400 else 2), f"line {n}: status"
        net += 1
    if petri["kind"] == "dns_query":
        d = petri["dns_query"]
        assert ev["class_uid"] == 4003, f"line {n}: DNS in class {ev['class_uid']}"
        assert ev["query"]["hostname"] == d["qname"], f"line {n}: query"
        assert ev["rcode_id"] in (d["rcode"], 99), f"line {n}: rcode_id"
        assert isinstance(ev["answers"], list), f"line {n}: answers"
        want = [d["answer_address"]] if d["answer_address"] else []
        assert [a["rdata"] for a in ev["answers"]] == want, f"line {n}: answers"
        net += 1
    if petri["kind"] == "secret_use":
        u = petri["secret_use"]
        assert ev["class_uid"] == 4002, f"line {n}: secret use in class {ev['class_uid']}"
        assert ev["enrichments"][0]["value"] == u["name"], f"line {n}: enrichments"
        if u.get("http_method"):
            assert ev["http_request"]["http_method"] == u["http_method"], f"line {n}"
            assert ev["http_request"]["url"]["url_string"].startswith("https://"), f"line {n}"
        net += 1
    if petri["kind"] == "secret_misuse":
        m = petri["secret_misuse"]
        assert ev["class_uid"] == 2004 and ev["category_uid"] == 2, f"line {n}: misuse class"
        assert ev["finding_info"]["title"] and ev["finding_info"]["uid"], f"line {n}"
        assert ev["severity_id"] == 4 and ev["action_id"] == 2, f"line {n}: severity/action"
        assert ev["enrichments"][0]["value"] == m.get("name", ""), f"line {n}: enrichments"
        net += 1
assert n > 2, f"only {n} lines"
print(f"{n} JSON lines parse and carry OCSF metadata ({net} of the egress proxy's)")
