# Untrusted code: take a write lease on a workspace file and hold it, so
# that anyone who opens the file must first wait for us to give it up
# (up to /proc/sys/fs/lease-break-time, 45 s by default) -- a way to stall a
# host thread that calls petri_sandbox_read_file / _write_file.
import fcntl
import os
import time

fd = os.open("/workspace/leased", os.O_RDWR | os.O_CREAT, 0o644)
os.write(fd, b"lease holder\n")
try:
    fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_WRLCK)
    print("CHECK lease OK", flush=True)
except OSError as e:
    print("CHECK lease BLOCKED %d" % e.errno, flush=True)
print("READY", flush=True)
time.sleep(15)
print("DONE", flush=True)
