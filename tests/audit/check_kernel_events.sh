#!/bin/sh
# check_kernel_events.sh PETRI - `petri run --audit` in a real sandbox puts the
# code's own actions in the stream: the exec of cat with its argv and its pid
# inside the exec's pid namespace, the open of /etc/hostname resolved from the
# kernel's struct file, the unlink, and the chain verifies.  Needs root (BPF).
set -eu
petri=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
set +e
"$petri" run --audit "$dir/s.audit" -- sh -c 'cat /etc/hostname >/dev/null; echo x > /tmp/f; rm /tmp/f; exit 3'
rc=$?
set -e
[ "$rc" = 3 ] || { echo "petri run exited $rc, want 3" >&2; exit 1; }
"$petri" audit verify "$dir/s.audit"
"$petri" audit cat "$dir/s.audit" > "$dir/s.txt"
fail=0
need() {
	if ! grep -q -- "$1" "$dir/s.txt"; then
		echo "missing: $2" >&2
		fail=1
	fi
}
need 'kernel_audit=true' "kernel audit on in the header"
need 'process_exec .*comm="cat" exe="/usr/bin/cat" argv=\["cat" "/etc/hostname"\]' "exec of cat with argv"
need 'process_exec .*pid=2/[0-9]* .*comm="sh"' "sh as pid 2 inside the exec's namespace"
need 'op=open path="/etc/hostname" .*result=3 path_source=kernel_file' "open of /etc/hostname from struct file"
need 'op=unlink path="/tmp/f"' "unlink of /tmp/f"
need 'process_exit .*comm="sh".*exit_code=3' "sh exiting with 3"
[ "$fail" = 0 ] || { cat "$dir/s.txt" >&2; exit 1; }

# Seccomp denials: still EPERM for the code, counted in the result, and each
# one an audit event naming the syscall (these come from the exec's reaper,
# not from BPF).
code='import ctypes, errno
libc = ctypes.CDLL(None, use_errno=True)
for nr in (272, 321):  # unshare, bpf
    assert libc.syscall(nr, 0, 0, 0, 0, 0) == -1 and ctypes.get_errno() == errno.EPERM'
"$petri" run --json --audit "$dir/d.audit" --lang python -c "$code" > "$dir/d.json"
grep -q '"exit_code":0,' "$dir/d.json" || { cat "$dir/d.json" >&2; exit 1; }
grep -q '"seccomp_denials":2' "$dir/d.json" || { echo "want seccomp_denials 2" >&2; cat "$dir/d.json" >&2; exit 1; }
"$petri" audit verify "$dir/d.audit"
"$petri" audit cat "$dir/d.audit" > "$dir/d.txt"
for sc in unshare bpf; do
	grep -q "policy_denial .*kind=seccomp syscall=\"$sc\"" "$dir/d.txt" ||
		{ echo "missing: seccomp denial of $sc" >&2; cat "$dir/d.txt" >&2; exit 1; }
done
# ... naming the process that made the call (read in the exec's /proc while
# the call waits, host pid found among init's descendants).
grep -q 'policy_denial .*pid=2/[1-9][0-9]* ppid=1 uid=1000 comm="python3" exe="/usr/bin/python3[0-9.]*" kind=seccomp syscall="unshare"' "$dir/d.txt" ||
	{ echo "seccomp denial without its process" >&2; cat "$dir/d.txt" >&2; exit 1; }
# A flood of denials: each one an event, or counted in a Loss record (the
# report pipe was full) - never silently lost.
flood='import ctypes
s = ctypes.CDLL(None).syscall
for _ in range(50000): s(321, 0, 0, 0)'
"$petri" run --json --audit "$dir/f.audit" --lang python -c "$flood" > "$dir/f.json"
grep -q '"seccomp_denials":50000' "$dir/f.json" || { echo "want seccomp_denials 50000" >&2; cat "$dir/f.json" >&2; exit 1; }
"$petri" audit verify "$dir/f.audit"
"$petri" audit cat "$dir/f.audit" > "$dir/f.txt"
events=$(awk '$3 == "policy_denial"' "$dir/f.txt" | wc -l)
lost=$(awk '$3 == "loss" && /kind=policy_denial/' "$dir/f.txt" | sed -n 's/.* count=\([0-9]*\) .*/\1/p' | awk '{s += $1} END {print s + 0}')
[ "$((events + lost))" = 50000 ] ||
	{ echo "denial flood: $events events + $lost lost != 50000" >&2; grep -v policy_denial "$dir/f.txt" >&2; exit 1; }
echo "denial flood: $events events, $lost in Loss records"
# An exec that cannot run still has its ExecEnded (reason "failed", an OCSF
# failure), right after its ExecStarted.
set +e
"$petri" run --audit "$dir/x.audit" -- /nonexistent/program 2>/dev/null
rc=$?
set -e
[ "$rc" = 127 ] || { echo "petri run of a missing program exited $rc, want 127" >&2; exit 1; }
"$petri" audit verify "$dir/x.audit"
"$petri" audit cat "$dir/x.audit" > "$dir/x.txt"
awk '$3 == "exec_started" || $3 == "exec_ended"' "$dir/x.txt" > "$dir/x.ex"
[ "$(wc -l < "$dir/x.ex")" = 2 ] && tail -1 "$dir/x.ex" | grep -q 'exec_ended .*reason="failed"' ||
	{ echo "failed exec without its ExecEnded" >&2; cat "$dir/x.txt" >&2; exit 1; }
"$petri" audit json "$dir/x.audit" | grep '"Terminate"' | grep -q '"status_id":2' ||
	{ echo "failed exec's end not an OCSF failure" >&2; exit 1; }
# Node: file create/rename and a TCP connect (address from the kernel's copy).
"$petri" run --audit "$dir/n.audit" --lang node -c 'const fs = require("fs");
fs.writeFileSync("/tmp/n.txt", "x"); fs.renameSync("/tmp/n.txt", "/tmp/m.txt");
require("net").connect(9, "127.0.0.1").on("error", () => {});' >/dev/null
"$petri" audit verify "$dir/n.audit"
"$petri" audit cat "$dir/n.audit" > "$dir/n.txt"
# Python: bind, connect and a UDP sendto on the sandbox's own loopback.
"$petri" run --audit "$dir/p.audit" --lang python -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
c = socket.create_connection(s.getsockname()); c.sendall(b"x")
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"y", ("127.0.0.1", 9))' >/dev/null
"$petri" audit verify "$dir/p.audit"
"$petri" audit cat "$dir/p.audit" > "$dir/p.txt"
fail=0
has() {
	if ! grep -q -- "$2" "$dir/$1"; then
		echo "missing in $1: $3" >&2
		fail=1
	fi
}
has n.txt 'process_exec .*comm="node"' "exec of node"
has n.txt 'comm="node" op=open path="/tmp/n.txt" .*path_source=kernel_file' "node creating /tmp/n.txt"
has n.txt 'comm="node" op=rename path="/tmp/n.txt" path2="/tmp/m.txt"' "node renaming it"
has n.txt 'comm="node" op=connect family=2 .*address_text="127.0.0.1" port=9 protocol=6' "node's TCP connect"
has p.txt 'comm="python3" op=bind family=2 .*address_text="127.0.0.1"' "python's bind"
has p.txt 'comm="python3" op=connect family=2 .*address_text="127.0.0.1" port=[0-9]* protocol=6' "python's connect"
has p.txt 'comm="python3" op=sendto family=2 .*port=9 protocol=17 result=1 syscall="sendto" source=cgroup_hook' "python's UDP sendto (its result)"
if [ "$fail" != 0 ]; then
	cat "$dir/n.txt" "$dir/p.txt" >&2
	exit 1
fi
echo "kernel events (sh, node, python) and seccomp denials present, chains intact"
