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
	run := func(dir string, args ...string) string {
		t.Helper()
		cmd := exec.Command(goTool, args...)
		cmd.Dir = filepath.Join(root, dir)
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
	t.Run("bench", func(t *testing.T) {
		run("bench/go_cycle", "vet", "./...")
		// A few rounds: this checks the benchmark works, not the numbers.
		out := run("bench/go_cycle", "run", ".", "-n", "5")
		if !strings.Contains(out, "cycle ratio Go/C") {
			t.Fatalf("benchmark output:\n%s", out)
		}
	})
}
