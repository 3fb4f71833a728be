# Tenant A of test_recycle_zero_state, the shell half: leaves files in
# every writable place (hidden names, dot directories, fifos, symlinks,
# hard links, a directory its own user cannot write into, hundreds of
# inodes, names that start with a dash or hold spaces and newlines),
# poisons the dotfiles and the Python user site of /home/sandbox, and
# changes the mode and time of the writable mount roots.  Then it changes
# what an exec may change for itself (umask, rlimits, cwd) to show they do
# not outlive it.  One line per trace planted: "CHECK plant_<name> OK".
tag=petri-trace
ok() { echo "CHECK plant_$1 OK"; }
bad() { echo "CHECK plant_$1 FAILED"; }
for d in /tmp /workspace /home/sandbox /dev/shm; do
	n=$(echo "$d" | tr / _)
	if echo "secret of tenant A" >"$d/$tag" &&
		echo hidden >"$d/.$tag" &&
		mkdir -p "$d/.config/$tag" && echo rc >"$d/.config/$tag/rc" &&
		mkfifo "$d/$tag.fifo" &&
		ln -s /etc/passwd "$d/$tag.link" && ln -s /nonexistent "$d/$tag.dangling" &&
		ln "$d/$tag" "$d/$tag.hard" &&
		echo x >"$d/-$tag with spaces" &&
		echo x >"$d/$tag
newline" &&
		mkdir "$d/$tag.many" && i=0 && while [ $i -lt 200 ]; do
			: >"$d/$tag.many/$i" || break
			i=$((i + 1))
		done && [ $i -eq 200 ] &&
		mkdir "$d/$tag.locked" && echo x >"$d/$tag.locked/f" && chmod 0500 "$d/$tag.locked" &&
		: >"$d/$tag.nomode" && chmod 0000 "$d/$tag.nomode"; then
		ok "files$n"
	else
		bad "files$n"
	fi
done
# The next user's shell and Python would run these if they survived.
mkdir -p /home/sandbox/.local/lib/python3.11/site-packages /home/sandbox/.local/lib/python3/site-packages \
	/home/sandbox/.ssh /home/sandbox/.config/pip &&
	for v in python3.11 python3; do
		echo 'print("LEAKED usercustomize of tenant A")' \
			>/home/sandbox/.local/lib/$v/site-packages/usercustomize.py || exit 1
	done &&
	echo 'echo LEAKED profile of tenant A' >/home/sandbox/.profile &&
	echo 'echo LEAKED shrc of tenant A' >/home/sandbox/.shrc &&
	echo 'ssh-ed25519 AAAA tenant-a' >/home/sandbox/.ssh/authorized_keys &&
	printf '[global]\nindex-url = http://tenant-a.invalid/\n' >/home/sandbox/.config/pip/pip.conf &&
	echo 'import sys; print("LEAKED pythonrc")' >/home/sandbox/.pythonrc.py &&
	ok dotfiles || bad dotfiles
# What an exec changes for itself only.
umask 0077 && ulimit -n 64 && cd /tmp && ok exec_local || bad exec_local
# The writable roots themselves: mode and time (their owner is the sandbox
# user, so it may).  Last, since 0700 on /tmp does not stop its owner.
for d in /tmp /workspace /home/sandbox /dev/shm; do
	n=$(echo "$d" | tr / _)
	chmod 0700 "$d" && touch -d '2001-02-03 04:05:06' "$d" && ok "root$n" || bad "root$n"
done
echo "CHECK plant_env_sandbox ${TENANT_A_SECRET:-MISSING}"
echo "CHECK plant_env_exec ${EXEC_A_SECRET:-MISSING}"
echo DONE
