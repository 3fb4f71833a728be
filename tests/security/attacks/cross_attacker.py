# Untrusted code in one sandbox going after another sandbox that runs at the
# same time (cross_victim.py): its files, its System V shared memory, its
# servers, its processes.  Reports facts only; test_attack_cross_sandbox.c
# judges.
import ctypes
import errno
import os
import signal
import socket

SECRET = b"victim-secret-5d1c7e"


found = []
for d in ("/tmp", "/dev/shm", "/workspace", "/home/sandbox"):
    for root, dirs, files in os.walk(d):
        for f in files:
            try:
                with open(os.path.join(root, f), "rb") as fh:
                    if SECRET in fh.read(1 << 20):
                        found.append(os.path.join(root, f))
            except OSError:
                pass
say("files", "ESCAPED found %s" % found if found else "NOTFOUND")
shmid = libc.shmget(0x5E7, 0, 0)
say("sysv_shm", "BLOCKED " + ename(ctypes.get_errno()) if shmid < 0 else "ESCAPED shmid %d" % shmid)
s = socket.socket()
s.settimeout(2)
try:
    s.connect(("127.0.0.1", 47123))
    say("tcp", "ESCAPED connected")
except OSError as e:
    say("tcp", "BLOCKED " + ename(e.errno))
u = socket.socket(socket.AF_UNIX)
try:
    u.connect("\0petri-cross-victim")
    say("abstract", "ESCAPED connected")
except OSError as e:
    say("abstract", "BLOCKED " + ename(e.errno))
# Every pid number up to 4096: only our own exec's processes answer.
alive = []
for pid in range(1, 4097):
    try:
        os.kill(pid, 0)
        alive.append(pid)
    except OSError:
        pass
say("pids_alive", "LIST " + ",".join(str(p) for p in alive))
say("self", "PID %d" % os.getpid())
print("DONE", flush=True)
