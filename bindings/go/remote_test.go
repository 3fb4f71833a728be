// SPDX-License-Identifier: Apache-2.0

package petri_test

// What only a remote sandbox has: the unix socket, PETRI_URL/PETRI_TOKEN,
// tokens, quotas, options refused remotely, a server that dies or goes
// silent under a stream, and evidence that a cancelled context killed the
// code on the server.  (The behaviour both transports share is in
// petri_test.go, run over both by eachTransport.)

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	petri "github.com/libpetri/petri-go"
)

func TestRemoteUnixSocket(t *testing.T) {
	srv := sharedPetrid(t)
	sb := newSandbox(t, petri.Options{URL: srv.unixURL, Token: srv.token, Language: "sh"})
	if !strings.HasPrefix(sb.ID(), "sb_gotest_") {
		t.Fatalf("id %q does not name the node", sb.ID())
	}
	var streamed bytes.Buffer
	r, err := sb.Exec(context.Background(), "echo over-unix; echo e >&2",
		petri.WithOutput(func(_ petri.Stream, b []byte) { streamed.Write(b) }))
	if err != nil || r.Output() != "over-unix\n" || streamed.String() != "over-unix\ne\n" {
		t.Fatalf("r %+v err %v streamed %q", r, err, streamed.String())
	}
	if err := sb.WriteFile("f", []byte("via socket"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := sb.ReadFile("f"); err != nil || string(b) != "via socket" {
		t.Fatalf("%q %v", b, err)
	}
	if _, err := petri.New(petri.Options{URL: "unix://relative.sock"}); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("relative socket path: %v", err)
	}
	_, err = petri.New(petri.Options{URL: "unix://" + srv.dir + "/nonexistent.sock", Token: srv.token})
	if !errors.Is(err, syscall.ENOENT) || !strings.Contains(err.Error(), "nonexistent.sock") {
		t.Fatalf("missing socket: %v", err)
	}
}

// PETRI_URL and PETRI_TOKEN make petri.New remote, unchanged code; a
// Context stays in-process.
func TestRemoteEnvironment(t *testing.T) {
	srv := sharedPetrid(t)
	t.Setenv("PETRI_URL", srv.url)
	t.Setenv("PETRI_TOKEN", srv.token)
	sb, err := petri.New(petri.Options{Language: "python"})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	if !strings.HasPrefix(sb.ID(), "sb_gotest_") {
		t.Fatalf("PETRI_URL ignored: id %q", sb.ID())
	}
	if r := mustExec(t, sb, "print('hello from isolation')"); r.Output() != "hello from isolation\n" {
		t.Fatalf("%q", r.Stdout)
	}
	if code, m := srv.api(t, "GET", "/v1/sandboxes/"+sb.ID(), srv.token); code != 200 || m["id"] != sb.ID() {
		t.Fatalf("petrid does not know the sandbox: %d %v", code, m)
	}
	c, err := petri.NewContext(petri.ContextOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	local, err := c.New(petri.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	if strings.HasPrefix(local.ID(), "sb_gotest_") {
		t.Fatalf("Context.New went remote: %q", local.ID())
	}
	// An explicit token wins over PETRI_TOKEN.
	_, err = petri.New(petri.Options{Token: "wrong"})
	var pe *petri.Error
	if !errors.As(err, &pe) || pe.Code != "unauthorized" {
		t.Fatalf("explicit bad token: %v", err)
	}
}

func TestRemoteBadToken(t *testing.T) {
	srv := sharedPetrid(t)
	for _, tok := range []string{"not-a-token", ""} {
		t.Setenv("PETRI_TOKEN", "")
		_, err := petri.New(petri.Options{URL: srv.url, Token: tok})
		var pe *petri.Error
		if !errors.As(err, &pe) || pe.Code != "unauthorized" || pe.Status != 401 || !errors.Is(err, syscall.EACCES) || pe.Op != "create" {
			t.Fatalf("token %q: %#v", tok, err)
		}
		t.Logf("token %q: %v", tok, err)
	}
	if _, err := petri.New(petri.Options{URL: srv.url, Token: "a\nb"}); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("token with a newline: %v", err)
	}
}

// Options that name host paths or carry secret values are refused, naming
// the option; remote-only options are refused in-process.
func TestRemoteRefusedOptions(t *testing.T) {
	url := "http://127.0.0.1:1" // never contacted
	for _, c := range []struct {
		opts petri.Options
		name string
	}{
		{petri.Options{Binds: []string{"/etc:/etc"}}, "Binds"},
		{petri.Options{WorkspaceDir: "/tmp"}, "WorkspaceDir"},
		{petri.Options{Rootfs: "/"}, "Rootfs"},
		{petri.Options{ID: "mine"}, "ID"},
		{petri.Options{UpstreamCA: "/etc/ssl/certs/ca-certificates.crt"}, "UpstreamCA"},
		{petri.Options{Secrets: map[string]petri.Secret{"T": {Value: []byte("v"), Hosts: []string{"a.test"}}}}, "SecretNames"},
		{petri.Options{URL: "ftp://x"}, "ftp://x"},
		{petri.Options{URL: "http://"}, "needs a host"},
		{petri.Options{TTL: -time.Second}, "TTL"},
		{petri.Options{SecretNames: []string{"1bad"}}, "1bad"},
	} {
		if c.opts.URL == "" {
			c.opts.URL = url
		}
		_, err := petri.New(c.opts)
		var pe *petri.Error
		if !errors.As(err, &pe) || !errors.Is(err, syscall.EINVAL) || !strings.Contains(err.Error(), c.name) || pe.Op != "create" {
			t.Fatalf("%+v: %v", c.opts, err)
		}
		if strings.Contains(err.Error(), "connect") {
			t.Fatalf("%+v: checked after connecting: %v", c.opts, err)
		}
	}
	c, err := petri.NewContext(petri.ContextOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, o := range []petri.Options{{URL: url}, {Token: "t"}, {SecretNames: []string{"T"}}, {TTL: time.Minute}} {
		if _, err := c.New(o); !errors.Is(err, syscall.EINVAL) {
			t.Fatalf("in-process %+v: %v", o, err)
		}
	}
}

// quota_exceeded names its quota and is EDQUOT.
func TestRemoteQuota(t *testing.T) {
	srv := sharedPetrid(t)
	first := newSandbox(t, petri.Options{URL: srv.url, Token: srv.smallToken})
	_, err := petri.New(petri.Options{URL: srv.url, Token: srv.smallToken})
	var pe *petri.Error
	if !errors.As(err, &pe) || pe.Code != "quota_exceeded" || pe.Quota != "max_sandboxes" || pe.Status != 429 ||
		!errors.Is(err, syscall.EDQUOT) {
		t.Fatalf("%#v", err)
	}
	t.Log(err)
	// Closing the first frees the quota.
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	second := newSandbox(t, petri.Options{URL: srv.url, Token: srv.smallToken})
	// Another tenant's token cannot see it: its id is unknown (404).
	if code, m := srv.api(t, "GET", "/v1/sandboxes/"+second.ID(), srv.token); code != 404 {
		t.Fatalf("another tenant sees the sandbox: %d %v", code, m)
	}
}

// A sandbox deleted behind the SDK's back: ENOENT with the code, and Close
// is still clean.
func TestRemoteDeletedElsewhere(t *testing.T) {
	srv := sharedPetrid(t)
	sb, err := petri.New(petri.Options{URL: srv.url, Token: srv.token, Language: "sh"})
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := srv.api(t, "DELETE", "/v1/sandboxes/"+sb.ID(), srv.token); code != 204 {
		t.Fatalf("DELETE: %d", code)
	}
	_, err = sb.Exec(context.Background(), "echo hi")
	var pe *petri.Error
	if !errors.As(err, &pe) || pe.Code != "sandbox_not_found" || !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("%#v", err)
	}
	if _, err := sb.ReadFile("x"); !errors.As(err, &pe) || pe.Code != "sandbox_not_found" {
		t.Fatalf("ReadFile: %v", err)
	}
	if err := sb.Close(); err != nil {
		t.Fatalf("Close of a deleted sandbox: %v", err)
	}
}

// sleepRunning reports whether a process "sleep <arg>" runs on this host
// (a sandbox's processes are visible from the host's pid namespace).
func sleepRunning(t *testing.T, arg string) bool {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	want := "sleep\x00" + arg + "\x00"
	for _, e := range ents {
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && string(b) == want {
			return true
		}
	}
	return false
}

// A cancelled context kills the code on the server (the process is gone,
// the sandbox idle and usable), and returns the result within a second.
func TestRemoteContextCancelKillsServerSide(t *testing.T) {
	srv := sharedPetrid(t)
	sb := newSandbox(t, petri.Options{URL: srv.url, Token: srv.token})
	arg := fmt.Sprintf("%d.%d", 3000+os.Getpid()%1000, time.Now().UnixNano()%1000000)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var res *petri.Result
	go func() {
		var err error
		res, err = sb.Run(ctx, []string{"sleep", arg})
		done <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !sleepRunning(t, arg) {
		if time.Now().After(deadline) {
			t.Fatal("the exec never started")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, m := srv.api(t, "GET", "/v1/sandboxes/"+sb.ID(), srv.token); code != 200 || m["state"] != "running" {
		t.Fatalf("while the exec runs: %d %v", code, m)
	}
	t0 := time.Now()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v", err)
		}
		wantReason(t, res, petri.ReasonKilled)
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context was cancelled")
	}
	if d := time.Since(t0); d > time.Second {
		t.Fatalf("returned %v after the cancel", d)
	}
	if sleepRunning(t, arg) {
		t.Fatal("the sleep still runs on the server after the cancel")
	}
	if code, m := srv.api(t, "GET", "/v1/sandboxes/"+sb.ID(), srv.token); code != 200 || m["state"] != "idle" {
		t.Fatalf("after the cancel: %d %v", code, m)
	}
	if r := mustRun(t, sb, "echo", "alive"); r.Output() != "alive\n" {
		t.Fatalf("%q", r.Stdout)
	}
}

// petrid killed under a stream: the Exec returns an error at once (the
// connection closes), naming the URL; the next call says it cannot connect.
func TestRemoteServerKilled(t *testing.T) {
	srv := startOwnPetrid(t, nil)
	sb, err := petri.New(petri.Options{URL: srv.url, Token: srv.token, Language: "sh"})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	started := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		_, err := sb.Exec(context.Background(), "echo started; sleep 60", petri.WithOutput(func(petri.Stream, []byte) {
			select {
			case started <- struct{}{}:
			default:
			}
		}))
		done <- err
	}()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("no output streamed")
	}
	t0 := time.Now()
	srv.kill()
	select {
	case err := <-done:
		var pe *petri.Error
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), srv.url) {
			t.Fatalf("%#v", err)
		}
		t.Logf("after %v: %v", time.Since(t0), err)
	case <-time.After(5 * time.Second):
		t.Fatal("Exec still waits 5 s after petrid was killed")
	}
	_, err = sb.Exec(context.Background(), "echo again")
	if !errors.Is(err, syscall.ECONNREFUSED) || !strings.Contains(err.Error(), srv.url) {
		t.Fatalf("after the kill: %v", err)
	}
}

// petrid alive but silent (stopped): the stream's heartbeats stop, and the
// Exec gives up after the silence limit (15 s; 2 s here) with ETIMEDOUT.
func TestRemoteServerSilent(t *testing.T) {
	defer petri.SetStreamSilence(2 * time.Second)()
	srv := startOwnPetrid(t, nil)
	sb, err := petri.New(petri.Options{URL: srv.url, Token: srv.token, Language: "sh"})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	started := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		_, err := sb.Exec(context.Background(), "echo started; sleep 60", petri.WithOutput(func(petri.Stream, []byte) {
			select {
			case started <- struct{}{}:
			default:
			}
		}))
		done <- err
	}()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("no output streamed")
	}
	t0 := time.Now()
	if err := srv.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer srv.cmd.Process.Signal(syscall.SIGCONT)
	select {
	case err := <-done:
		d := time.Since(t0)
		if !errors.Is(err, syscall.ETIMEDOUT) || !strings.Contains(err.Error(), srv.url) {
			t.Fatalf("%#v", err)
		}
		if d < 2*time.Second || d > 4*time.Second {
			t.Fatalf("gave up after %v for a 2 s silence limit", d)
		}
		t.Logf("after %v: %v", d, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Exec still waits 10 s after petrid went silent")
	}
}

// Heartbeats keep a quiet exec alive past the silence limit.
func TestRemoteHeartbeats(t *testing.T) {
	defer petri.SetStreamSilence(7 * time.Second)()
	srv := sharedPetrid(t)
	sb := newSandbox(t, petri.Options{URL: srv.url, Token: srv.token})
	r, err := sb.Run(context.Background(), []string{"sleep", "9"})
	if err != nil {
		t.Fatalf("a 9 s quiet exec with a 7 s silence limit: %v", err)
	}
	wantReason(t, r, petri.ReasonExited)
}

// Remote create/exec/close cycles leave no file descriptor behind.
func TestRemoteNoFDLeak(t *testing.T) {
	srv := sharedPetrid(t)
	cycle := func() {
		sb, err := petri.New(petri.Options{URL: srv.url, Token: srv.token})
		if err != nil {
			t.Fatal(err)
		}
		if r, err := sb.Run(context.Background(), []string{"true"}); err != nil || r.ExitCode != 0 {
			t.Fatalf("%+v %v", r, err)
		}
		if err := sb.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ {
		cycle()
	}
	before := countFDs(t)
	for i := 0; i < 50; i++ {
		cycle()
	}
	if after := countFDs(t); after > before {
		t.Fatalf("%d fds before 50 cycles, %d after", before, after)
	}
}

// SecretNames name secrets of the tenant's vault: inside, env NAME is a
// placeholder, never the value petrid holds.
func TestRemoteSecretNames(t *testing.T) {
	srv := startOwnPetrid(t, func(cfg map[string]any) {
		tenant := cfg["tenants"].(map[string]any)["go"].(map[string]any)
		tenant["secrets"] = map[string]any{
			"TOKEN": map[string]any{"value_env": "PETRI_GO_TEST_VAULT", "hosts": []string{"api.example.test"}},
		}
	})
	sb := newSandbox(t, petri.Options{URL: srv.url, Token: srv.token, Language: "sh", SecretNames: []string{"TOKEN"}})
	r := mustExec(t, sb, `echo "$TOKEN"; echo "$HTTPS_PROXY"`)
	lines := strings.Split(strings.TrimSpace(r.Output()), "\n")
	if len(lines) != 2 || !placeholderRE.MatchString(lines[0]) || lines[1] == "" {
		t.Fatalf("inside: %q %q", r.Stdout, r.Stderr)
	}
	if strings.Contains(r.Output(), vaultValue) {
		t.Fatal("the value reached the sandbox")
	}
	// A name the tenant does not have is refused.
	_, err := petri.New(petri.Options{URL: srv.url, Token: srv.token, SecretNames: []string{"NOPE"}})
	var pe *petri.Error
	if !errors.As(err, &pe) || pe.Status/100 != 4 || !strings.Contains(err.Error(), "NOPE") {
		t.Fatalf("unknown secret name: %v", err)
	}
	t.Log(err)
}

// Options.TTL: an exec renews it, a read does not; an expired sandbox
// answers 410 sandbox_expired, which is ErrClosed (and ETIME); Close is
// clean.
func TestRemoteTTL(t *testing.T) {
	srv := sharedPetrid(t)
	sb, err := petri.New(petri.Options{URL: srv.url, Token: srv.token, TTL: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	code, m := srv.api(t, "GET", "/v1/sandboxes/"+sb.ID(), srv.token)
	if code != 200 || m["timeout"] != 3.0 {
		t.Fatalf("the TTL did not reach petrid: %d %v", code, m)
	}
	// Execs 2 s apart keep it 4 s past one TTL.
	for i := 0; i < 3; i++ {
		if i > 0 {
			time.Sleep(2 * time.Second)
		}
		mustRun(t, sb, "true")
	}
	lastExec := time.Now()
	// Then only reads: it expires 3 s after the last exec, well before a
	// read-renewed TTL would end.
	for {
		_, err = sb.ReadFile("x")
		var pe *petri.Error
		if !errors.As(err, &pe) || pe.Code != "file_not_found" {
			break
		}
		if time.Since(lastExec) > 5*time.Second {
			t.Fatalf("still alive %v after the last exec (TTL 3 s): reads renew it?", time.Since(lastExec))
		}
		time.Sleep(200 * time.Millisecond)
	}
	d := time.Since(lastExec)
	var pe *petri.Error
	if !errors.As(err, &pe) || pe.Code != "sandbox_expired" || !errors.Is(err, petri.ErrClosed) || !errors.Is(err, syscall.ETIME) {
		t.Fatalf("after the TTL: %#v", err)
	}
	if d < 3*time.Second {
		t.Fatalf("expired %v after the last exec, TTL 3 s", d)
	}
	t.Logf("%v after %v", err, d)
	if err := sb.Close(); err != nil {
		t.Fatalf("Close of an expired sandbox: %v", err)
	}
}

// A callback slower than the output: petrid drops what waits beyond 4 MiB
// (a gap in the streamed copy), never slows the exec; the Result is whole
// and the Exec ends normally.
func TestRemoteSlowCallbackGap(t *testing.T) {
	srv := sharedPetrid(t)
	sb := newSandbox(t, petri.Options{URL: srv.url, Token: srv.token})
	var streamed int
	first := true
	r, err := sb.Run(context.Background(), []string{"sh", "-c", "tr \"\\\\0\" x < /dev/zero | head -c 33554432"},
		petri.WithOutput(func(_ petri.Stream, b []byte) {
			if first {
				first = false
				time.Sleep(3 * time.Second)
			}
			streamed += len(b)
		}))
	if err != nil {
		t.Fatal(err)
	}
	wantReason(t, r, petri.ReasonExited)
	// What waited (up to 4 MiB) still came after the pause.
	if r.StdoutTotal != 32<<20 || streamed >= 32<<20 || streamed < 4<<20 {
		t.Fatalf("total %d, streamed %d: want a gap after at least 4 MiB", r.StdoutTotal, streamed)
	}
	t.Logf("32 MiB written, %d bytes streamed to a callback that slept 3 s", streamed)
}
