// SPDX-License-Identifier: Apache-2.0

package petri_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	petri "github.com/libpetri/petri-go"
)

// The contract of DESIGN.md.
func Example() {
	sb, err := petri.New(petri.Options{Language: "python"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sb.Close()
	res, err := sb.Exec(context.Background(), "print('hello from isolation')")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(res.Output())
	fmt.Println(res.ExitCode, res.Reason)
	// Output:
	// hello from isolation
	// 0 exited
}

// Files in and out, state kept in /workspace between execs, limits.
func ExampleSandbox_WriteFile() {
	sb, err := petri.New(petri.Options{Language: "python", Memory: 256 << 20, Pids: 64})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sb.Close()
	ctx := context.Background()
	if err := sb.WriteFile("input.csv", []byte("3\n4\n5\n"), 0o644); err != nil {
		fmt.Println(err)
		return
	}
	_, err = sb.Exec(ctx, "n = [int(l) for l in open('input.csv')]\nopen('sum.txt', 'w').write(str(sum(n)))",
		petri.WithTimeout(10*time.Second))
	if err != nil {
		fmt.Println(err)
		return
	}
	sum, err := sb.ReadFile("sum.txt")
	fmt.Println(string(sum), err)
	_, err = sb.ReadFile("missing.txt")
	fmt.Println(errors.Is(err, os.ErrNotExist))
	// Output:
	// 12 <nil>
	// true
}

// Cancelling the context kills the code.
func ExampleSandbox_Exec_cancel() {
	sb, err := petri.New(petri.Options{Language: "sh"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	res, err := sb.Exec(ctx, "sleep 60")
	fmt.Println(errors.Is(err, context.DeadlineExceeded), res.Reason == petri.ReasonTimeout || res.Reason == petri.ReasonKilled)
	// Output:
	// true true
}

// Output streamed as it is produced.
func ExampleWithOutput() {
	sb, err := petri.New(petri.Options{Language: "sh"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sb.Close()
	_, err = sb.Exec(context.Background(), "echo one; sleep 0.1; echo two >&2",
		petri.WithOutput(func(s petri.Stream, data []byte) {
			fmt.Printf("%s: %s", s, data)
		}))
	fmt.Println(err)
	// Output:
	// stdout: one
	// stderr: two
	// <nil>
}

// A sandbox in a petrid service: the same API.  (Not run by go test: it
// needs a petrid; remote_test.go runs one.)
func ExampleNew_remote() {
	sb, err := petri.New(petri.Options{
		Language: "python",
		URL:      "unix:///run/petrid/petrid.sock", // or "http://HOST:PORT"; empty: $PETRI_URL
		Token:    os.Getenv("PETRI_TOKEN"),
	})
	if err != nil {
		var pe *petri.Error
		if errors.As(err, &pe) && pe.Code == "quota_exceeded" {
			fmt.Println("over quota", pe.Quota)
		}
		return
	}
	defer sb.Close()
	res, err := sb.Exec(context.Background(), "print('hello from isolation')",
		petri.WithOutput(func(s petri.Stream, b []byte) { fmt.Print(string(b)) }))
	if err == nil {
		fmt.Println(res.Reason)
	}
}
