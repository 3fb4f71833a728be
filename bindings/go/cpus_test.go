// SPDX-License-Identifier: Apache-2.0

package petri_test

import (
	"errors"
	"math"
	"syscall"
	"testing"
	"time"

	petri "github.com/libpetri/petri-go"
)

// Options.CPUs: half a CPU bounds two busy processes (one-sided: a busy
// machine only gives the sandbox less).
func TestCPUsLimit(t *testing.T) {
	if m := cgroupMode(t); m == petri.CgroupNone {
		skipOrFail(t, "no writable cgroup: no CPU limit")
	}
	sb := newSandbox(t, petri.Options{Language: "python", CPUs: 0.5})
	code := "import os, time\nend = time.monotonic() + 2\nchild = os.fork()\nwhile time.monotonic() < end:\n    pass\nif child == 0:\n    os._exit(0)\nos.waitpid(child, 0)\n"
	r := mustExec(t, sb, code, petri.WithTimeout(30*time.Second))
	wantReason(t, r, petri.ReasonExited)
	if r.Wall < 1900*time.Millisecond || float64(r.CPU) > 0.7*float64(r.Wall) {
		t.Fatalf("CPUs 0.5: CPU %v in wall %v", r.CPU, r.Wall)
	}
}

// Bad values are refused before or by the library, as EINVAL.
func TestCPUsBadValues(t *testing.T) {
	for _, v := range []float64{-1, 0.0001, math.NaN(), math.Inf(1), 1e6} {
		sb, err := petri.New(petri.Options{Language: "sh", CPUs: v})
		if err == nil {
			sb.Close()
			t.Fatalf("CPUs %v: accepted", v)
		}
		if !errors.Is(err, syscall.EINVAL) {
			t.Fatalf("CPUs %v: %v is not EINVAL", v, err)
		}
	}
}
