// SPDX-License-Identifier: Apache-2.0

package petri_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// The Go example (examples/go) and the benchmark (bench/go_cycle) are
// modules of their own that use this one through a replace directive.  Run
// their checks from here, so `go test ./...` in bindings/go keeps them from
// rotting.  The go command is the one this test was built with; the
// environment (CGO_CFLAGS, CGO_LDFLAGS, LD_LIBRARY_PATH, GOCACHE...) is
// passed on.
func TestOtherGoModules(t *testing.T) {
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		skipOrFail(t, "no go command at %s: %v", goTool, err)
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	var env []string // extra environment
	run := func(dir string, args ...string) string {
		t.Helper()
		cmd := exec.Command(goTool, args...)
		cmd.Dir = filepath.Join(root, dir)
		if env != nil {
			cmd.Env = append(os.Environ(), env...)
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("(cd %s && go %s): %v\n%s", dir, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	t.Run("examples", func(t *testing.T) {
		run("examples/go", "vet", "./...")
		out := run("examples/go", "test", "-count=1", "./...")
		t.Logf("examples/go: %s", strings.TrimSpace(out))
	})
	// The example unchanged against petrid: PETRI_URL/PETRI_TOKEN make its
	// petri.New remote.  (Its TestBadRequests is left out: it expects the
	// library's own message for an unknown language, and petrid answers
	// with its tenant check's.)
	t.Run("examples-remote", func(t *testing.T) {
		srv := sharedPetrid(t)
		env = []string{"PETRI_URL=" + srv.url, "PETRI_TOKEN=" + srv.token}
		defer func() { env = nil }()
		before := srv.created(t)
		out := run("examples/go", "test", "-count=1", "-v", "-run", "^(TestRun|TestClientGoneKillsCode)$", "./...")
		if strings.Count(out, "--- PASS") != 2 {
			t.Fatalf("examples/go against petrid:\n%s", out)
		}
		if after := srv.created(t); after <= before {
			t.Fatalf("petrid created no sandbox for the example (%d, then %d): it ran in-process", before, after)
		}
	})
	t.Run("bench", func(t *testing.T) {
		run("bench/go_cycle", "vet", "./...")
		// A few rounds: this checks the benchmark works, not the numbers.
		out := run("bench/go_cycle", "run", ".", "-n", "5")
		if !strings.Contains(out, "cycle ratio Go/C") {
			t.Fatalf("benchmark output:\n%s", out)
		}
	})
}
