# Untrusted code: an infinite loop.
while True:
    pass
