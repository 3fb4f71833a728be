# Untrusted code, in a sandbox whose /workspace is a directory of the host
# (petri_sandbox_opts.workspace_dir): try to leave privileged files behind
# on the host's filesystem -- set-user-ID and set-group-ID copies of an
# interpreter, a set-group-ID directory, a device node, a FIFO -- and report
# what the files look like from inside.
set -u
cd /workspace || exit 1
cp /usr/bin/python3 suid_python 2>/dev/null && chmod 4755 suid_python
echo "CHECK suid_python $(stat -c '%A %U' suid_python 2>&1)"
cp /bin/true sgid_true 2>/dev/null && chmod 2755 sgid_true
echo "CHECK sgid_true $(stat -c '%A %U' sgid_true 2>&1)"
# Created with the bits in one go (open(O_CREAT, 04755) keeps them).
python3 -c 'import os; fd = os.open("suid_created", os.O_WRONLY | os.O_CREAT, 0o4755); os.write(fd, open("/bin/true", "rb").read()); os.fchmod(fd, 0o4755); os.close(fd)'
echo "CHECK suid_created $(stat -c '%A %U' suid_created 2>&1)"
mkdir sgid_dir && chmod 2777 sgid_dir
echo "CHECK sgid_dir $(stat -c '%A %U' sgid_dir 2>&1)"
if mknod dev_null c 1 3 2>/dev/null; then echo "CHECK mknod ESCAPED"; else echo "CHECK mknod BLOCKED"; fi
echo DONE
