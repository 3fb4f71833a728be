# Untrusted code on a root host, where the sandbox maps a whole range of
# ids: every id a program may name exists, so each change of identity must
# fail for want of privilege (EPERM), never for an unmapped id (EINVAL).
# Also: the names in /etc/passwd and /etc/group, and what the host's files
# and the setuid copies the test bound at /suid look like from here.
# Reports facts only; test_attack_id_range.c judges.
import os
import pwd
import grp
import subprocess


def first_line(path):
    with open(path) as f:
        return " ".join(f.read().split())


say("uid_map", "VALUE " + first_line("/proc/self/uid_map"))
say("gid_map", "VALUE " + first_line("/proc/self/gid_map"))
say("setgroups_file", "VALUE " + first_line("/proc/self/setgroups"))
st = {}
with open("/proc/self/status") as f:
    for line in f:
        k, _, v = line.partition(":")
        st[k] = " ".join(v.split())
say("caps", "VALUE " + " ".join(st.get(k, "missing") for k in
                                ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"]))

# Identity changes: the ids exist, the privilege does not.
blocked("setuid_0", lambda: os.setuid(0))
blocked("setuid_65534", lambda: os.setuid(65534))
blocked("setuid_1001", lambda: os.setuid(1001))
blocked("setreuid_65534", lambda: os.setreuid(65534, 65534))
blocked("seteuid_0", lambda: os.seteuid(0))
blocked("setresuid_0", lambda: os.setresuid(0, 0, 0))
blocked("setgid_0", lambda: os.setgid(0))
blocked("setgid_65534", lambda: os.setgid(65534))
blocked("setregid_65534", lambda: os.setregid(65534, 65534))
blocked("setgroups_empty", lambda: os.setgroups([]))
blocked("setgroups_1000", lambda: os.setgroups([1000]))
blocked("setgroups_0", lambda: os.setgroups([0]))
libc.setfsuid(0)  # fails silently: it returns the old fsuid either way
say("fsuid_after_setfsuid_0", "VALUE %d" % libc.setfsuid(-1))

# Ownership changes on a file of our own.
path = "/workspace/id_range_file"
with open(path, "w") as f:
    f.write("x")
blocked("chown_0", lambda: os.chown(path, 0, -1))
blocked("chown_65534", lambda: os.chown(path, 65534, -1))
blocked("chown_1001", lambda: os.chown(path, 1001, -1))
blocked("chgrp_0", lambda: os.chown(path, -1, 0))
blocked("chgrp_65534", lambda: os.chown(path, -1, 65534))
blocked("lchown_0", lambda: os.lchown(path, 0, 0))
try:
    os.chown(path, 1000, 1000)
    say("chown_self", "OK")
except OSError as e:
    say("chown_self", "BLOCKED " + ename(e.errno))
s = os.stat(path)
say("file_owner", "VALUE %d %d" % (s.st_uid, s.st_gid))

# What every program does to drop to "nobody".
for name, kw in [("subprocess_user_nobody", {"user": "nobody"}),
                 ("subprocess_group_nogroup", {"group": "nogroup"}),
                 ("subprocess_extra_groups", {"extra_groups": []}),
                 ("subprocess_user_root", {"user": 0})]:
    try:
        subprocess.run(["/usr/bin/id"], stdout=subprocess.DEVNULL, **kw)
        say(name, "ESCAPED ran")
    except PermissionError as e:
        say(name, "BLOCKED " + ename(e.errno) + " PermissionError")
    except OSError as e:
        say(name, "BLOCKED " + ename(e.errno) + " " + type(e).__name__)
    except Exception as e:  # KeyError: no such user
        say(name, "FAILED " + type(e).__name__ + " " + str(e))

# The names of the ids that exist.
for user in ["root", "sandbox", "nobody"]:
    try:
        p = pwd.getpwnam(user)
        say("passwd_" + user, "VALUE %d %d %s" % (p.pw_uid, p.pw_gid, p.pw_dir))
    except KeyError:
        say("passwd_" + user, "ABSENT")
for group in ["root", "sandbox", "nogroup"]:
    try:
        say("group_" + group, "VALUE %d" % grp.getgrnam(group).gr_gid)
    except KeyError:
        say("group_" + group, "ABSENT")
say("passwd_ids", "LIST " + ",".join(str(p.pw_uid) for p in pwd.getpwall()))
say("group_ids", "LIST " + ",".join(str(g.gr_gid) for g in grp.getgrall()))
out = subprocess.run(["/usr/bin/id"], capture_output=True, text=True).stdout.strip()
say("id", "VALUE " + out.replace(" ", "_"))

# Host root's files: owned by the overflow id (host root has no id here).
s = os.stat("/usr/bin/env")
say("usr_owner", "VALUE %d %d" % (s.st_uid, s.st_gid))

# The test's directory /hostdir (bound read-write): a file and a
# directory of host root, a file of the sandbox's inside root.
for name, fn in [("hostroot_file_write", lambda: open("/hostdir/root_file", "w")),
                 ("hostroot_dir_create", lambda: open("/hostdir/root_dir/new", "w")),
                 ("hostroot_file_chmod", lambda: os.chmod("/hostdir/root_file", 0o666)),
                 ("insideroot_file_write", lambda: open("/hostdir/insideroot_file", "w")),
                 ("insideroot_file_chmod",
                  lambda: os.chmod("/hostdir/insideroot_file", 0o666))]:
    blocked(name, fn)
for name in ["root_file", "insideroot_file"]:
    s = os.stat("/hostdir/" + name)
    say("owner_" + name, "VALUE %d %d" % (s.st_uid, s.st_gid))

# Set-user-ID and set-group-ID copies of id(1): one owned by host root, one
# by the sandbox's own root (inside uid 0).  `id` prints euid=/egid= when
# they differ from the real ids.
for name in ["id_hostroot", "id_insideroot"]:
    s = os.stat("/suid/" + name)
    r = subprocess.run(["/suid/" + name], capture_output=True, text=True)
    say("suid_" + name, "VALUE mode=%o owner=%d:%d %s" %
        (s.st_mode & 0o7777, s.st_uid, s.st_gid, r.stdout.strip().replace(" ", "_")))
print("DONE", flush=True)
