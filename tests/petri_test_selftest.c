/* SPDX-License-Identifier: Apache-2.0 */
/*
 * petri_test_selftest - the cases test_petri_test.sh runs petri_test_main()
 * with: one of each outcome.  Not a test by itself.
 */
#include <signal.h>

#include "petri_test.h"

static void test_passes(void)
{
	CHECK(1 + 1 == 2);
	CHECK(petri_test_ctx() != NULL); /* each case has a context of its own */
}

static void test_check_fails(void)
{
	CHECK(1 + 1 == 3);
	fprintf(stderr, "after a failed CHECK the case goes on\n");
}

static void test_require_fails(void)
{
	REQUIRE(1 + 1 == 3);
	fprintf(stderr, "never printed: REQUIRE ends the case\n");
}

/* SIGKILL: the same death with or without a sanitizer (ASan turns a
 * SIGSEGV into its own report and exit status). */
static void test_crashes(void)
{
	raise(SIGKILL);
}

static void test_skips(void)
{
	petri_test_skip("selftest skip");
}

static const struct petri_test_case cases[] = {
	PETRI_TEST_CASE(passes),  PETRI_TEST_CASE(check_fails), PETRI_TEST_CASE(require_fails),
	PETRI_TEST_CASE(crashes), PETRI_TEST_CASE(skips),       {NULL, NULL},
};

int main(int argc, char **argv)
{
	return petri_test_main(argc, argv, cases);
}
