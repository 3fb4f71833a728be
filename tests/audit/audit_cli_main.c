/* SPDX-License-Identifier: Apache-2.0 */
/* audit_cli_main.c - `petri-audit-test cat|json|verify FILE`: the audit
 * command of the CLI (tools/audit.c) on its own, so its tests run before
 * (and independently of) its dispatch in tools/main.c. */
#include "../../tools/cli.h"

int main(int argc, char **argv)
{
	return cmd_audit(argc, argv);
}
