// SPDX-License-Identifier: Apache-2.0

package petri_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	petri "github.com/libpetri/petri-go"
)

// inCI: with CI=true a feature this machine supports may not be skipped.
var inCI = os.Getenv("CI") == "true"

// skipOrFail skips where a feature is missing, except in CI.
func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if inCI {
		t.Fatalf("CI=true: "+format, args...)
	}
	t.Skipf(format, args...)
}

func newSandbox(t *testing.T, opts petri.Options) *petri.Sandbox {
	t.Helper()
	sb, err := petri.New(opts)
	if err != nil {
		t.Fatalf("petri.New(%+v): %v", opts, err)
	}
	t.Cleanup(func() { sb.Close() })
	return sb
}

func mustExec(t *testing.T, sb *petri.Sandbox, code string, opts ...petri.ExecOption) *petri.Result {
	t.Helper()
	r, err := sb.Exec(context.Background(), code, opts...)
	if err != nil {
		t.Fatalf("Exec(%q): %v", code, err)
	}
	return r
}

func mustRun(t *testing.T, sb *petri.Sandbox, argv ...string) *petri.Result {
	t.Helper()
	r, err := sb.Run(context.Background(), argv)
	if err != nil {
		t.Fatalf("Run(%q): %v", argv, err)
	}
	return r
}

func wantReason(t *testing.T, r *petri.Result, reason string) {
	t.Helper()
	if r == nil {
		t.Fatalf("no result; want reason %q", reason)
	}
	if r.Reason != reason {
		t.Fatalf("reason %q, want %q (exit %d, signal %d, limits %v, stdout %q, stderr %q)",
			r.Reason, reason, r.ExitCode, r.Signal, r.LimitsHit, r.Stdout, r.Stderr)
	}
}

// cgroupMode asks a fresh context how limits are enforced here.
func cgroupMode(t *testing.T) petri.CgroupMode {
	t.Helper()
	c, err := petri.NewContext(petri.ContextOptions{})
	if err != nil {
		t.Fatalf("NewContext: %v", err)
	}
	defer c.Close()
	return c.CgroupMode()
}

// The DESIGN.md contract, verbatim.
func TestContractFlow(t *testing.T) { eachTransport(t, testContractFlow) }

func testContractFlow(t *testing.T, tr transport) {
	sb, err := tr.new(petri.Options{Language: "python"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := sb.Exec(context.Background(), "print('hello from isolation')")
	if err != nil {
		t.Fatal(err)
	}
	if res.Output() != "hello from isolation\n" || string(res.Stdout) != res.Output() {
		t.Fatalf("output %q", res.Output())
	}
	if res.ExitCode != 0 || res.Reason != petri.ReasonExited || res.Signal != 0 || len(res.Stderr) != 0 {
		t.Fatalf("result %+v", res)
	}
	if res.Wall <= 0 || res.CPU <= 0 {
		t.Fatalf("wall %v cpu %v: not measured", res.Wall, res.CPU)
	}
	if !strings.HasPrefix(sb.ID(), "sb_") || sb.Language() != "python" {
		t.Fatalf("id %q language %q", sb.ID(), sb.Language())
	}
	if err := sb.Close(); err != nil {
		t.Fatal(err)
	}
	if petri.Version() == "" {
		t.Fatal("empty version")
	}
}

func TestLanguages(t *testing.T) { eachTransport(t, testLanguages) }

func testLanguages(t *testing.T, tr transport) {
	cases := []struct {
		lang, code, tool string
	}{
		{"python", "import sys\nprint('py', sys.version_info[0])", "/usr/bin/python3"},
		{"sh", "echo sh $((6*7))", "/bin/sh"},
		{"node", "console.log('node', 6*7)", "/usr/bin/node"},
		{"go", "package main\nimport \"fmt\"\nfunc main() { fmt.Println(\"go\", 6*7) }\n", "/usr/bin/go"},
	}
	want := map[string]string{"python": "py 3\n", "sh": "sh 42\n", "node": "node 42\n", "go": "go 42\n"}
	for _, c := range cases {
		t.Run(c.lang, func(t *testing.T) {
			if _, err := os.Stat(c.tool); err != nil {
				skipOrFail(t, "%s not installed: %v", c.tool, err)
			}
			sb := tr.newSandbox(t, petri.Options{Language: c.lang})
			// go run compiles: allow it time.
			r := mustExec(t, sb, c.code, petri.WithTimeout(120*time.Second))
			wantReason(t, r, petri.ReasonExited)
			if r.Output() != want[c.lang] || r.ExitCode != 0 {
				t.Fatalf("%s: exit %d stdout %q stderr %q", c.lang, r.ExitCode, r.Stdout, r.Stderr)
			}
		})
	}
	// One sandbox, another language per exec.
	sb := tr.newSandbox(t, petri.Options{})
	r := mustExec(t, sb, "print(2**10)", petri.WithLanguage("python"))
	if r.Output() != "1024\n" {
		t.Fatalf("WithLanguage: %q", r.Stdout)
	}
}

// WithArgs reaches the code after its source file, in every language; Go
// keeps its own exit status; Run refuses it.
func TestExecArgs(t *testing.T) { eachTransport(t, testExecArgs) }

func testExecArgs(t *testing.T, tr transport) {
	args := []string{"-c", "", "y z"}
	cases := []struct{ lang, code, want string }{
		{"python", "import sys; print(sys.argv[1:])", "['-c', '', 'y z']\n"},
		{"node", "console.log(JSON.stringify(process.argv.slice(2)))", `["-c","","y z"]` + "\n"},
		{"sh", `printf '[%s]' "$@"; echo`, "[-c][][y z]\n"},
		{"go", "package main\nimport (\"fmt\"; \"os\")\nfunc main() { fmt.Printf(\"%q\\n\", os.Args[1:]); os.Exit(len(os.Args)) }\n",
			`["-c" "" "y z"]` + "\n"},
	}
	sb := tr.newSandbox(t, petri.Options{})
	for _, c := range cases {
		r := mustExec(t, sb, c.code, petri.WithLanguage(c.lang), petri.WithArgs(args...),
			petri.WithTimeout(120*time.Second))
		wantExit := 0
		if c.lang == "go" {
			wantExit = 4
		}
		if r.Output() != c.want || r.ExitCode != wantExit {
			t.Fatalf("%s: exit %d stdout %q stderr %q", c.lang, r.ExitCode, r.Stdout, r.Stderr)
		}
	}
	_, err := sb.Run(context.Background(), []string{"true"}, petri.WithArgs("x"))
	if !errors.Is(err, syscall.EINVAL) || !strings.Contains(err.Error(), "WithArgs") {
		t.Fatalf("Run with WithArgs: %v", err)
	}
	_, err = sb.Exec(context.Background(), "true", petri.WithLanguage("sh"), petri.WithArgs("a\x00b"))
	if !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("NUL in an argument: %v", err)
	}
}

func TestExitCodesAndSignals(t *testing.T) { eachTransport(t, testExitCodesAndSignals) }

func testExitCodesAndSignals(t *testing.T, tr transport) {
	sb := tr.newSandbox(t, petri.Options{Language: "sh"})
	r := mustExec(t, sb, "echo out; echo err >&2; exit 3")
	wantReason(t, r, petri.ReasonExited)
	if r.ExitCode != 3 || r.Signal != 0 || r.Output() != "out\n" || string(r.Stderr) != "err\n" {
		t.Fatalf("result %+v", r)
	}
	r = mustExec(t, sb, "kill -KILL $$")
	wantReason(t, r, petri.ReasonSignaled)
	if r.ExitCode != -1 || r.Signal != int(syscall.SIGKILL) {
		t.Fatalf("exit %d signal %d", r.ExitCode, r.Signal)
	}
}

func TestTimeout(t *testing.T) { eachTransport(t, testTimeout) }

func testTimeout(t *testing.T, tr transport) {
	sb := tr.newSandbox(t, petri.Options{})
	t0 := time.Now()
	r, err := sb.Run(context.Background(), []string{"/bin/sh", "-c", "sleep 30 & sleep 30"},
		petri.WithTimeout(300*time.Millisecond))
	if err != nil {
		t.Fatalf("a timeout is a result, not an error: %v", err)
	}
	wantReason(t, r, petri.ReasonTimeout)
	if !r.LimitHit("timeout") {
		t.Fatalf("limits %v", r.LimitsHit)
	}
	if d := time.Since(t0); d > 3*time.Second {
		t.Fatalf("300 ms timeout took %v", d)
	}
}

func TestCPULimit(t *testing.T) { eachTransport(t, testCPULimit) }

func testCPULimit(t *testing.T, tr transport) {
	sb := tr.newSandbox(t, petri.Options{Language: "python"})
	r := mustExec(t, sb, "while True:\n    pass\n", petri.WithCPU(time.Second), petri.WithTimeout(20*time.Second))
	wantReason(t, r, petri.ReasonCPU)
	if !r.LimitHit("cpu") || r.CPU < 500*time.Millisecond {
		t.Fatalf("limits %v cpu %v", r.LimitsHit, r.CPU)
	}
}

func TestMemoryLimit(t *testing.T) { eachTransport(t, testMemoryLimit) }

func testMemoryLimit(t *testing.T, tr transport) {
	if m := cgroupMode(t); m == petri.CgroupNone {
		skipOrFail(t, "no writable cgroup: memory limits are rlimit fallbacks")
	}
	sb := tr.newSandbox(t, petri.Options{Language: "python", Memory: 64 << 20})
	r := mustExec(t, sb, "chunks = []\nfor i in range(50):\n    chunks.append(b'x' * (10 << 20))\nprint('allocated 500 MiB')\n")
	wantReason(t, r, petri.ReasonMemory)
	if !r.LimitHit("memory") || r.ExitCode == 0 || strings.Contains(r.Output(), "allocated") {
		t.Fatalf("result %+v", r)
	}
	if r.PeakMemoryBytes == 0 || r.PeakMemoryBytes > 80<<20 {
		t.Fatalf("peak memory %d for a 64 MiB limit", r.PeakMemoryBytes)
	}
	// The OOM kill took the exec, not the sandbox.
	r = mustExec(t, sb, "print('still here')")
	wantReason(t, r, petri.ReasonExited)
}

func TestPidsLimit(t *testing.T) { eachTransport(t, testPidsLimit) }

func testPidsLimit(t *testing.T, tr transport) {
	if m := cgroupMode(t); m == petri.CgroupNone {
		skipOrFail(t, "no writable cgroup: pids limits are rlimit fallbacks")
	}
	sb := tr.newSandbox(t, petri.Options{Language: "python", Pids: 16})
	r := mustExec(t, sb, "import os, time\nfor i in range(100):\n    if os.fork() == 0:\n        time.sleep(10)\n        os._exit(0)\nprint('forked 100')\n")
	wantReason(t, r, petri.ReasonPids)
	if !r.LimitHit("pids") || r.ExitCode == 0 || r.Output() != "" {
		t.Fatalf("result %+v", r)
	}
}

// Cancelling the context kills `sleep 60` promptly.
func TestContextCancel(t *testing.T) { eachTransport(t, testContextCancel) }

func testContextCancel(t *testing.T, tr transport) {
	sb := tr.newSandbox(t, petri.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var cancelled time.Time
	go func() {
		time.Sleep(300 * time.Millisecond)
		cancelled = time.Now()
		cancel()
	}()
	t0 := time.Now()
	r, err := sb.Run(ctx, []string{"sleep", "60"})
	end := time.Now()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	wantReason(t, r, petri.ReasonKilled)
	if d := end.Sub(cancelled); d > time.Second {
		t.Fatalf("exec returned %v after the cancel", d)
	}
	if d := end.Sub(t0); d < 250*time.Millisecond {
		t.Fatalf("exec returned after %v, before the cancel", d)
	}
	// The sandbox lives on.
	if r := mustRun(t, sb, "echo", "alive"); r.Output() != "alive\n" {
		t.Fatalf("after cancel: %q", r.Stdout)
	}
}

// Cancelling right as an exec starts must never be lost: the library drops
// a cancel that lands before the exec has begun (it drains stale cancels),
// so the binding repeats it.  8 MiB of code (the library's maximum, copied
// into the request) widens that window to milliseconds; the cancels sweep
// across it.
func TestContextCancelRace(t *testing.T) { eachTransport(t, testContextCancelRace) }

// Remotely the window is the request's trip to petrid: a cancel POSTed
// before petrid has started the exec finds nothing to kill, so the binding
// repeats it; small code, and cancels swept over the first 30 ms.
func testContextCancelRace(t *testing.T, tr transport) {
	sb := tr.newSandbox(t, petri.Options{Language: "sh"})
	code := "sleep 60\n#" + strings.Repeat("x", 8<<20-64) + "\n"
	step := 250 * time.Microsecond
	if tr.remote() {
		code, step = "sleep 60\n", time.Millisecond
	}
	for i := 0; i < 30; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		go func(d time.Duration) {
			time.Sleep(d)
			cancel()
		}(time.Duration(i) * step)
		t0 := time.Now()
		// The timeout is a backstop: a lost cancel shows as reason "timeout".
		r, err := sb.Exec(ctx, code, petri.WithTimeout(5*time.Second))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("round %d: err %v, result %+v", i, err, r)
		}
		if d := time.Since(t0); d > 2*time.Second {
			t.Fatalf("round %d: took %v", i, d)
		}
		cancel()
	}
}

func TestContextDeadline(t *testing.T) { eachTransport(t, testContextDeadline) }

func testContextDeadline(t *testing.T, tr transport) {
	sb := tr.newSandbox(t, petri.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	r, err := sb.Run(ctx, []string{"sleep", "60"}, petri.WithTimeout(time.Minute))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want context.DeadlineExceeded", err)
	}
	if r == nil || (r.Reason != petri.ReasonTimeout && r.Reason != petri.ReasonKilled) {
		t.Fatalf("result %+v", r)
	}
	if d := time.Since(t0); d > 2*time.Second || d < 250*time.Millisecond {
		t.Fatalf("300 ms deadline: returned after %v", d)
	}
	// An explicit timeout earlier than the deadline is a plain result.
	ctx2, cancel2 := context.WithTimeout(context.Background(), time.Minute)
	defer cancel2()
	r, err = sb.Run(ctx2, []string{"sleep", "60"}, petri.WithTimeout(200*time.Millisecond))
	if err != nil {
		t.Fatalf("explicit timeout: err %v", err)
	}
	wantReason(t, r, petri.ReasonTimeout)
}

func TestContextAlreadyDone(t *testing.T) { eachTransport(t, testContextAlreadyDone) }

func testContextAlreadyDone(t *testing.T, tr transport) {
	sb := tr.newSandbox(t, petri.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r, err := sb.Run(ctx, []string{"sleep", "60"})
	if !errors.Is(err, context.Canceled) || r != nil {
		t.Fatalf("r %v err %v", r, err)
	}
}

func TestCancelMethod(t *testing.T) { eachTransport(t, testCancelMethod) }

func testCancelMethod(t *testing.T, tr transport) {
	sb := tr.newSandbox(t, petri.Options{})
	sb.Cancel() // nothing running: forgotten by the next exec
	if r := mustRun(t, sb, "true"); r.Reason != petri.ReasonExited {
		t.Fatalf("a stale Cancel killed the next exec: %+v", r)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		sb.Cancel()
	}()
	t0 := time.Now()
	r, err := sb.Run(context.Background(), []string{"sleep", "60"})
	if err != nil {
		t.Fatalf("Cancel is a result, not an error: %v", err)
	}
	wantReason(t, r, petri.ReasonKilled)
	if d := time.Since(t0); d > 2*time.Second {
		t.Fatalf("took %v", d)
	}
}

type chunk struct {
	stream petri.Stream
	data   string
	at     time.Time
}

func TestStreaming(t *testing.T) { eachTransport(t, testStreaming) }

func testStreaming(t *testing.T, tr transport) {
	sb := tr.newSandbox(t, petri.Options{Language: "python"})
	var chunks []chunk
	code := `import sys, time
for i in range(5):
    print('out', i, flush=True)
    time.sleep(0.05)
    print('err', i, file=sys.stderr, flush=True)
    time.sleep(0.05)
time.sleep(0.5)
print('last', flush=True)
`
	r, err := sb.Exec(context.Background(), code, petri.WithOutput(func(s petri.Stream, b []byte) {
		chunks = append(chunks, chunk{s, string(b), time.Now()})
	}))
	end := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	wantReason(t, r, petri.ReasonExited)
	var out, errb strings.Builder
	var order []string
	for _, c := range chunks {
		switch c.stream {
		case petri.Stdout:
			out.WriteString(c.data)
		case petri.Stderr:
			errb.WriteString(c.data)
		default:
			t.Fatalf("stream %v", c.stream)
		}
		for _, line := range strings.SplitAfter(c.data, "\n") {
			if line != "" {
				order = append(order, c.stream.String()+":"+strings.TrimSpace(line))
			}
		}
	}
	if out.String() != r.Output() || errb.String() != string(r.Stderr) {
		t.Fatalf("streamed %q/%q, captured %q/%q", out.String(), errb.String(), r.Stdout, r.Stderr)
	}
	want := []string{}
	for i := 0; i < 5; i++ {
		want = append(want, fmt.Sprintf("stdout:out %d", i), fmt.Sprintf("stderr:err %d", i))
	}
	want = append(want, "stdout:last")
	if strings.Join(order, "|") != strings.Join(want, "|") {
		t.Fatalf("order %v, want %v", order, want)
	}
	// Live, not replayed at the end: the first chunk came long before.
	if d := end.Sub(chunks[0].at); d < 400*time.Millisecond {
		t.Fatalf("first chunk arrived only %v before the exec ended", d)
	}
}

// The callback sees every byte, also beyond the capture cap.
func TestStreamingBeyondCap(t *testing.T) { eachTransport(t, testStreamingBeyondCap) }

func testStreamingBeyondCap(t *testing.T, tr transport) {
	sb := tr.newSandbox(t, petri.Options{Language: "python"})
	var n int
	var all bytes.Buffer
	r, err := sb.Exec(context.Background(), "import sys\nsys.stdout.write('x' * 300000)\n",
		petri.WithStdoutLimit(100), petri.WithOutput(func(s petri.Stream, b []byte) {
			n += len(b)
			all.Write(b)
		}))
	if err != nil {
		t.Fatal(err)
	}
	if n != 300000 || all.String() != strings.Repeat("x", 300000) {
		t.Fatalf("streamed %d bytes", n)
	}
	if len(r.Stdout) != 100 || !r.StdoutTruncated || r.StdoutTotal != 300000 || !r.LimitHit("output") {
		t.Fatalf("captured %d truncated %v total %d limits %v", len(r.Stdout), r.StdoutTruncated, r.StdoutTotal, r.LimitsHit)
	}
}

func TestCallbackPanic(t *testing.T) { eachTransport(t, testCallbackPanic) }

func testCallbackPanic(t *testing.T, tr transport) {
	sb := tr.newSandbox(t, petri.Options{Language: "python"})
	calls := 0
	t0 := time.Now()
	r, err := sb.Exec(context.Background(), "import time\nwhile True:\n    print('tick', flush=True)\n    time.sleep(0.01)\n",
		petri.WithOutput(func(petri.Stream, []byte) {
			calls++
			panic("boom")
		}))
	var pe *petri.PanicError
	if !errors.As(err, &pe) || pe.Value != "boom" || len(pe.Stack) == 0 {
		t.Fatalf("err %v, want a *PanicError with the value", err)
	}
	wantReason(t, r, petri.ReasonKilled)
	if calls != 1 {
		t.Fatalf("callback called %d times after panicking", calls)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Fatalf("took %v", d)
	}
	if r := mustExec(t, sb, "print('ok')"); r.Output() != "ok\n" {
		t.Fatalf("after panic: %q", r.Stdout)
	}
}

func TestFiles(t *testing.T) { eachTransport(t, testFiles) }

func testFiles(t *testing.T, tr transport) {
	sb := tr.newSandbox(t, petri.Options{Language: "python"})
	in := []byte("line1\nline2\x00binary\xff\n")
	if err := sb.WriteFile("data/in.txt", in, 0o644); err != nil {
		t.Fatal(err)
	}
	r := mustExec(t, sb, `import os
d = open('data/in.txt', 'rb').read()
print(len(d), oct(os.stat('data/in.txt').st_mode & 0o777), os.getcwd())
open('out.bin', 'wb').write(bytes(range(256)) * 4)
`)
	if r.Output() != fmt.Sprintf("%d 0o644 /workspace\n", len(in)) {
		t.Fatalf("inside: %q %q", r.Stdout, r.Stderr)
	}
	got, err := sb.ReadFile("/workspace/out.bin")
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Repeat(func() []byte {
		b := make([]byte, 256)
		for i := range b {
			b[i] = byte(i)
		}
		return b
	}(), 4)
	if !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes, want %d", len(got), len(want))
	}
	if back, err := sb.ReadFile("data/in.txt"); err != nil || !bytes.Equal(back, in) {
		t.Fatalf("round trip: %q %v", back, err)
	}
	// Modes: an executable script.
	if err := sb.WriteFile("run.sh", []byte("#!/bin/sh\necho script ran\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if r := mustRun(t, sb, "./run.sh"); r.Output() != "script ran\n" {
		t.Fatalf("script: %+v", r)
	}
	// Empty file.
	if err := sb.WriteFile("empty", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := sb.ReadFile("empty"); err != nil || len(b) != 0 {
		t.Fatalf("empty: %q %v", b, err)
	}
	// Missing file.
	_, err = sb.ReadFile("nope.txt")
	var pe *petri.Error
	if !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, syscall.ENOENT) || !errors.As(err, &pe) || pe.Op != "read_file" {
		t.Fatalf("missing file: %v", err)
	}
	// Escapes.
	if _, err := sb.ReadFile("../etc/passwd"); err == nil {
		t.Fatal("read ../etc/passwd succeeded")
	}
	// A symlink planted by sandboxed code is refused, both ways.
	r = mustExec(t, sb, "import os\nos.symlink('/etc/passwd', 'link')\nos.symlink('/', 'rootlink')\nprint('planted')")
	if r.Output() != "planted\n" {
		t.Fatalf("plant: %+v", r)
	}
	if b, err := sb.ReadFile("link"); err == nil {
		t.Fatalf("ReadFile followed a planted symlink: %q", b)
	} else if !errors.As(err, &pe) || pe.Errno == 0 || pe.Msg == "" {
		t.Fatalf("symlink error not an *Error with errno and message: %#v", err)
	}
	if err := sb.WriteFile("rootlink/tmp/x", []byte("x"), 0o644); err == nil {
		t.Fatal("WriteFile followed a planted symlink")
	}
	if err := sb.WriteFile("link", []byte("x"), 0o644); err == nil {
		t.Fatal("WriteFile wrote through a planted symlink")
	}
	// Big files both ways.
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<20) // 16 MiB
	if err := sb.WriteFile("big", big, 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := sb.ReadFile("big"); err != nil || !bytes.Equal(b, big) {
		t.Fatalf("big: %d bytes, %v", len(b), err)
	}
	if _, err := sb.ReadFileLimit("big", 1024); err == nil {
		t.Fatal("ReadFileLimit(1024) of 16 MiB succeeded")
	}
}

func TestWorkspacePersists(t *testing.T) {
	eachTransport(t, func(t *testing.T, tr transport) {
		sb := tr.newSandbox(t, petri.Options{Language: "python"})
		mustExec(t, sb, "open('state', 'w').write('42')")
		if r := mustExec(t, sb, "print(open('state').read())"); r.Output() != "42\n" {
			t.Fatalf("%q", r.Stdout)
		}
	})
	// A host workspace directory, owned by an unprivileged user (the
	// library refuses a root-owned one).
	dir, err := os.MkdirTemp("", "petri-go-ws-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if os.Getuid() == 0 {
		if err := os.Chown(dir, 1000, 1000); err != nil {
			t.Fatal(err)
		}
	}
	sb2 := newSandbox(t, petri.Options{Language: "sh", WorkspaceDir: dir})
	mustExec(t, sb2, "echo from-sandbox > f.txt")
	if b, err := os.ReadFile(dir + "/f.txt"); err != nil || string(b) != "from-sandbox\n" {
		t.Fatalf("host side: %q %v", b, err)
	}
}

func TestStdinEnvCwdHostname(t *testing.T) { eachTransport(t, testStdinEnvCwdHostname) }

func testStdinEnvCwdHostname(t *testing.T, tr transport) {
	sb := tr.newSandbox(t, petri.Options{Language: "sh", Env: map[string]string{"A": "from-options", "B": "b"}, Hostname: "gotest"})
	big := bytes.Repeat([]byte("y"), 8<<20)
	r, err := sb.Run(context.Background(), []string{"wc", "-c"}, petri.WithStdin(big))
	if err != nil || strings.TrimSpace(r.Output()) != "8388608" {
		t.Fatalf("stdin: %+v %v", r, err)
	}
	r = mustExec(t, sb, `echo "$A $B $C"; pwd; hostname`,
		petri.WithEnv(map[string]string{"A": "from-exec", "C": "c"}), petri.WithCwd("/tmp"))
	if r.Output() != "from-exec b c\n/tmp\ngotest\n" {
		t.Fatalf("env/cwd/hostname: %q %q", r.Stdout, r.Stderr)
	}
	// The host's environment does not leak in.
	os.Setenv("PETRI_GO_TEST_SECRET", "leak")
	defer os.Unsetenv("PETRI_GO_TEST_SECRET")
	if r := mustRun(t, sb, "env"); strings.Contains(r.Output(), "PETRI_GO_TEST_SECRET") {
		t.Fatal("host env leaked into the sandbox")
	}
}

func TestOutputLimits(t *testing.T) { eachTransport(t, testOutputLimits) }

func testOutputLimits(t *testing.T, tr transport) {
	sb := tr.newSandbox(t, petri.Options{Language: "python"})
	r := mustExec(t, sb, "import sys\nprint('x' * 1000)\nprint('e' * 1000, file=sys.stderr)",
		petri.WithStdoutLimit(10), petri.WithStderrLimit(20))
	if r.Output() != "xxxxxxxxxx" || !r.StdoutTruncated || len(r.Stderr) != 20 || !r.StderrTruncated {
		t.Fatalf("caps: %+v", r)
	}
	r = mustExec(t, sb, "while True:\n    print('x' * 4096)\n", petri.WithOutputKill(1<<20))
	wantReason(t, r, petri.ReasonOutputLimit)
	// (Python ignores SIGXFSZ: use head as the main process, which dies of it.)
	r, err := sb.Run(context.Background(), []string{"sh", "-c", "exec head -c 2097152 /dev/zero > f"}, petri.WithFileSize(1<<20))
	if err != nil {
		t.Fatal(err)
	}
	wantReason(t, r, petri.ReasonFileSize)
}

func TestErrors(t *testing.T) {
	var pe *petri.Error

	_, err := petri.New(petri.Options{Language: "cobol"})
	t.Logf("unknown language: %v", err)
	if !errors.As(err, &pe) || pe.Op != "create" || pe.Errno != syscall.EINVAL ||
		!strings.Contains(pe.Msg, "unknown language 'cobol'") {
		t.Fatalf("unknown language: %#v", err)
	}
	if !strings.HasPrefix(err.Error(), "petri: create: ") || !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("message %q", err)
	}

	_, err = petri.New(petri.Options{Binds: []string{"/nonexistent/petri-go-test:/data"}})
	if !errors.As(err, &pe) || !errors.Is(err, syscall.ENOENT) || !strings.Contains(pe.Msg, "/nonexistent/petri-go-test") {
		t.Fatalf("missing bind source: %#v", err)
	}
	t.Logf("missing bind source: %v", err)

	if _, err = petri.New(petri.Options{Net: "wifi"}); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("bad net: %v", err)
	}
	for _, bad := range []struct {
		opts     petri.Options
		fragment string
	}{
		{petri.Options{Net: "proxy"}, "allowlist"},
		{petri.Options{Allow: []string{"example.com"}}, "proxy"},
		{petri.Options{Net: "host", Allow: []string{"example.com"}}, "proxy"},
		{petri.Options{NetMaxConns: 3}, "proxy"},
	} {
		_, err = petri.New(bad.opts)
		if !errors.As(err, &pe) || !errors.Is(err, syscall.EINVAL) || !strings.Contains(pe.Msg, bad.fragment) {
			t.Fatalf("%+v: want EINVAL naming %q, got %v", bad.opts, bad.fragment, err)
		}
	}
	if _, err = petri.New(petri.Options{ID: "bad id!"}); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("bad id: %v", err)
	}
	if _, err = petri.New(petri.Options{Env: map[string]string{"A=B": "c"}}); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("bad env: %v", err)
	}

}

// Errors creating a sandbox that both transports report the same way.
func TestCreateErrors(t *testing.T) { eachTransport(t, testCreateErrors) }

func testCreateErrors(t *testing.T, tr transport) {
	var pe *petri.Error
	_, err := tr.new(petri.Options{Language: "cobol"})
	t.Logf("unknown language: %v", err)
	if !errors.As(err, &pe) || pe.Op != "create" || pe.Errno != syscall.EINVAL || !strings.Contains(pe.Msg, "cobol") {
		t.Fatalf("unknown language: %#v", err)
	}
	if _, err = tr.new(petri.Options{Net: "wifi"}); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("bad net: %v", err)
	}
	if _, err = tr.new(petri.Options{Env: map[string]string{"A=B": "c"}}); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("bad env: %v", err)
	}
}

// Errors of execs and file calls, and the sandbox usable after them.
func TestExecErrors(t *testing.T) { eachTransport(t, testExecErrors) }

func testExecErrors(t *testing.T, tr transport) {
	var pe *petri.Error
	var err error
	sb := tr.newSandbox(t, petri.Options{})
	_, err = sb.Exec(context.Background(), "print(1)")
	if !errors.As(err, &pe) || pe.Op != "exec" || pe.Errno != syscall.EINVAL {
		t.Fatalf("exec without a language: %#v", err)
	}
	// (petrid checks the tenant's languages first, with its own message.)
	_, err = sb.Exec(context.Background(), "x", petri.WithLanguage("cobol"))
	if !errors.As(err, &pe) || pe.Errno != syscall.EINVAL || (!tr.remote() && !strings.Contains(pe.Msg, "unknown language")) {
		t.Fatalf("exec with unknown language: %#v", err)
	}
	t.Logf("exec with unknown language: %v", err)
	_, err = sb.Run(context.Background(), []string{"no-such-program-petri"})
	if !errors.As(err, &pe) || pe.Op != "run" || !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("missing program: %#v", err)
	}
	if _, err = sb.Run(context.Background(), nil); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("empty argv: %v", err)
	}
	if _, err = sb.Exec(context.Background(), "a\x00b", petri.WithLanguage("sh")); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("NUL in code: %v", err)
	}
	// Code beyond the library's 8 MiB cap is refused with its message.
	// (Remotely the errno is petrid's code's: see the Error documentation.)
	_, err = sb.Exec(context.Background(), strings.Repeat("#", 9<<20), petri.WithLanguage("sh"))
	if !errors.As(err, &pe) || (!tr.remote() && !errors.Is(err, syscall.E2BIG)) || !strings.Contains(pe.Msg, "larger than") {
		t.Fatalf("9 MiB of code: %#v", err)
	}
	t.Logf("9 MiB of code: %v", err)
	if err = sb.WriteFile("a\x00b", nil, 0o644); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("NUL in path: %v", err)
	}
	// A failed exec leaves the sandbox usable.
	if r := mustRun(t, sb, "echo", "fine"); r.Output() != "fine\n" {
		t.Fatalf("%q", r.Stdout)
	}
}

func TestUseAfterClose(t *testing.T) { eachTransport(t, testUseAfterClose) }

func testUseAfterClose(t *testing.T, tr transport) {
	sb, err := tr.new(petri.Options{Language: "sh"})
	if err != nil {
		t.Fatal(err)
	}
	id := sb.ID()
	if err := sb.Close(); err != nil {
		t.Fatal(err)
	}
	if err := sb.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	sb.Cancel()
	if _, err := sb.Exec(context.Background(), "echo hi"); !errors.Is(err, petri.ErrClosed) {
		t.Fatalf("Exec: %v", err)
	}
	if _, err := sb.Run(context.Background(), []string{"true"}); !errors.Is(err, petri.ErrClosed) {
		t.Fatalf("Run: %v", err)
	}
	if err := sb.WriteFile("f", []byte("x"), 0o644); !errors.Is(err, petri.ErrClosed) {
		t.Fatalf("WriteFile: %v", err)
	}
	if _, err := sb.ReadFile("f"); !errors.Is(err, petri.ErrClosed) {
		t.Fatalf("ReadFile: %v", err)
	}
	if sb.ID() != id {
		t.Fatalf("ID after close %q, was %q", sb.ID(), id)
	}
}

// Close kills a running exec, which returns its result and ErrClosed.
func TestCloseInterruptsExec(t *testing.T) { eachTransport(t, testCloseInterruptsExec) }

func testCloseInterruptsExec(t *testing.T, tr transport) {
	sb, err := tr.new(petri.Options{})
	if err != nil {
		t.Fatal(err)
	}
	type outcome struct {
		r   *petri.Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		r, err := sb.Run(context.Background(), []string{"sleep", "60"})
		done <- outcome{r, err}
	}()
	time.Sleep(300 * time.Millisecond)
	t0 := time.Now()
	sb.Close()
	if d := time.Since(t0); d > 2*time.Second {
		t.Fatalf("Close took %v", d)
	}
	select {
	case o := <-done:
		if !errors.Is(o.err, petri.ErrClosed) {
			t.Fatalf("interrupted exec: err %v", o.err)
		}
		wantReason(t, o.r, petri.ReasonKilled)
	case <-time.After(5 * time.Second):
		t.Fatal("exec still running after Close")
	}
}

// A WithOutput callback may Close its own sandbox (the exec ends "killed"
// with ErrClosed, and the sandbox is gone when Exec returns); the methods
// that would wait for the exec return ErrBusy instead of hanging.
func TestCallbackCallsSandbox(t *testing.T) { eachTransport(t, testCallbackCallsSandbox) }

func testCallbackCallsSandbox(t *testing.T, tr transport) {
	sb, err := tr.new(petri.Options{Language: "sh"})
	if err != nil {
		t.Fatal(err)
	}
	var busy []error
	done := make(chan struct{})
	var r *petri.Result
	go func() {
		defer close(done)
		r, err = sb.Exec(context.Background(), "echo hi; sleep 30",
			petri.WithOutput(func(petri.Stream, []byte) {
				_, e1 := sb.ReadFile("x")
				e2 := sb.WriteFile("x", []byte("x"), 0o644)
				_, e3 := sb.Exec(context.Background(), "true")
				busy = append(busy, e1, e2, e3)
				sb.Close()
			}))
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Exec hung after its callback called the sandbox")
	}
	for i, e := range busy {
		if !errors.Is(e, petri.ErrBusy) {
			t.Errorf("call %d from the callback: %v, want ErrBusy", i, e)
		}
	}
	if !errors.Is(err, petri.ErrClosed) {
		t.Fatalf("exec closed from its callback: err %v", err)
	}
	wantReason(t, r, petri.ReasonKilled)
	if _, err := sb.ReadFile("x"); !errors.Is(err, petri.ErrClosed) {
		t.Fatalf("after the exec: %v, want ErrClosed", err)
	}
}

func TestOwnContext(t *testing.T) {
	var mu sync.Mutex
	var logs []string
	c, err := petri.NewContext(petri.ContextOptions{
		LogLevel: petri.LogDebug,
		Log: func(l petri.LogLevel, msg string) {
			mu.Lock()
			logs = append(logs, l.String()+": "+msg)
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := c.New(petri.Options{Language: "sh"})
	if err != nil {
		t.Fatal(err)
	}
	if r := mustExec(t, sb, "echo own"); r.Output() != "own\n" {
		t.Fatalf("%q", r.Stdout)
	}
	t.Logf("cgroup mode %v", c.CgroupMode())
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	// Closing the context closed the sandbox; neither crashes afterwards.
	if _, err := sb.Exec(context.Background(), "echo x"); !errors.Is(err, petri.ErrClosed) {
		t.Fatalf("Exec after context Close: %v", err)
	}
	if _, err := c.New(petri.Options{}); !errors.Is(err, petri.ErrClosed) {
		t.Fatalf("New after context Close: %v", err)
	}
	if err := c.Close(); err != nil || sb.Close() != nil {
		t.Fatal("second Close failed")
	}
	mu.Lock()
	t.Logf("%d log lines, e.g. %q", len(logs), logs)
	mu.Unlock()
}

// Many sandboxes from many goroutines at once.
func TestConcurrentSandboxes(t *testing.T) { eachTransport(t, testConcurrentSandboxes) }

func testConcurrentSandboxes(t *testing.T, tr transport) {
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			sb, err := tr.new(petri.Options{Language: "python"})
			if err != nil {
				errs <- err
				return
			}
			defer sb.Close()
			for j := 0; j < 3; j++ {
				if err := sb.WriteFile("in", []byte(fmt.Sprint(i*100+j)), 0o644); err != nil {
					errs <- err
					return
				}
				r, err := sb.Exec(context.Background(), "print(int(open('in').read()) * 2)")
				if err != nil {
					errs <- err
					return
				}
				if want := fmt.Sprintf("%d\n", (i*100+j)*2); r.Output() != want {
					errs <- fmt.Errorf("goroutine %d: %q, want %q", i, r.Stdout, want)
					return
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// Concurrent calls on one sandbox wait for each other instead of failing.
func TestOneSandboxManyGoroutines(t *testing.T) { eachTransport(t, testOneSandboxManyGoroutines) }

func testOneSandboxManyGoroutines(t *testing.T, tr transport) {
	sb := tr.newSandbox(t, petri.Options{Language: "sh"})
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 4; j++ {
				r, err := sb.Exec(context.Background(), fmt.Sprintf("echo %d-%d", i, j))
				if err != nil {
					errs <- err
					return
				}
				if r.Output() != fmt.Sprintf("%d-%d\n", i, j) {
					errs <- fmt.Errorf("%q", r.Stdout)
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// Waiting for a busy sandbox stops when the context is done.
func TestBusySandboxContext(t *testing.T) { eachTransport(t, testBusySandboxContext) }

func testBusySandboxContext(t *testing.T, tr transport) {
	sb := tr.newSandbox(t, petri.Options{})
	go sb.Run(context.Background(), []string{"sleep", "2"})
	time.Sleep(200 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	_, err := sb.Run(ctx, []string{"true"})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(t0) > time.Second {
		t.Fatalf("err %v after %v", err, time.Since(t0))
	}
}

func countFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// 200 create/exec/close cycles leave no file descriptor behind.
func TestNoFDLeak(t *testing.T) {
	cycle := func() {
		sb, err := petri.New(petri.Options{})
		if err != nil {
			t.Fatal(err)
		}
		r, err := sb.Run(context.Background(), []string{"/bin/true"})
		if err != nil || r.ExitCode != 0 {
			t.Fatalf("%+v %v", r, err)
		}
		if err := sb.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 5; i++ {
		cycle()
	}
	// Kept-alive connections of the remote tests would close during the
	// count.
	petri.CloseIdleConnections()
	before := countFDs(t)
	for i := 0; i < 200; i++ {
		cycle()
	}
	if after := countFDs(t); after != before {
		t.Fatalf("%d fds before 200 cycles, %d after", before, after)
	}
}

// Closed sandboxes leave no process behind: once every sandbox of the tests
// so far is closed, the test process has no children (the sandboxes' init
// processes are its children).
func TestNoChildrenLeft(t *testing.T) {
	sb, err := petri.New(petri.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if children(t) == 0 {
		t.Fatal("an open sandbox shows no child process: the check below proves nothing")
	}
	sb.Close()
	if n := children(t); n != 0 {
		t.Fatalf("%d child processes left after every sandbox was closed", n)
	}
}

func children(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	me, n := os.Getpid(), 0
	daemons := petridPids() // children too, but not sandboxes
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil && daemons[pid] {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so cut at the last ')'.
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 && f[1] == fmt.Sprint(me) {
			n++
		}
	}
	return n
}

// unifiedCgroup is this process's cgroup in the cgroup2 hierarchy.
func unifiedCgroup(t *testing.T) string {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "0::") {
			return line[3:]
		}
	}
	t.Fatal("no 0:: line in /proc/self/cgroup")
	return ""
}

// TestCgroupLeaf: CgroupLeaf reaches the library as PETRI_CTX_F_CGROUP_LEAF
// (accepted, sandboxes run).  On a hybrid host it does nothing: the process
// stays in its cgroup and the mode is that of a default Context; on pure v2
// the process is in its cgroup or in "<it>/petri-host".  In a child process
// of its own, so that a move never takes the rest of the tests along.
func TestCgroupLeaf(t *testing.T) {
	if os.Getenv("PETRI_GO_LEAF_CHILD") != "1" {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestCgroupLeaf$", "-test.v")
		cmd.Env = append(os.Environ(), "PETRI_GO_LEAF_CHILD=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "leaf: ok") {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}
	before := unifiedCgroup(t)
	c, err := petri.NewContext(petri.ContextOptions{CgroupLeaf: true})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := c.New(petri.Options{Language: "sh"})
	if err != nil {
		t.Fatal(err)
	}
	if r := mustExec(t, sb, "echo leaf"); r.Output() != "leaf\n" {
		t.Fatalf("%q", r.Stdout)
	}
	mode := c.CgroupMode()
	c.Close()
	after := unifiedCgroup(t)
	plain, err := petri.NewContext(petri.ContextOptions{})
	if err != nil {
		t.Fatal(err)
	}
	plainMode := plain.CgroupMode()
	plain.Close()
	mounts, _ := os.ReadFile("/proc/self/mounts")
	if strings.Contains(string(mounts), " /sys/fs/cgroup cgroup2 ") {
		if after != before && after != strings.TrimSuffix(before, "/")+"/petri-host" {
			t.Fatalf("pure v2: from %s to %s", before, after)
		}
	} else if after != before || mode != plainMode {
		t.Fatalf("hybrid: from %s to %s, mode %v (without the flag %v)", before, after,
			mode, plainMode)
	}
	fmt.Println("leaf: ok", before, after, mode)
}

// Output is bytes in-process; remotely it travels as JSON text, so each
// ill-formed UTF-8 byte arrives as U+FFFD, in the Result and in the
// streamed chunks alike (the documented difference), while well-formed
// multi-byte characters arrive intact and the totals count bytes written.
func TestInvalidUTF8Output(t *testing.T) { eachTransport(t, testInvalidUTF8Output) }

func testInvalidUTF8Output(t *testing.T, tr transport) {
	sb := tr.newSandbox(t, petri.Options{})
	var streamed bytes.Buffer
	r, err := sb.Run(context.Background(), []string{"printf", `a\377b\303\251`},
		petri.WithOutput(func(_ petri.Stream, b []byte) { streamed.Write(b) }))
	if err != nil {
		t.Fatal(err)
	}
	want := "a\xffbé"
	if tr.remote() {
		want = "a\uFFFDbé"
	}
	if r.Output() != want || streamed.String() != want || r.StdoutTotal != 5 {
		t.Fatalf("stdout %q streamed %q total %d, want %q", r.Stdout, streamed.String(), r.StdoutTotal, want)
	}
}
