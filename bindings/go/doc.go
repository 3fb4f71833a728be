// SPDX-License-Identifier: Apache-2.0

// Package petri runs untrusted code — typically Python, Node, Go or shell
// that a language model just wrote — in a Linux sandbox created in-process
// by libpetri, in milliseconds, without a daemon, container image or VM.
//
//	sb, err := petri.New(petri.Options{Language: "python"})
//	if err != nil {
//		return err
//	}
//	defer sb.Close()
//	res, err := sb.Exec(ctx, "print('hello from isolation')")
//	if err != nil {
//		return err
//	}
//	fmt.Print(res.Output()) // also res.Stdout, res.Stderr, res.ExitCode, res.Reason
//
// A sandbox is an init process in new user, pid, mount, network, UTS, IPC
// and cgroup namespaces with a minimal read-only root, a seccomp allowlist,
// Landlock, no capabilities and cgroup limits.  Exec runs code and Run runs a
// program in it, each in its own pid namespace (nothing outlives an exec);
// files in /workspace persist between execs (WriteFile, ReadFile).  Close
// removes everything.
//
// # Results and errors
//
// An exec that ran returns a *Result and a nil error whatever its exit
// status: Result.Reason says why it ended ("exited", "timeout", "memory",
// "pids", ...).  Errors are for execs that could not start (*Error, which
// carries the library's message and unwraps to its errno), for a context
// that ended (errors.Is(err, context.Canceled) or
// context.DeadlineExceeded), for a panicking output callback (*PanicError)
// and for closed sandboxes (ErrClosed).
//
// # Cancellation
//
// The code runs in the calling goroutine's cgo call; when ctx is done a
// watcher goroutine cancels it through petri_sandbox_cancel and Exec returns
// promptly (milliseconds) with the Result, Reason "killed".  A deadline on
// ctx also becomes the exec's own timeout when it is the earlier one.
//
// # Threads
//
// The library keeps no thread-local error state and forks sandboxes from a
// supervisor thread it owns, so callers never need runtime.LockOSThread.  A
// Sandbox runs one operation at a time (others wait); any number of
// sandboxes may be used from different goroutines.
//
// # Building
//
// The package needs libpetri's header and shared library: see README.md
// (CGO_CFLAGS/CGO_LDFLAGS for an in-tree build, or -tags petri_pkgconfig to
// use pkg-config).
package petri
