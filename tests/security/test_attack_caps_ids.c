/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_attack_caps_ids - code in a sandbox is uid/gid 1000 with no
 * capabilities, no_new_privs and seccomp, and cannot become anyone else.
 *
 * attacks/caps_ids.py reports its ids and /proc/self/status (CapInh, CapPrm,
 * CapEff, CapBnd, CapAmb all 0; NoNewPrivs 1; Seccomp 2), tries setuid(0)
 * and friends, raising ambient or any capability, clearing securebits or
 * no_new_privs, new user namespaces (unshare, clone, clone3), lowering its
 * OOM score, writing uid_map, and real-time or negative-nice scheduling
 * (with the host's RLIMIT_RTPRIO/RLIMIT_NICE raised first, where the host
 * may raise them).  It runs the setuid-root binaries of the
 * host's /usr (su, passwd, mount) with a full pipe as stdout, so each one
 * blocks in its first write, and reads its credentials from /proc while it
 * is stuck: still uid 1000 everywhere, no capabilities.
 *
 * Landlock: its signal scope makes even kill(1, 0) fail with EPERM, which
 * shows the exec runs inside a Landlock domain; a sandbox created with
 * PETRI_SANDBOX_F_NO_LANDLOCK serves as the control (the same call works).
 * Creating a file in / fails (EROFS: the mount refuses first).
 */
#include "sec_util.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

static int landlock_abi(void)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, 1u /* VERSION */);
	return abi < 0 ? 0 : (int)abi;
}

static void test_caps_ids(void)
{
	petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
	so.language = "python";
	petri_sandbox *sb = sec_sandbox(&so);
	struct petri_test_run r = sec_exec_attack(sb, "caps_ids.py", NULL, 60000);
	CHECK_MSG(r.rc == 0 && r.reason == PETRI_REASON_EXITED && r.exit_code == 0,
		  "caps_ids.py did not run to completion");
	sec_expect_no_escape(&r);

	sec_expect(&r, "resuid", "IDS 1000 1000 1000");
	sec_expect(&r, "resgid", "IDS 1000 1000 1000");
	sec_expect_list(&r, "groups", "1000", "");
	sec_expect(&r, "status_Uid", "VALUE 1000 1000 1000 1000");
	sec_expect(&r, "status_Gid", "VALUE 1000 1000 1000 1000");
	static const char *const caps[] = {"status_CapInh", "status_CapPrm", "status_CapEff",
					   "status_CapBnd", "status_CapAmb"};
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		sec_expect(&r, caps[i], "VALUE 0000000000000000");
	sec_expect(&r, "status_NoNewPrivs", "VALUE 1");
	sec_expect(&r, "status_Seccomp", "VALUE 2");

	/* A root host maps ids 0..65535: every change needs CAP_SETUID or
	 * CAP_SETGID, and fails with EPERM as on any system.  An unprivileged
	 * host maps 1000 only: other ids do not exist (EINVAL); setgroups is
	 * denied there (EPERM). */
	const char *no_id = geteuid() == 0 ? "BLOCKED EPERM" : "BLOCKED EINVAL";
	sec_expect(&r, "setuid_0", no_id);
	sec_expect(&r, "setgid_0", no_id);
	sec_expect(&r, "setresuid_0", no_id);
	sec_expect(&r, "setuid_1001", no_id);
	sec_expect(&r, "seteuid_65534", no_id);
	sec_expect(&r, "setgroups_0", "BLOCKED EPERM");
	sec_expect(&r, "ambient_raise_sys_admin", "BLOCKED EPERM");
	sec_expect(&r, "securebits_clear", "BLOCKED EPERM");
	sec_expect(&r, "no_new_privs_clear", "BLOCKED EINVAL|BLOCKED EPERM");
	sec_expect(&r, "capbset_sys_admin", "VALUE 0");
	sec_expect(&r, "capset_all", "BLOCKED EPERM");
	sec_expect(&r, "unshare_newuser", "BLOCKED EPERM");
	sec_expect(&r, "unshare_newns", "BLOCKED EPERM");
	sec_expect(&r, "clone_newuser", "BLOCKED EPERM");
	sec_expect(&r, "clone3_newuser", "BLOCKED ENOSYS");
	sec_expect(&r, "clone3_plain", "BLOCKED ENOSYS");
	sec_expect(&r, "oom_score_adj_lower", "BLOCKED EACCES|BLOCKED EPERM");
	sec_expect(&r, "sched_fifo", "BLOCKED EPERM");
	sec_expect(&r, "nice_raise", "BLOCKED EACCES|BLOCKED EPERM");
	sec_expect(&r, "uid_map_write", "BLOCKED EACCES|BLOCKED EPERM");

	/* Setuid-root binaries run as the sandbox user, without capabilities.
	 * A host without them reports ABSENT (nothing to prove there). */
	static const char *const suid[] = {"setuid_su", "setuid_passwd", "setuid_mount"};
	int observed = 0;
	for (size_t i = 0; i < sizeof(suid) / sizeof(suid[0]); i++) {
		char buf[256];
		const char *v = sec_verdict(r.out, suid[i], buf, sizeof(buf));
		if (v && strcmp(v, "ABSENT") == 0)
			continue;
		observed++;
		sec_expect(
			&r, suid[i],
			"UID 1000 1000 1000 1000 CAPEFF 0000000000000000 CAPPRM 0000000000000000 NNP 1");
	}
	CHECK_MSG(observed > 0, "no setuid binary was found to try");

	if (landlock_abi() >= 6)
		sec_expect(&r, "landlock_signal_scope", "BLOCKED EPERM");
	else
		fprintf(stderr, "note: Landlock ABI %d < 6: its signal scope is not there to see\n",
			landlock_abi());
	sec_expect(&r, "create_in_root", "BLOCKED EROFS|BLOCKED EACCES");
	if (petri_test_failures)
		sec_dump("caps_ids.py", &r);
	petri_test_run_free(&r);
	petri_sandbox_destroy(sb);
}

/* Control: without Landlock the same probe sees no domain, so the check of
 * test_caps_ids really tells the two apart. */
static void test_no_landlock_control(void)
{
	if (landlock_abi() >= 6) {
		petri_sandbox_opts so = PETRI_SANDBOX_OPTS_INIT;
		so.language = "python";
		so.flags = PETRI_SANDBOX_F_NO_LANDLOCK;
		petri_sandbox *sb = sec_sandbox(&so);
		struct petri_test_run r = sec_exec_attack(sb, "caps_ids.py", NULL, 60000);
		sec_expect(&r, "landlock_signal_scope", "NONE");
		sec_expect(&r, "status_NoNewPrivs", "VALUE 1");
		sec_expect(&r, "status_Seccomp", "VALUE 2");
		petri_test_run_free(&r);
		petri_sandbox_destroy(sb);
	} else {
		fprintf(stderr, "note: Landlock ABI %d < 6: no signal scope to tell apart\n",
			landlock_abi());
	}
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(caps_ids),
	PETRI_TEST_CASE(no_landlock_control),
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	/* A host with raised real-time and nice limits (where we may raise
	 * them: it needs CAP_SYS_RESOURCE). */
	struct rlimit rt = {50, 50}, nice = {30, 30};
	if (setrlimit(RLIMIT_RTPRIO, &rt) < 0 || setrlimit(RLIMIT_NICE, &nice) < 0)
		fprintf(stderr, "note: cannot raise RLIMIT_RTPRIO/RLIMIT_NICE here; "
				"their inheritance goes unchecked\n");
	return petri_test_main(argc, argv, cases);
}
