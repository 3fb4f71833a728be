/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_attack_fs - code in a sandbox cannot read or write the host's files.
 *
 * attacks/fs.py tries: host secrets (/etc/shadow, /root, the build and
 * source trees, /proc/1/root/...), /sys, host devices, the masked /proc
 * entries (directly, through symlinks, /proc/self/root, hard links), writes
 * to /usr, /etc, /, /run, /dev, /proc/sys/kernel files, /proc/sysrq-trigger,
 * device nodes (and the times of the host's own device nodes bound in
 * /dev: a touch of /dev/null), every mount syscall (mount, remount / rw, umount of a mask,
 * pivot_root, chroot, open_tree, fsopen), file handles (the "shocker"
 * open_by_handle_at), file capabilities, and a read-only bind of a host
 * directory holding a symlink to /etc/shadow.  It also walks every mount
 * and reports which ones take a new file: exactly /tmp, /workspace,
 * /home/sandbox and /dev/shm may.
 *
 * The host side checks that nothing changed on the host.
 */
#include "sec_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const created_on_host[] = {
	"/usr/bin/petri-pwned", "/etc/petri-pwned", "/petri-pwned",     "/home/petri-pwned",
	"/run/petri-pwned",     "/usr/petri-pwned", "/dev/petri-pwned",
};

struct host_state {
	struct stat passwd, su, python, dev_null, dev_zero;
	char *hostname, *core_pattern;
};

static void snapshot(struct host_state *s)
{
	REQUIRE(stat("/etc/passwd", &s->passwd) == 0);
	if (stat("/usr/bin/su", &s->su) < 0)
		memset(&s->su, 0, sizeof(s->su));
	REQUIRE(stat("/usr/bin/python3", &s->python) == 0);
	REQUIRE(stat("/dev/null", &s->dev_null) == 0 && stat("/dev/zero", &s->dev_zero) == 0);
	s->hostname = sec_read_host_file("/proc/sys/kernel/hostname", NULL);
	s->core_pattern = sec_read_host_file("/proc/sys/kernel/core_pattern", NULL);
}

static int same_file(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_mode == b->st_mode && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Times a touch sets (an inode's times: the host's device nodes). */
static int same_times(const struct stat *a, const struct stat *b)
{
	return a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static void test_fs(void)
{
	/* A host directory, bound read-only at /data, that holds a file and a
	 * symlink to the host's /etc/shadow. */
	char bind_dir[] = "/tmp/petri-sec-fs-XXXXXX";
	/* World-writable on the host, so only the read-only mount can refuse
	 * the writes (with EROFS, not EACCES). */
	REQUIRE(mkdtemp(bind_dir) != NULL && chmod(bind_dir, 0777) == 0);
	char p[4096], bind_spec[4200];
	snprintf(p, sizeof(p), "%s/file", bind_dir);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	REQUIRE(fd >= 0 && write(fd, "host data\n", 10) == 10 && fchmod(fd, 0666) == 0);
	close(fd);
	snprintf(p, sizeof(p), "%s/shadow", bind_dir);
	REQUIRE(symlink("/etc/shadow", p) == 0);
	snprintf(bind_spec, sizeof(bind_spec), "%s:/data", bind_dir);
	const char *binds[] = {bind_spec, NULL};

	struct host_state before, after;
	snapshot(&before);

	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.language = "python";
	so.binds = binds;
	petri_sandbox *sb = sec_sandbox(&so);

	char cwd[4096], host_paths[16384];
	REQUIRE(getcwd(cwd, sizeof(cwd)) != NULL);
	snprintf(host_paths, sizeof(host_paths), "SEC_HOST_PATHS=%s:%s:%s:%s:/root:/var:/boot",
		 SEC_BUILD_DIR, SEC_SOURCE_DIR, cwd, bind_dir);
	const char *env[] = {host_paths, "SEC_BIND=/data", NULL};
	struct petri_test_run r = sec_exec_attack(sb, "fs.py", env, 60000);
	CHECK_MSG(r.rc == 0 && r.reason == PETRI_REASON_EXITED && r.exit_code == 0,
		  "fs.py did not run to completion");
	sec_expect_no_escape(&r);

	/* Host secrets and trees: not there at all (not merely unreadable). */
	sec_expect(&r, "read_etc_shadow", "BLOCKED ENOENT");
	sec_expect(&r, "read_etc_gshadow", "BLOCKED ENOENT");
	sec_expect(&r, "read_etc_sudoers", "BLOCKED ENOENT");
	sec_expect(&r, "read_root_bashrc", "BLOCKED ENOENT");
	sec_expect(&r, "read_ssh_host_key", "BLOCKED ENOENT");
	sec_expect(&r, "list_root_home", "BLOCKED ENOENT");
	for (int i = 0; i < 7; i++) {
		char name[32];
		snprintf(name, sizeof(name), "host_path_%d", i);
		sec_expect(&r, name, "BLOCKED ENOENT");
	}
	sec_expect_list(&r, "list_home", "sandbox", "sandbox");
	sec_expect_list(
		&r, "list_root",
		"bin,dev,etc,home,lib,lib32,lib64,libx32,proc,run,sbin,tmp,usr,workspace,data",
		"dev,etc,proc,tmp,usr,workspace,data");
	sec_expect(&r, "sys", "ABSENT|EMPTY");

	/* pid 1 (the exec's reaper) is not dumpable: its root, fds, memory and
	 * environment are closed to the code. */
	sec_expect(&r, "read_proc1_root_shadow", "BLOCKED EACCES");
	sec_expect(&r, "read_proc1_environ", "BLOCKED EACCES");
	sec_expect(&r, "read_proc1_mem", "BLOCKED EACCES");
	sec_expect(&r, "list_proc1_root", "BLOCKED EACCES");
	sec_expect(&r, "list_proc1_cwd", "BLOCKED EACCES");
	sec_expect(&r, "list_proc1_fd", "BLOCKED EACCES");
	sec_expect(&r, "readlink_proc1_exe", "BLOCKED EACCES");
	sec_expect(&r, "open_proc1_exe_write", "BLOCKED EACCES");
	sec_expect(&r, "open_proc1_exe_read", "BLOCKED EACCES");
	sec_expect(&r, "open_proc1_map_files", "BLOCKED EACCES|BLOCKED EPERM");

	static const char *const devs[] = {"mem",     "kmem",    "port",        "sda",
					   "vda",     "nvme0n1", "kmsg",        "console",
					   "tty0",    "vsock",   "vhost-vsock", "fuse",
					   "net_tun", "kvm",     "userfaultfd", "loop0"};
	for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++) {
		char name[64];
		snprintf(name, sizeof(name), "dev_%s", devs[i]);
		sec_expect(&r, name, "ABSENT");
	}

	/* Masked /proc entries read as nothing, by any path. */
	static const char *const masked[] = {"kcore",         "kallsyms",   "keys",
					     "kmsg",          "timer_list", "sched_debug",
					     "latency_stats", "kpagecount", "kpageflags",
					     "kpagecgroup",   "config_gz",  "sysrq_trigger",
					     "locks"};
	for (size_t i = 0; i < sizeof(masked) / sizeof(masked[0]); i++) {
		char name[64];
		snprintf(name, sizeof(name), "proc_%s", masked[i]);
		sec_expect(&r, name, "ABSENT|EMPTY");
	}
	sec_expect(&r, "proc_vmallocinfo", "ABSENT|EMPTY|BLOCKED EACCES");
	static const char *const mdirs[] = {"acpi", "asound", "scsi", "driver", "tty"};
	for (size_t i = 0; i < sizeof(mdirs) / sizeof(mdirs[0]); i++) {
		char name[64];
		snprintf(name, sizeof(name), "procdir_%s", mdirs[i]);
		sec_expect(&r, name, "ABSENT|EMPTY");
	}
	sec_expect(&r, "symlink_kallsyms", "EMPTY");
	sec_expect(&r, "symlink_selfroot_kallsyms", "EMPTY");
	sec_expect(&r, "thread_self_root_kallsyms", "EMPTY");
	sec_expect(&r, "cwd_dotdot_kallsyms", "EMPTY");
	sec_expect(&r, "proc_self_root_timer_list", "EMPTY");
	sec_expect(&r, "proc1_root_kallsyms", "BLOCKED EACCES");
	sec_expect(&r, "hardlink_kallsyms", "BLOCKED EXDEV");
	sec_expect(&r, "hardlink_usr_python", "BLOCKED EXDEV");
	sec_expect(&r, "hardlink_etc_passwd", "BLOCKED EXDEV");
	sec_expect(&r, "kallsyms_is", "MASK dev(1,3)");

	/* Writes outside the writable mounts. */
	static const char *const ro_writes[] = {
		"write_usr_bin",
		"write_usr_python",
		"write_etc",
		"write_etc_passwd",
		"write_etc_ld_so_cache",
		"write_root",
		"write_home",
		"write_run",
		"write_run_petri",
		"write_dev",
		"write_proc_root",
		"write_core_pattern",
		"write_sysctl_hostname",
		"write_drop_caches",
		"write_modprobe",
		"write_sysrq_trigger",
		"write_proc1_oom",
		"write_self_uid_map",
		"write_self_setgroups",
		"mkdir_usr",
		"chmod_usr_su",
		"rename_etc_passwd",
		"unlink_etc_hosts",
		"truncate_etc_ld_so_cache",
		"utime_usr_bin_env",
	};
	for (size_t i = 0; i < sizeof(ro_writes) / sizeof(ro_writes[0]); i++)
		sec_expect(&r, ro_writes[i],
			   "BLOCKED EROFS|BLOCKED EACCES|BLOCKED EPERM|BLOCKED ENOENT");
	/* The ones that must fail at the mount, not at file permissions. */
	sec_expect(&r, "write_usr_bin", "BLOCKED EROFS");
	sec_expect(&r, "write_etc", "BLOCKED EROFS");
	sec_expect(&r, "write_root", "BLOCKED EROFS");
	sec_expect(&r, "write_dev", "BLOCKED EROFS");
	sec_expect(&r, "write_sysctl_hostname", "BLOCKED EROFS|BLOCKED EACCES");
	sec_expect(&r, "setxattr_file_caps", "BLOCKED EPERM");
	/* The host's device nodes: usable, but their times are not ours. */
	static const char *const dev_times[] = {"utime_dev_null",    "utime_dev_zero",
						"utime_dev_full",    "utime_dev_random",
						"utime_dev_urandom", "utime_dev_tty"};
	for (size_t i = 0; i < sizeof(dev_times) / sizeof(dev_times[0]); i++)
		sec_expect(&r, dev_times[i], "BLOCKED EROFS");
	sec_expect(&r, "write_dev_null", "OK");
	sec_expect_list(&r, "writable_mounts", "/tmp,/workspace,/home/sandbox,/dev/shm",
			"/tmp,/workspace,/home/sandbox,/dev/shm");
	sec_expect(&r, "write_tmp", "WRITABLE");
	sec_expect(&r, "write_workspace", "WRITABLE");
	sec_expect(&r, "write_home_sandbox", "WRITABLE");
	sec_expect(&r, "write_dev_shm", "WRITABLE");

	/* Device nodes, mounts, roots and file handles. */
	sec_expect(&r, "mknod_char_mem", "BLOCKED EPERM");
	sec_expect(&r, "mknod_block_vda", "BLOCKED EPERM");
	sec_expect(&r, "mknod_in_dev", "BLOCKED EROFS|BLOCKED EPERM");
	sec_expect(&r, "mkfifo_tmp", "OK");
	static const char *const mounts[] = {
		"mount_tmpfs",
		"mount_proc",
		"remount_root_rw",
		"remount_usr_rw",
		"bind_proc_over_tmp",
		"umount_proc",
		"umount_kallsyms_mask",
		"umount_usr",
		"pivot_root",
		"chroot",
		"open_tree_clone_proc",
		"fsopen_proc",
		"open_by_handle_at_root_inode",
		"name_to_handle_at",
	};
	for (size_t i = 0; i < sizeof(mounts) / sizeof(mounts[0]); i++)
		sec_expect(&r, mounts[i], "BLOCKED EPERM");

	/* The read-only bind. */
	sec_expect(&r, "bind_read", "DATA");
	sec_expect(&r, "bind_symlink_shadow", "ABSENT");
	sec_expect(&r, "bind_write", "BLOCKED EROFS");
	sec_expect(&r, "bind_create", "BLOCKED EROFS");
	sec_expect(&r, "bind_chmod", "BLOCKED EROFS|BLOCKED EPERM");
	sec_expect(&r, "bind_remount_rw", "BLOCKED EPERM");
	sec_expect(&r, "bind_umount", "BLOCKED EPERM");
	if (petri_test_failures)
		sec_dump("fs.py", &r);
	petri_test_run_free(&r);
	petri_sandbox_destroy(sb);

	/* The host, directly. */
	snapshot(&after);
	CHECK(same_file(&before.passwd, &after.passwd));
	CHECK(same_file(&before.su, &after.su));
	CHECK(same_file(&before.python, &after.python));
	CHECK_MSG(same_times(&before.dev_null, &after.dev_null),
		  "the host's /dev/null times moved");
	CHECK_MSG(same_times(&before.dev_zero, &after.dev_zero),
		  "the host's /dev/zero times moved");
	CHECK(before.hostname && after.hostname && strcmp(before.hostname, after.hostname) == 0);
	CHECK(before.core_pattern && after.core_pattern &&
	      strcmp(before.core_pattern, after.core_pattern) == 0);
	for (size_t i = 0; i < sizeof(created_on_host) / sizeof(created_on_host[0]); i++)
		CHECK_MSG(access(created_on_host[i], F_OK) < 0, "%s exists on the host",
			  created_on_host[i]);
	char *data = NULL;
	snprintf(p, sizeof(p), "%s/file", bind_dir);
	data = sec_read_host_file(p, NULL);
	CHECK(data && strcmp(data, "host data\n") == 0);
	struct stat st;
	CHECK(stat(p, &st) == 0 && (st.st_mode & 07777) == 0666);
	snprintf(p, sizeof(p), "%s/new", bind_dir);
	CHECK(access(p, F_OK) < 0);
	free(data);

	free(before.hostname);
	free(before.core_pattern);
	free(after.hostname);
	free(after.core_pattern);
	snprintf(p, sizeof(p), "%s/file", bind_dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/shadow", bind_dir);
	unlink(p);
	rmdir(bind_dir);
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(fs),
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	return petri_test_main(argc, argv, cases);
}
