// SPDX-License-Identifier: Apache-2.0

package petri

import (
	"runtime"
	"testing"
	"time"
)

// A Sandbox dropped without Close is closed by its finalizer (the backstop),
// even though its Context still tracks it.
func TestFinalizerClosesLeakedSandbox(t *testing.T) {
	c, err := NewContext(ContextOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	func() {
		sb, err := c.New(Options{})
		if err != nil {
			t.Fatal(err)
		}
		// A nil context is treated as context.Background, not a crash.
		if _, err := sb.Run(nil, []string{"true"}); err != nil { //nolint:staticcheck
			t.Fatal(err)
		}
	}()
	open := func() int {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.sandboxes)
	}
	if open() != 1 {
		t.Fatalf("%d sandboxes tracked, want 1", open())
	}
	deadline := time.Now().Add(10 * time.Second)
	for open() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("a leaked sandbox was not closed by its finalizer")
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}
