#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# hardening.sh CHECK PETRI TEST_BINARY - petrid.service's sandboxing, as
# deploy/systemd/check-hardening.sh reproduces it, leaves every layer
# working (`petri doctor --require all` and an API test pass inside it);
# and each option the unit leaves out for breaking sandboxes does break
# them (so the README's reasons stay true).
set -eu
check=$1
petri=$2
apitest=$3
fail=0

# The unit's options together, and the same with each one alone.
for o in unit no_new_privileges capability_bounding_set protect_system_strict private_tmp \
	protect_home private_devices protect_kernel_modules protect_proc_invisible; do
	if out=$("$check" --petri "$petri" "$o" 2>&1); then
		echo "ok: $o: every layer works"
	else
		echo "FAIL: $o: petri doctor --require all failed:"
		echo "$out" | grep -v '^ok '
		fail=1
	fi
done
if out=$("$check" --petri "$petri" unit -- env PETRI_CLI="$petri" "$apitest" 2>&1); then
	echo "ok: unit: $(echo "$out" | tail -1)"
else
	echo "FAIL: unit: $apitest:"
	echo "$out" | tail -20
	fail=1
fi

# Left out: each breaks what the README says it breaks.
expect_missing() { # OPTION LAYER WHY
	out=$("$check" --petri "$petri" "$1" -- "$petri" doctor --json --require all 2>/dev/null) && {
		echo "FAIL: $1: doctor passed, but the README says it breaks $2"
		fail=1
		return
	}
	if echo "$out" | grep -q "\"$2\":{\"state\":\"missing\",\"detail\":\"[^\"]*$3"; then
		echo "ok: $1 breaks $2 ($3)"
	else
		echo "FAIL: $1: want $2 missing with '$3': $out"
		fail=1
	fi
}
expect_missing protect_kernel_tunables sandbox "mount proc"
expect_missing protect_kernel_logs sandbox "mount proc"
expect_missing protect_control_groups cgroups "no usable cgroup"
exit $fail
