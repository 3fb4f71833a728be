# Untrusted code: grow a buffer towards 1 GiB, touching every page, far past
# the sandbox's memory limit.  Prints how far it got, for the record.
import sys

chunks = []
for i in range(1, 1025):
    chunks.append(bytearray(b"\xa5") * (1 << 20))
    if i % 16 == 0:
        print("MiB", i, flush=True)
print("CHECK membomb ESCAPED allocated 1 GiB", flush=True)
print("DONE")
