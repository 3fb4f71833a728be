# Untrusted code: plant traps in /workspace for the host's file API
# (petri_sandbox_read_file / petri_sandbox_write_file), which runs later,
# on the host, with the host's privileges.
#
# Environment from the test: SEC_HOST_FILE and SEC_HOST_DIR, a file and a
# directory on the host that the traps point at.
set -u
cd /workspace || exit 1
mkfifo fifo_read fifo_write && echo "CHECK plant_fifo OK"
ln -s /etc/shadow leak_shadow && echo "CHECK plant_abs_symlink OK"
ln -s ../../../../../../etc/shadow leak_up && echo "CHECK plant_rel_symlink OK"
ln -s "$SEC_HOST_FILE" host_file && echo "CHECK plant_host_file_symlink OK"
ln -s "$SEC_HOST_DIR" host_dir && echo "CHECK plant_host_dir_symlink OK"
ln -s /proc/self/root proc_root && echo "CHECK plant_magic_link OK"
mkdir -p sub && ln -s .. sub/up && echo "CHECK plant_dotdot_link OK"
echo DONE
