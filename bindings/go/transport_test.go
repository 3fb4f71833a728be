// SPDX-License-Identifier: Apache-2.0

package petri_test

// The two transports the core tests run over: "local" (libpetri in this
// process) and "remote" (a petrid this test binary starts: build/petrid,
// or $PETRID).  Without a petrid binary the remote half is skipped, except
// with CI=true, where it fails.

import (
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	petri "github.com/libpetri/petri-go"
)

func TestMain(m *testing.M) {
	// "local" means in-process even for a developer who has a petrid in
	// the environment.
	os.Unsetenv("PETRI_URL")
	os.Unsetenv("PETRI_TOKEN")
	code := m.Run()
	stopSharedPetrid()
	os.Exit(code)
}

// A transport makes sandboxes one way.
type transport struct {
	name string
	srv  *petridServer // remote only
}

func (tr transport) remote() bool { return tr.srv != nil }

// opts adds what the transport needs to o.
func (tr transport) opts(o petri.Options) petri.Options {
	if tr.srv != nil {
		o.URL, o.Token = tr.srv.url, tr.srv.token
	}
	return o
}

func (tr transport) new(o petri.Options) (*petri.Sandbox, error) { return petri.New(tr.opts(o)) }

func (tr transport) newSandbox(t *testing.T, o petri.Options) *petri.Sandbox {
	t.Helper()
	sb, err := tr.new(o)
	if err != nil {
		t.Fatalf("%s: petri.New(%+v): %v", tr.name, o, err)
	}
	t.Cleanup(func() { sb.Close() })
	return sb
}

// eachTransport runs f as the subtests "local" and "remote".
func eachTransport(t *testing.T, f func(t *testing.T, tr transport)) {
	t.Run("local", func(t *testing.T) { f(t, transport{name: "local"}) })
	t.Run("remote", func(t *testing.T) { f(t, transport{name: "remote", srv: sharedPetrid(t)}) })
}

// petridServer is a petrid started by this test binary.
type petridServer struct {
	url, unixURL string
	token        string // tenant "go"
	smallToken   string // tenant "small": max_sandboxes 1
	dir          string
	cmd          *exec.Cmd
	exited       chan struct{}
	log          string
}

// petridBinary finds petrid: $PETRID, $PETRI_BUILD_DIR/petrid (what
// scripts/dev.sh exports), or the in-tree build/petrid.
func petridBinary() string {
	if p := os.Getenv("PETRID"); p != "" {
		return p
	}
	if d := os.Getenv("PETRI_BUILD_DIR"); d != "" {
		return filepath.Join(d, "petrid")
	}
	p, _ := filepath.Abs("../../build/petrid")
	return p
}

var (
	sharedMu  sync.Mutex
	sharedSrv *petridServer
	sharedErr error
)

// sharedPetrid returns the petrid the core tests share, starting it on
// first use.
func sharedPetrid(t testing.TB) *petridServer {
	t.Helper()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if sharedSrv == nil && sharedErr == nil {
		sharedSrv, sharedErr = startPetrid(nil)
	}
	if sharedErr != nil {
		if _, err := os.Stat(petridBinary()); err != nil {
			skipOrFail(t, "no petrid binary (%v): build it, or set PETRID", err)
		}
		t.Fatalf("starting petrid: %v", sharedErr)
	}
	return sharedSrv
}

func stopSharedPetrid() {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if sharedSrv != nil {
		sharedSrv.stop()
		sharedSrv = nil
	}
}

// petridPids lists the pids of the petrids this binary runs (they are its
// children, as sandboxes are).
func petridPids() map[int]bool {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	m := map[int]bool{}
	if sharedSrv != nil {
		m[sharedSrv.cmd.Process.Pid] = true
	}
	extraMu.Lock()
	for p := range extraPids {
		m[p] = true
	}
	extraMu.Unlock()
	return m
}

var (
	extraMu   sync.Mutex
	extraPids = map[int]bool{}
)

// vaultValue is the secret petrid holds for TestRemoteSecretNames.
const vaultValue = "petri-go-vault-value-91c2"

func tokenHash(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

func randomToken() string {
	b := make([]byte, 16)
	if _, err := crand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// startPetrid runs petrid with a config in a temp directory, listening on
// a random 127.0.0.1 port (20000-29999; another is tried when it is taken)
// and a unix socket, and waits for /healthz.  tweak may change the config.
func startPetrid(tweak func(cfg map[string]any)) (*petridServer, error) {
	bin := petridBinary()
	if _, err := os.Stat(bin); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "petri-go-petrid-")
	if err != nil {
		return nil, err
	}
	s := &petridServer{dir: dir, token: randomToken(), smallToken: randomToken()}
	sock := filepath.Join(dir, "petrid.sock")
	s.unixURL = "unix://" + sock
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port := 20000 + rand.Intn(10000)
		cfg := map[string]any{
			"node":           "gotest",
			"listen":         []string{fmt.Sprintf("127.0.0.1:%d", port), "unix:" + sock},
			"max_body_bytes": 64 << 20,
			"max_execs":      32,
			"tenants": map[string]any{
				"go": map[string]any{
					"token_sha256":     tokenHash(s.token),
					"max_sandboxes":    64,
					"max_execs":        16,
					"max_memory":       "64G",
					"max_exec_timeout": 300,
				},
				"small": map[string]any{
					"token_sha256":  tokenHash(s.smallToken),
					"max_sandboxes": 1,
				},
			},
		}
		if tweak != nil {
			tweak(cfg)
		}
		b, _ := json.MarshalIndent(cfg, "", "  ")
		cfgPath := filepath.Join(dir, "config.json")
		if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
			return nil, err
		}
		s.log = filepath.Join(dir, fmt.Sprintf("petrid-%d.log", attempt))
		logf, err := os.Create(s.log)
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(bin, "--config", cfgPath)
		// A vault value petrid may read ("value_env"), for TestRemoteSecretNames.
		cmd.Env = append(os.Environ(), "PETRI_GO_TEST_VAULT="+vaultValue)
		cmd.Stdout, cmd.Stderr = logf, logf
		// A test binary killed (go test's timeout) takes its petrid along.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			logf.Close()
			return nil, err
		}
		logf.Close()
		s.cmd = cmd
		s.exited = make(chan struct{})
		go func() { cmd.Wait(); close(s.exited) }()
		s.url = fmt.Sprintf("http://127.0.0.1:%d", port)
		if lastErr = s.waitHealthy(20 * time.Second); lastErr == nil {
			return s, nil
		}
		s.kill()
	}
	os.RemoveAll(dir)
	return nil, lastErr
}

func (s *petridServer) waitHealthy(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return fmt.Errorf("petrid exited at start: %s", s.logTail())
		default:
		}
		resp, err := http.Get(s.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("petrid not healthy after %v: %s", limit, s.logTail())
}

func (s *petridServer) logTail() string {
	b, _ := os.ReadFile(s.log)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

// kill ends petrid at once (SIGKILL) and waits for it.
func (s *petridServer) kill() {
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
}

// stop drains petrid (SIGTERM), SIGKILL after 15 s, and removes its
// directory.
func (s *petridServer) stop() {
	s.cmd.Process.Signal(syscall.SIGCONT)
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		s.kill()
	}
	os.RemoveAll(s.dir)
}

// startOwnPetrid starts a petrid for one test (stopped at its end).
func startOwnPetrid(t *testing.T, tweak func(cfg map[string]any)) *petridServer {
	t.Helper()
	if _, err := os.Stat(petridBinary()); err != nil {
		skipOrFail(t, "no petrid binary (%v): build it, or set PETRID", err)
	}
	s, err := startPetrid(tweak)
	if err != nil {
		t.Fatalf("starting petrid: %v", err)
	}
	pid := s.cmd.Process.Pid
	extraMu.Lock()
	extraPids[pid] = true
	extraMu.Unlock()
	t.Cleanup(func() {
		s.stop()
		extraMu.Lock()
		delete(extraPids, pid)
		extraMu.Unlock()
	})
	return s
}

// api sends a raw request to petrid (for what the SDK does not expose),
// returning the status and the decoded JSON body (nil when there is none).
func (s *petridServer) api(t *testing.T, method, path, token string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, s.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func init() { rand.Seed(time.Now().UnixNano() ^ int64(os.Getpid())) }

// errnoIs reports whether err has the errno want.  Remotely it may instead
// carry the errno of petrid's code remoteCode (an error of petrid that
// names no errno: see petri.Error), and then must have that code.
func errnoIs(tr transport, err error, want syscall.Errno, remoteCode string) bool {
	if errors.Is(err, want) {
		return true
	}
	var pe *petri.Error
	return tr.remote() && remoteCode != "" && errors.As(err, &pe) && pe.Code == remoteCode &&
		pe.Errno == petri.CodeErrno(remoteCode)
}

var createdRE = regexp.MustCompile(`(?m)^petrid_sandboxes_created_total\{tenant="go"\} (\d+)$`)

// created is how many sandboxes tenant "go" has created (from /metrics).
func (s *petridServer) created(t *testing.T) int {
	t.Helper()
	req, _ := http.NewRequest("GET", s.url+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := createdRE.FindSubmatch(b)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}
