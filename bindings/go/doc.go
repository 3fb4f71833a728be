// SPDX-License-Identifier: Apache-2.0

// Package petri runs untrusted code — typically Python, Node, Go or shell
// that a language model just wrote — in a Linux sandbox created in-process
// by libpetri, in milliseconds, without a daemon, container image or VM; or,
// with the same API, in a petrid service (Options.URL).
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
// # Remote sandboxes
//
// With Options.URL (or PETRI_URL in the environment) New creates the
// sandbox in a petrid service instead, over net/http, and the API stays the
// same: Exec and Run stream the output as Server-Sent Events (heartbeats
// every 5 s; 15 s of silence ends the Exec with ETIMEDOUT, so a dead server
// never hangs it), ctx cancellation POSTs a cancel and returns the
// "killed" result, Close deletes the sandbox.  Output arrives as JSON text:
// invalid UTF-8 becomes U+FFFD.  Options naming host paths (Binds,
// WorkspaceDir, Rootfs), ID, UpstreamCA and Secrets are refused; secrets
// are named with SecretNames from the tenant's vault.  Errors are *Error
// with petrid's Code, Status and Quota, and an errno that keeps in-process
// checks working (see Error).
//
// # Building
//
// The package needs libpetri's header and shared library: see README.md
// (CGO_CFLAGS/CGO_LDFLAGS for an in-tree build, or -tags petri_pkgconfig to
// use pkg-config).
package petri
