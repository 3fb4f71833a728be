// SPDX-License-Identifier: Apache-2.0

package petri

/*
#include <stdint.h>
#include <stdlib.h>
#include <petri/petri.h>

// Exported from callback.go; see petri.go for why a trampoline.
extern int petriGoOutput(int stream, char *data, size_t len, uintptr_t handle);

static int petri_go_output(int stream, const char *data, size_t len, void *ud)
{
	return petriGoOutput(stream, (char *)data, len, (uintptr_t)ud);
}

static void petri_go_exec_set_output(petri_exec_opts *o, uintptr_t handle)
{
	o->on_output = petri_go_output;
	o->userdata = (void *)handle;
}
*/
import "C"

import (
	"context"
	"fmt"
	"runtime"
	"runtime/cgo"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"
)

// DefaultTimeout is the wall-clock limit of an exec without WithTimeout (the
// library's default).
const DefaultTimeout = 30 * time.Second

// Why an exec ended: the values of Result.Reason.
const (
	ReasonExited      = "exited"       // the main process exited by itself
	ReasonSignaled    = "signaled"     // killed by a signal it received or raised
	ReasonTimeout     = "timeout"      // wall-clock timeout
	ReasonMemory      = "memory"       // the cgroup OOM killer
	ReasonPids        = "pids"         // the pids limit was hit and the exec failed
	ReasonOutputLimit = "output_limit" // WithOutputKill exceeded
	ReasonKilled      = "killed"       // killed by the host: Cancel, context, callback, Close
	ReasonSeccomp     = "seccomp"      // killed by the seccomp filter
	ReasonCPU         = "cpu"          // CPU time limit
	ReasonFileSize    = "file_size"    // file size limit
	ReasonSandboxDied = "sandbox_died" // the sandbox's init died under the exec
	ReasonFailed      = "failed"       // audit streams only: the exec could not run
)

// Stream identifies stdout or stderr in a WithOutput callback.
type Stream int

const (
	Stdout Stream = C.PETRI_STREAM_STDOUT
	Stderr Stream = C.PETRI_STREAM_STDERR
)

func (s Stream) String() string {
	switch s {
	case Stdout:
		return "stdout"
	case Stderr:
		return "stderr"
	}
	return fmt.Sprintf("stream(%d)", int(s))
}

// Result is how an exec ended and what it printed.
type Result struct {
	Stdout, Stderr []byte // captured output (see WithStdoutLimit)
	// ExitCode is the main process's exit status (0-255), or -1 when a
	// signal killed it.
	ExitCode int
	Signal   int    // the terminating signal, or 0
	Reason   string // why it ended: one of the Reason* constants
	// StdoutTruncated and StderrTruncated say output beyond the capture cap
	// was dropped; StdoutTotal and StderrTotal count every byte written.
	StdoutTruncated, StderrTruncated bool
	StdoutTotal, StderrTotal         uint64
	Wall, CPU                        time.Duration
	PeakMemoryBytes                  uint64
	// LimitsHit names the limits reached during the exec: "memory", "pids",
	// "output", "timeout", "cpu", "file_size".  Never nil.
	LimitsHit []string
	// SeccompDenials counts the syscalls the seccomp filter refused (EPERM).
	SeccompDenials uint64
}

// Output returns the captured stdout as a string.
func (r *Result) Output() string { return string(r.Stdout) }

// LimitHit reports whether LimitsHit contains name.
func (r *Result) LimitHit(name string) bool {
	for _, l := range r.LimitsHit {
		if l == name {
			return true
		}
	}
	return false
}

// An ExecOption adjusts one Exec or Run.  Zero values take the library's
// defaults.
type ExecOption func(*execConfig)

type execConfig struct {
	timeout, cpu         time.Duration
	stdin                []byte
	haveStdin            bool
	env                  map[string]string
	cwd, language        string
	args                 []string
	haveArgs             bool
	stdoutMax, stderrMax uint64
	outputKill, fileSize uint64
	nofile               uint32
	output               func(Stream, []byte)
}

// WithTimeout sets the wall-clock limit (default 30 s, DefaultTimeout).  The
// exec ends with Reason "timeout" and no error.  A context deadline that
// comes earlier wins; then Exec also returns context.DeadlineExceeded.
func WithTimeout(d time.Duration) ExecOption { return func(c *execConfig) { c.timeout = d } }

// WithCPU sets the CPU time limit per process (RLIMIT_CPU, so rounded up to
// whole seconds); default: more than the timeout allows (timeout x CPUs +
// 1 s), so without it a busy loop ends by timeout.  Reason "cpu".
func WithCPU(d time.Duration) ExecOption { return func(c *execConfig) { c.cpu = d } }

// WithStdin feeds data to the code's stdin, then EOF (default: EOF at once).
func WithStdin(data []byte) ExecOption {
	return func(c *execConfig) { c.stdin, c.haveStdin = data, true }
}

// WithEnv adds environment variables for this exec, on top of Options.Env.
func WithEnv(env map[string]string) ExecOption { return func(c *execConfig) { c.env = env } }

// WithCwd sets the working directory inside the sandbox (default /workspace).
func WithCwd(dir string) ExecOption { return func(c *execConfig) { c.cwd = dir } }

// WithLanguage runs Exec's code in this language instead of the sandbox's.
func WithLanguage(lang string) ExecOption { return func(c *execConfig) { c.language = lang } }

// WithArgs passes arguments to Exec's code, after its source file: Python
// sys.argv[1:], Node process.argv.slice(2), sh "$@", Go os.Args[1:].  Run
// refuses it (a command's arguments belong in its argv).
func WithArgs(args ...string) ExecOption {
	return func(c *execConfig) { c.args, c.haveArgs = args, true }
}

// WithStdoutLimit caps the captured stdout in bytes (default 1 MiB); the rest
// is dropped and StdoutTruncated set.
func WithStdoutLimit(n uint64) ExecOption { return func(c *execConfig) { c.stdoutMax = n } }

// WithStderrLimit caps the captured stderr in bytes (default 1 MiB).
func WithStderrLimit(n uint64) ExecOption { return func(c *execConfig) { c.stderrMax = n } }

// WithOutputKill kills the exec (Reason "output_limit") once it has written
// n bytes in total to stdout and stderr (default 64 MiB).
func WithOutputKill(n uint64) ExecOption { return func(c *execConfig) { c.outputKill = n } }

// WithFileSize sets the largest file the code may write (RLIMIT_FSIZE;
// default 1 GiB).  Reason "file_size".
func WithFileSize(n uint64) ExecOption { return func(c *execConfig) { c.fileSize = n } }

// WithNoFile sets the open-files limit (RLIMIT_NOFILE; default 1024).
func WithNoFile(n uint32) ExecOption { return func(c *execConfig) { c.nofile = n } }

// WithOutput streams output as it is produced: fn is called on the calling
// goroutine, in order, with every chunk of stdout and stderr (also beyond
// the capture caps, up to WithOutputKill).  data is a fresh copy fn may
// keep.  The output is still captured in the Result.  A panic in fn kills the
// exec and is returned as a *PanicError.  fn must not call runtime.Goexit
// (t.FailNow and friends).  To stop early, cancel the context.  fn may call
// Cancel and Close on the sandbox (Close then takes effect when Exec
// returns); the methods that would wait for the exec return ErrBusy.
func WithOutput(fn func(stream Stream, data []byte)) ExecOption {
	return func(c *execConfig) { c.output = fn }
}

// Exec runs code in the sandbox's language (or WithLanguage's) and waits for
// it.  The code is written to a file in a private directory and run by the
// language's toolchain with /workspace as its working directory.
//
// The error is nil whenever the code ran, whatever its exit status: look at
// Result.Reason and Result.ExitCode.  It is non-nil when:
//   - the exec could not start (an *Error: unknown language, the sandbox is
//     dead...; the Result is nil);
//   - ctx was done: the code is killed promptly and Exec returns its Result
//     (Reason "killed", or "timeout" when ctx's deadline was the exec's
//     timeout) with an error for which errors.Is(err, ctx.Err()) holds; if
//     ctx is done before the exec starts, the Result is nil;
//   - the WithOutput callback panicked (a *PanicError, with the Result);
//   - the sandbox was closed (ErrClosed; with the Result when Close
//     interrupted the exec).
func (s *Sandbox) Exec(ctx context.Context, code string, opts ...ExecOption) (*Result, error) {
	r, err := s.b.exec(ctx, "exec", code, nil, buildConfig(opts))
	runtime.KeepAlive(s)
	return r, err
}

// Run runs a program in the sandbox and waits for it; argv[0] is looked up in
// PATH inside.  Errors and Result as for Exec (a missing program is an
// *Error wrapping syscall.ENOENT).
func (s *Sandbox) Run(ctx context.Context, argv []string, opts ...ExecOption) (*Result, error) {
	if len(argv) == 0 {
		return nil, invalid("run", "empty argv")
	}
	r, err := s.b.exec(ctx, "run", "", argv, buildConfig(opts))
	runtime.KeepAlive(s)
	return r, err
}

// buildConfig applies the options in order.
func buildConfig(opts []ExecOption) *execConfig {
	cfg := &execConfig{}
	for _, o := range opts {
		if o != nil {
			o(cfg)
		}
	}
	return cfg
}

// checkExec applies the rules both backends share before anything is sent:
// NUL bytes, WithArgs with Run, the environment.  It returns the env list.
func checkExec(op, code string, argv []string, cfg *execConfig) ([]string, error) {
	if argv != nil {
		if cfg.haveArgs {
			return nil, invalid(op, "WithArgs applies to Exec's code (put a command's arguments in argv)")
		}
		for _, a := range argv {
			if strings.IndexByte(a, 0) >= 0 {
				return nil, invalid(op, "argument %q contains a NUL byte", a)
			}
		}
	} else {
		if strings.IndexByte(code, 0) >= 0 {
			return nil, invalid(op, "code contains a NUL byte")
		}
		for _, a := range cfg.args {
			if strings.IndexByte(a, 0) >= 0 {
				return nil, invalid(op, "argument %q contains a NUL byte", a)
			}
		}
	}
	for _, f := range []struct{ v, name string }{{cfg.language, "language"}, {cfg.cwd, "cwd"}} {
		if strings.IndexByte(f.v, 0) >= 0 {
			return nil, invalid(op, "%s contains a NUL byte", f.name)
		}
	}
	return envList(op, cfg.env)
}

// execTimeout is the exec's timeout: the earlier of WithTimeout (or the
// default) and ctx's deadline, measured now.  send says whether to pass it
// (false: the library's default applies); fromCtx whether the deadline won.
func execTimeout(ctx context.Context, cfg *execConfig) (timeout time.Duration, send, fromCtx bool) {
	timeout = cfg.timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if dl, ok := ctx.Deadline(); ok {
		if rem := time.Until(dl); rem < timeout {
			timeout, fromCtx = rem, true
			if timeout < time.Millisecond {
				timeout = time.Millisecond
			}
		}
	}
	return timeout, cfg.timeout > 0 || fromCtx, fromCtx
}

// outputState is what the exported callback reaches through a cgo.Handle.
type outputState struct {
	fn    func(Stream, []byte)
	panic *PanicError // set when fn panicked; then fn is not called again
	s     *serial     // marked (cbG) while fn runs
}

// msCeil converts a duration to whole milliseconds, rounding up, so a short
// positive duration never becomes 0 (which means "default").
func msCeil(d time.Duration) C.uint64_t {
	if d <= 0 {
		return 0
	}
	return C.uint64_t((d + time.Millisecond - 1) / time.Millisecond)
}

func (s *sandbox) exec(ctx context.Context, op, code string, argv []string, cfg *execConfig) (*Result, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("petri: %s: %w", op, err)
	}
	env, err := checkExec(op, code, argv, cfg)
	if err != nil {
		return nil, err
	}

	var a cArena
	defer a.free()
	var eo C.petri_exec_opts
	C.petri_exec_opts_init(&eo)
	if argv != nil {
		if eo.argv, err = a.strv(op, "argument", argv); err != nil {
			return nil, err
		}
	} else {
		eo.code = a.str(code)
		if cfg.haveArgs {
			if eo.args, err = a.strv(op, "argument", cfg.args); err != nil {
				return nil, err
			}
		}
	}
	if cfg.language != "" {
		eo.language = a.str(cfg.language)
	}
	if cfg.cwd != "" {
		eo.cwd = a.str(cfg.cwd)
	}
	if eo.env, err = a.strv(op, "env", env); err != nil {
		return nil, err
	}
	if cfg.haveStdin && len(cfg.stdin) > 0 {
		eo.stdin_data = a.bytes(cfg.stdin)
		eo.stdin_len = C.uint64_t(len(cfg.stdin))
	}

	eo.cpu_ms = msCeil(cfg.cpu)
	eo.stdout_max = C.uint64_t(cfg.stdoutMax)
	eo.stderr_max = C.uint64_t(cfg.stderrMax)
	eo.output_kill_bytes = C.uint64_t(cfg.outputKill)
	eo.file_size_max = C.uint64_t(cfg.fileSize)
	eo.nofile_max = C.uint32_t(cfg.nofile)

	var out *outputState
	if cfg.output != nil {
		out = &outputState{fn: cfg.output, s: &s.serial}
		h := cgo.NewHandle(out)
		defer h.Delete()
		C.petri_go_exec_set_output(&eo, C.uintptr_t(h))
	}

	if err := s.acquire(ctx); err != nil {
		return nil, fmt.Errorf("petri: %s: %w", op, err)
	}
	defer s.release()
	if !s.usable() {
		return nil, ErrClosed
	}

	// The exec's timeout is the earlier of WithTimeout (or the default) and
	// ctx's deadline (measured now, after any wait for the sandbox), so a
	// deadline ends the code even if the watcher below were late.
	timeout, send, fromCtx := execTimeout(ctx, cfg)
	if send {
		eo.timeout_ms = msCeil(timeout)
	}

	// The C call runs on this goroutine; a watcher cancels it when ctx is
	// done.  The cancel is repeated until the exec returns, because the
	// library drops a cancel that lands before the exec has started.  The
	// watcher ends before this function returns, so it never touches a
	// destroyed sandbox.
	var fired atomic.Bool
	var stop, finished chan struct{}
	if done := ctx.Done(); done != nil {
		stop, finished = make(chan struct{}), make(chan struct{})
		go func() {
			defer close(finished)
			select {
			case <-stop:
				return
			case <-done:
			}
			fired.Store(true)
			s.cancel()
			t := time.NewTicker(25 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					s.cancel()
				}
			}
		}()
	}
	var res *C.petri_result
	var perr *C.petri_error
	rc := C.petri_sandbox_exec(s.sb, &eo, &res, &perr)
	if stop != nil {
		close(stop)
		<-finished
	}
	if s.closeLeft.Load() {
		// Close was called from our own callback: it is ours to finish.
		defer s.destroyLocked()
	}
	if rc < 0 {
		return nil, takeError(op, rc, perr)
	}
	r := convertResult(res)
	C.petri_result_free(res)

	switch {
	case out != nil && out.panic != nil:
		return r, out.panic
	case fired.Load() && r.Reason == ReasonKilled:
		return r, fmt.Errorf("petri: %s: %w", op, ctx.Err())
	case fromCtx && r.Reason == ReasonTimeout:
		return r, fmt.Errorf("petri: %s: %w", op, context.DeadlineExceeded)
	case r.Reason == ReasonKilled && !s.usable():
		return r, ErrClosed
	}
	return r, nil
}

var limitNames = []struct {
	bit  C.uint32_t
	name string
}{
	{C.PETRI_LIMIT_MEMORY, "memory"},
	{C.PETRI_LIMIT_PIDS, "pids"},
	{C.PETRI_LIMIT_OUTPUT, "output"},
	{C.PETRI_LIMIT_TIMEOUT, "timeout"},
	{C.PETRI_LIMIT_CPU, "cpu"},
	{C.PETRI_LIMIT_FILE_SIZE, "file_size"},
}

func convertResult(res *C.petri_result) *Result {
	r := &Result{
		ExitCode:        int(C.petri_result_exit_code(res)),
		Signal:          int(C.petri_result_signal(res)),
		Reason:          C.GoString(C.petri_reason_name(C.petri_result_reason(res))),
		StdoutTruncated: C.petri_result_stdout_truncated(res) != 0,
		StderrTruncated: C.petri_result_stderr_truncated(res) != 0,
		StdoutTotal:     uint64(C.petri_result_stdout_total(res)),
		StderrTotal:     uint64(C.petri_result_stderr_total(res)),
		SeccompDenials:  uint64(C.petri_result_seccomp_denials(res)),
		Wall:            time.Duration(C.petri_result_wall_ns(res)),
		CPU:             time.Duration(C.petri_result_cpu_ns(res)),
		PeakMemoryBytes: uint64(C.petri_result_peak_memory_bytes(res)),
		LimitsHit:       []string{},
	}
	var n C.size_t
	r.Stdout = goBytes(C.petri_result_stdout(res, &n), n)
	r.Stderr = goBytes(C.petri_result_stderr(res, &n), n)
	hit := C.petri_result_limits_hit(res)
	for _, l := range limitNames {
		if hit&l.bit != 0 {
			r.LimitsHit = append(r.LimitsHit, l.name)
		}
	}
	return r
}

// goBytes copies n bytes of C memory into a new slice (never nil).  Unlike
// C.GoBytes it takes a size_t, so lengths past 2 GiB are not truncated.
func goBytes(p *C.char, n C.size_t) []byte {
	if p == nil || n == 0 {
		return []byte{}
	}
	b := make([]byte, int(n))
	copy(b, unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n)))
	return b
}
