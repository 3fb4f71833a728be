/* SPDX-License-Identifier: Apache-2.0 */
/* audit_cli_main.c - `petri-audit-test cat|json|verify FILE`: the audit
 * subcommand of tools/petri_audit.c on its own, so its tests run before
 * (and independently of) its hook in tools/petri.c. */
int petri_audit_main(int argc, char **argv);

int main(int argc, char **argv)
{
	return petri_audit_main(argc, argv);
}
