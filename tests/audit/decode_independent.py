#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""decode_independent.py GEN_PY_DIR STREAM [net] - an independent decoder of
the audit stream: protoc-generated Python (Debian's python3-protobuf), its
own varint framing (google.protobuf.internal.decoder._DecodeVarint32, what
parseDelimitedFrom uses) and hashlib for the chain.  Checks framing, the
wire rule of the hash (record = B || 0x3a 0x20 || hash), the chain, gap-free
seq, and the field values of the sample stream (tests/audit/audit_sample.c),
or with `net` those of the egress proxy's events that
tests/audit/test_audit_net.c --write makes through the library's hooks.
Exit 0 when everything matches."""
import hashlib
import sys

sys.path.insert(0, sys.argv[1])
from google.protobuf.internal.decoder import _DecodeVarint32  # noqa: E402
from petri.audit.v1 import audit_pb2 as pb  # noqa: E402

data = open(sys.argv[2], "rb").read()
events, raws = [], []
pos = 0
while pos < len(data):
    size, pos = _DecodeVarint32(data, pos)
    raw = data[pos:pos + size]
    assert len(raw) == size, "truncated"
    pos += size
    ev = pb.Event()
    ev.ParseFromString(raw)
    events.append(ev)
    raws.append(raw)

prev = b""
for i, (ev, raw) in enumerate(zip(events, raws)):
    assert ev.seq == i, (i, ev.seq)
    assert ev.prev_hash == prev, f"seq {i}: prev_hash"
    assert raw[-34:-32] == b"\x3a\x20", f"seq {i}: hash not last"
    assert raw[-32:] == ev.hash
    body = raw[:-34]
    assert hashlib.sha256(prev + body).digest() == ev.hash, f"seq {i}: hash"
    # The definition "serialization with hash empty" holds byte for byte:
    # Python's own encoder produces exactly the hashed bytes.
    copy = pb.Event()
    copy.CopyFrom(ev)
    copy.ClearField("hash")
    assert copy.SerializeToString() == body, f"seq {i}: canonical encoding differs"
    prev = ev.hash

kinds = [ev.WhichOneof("body") for ev in events]


def check_net():
    """The events of test_audit_net.c's fill_conns() / fill_dns()."""
    conns = [ev for ev in events if ev.WhichOneof("body") == "net_connection"]
    dns = [ev for ev in events if ev.WhichOneof("body") == "dns_query"]
    assert len(conns) == 7 and len(dns) == 5, (len(conns), len(dns))
    sid = events[1].sandbox_id  # sandbox_created's
    for ev in conns + dns:
        assert ev.sandbox_id == sid and ev.exec_id == "" and not ev.HasField("process")
    c = conns[0].net_connection
    assert (c.via, c.protocol) == (pb.NetConnection.VIA_TRANSPARENT, pb.NetConnection.PROTOCOL_TLS)
    assert (c.name, c.port, c.sni_or_host, c.address) == (
        "api.example.com", 443, "api.example.com", "93.184.216.34")
    assert (c.bytes_up, c.bytes_down, c.duration_ns) == (1234, 56789, 1500000)
    assert (c.decision, c.reason) == (pb.NET_DECISION_ALLOWED, "allowed")
    c = conns[1].net_connection
    assert (c.http_method, c.http_path, c.address) == ("POST", "/upload?x=1&y=%20", "2001:db8::5")
    c = conns[2].net_connection
    assert (c.decision, c.reason, c.http_status, c.address) == (
        pb.NET_DECISION_DENIED, "name not allowed", 403, "")
    c = conns[4].net_connection
    assert (c.protocol, c.upstream_errno, c.http_status) == (
        pb.NetConnection.PROTOCOL_OPAQUE, 111, 502)
    c = conns[5].net_connection
    assert len(c.name) == 253 and len(c.http_path) == 1023 and c.bytes_up == 2**64 - 2
    c = conns[6].net_connection
    assert c.name == "bad\ufffdname.example" and c.name_raw == b"bad\xffname.example"
    assert c.http_path == "/x\ufffd(y" and c.http_path_raw == b"/x\xc3\x28y"
    q = dns[0].dns_query
    assert (q.qname, q.qtype, q.rcode, q.answer_address) == ("api.example.com", 1, 0, "127.80.0.1")
    assert (q.decision, q.transport) == (pb.NET_DECISION_ALLOWED, pb.DnsQuery.TRANSPORT_UDP)
    q = dns[1].dns_query
    assert (q.qtype, q.rcode, q.decision, q.transport) == (
        16, 3, pb.NET_DECISION_DENIED, pb.DnsQuery.TRANSPORT_TCP)
    assert q.qname.endswith(".evil.example") and q.answer_address == ""
    q = dns[4].dns_query
    assert q.qname_truncated and q.qname_raw == b"qqqqq\xff" + b"q" * 249
    assert q.qname == "qqqqq\ufffd" + "q" * 249
    end = events[-1].stream_end
    assert kinds[-1] == "stream_end" and end.total_written == len(events) - 1
    written = {k.kind: k.written for k in end.kinds}
    assert written[pb.EVENT_KIND_NET_CONNECTION] == 7 and written[pb.EVENT_KIND_DNS_QUERY] == 5
    print(f"independent decoder: {len(events)} events, chain and the proxy's fields OK")


if len(sys.argv) > 3 and sys.argv[3] == "net":
    check_net()
    sys.exit(0)

assert kinds == [
    "stream_header", "sandbox_created", "exec_started", "process_exec", "process_fork",
    "file_activity", "network_activity", "net_connection", "dns_query", "policy_denial",
    "limit_hit", "secret_use", "process_exit", "loss", "exec_ended", "sandbox_destroyed",
    "stream_end"], kinds
E = {k: ev for k, ev in zip(kinds, events)}

h = E["stream_header"].stream_header
assert h.schema_version == 1 and h.hash_algorithm == "sha-256"
assert not h.kernel_audit and h.kernel_audit_reason == "test: no BPF"
assert len(h.stream_id) == 32 and len(h.boot_id) == 36

ev = E["exec_started"]
assert ev.sandbox_id == "sb_test" and ev.exec_id == "ex_1"
p = ev.process
assert (p.pid_inside, p.pid_host, p.ppid, p.uid, p.comm, p.executable) == (
    7, 4242, 1, 1000, "python3", "/usr/bin/python3")
assert list(ev.exec_started.argv) == ["python3", "-c", "print(1)"]
assert ev.exec_started.cwd == "/workspace" and ev.exec_started.language == "python"

ev = E["process_exec"]
assert ev.time_unix_nano == 1700000000123456789
assert list(ev.process_exec.argv) == ["sh", "-c", "echo hi"]
assert ev.process_exec.filename == "/bin/sh" and ev.process.pid_host == 5151

f = E["file_activity"].file_activity
assert f.op == pb.FileActivity.OP_RENAME and f.path == '/workspace/a\n"b"'
assert f.flags == 0x80241 and f.mode == 0o644 and f.result == -13
assert f.path_source == pb.FileActivity.PATH_SOURCE_KERNEL_FILE
assert f.path2_source == pb.FileActivity.PATH_SOURCE_USER_MEMORY
assert f.syscall == "renameat2"
assert f.path2 == "/workspace/\ufffd\ufffd"  # the writer's UTF-8 repair

n = E["network_activity"].network_activity
assert n.op == pb.NetworkActivity.OP_CONNECT and n.family == 2
assert n.address == bytes([93, 184, 216, 34]) and n.address_text == "93.184.216.34"
assert (n.port, n.protocol, n.result, n.denied) == (443, 6, -1, True)

ev = E["net_connection"]
assert not ev.HasField("process") and ev.exec_id == "ex_2"
c = ev.net_connection
assert (c.via, c.protocol) == (pb.NetConnection.VIA_PROXY, pb.NetConnection.PROTOCOL_HTTP)
assert (c.name, c.port, c.sni_or_host) == ("pypi.example.org", 8080, "pypi.example.org")
assert (c.http_method, c.http_path) == ("GET", "/simple/\ufffdpkg/")
assert (c.address, c.bytes_up, c.bytes_down) == ("127.0.0.1", 120, 5000)
assert (c.start_time_unix_nano, c.duration_ns) == (1700000000000000000, 2500000)
assert (c.decision, c.reason) == (pb.NET_DECISION_ALLOWED, "allowed")
assert (c.http_status, c.upstream_errno) == (0, 0)
ev = E["dns_query"]
assert not ev.HasField("process")
q = ev.dns_query
assert (q.qname, q.qtype, q.rcode) == ("exfil.evil.example", 16, 3)
assert (q.decision, q.reason) == (pb.NET_DECISION_DENIED, "name not allowed")
assert (q.transport, q.answer_address) == (pb.DnsQuery.TRANSPORT_UDP, "")

d = E["policy_denial"].policy_denial
assert (d.kind, d.syscall, d.syscall_nr) == (pb.PolicyDenial.KIND_SECCOMP, "ptrace", 101)
lh = E["limit_hit"].limit_hit
assert (lh.limit, lh.value, lh.observed) == ("memory", 268435456, 268439552)
s = E["secret_use"].secret_use
assert (s.name, s.destination, s.allowed) == ("OPENAI_KEY", "api.openai.com:443", True)
assert E["process_exit"].process_exit.exit_code == 3
lo = E["loss"].loss
assert (lo.kind, lo.count, lo.where) == (pb.EVENT_KIND_FILE_ACTIVITY, 17,
                                         pb.Loss.WHERE_KERNEL_RINGBUF)
r = E["exec_ended"].exec_ended.result
assert (r.exit_code, r.signal, r.reason) == (-1, 9, "memory")
assert (r.wall_ns, r.cpu_ns, r.peak_memory_bytes) == (1500000000, 900000000, 268435456)
assert list(r.limits_hit) == ["memory", "cpu"]
assert E["sandbox_destroyed"].sandbox_destroyed.reason == "destroyed"
end = E["stream_end"].stream_end
assert end.total_written == 16 and end.total_lost == 17
assert sum(k.written for k in end.kinds) == 17
print(f"independent decoder: {len(events)} events, chain and fields OK")
