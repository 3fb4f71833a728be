# Untrusted code: try to read and write the host's files from inside a
# sandbox.  Reports facts only ("CHECK <name> <verdict>"); the C test
# (test_attack_fs.c) decides what is acceptable.  See tests/security/sec_util.h.
#
# Environment from the test: SEC_HOST_PATHS, host paths (':'-separated) that
# must not be visible inside (the build and source trees, ...).
import ctypes
import errno
import os
import stat


def read_all(path):
    with open(path, "rb") as f:
        return f.read(1 << 16)


def content(name, path):
    """What reading @path gives: ABSENT, EMPTY, BLOCKED <errno> or DATA."""
    try:
        data = read_all(path)
    except FileNotFoundError:
        say(name, "ABSENT")
        return
    except OSError as e:
        say(name, "BLOCKED " + ename(e.errno))
        return
    say(name, "EMPTY" if not data else "DATA %d bytes: %r" % (len(data), data[:48]))


def writable(name, path):
    """Create (or, for an existing file, open for append) and report."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
    except OSError as e:
        say(name, "BLOCKED " + ename(e.errno))
        return
    os.close(fd)
    say(name, "WRITABLE")


# --- reading the host ------------------------------------------------------

for n, p in [("read_etc_shadow", "/etc/shadow"), ("read_etc_gshadow", "/etc/gshadow"),
             ("read_etc_sudoers", "/etc/sudoers"), ("read_root_bashrc", "/root/.bashrc"),
             ("read_ssh_host_key", "/etc/ssh/ssh_host_ed25519_key"),
             ("read_proc1_root_shadow", "/proc/1/root/etc/shadow"),
             ("read_proc1_environ", "/proc/1/environ"),
             ("read_proc1_mem", "/proc/1/mem")]:
    blocked(n, lambda p=p: read_all(p))

blocked("list_root_home", lambda: os.listdir("/root"))
blocked("list_proc1_root", lambda: os.listdir("/proc/1/root"))
blocked("list_proc1_cwd", lambda: os.listdir("/proc/1/cwd"))
blocked("list_proc1_fd", lambda: os.listdir("/proc/1/fd"))
blocked("readlink_proc1_exe", lambda: os.readlink("/proc/1/exe"))
# runc's CVE-2019-5736: pid 1 is a copy of the host program; its binary must
# not be reachable for writing (or at all) through /proc/1/exe.
blocked("open_proc1_exe_write", lambda: os.open("/proc/1/exe", os.O_WRONLY))
blocked("open_proc1_exe_read", lambda: os.open("/proc/1/exe", os.O_RDONLY))
blocked("open_proc1_map_files", lambda: os.listdir("/proc/1/map_files"))
say("list_home", "LIST " + ",".join(sorted(os.listdir("/home"))))
say("list_root", "LIST " + ",".join(sorted(os.listdir("/"))))
for i, p in enumerate(x for x in os.environ.get("SEC_HOST_PATHS", "").split(":") if x):
    blocked("host_path_%d" % i, lambda p=p: os.stat(p))

# /sys: not there at all (or, at most, an empty directory).
try:
    entries = os.listdir("/sys")
    say("sys", "EMPTY" if not entries else "LIST " + ",".join(sorted(entries)))
except FileNotFoundError:
    say("sys", "ABSENT")
except OSError as e:
    say("sys", "BLOCKED " + ename(e.errno))

# Devices of the host's disks and memory.
for d in ["mem", "kmem", "port", "sda", "vda", "nvme0n1", "kmsg", "console", "tty0",
          "vsock", "vhost-vsock", "fuse", "net/tun", "kvm", "userfaultfd", "loop0"]:
    content("dev_" + d.replace("/", "_"), "/dev/" + d)

# --- /proc: the kernel's secrets are masked ---------------------------------

for f in ["kcore", "kallsyms", "keys", "kmsg", "timer_list", "sched_debug", "latency_stats",
          "kpagecount", "kpageflags", "kpagecgroup", "config.gz", "vmallocinfo", "sysrq-trigger",
          "locks"]:
    content("proc_" + f.replace(".", "_").replace("-", "_"), "/proc/" + f)
for d in ["acpi", "asound", "scsi", "driver", "tty"]:
    try:
        e = os.listdir("/proc/" + d)
        say("procdir_" + d, "EMPTY" if not e else "LIST " + ",".join(sorted(e)[:8]))
    except FileNotFoundError:
        say("procdir_" + d, "ABSENT")
    except OSError as e:
        say("procdir_" + d, "BLOCKED " + ename(e.errno))

# Symlink and hardlink tricks into the masked files.
os.symlink("/proc/kallsyms", "/tmp/ks")
content("symlink_kallsyms", "/tmp/ks")
os.symlink("/proc/self/root/proc/kallsyms", "/tmp/ks2")
content("symlink_selfroot_kallsyms", "/tmp/ks2")
content("thread_self_root_kallsyms", "/proc/thread-self/root/proc/kallsyms")
content("cwd_dotdot_kallsyms", "/proc/self/cwd/../proc/kallsyms")
content("proc1_root_kallsyms", "/proc/1/root/proc/kallsyms")
content("proc_self_root_timer_list", "/proc/self/root/proc/timer_list")
blocked("hardlink_kallsyms", lambda: os.link("/proc/kallsyms", "/tmp/kl"))
blocked("hardlink_usr_python", lambda: os.link("/usr/bin/python3", "/tmp/py"))
blocked("hardlink_etc_passwd", lambda: os.link("/etc/passwd", "/workspace/pw"))
try:
    kind = "dev(%d,%d)" % (os.major(os.stat("/proc/kallsyms").st_rdev),
                           os.minor(os.stat("/proc/kallsyms").st_rdev))
except OSError as e:
    kind = ename(e.errno)
say("kallsyms_is", "MASK " + kind)

# --- writing the host -------------------------------------------------------

for n, p in [("write_usr_bin", "/usr/bin/petri-pwned"), ("write_usr_python", "/usr/bin/python3"),
             ("write_etc", "/etc/petri-pwned"), ("write_etc_passwd", "/etc/passwd"),
             ("write_etc_ld_so_cache", "/etc/ld.so.cache"), ("write_root", "/petri-pwned"),
             ("write_home", "/home/petri-pwned"), ("write_run", "/run/petri-pwned"),
             ("write_run_petri", "/run/petri/pwned"), ("write_dev", "/dev/petri-pwned"),
             ("write_proc_root", "/proc/petri-pwned"),
             ("write_core_pattern", "/proc/sys/kernel/core_pattern"),
             ("write_sysctl_hostname", "/proc/sys/kernel/hostname"),
             ("write_drop_caches", "/proc/sys/vm/drop_caches"),
             ("write_modprobe", "/proc/sys/kernel/modprobe"),
             ("write_sysrq_trigger", "/proc/sysrq-trigger"),
             ("write_proc1_oom", "/proc/1/oom_score_adj"),
             ("write_self_uid_map", "/proc/self/uid_map"),
             ("write_self_setgroups", "/proc/self/setgroups")]:
    writable(n, p)
blocked("mkdir_usr", lambda: os.mkdir("/usr/petri-pwned"))
blocked("chmod_usr_su", lambda: os.chmod("/usr/bin/su", 0o4777))
blocked("rename_etc_passwd", lambda: os.rename("/etc/passwd", "/etc/passwd.old"))
blocked("unlink_etc_hosts", lambda: os.unlink("/etc/hosts"))
blocked("truncate_etc_ld_so_cache", lambda: os.truncate("/etc/ld.so.cache", 0))
blocked("utime_usr_bin_env", lambda: os.utime("/usr/bin/env", (0, 0)))
# The device nodes are the host's own inodes (bound from its /dev), world-
# writable: without a read-only mount a touch (times = now needs only write
# permission) would set the host's /dev/null times, a channel between
# sandboxes and between the tenants of a recycled one.  Writing and
# reading them must still work.
for n in ("null", "zero", "full", "random", "urandom", "tty"):
    blocked("utime_dev_" + n, lambda n=n: os.utime("/dev/" + n))


def write_dev_null():
    with open("/dev/null", "wb") as f:
        f.write(b"x")
    with open("/dev/zero", "rb") as f:
        return "OK" if f.read(4) == b"\0" * 4 else "WRONG"


say("write_dev_null", write_dev_null())
blocked("setxattr_file_caps", lambda: (open("/tmp/capme", "w").close(),
                                       os.setxattr("/tmp/capme", "security.capability",
                                                   b"\x01\x00\x00\x02" + b"\xff" * 16))[1])

# Only /tmp, /workspace, /home/sandbox and /dev/shm take new files: walk
# every mount point and try to create a file at its root.
found = []
seen = set()
with open("/proc/self/mountinfo") as f:
    mounts = [l.split()[4].replace("\\040", " ") for l in f]
for m in mounts:
    if m in seen:
        continue
    seen.add(m)
    try:
        st = os.stat(m)
    except OSError:
        continue
    if stat.S_ISDIR(st.st_mode):
        probe = os.path.join(m, ".petri-probe-%d" % os.getpid())
        try:
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        except OSError:
            continue
        os.close(fd)
        os.unlink(probe)
        found.append(m)
    elif stat.S_ISREG(st.st_mode):
        try:
            fd = os.open(m, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
        except OSError:
            continue
        os.close(fd)
        found.append(m)
say("writable_mounts", "LIST " + ",".join(sorted(found)))
for n, p in [("write_tmp", "/tmp/ok"), ("write_workspace", "/workspace/ok"),
             ("write_home_sandbox", "/home/sandbox/ok"), ("write_dev_shm", "/dev/shm/ok")]:
    writable(n, p)

# --- device nodes, mounts, chroot, file handles ------------------------------

blocked("mknod_char_mem", lambda: os.mknod("/tmp/mem", stat.S_IFCHR | 0o666, os.makedev(1, 1)))
blocked("mknod_block_vda", lambda: os.mknod("/tmp/vda", stat.S_IFBLK | 0o666, os.makedev(254, 0)))
blocked("mknod_in_dev", lambda: os.mknod("/dev/null2", stat.S_IFCHR | 0o666, os.makedev(1, 3)))
try:
    os.mkfifo("/tmp/fifo")
    say("mkfifo_tmp", "OK")
except OSError as e:
    say("mkfifo_tmp", "BLOCKED " + ename(e.errno))

MS_RDONLY, MS_REMOUNT, MS_BIND, MNT_DETACH = 1, 32, 4096, 2
blocked("mount_tmpfs", lambda: syscall(165, b"none", b"/tmp", b"tmpfs", 0, None))
blocked("mount_proc", lambda: (os.mkdir("/tmp/p"), syscall(165, b"proc", b"/tmp/p", b"proc", 0, None)))
blocked("remount_root_rw", lambda: syscall(165, None, b"/", None, MS_REMOUNT | MS_BIND, None))
blocked("remount_usr_rw", lambda: syscall(165, None, b"/usr", None, MS_REMOUNT | MS_BIND, None))
blocked("bind_proc_over_tmp", lambda: syscall(165, b"/proc", b"/tmp", None, MS_BIND, None))
blocked("umount_proc", lambda: syscall(166, b"/proc", MNT_DETACH))
blocked("umount_kallsyms_mask", lambda: syscall(166, b"/proc/kallsyms", MNT_DETACH))
blocked("umount_usr", lambda: syscall(166, b"/usr", MNT_DETACH))
blocked("pivot_root", lambda: (os.mkdir("/tmp/old"), syscall(155, b"/tmp", b"/tmp/old"))[1])
blocked("chroot", lambda: os.chroot("/tmp"))
blocked("open_tree_clone_proc", lambda: syscall(428, -100, b"/proc", 1 | 0o2000000))
blocked("fsopen_proc", lambda: syscall(430, b"proc", 0))


class FileHandle(ctypes.Structure):
    _fields_ = [("handle_bytes", ctypes.c_uint), ("handle_type", ctypes.c_int),
                ("f_handle", ctypes.c_ubyte * 8)]


fh = FileHandle(8, 1, (ctypes.c_ubyte * 8)(2, 0, 0, 0, 0, 0, 0, 0))
usr = os.open("/usr", os.O_RDONLY | os.O_DIRECTORY)
blocked("open_by_handle_at_root_inode", lambda: syscall(304, usr, ctypes.byref(fh), os.O_RDONLY))
mnt_id = ctypes.c_int()
fh2 = FileHandle(8, 0)
blocked("name_to_handle_at", lambda: syscall(303, -100, b"/usr", ctypes.byref(fh2),
                                             ctypes.byref(mnt_id), 0))

# A read-only bind of a host directory (SEC_BIND): readable, not writable,
# and a symlink in it that points at a host secret resolves inside the
# sandbox's root (where the secret does not exist).
bind = os.environ.get("SEC_BIND", "")
if bind:
    content("bind_read", bind + "/file")
    content("bind_symlink_shadow", bind + "/shadow")
    blocked("bind_write", lambda: open(bind + "/file", "a").write("pwned"))
    blocked("bind_create", lambda: open(bind + "/new", "w"))
    blocked("bind_chmod", lambda: os.chmod(bind + "/file", 0o4777))
    blocked("bind_remount_rw", lambda: syscall(165, None, bind.encode(), None,
                                               MS_REMOUNT | MS_BIND, None))
    blocked("bind_umount", lambda: syscall(166, bind.encode(), MNT_DETACH))
print("DONE", flush=True)
