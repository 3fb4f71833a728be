# Shared by the Python attack programs: sec_attack_source() puts this in
# front of each of them (they run as one piece of code inside the sandbox,
# so they cannot import it).  Reports facts only; the C tests judge.
import ctypes
import errno
import socket

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def say(name, verdict):
    print("CHECK %s %s" % (name, verdict), flush=True)


def ename(e):
    return errno.errorcode.get(e, str(e))


def blocked(name, fn):
    """Run fn(); a timeout or an OSError is BLOCKED <why>, a result ESCAPED."""
    try:
        r = fn()
    except socket.timeout:
        say(name, "BLOCKED TIMEOUT")
        return
    except OSError as e:
        say(name, "BLOCKED " + ename(e.errno))
        return
    say(name, "ESCAPED returned %r" % (r if not isinstance(r, bytes) else r[:64],))


def syscall(nr, *args):
    r = libc.syscall(nr, *args)
    if r == -1:
        raise OSError(ctypes.get_errno(), "syscall %d" % nr)
    return r
