#!/usr/bin/python3
"""What clients that never read pin on the host (REDTEAM 6):

    bench/net_never_reading.py build/petri [N]

A sandbox opens N (250) transparent connections with a 4 KiB SO_RCVBUF to
an upstream on the host's loopback that sends without end (64 KiB
SO_SNDBUF, so its own share is small), never reads, holds them 8 s.
Prints the peak RSS of the `petri run` process (the proxy's user-space
buffers) and the peak rise of the host's used memory (MemTotal -
MemAvailable: kernel socket buffers and pipes too; noisy on a busy host)."""
import json, os, shutil, socket, subprocess, sys, tempfile, threading, time
TMP = tempfile.mkdtemp(prefix="petri-never-reading-")
N = int(sys.argv[2]) if len(sys.argv) > 2 else 250
petri = sys.argv[1]
rt = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "net", "redteam_attacks.py")
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0)); srv.listen(1024); port = srv.getsockname()[1]
chunk = b"x" * 65536
def serve(c):
    try:
        c.recv(4096)
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\n")
        while True:
            c.sendall(chunk)
    except OSError:
        pass
def acc():
    while True:
        c, _ = srv.accept()
        c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)  # the test server's own share: small
        threading.Thread(target=serve, args=(c,), daemon=True).start()
threading.Thread(target=acc, daemon=True).start()
fix = TMP + "/fix"; os.makedirs(fix, exist_ok=True); shutil.copy(rt, fix + "/rt.py")
os.chmod(fix, 0o755); os.chmod(fix + "/rt.py", 0o644); os.chmod(TMP, 0o755)
req = "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n"
ops = [dict(op="hold", host="a.test", port=port, n=N, send=req, rcvbuf=4096), dict(op="sleep", seconds=8),
       dict(op="release")]
p = subprocess.Popen([petri, "run", "--json", "--timeout", "60", "--nofile", "4096", "--bind", fix + ":/rt",
                      "--net", "proxy", "--allow", "a.test:%d=127.0.0.1" % port, "--",
                      "/usr/bin/python3", "/rt/rt.py", "--agent", json.dumps(ops)],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
def used():
    m = dict((l.split(":")[0], int(l.split()[1])) for l in open("/proc/meminfo"))
    return m["MemTotal"] - m["MemAvailable"]
base = used()
peak = 0
upeak = 0
while p.poll() is None:
    try:
        pass
    except (OSError, KeyError, ValueError):
        pass
    try:
        for line in open("/proc/%d/status" % p.pid):
            if line.startswith("VmRSS:"):
                peak = max(peak, int(line.split()[1]))
        upeak = max(upeak, used() - base)
    except OSError:
        pass
    time.sleep(0.1)
out = p.stdout.read()
try:
    res = json.loads(json.loads(out)["stdout"].strip().splitlines()[-1])
except Exception:
    res = out[-300:]
print("connections %s; peak RSS of petri: %.1f MB; host memory used, peak over before: %.0f MB" % (res[0] if isinstance(res, list) else res, peak / 1024, upeak / 1024))
