"""check_json.py - `petri audit json` output, read by a real JSON parser.

Reads JSON lines on stdin; fails unless every line is a JSON object with the
OCSF fields a SIEM keys on (class_uid, time, metadata.sequence consecutive
from 0, metadata.product.name) and the petri payload under unmapped.petri.
"""
import json
import sys

n = 0
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
assert n > 2, f"only {n} lines"
print(f"{n} JSON lines parse and carry OCSF metadata")
