// SPDX-License-Identifier: Apache-2.0

package petri

// The remote backend: a sandbox that lives in a petrid service
// (docs/petrid.md), reached over HTTP with net/http only.  Execs always use
// the streaming form (Server-Sent Events, sse.go): its heartbeats are how a
// dead server or a cut connection is noticed, also when no output is
// wanted.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Times of the remote transport.  Variables so that the package's tests can
// shorten them (export_test.go).
var (
	// streamSilence: an exec stream with no byte for this long is dead
	// (petrid sends a heartbeat every 5 s).
	streamSilence = 15 * time.Second
	// requestIdle: any other request with no progress (no byte sent or
	// received) for this long is given up (petrid's request_timeout is
	// 30 s by default).
	requestIdle = 30 * time.Second
	// cancelRepeat: how often a cancel is repeated until the exec's stream
	// ends (a cancel that reaches petrid before the exec has started
	// finds nothing to kill).
	cancelRepeat = 200 * time.Millisecond
	// cancelGrace: how long after its context is done an Exec waits for the
	// stream's result before it drops the connection (which makes petrid
	// cancel the exec too) and returns without a Result.
	cancelGrace = 5 * time.Second
)

// remoteReadMax is ReadFile's default limit, as the library's.
const remoteReadMax = 64 << 20

// remoteClient is one petrid endpoint: its connections are shared by every
// sandbox made with the same URL.
type remoteClient struct {
	display string // the URL as given (error messages)
	root    string // what request paths are appended to
	hc      *http.Client
}

var (
	clientsMu sync.Mutex
	clients   = map[string]*remoteClient{}
)

// clientFor returns the shared client of a URL.
func clientFor(raw string) (*remoteClient, error) {
	clientsMu.Lock()
	defer clientsMu.Unlock()
	if c := clients[raw]; c != nil {
		return c, nil
	}
	c, err := newClient(raw)
	if err != nil {
		return nil, err
	}
	clients[raw] = c
	return c, nil
}

func newClient(raw string) (*remoteClient, error) {
	bad := func(why string) error {
		return invalid("create", "URL %q: %s (expected http://HOST:PORT, https://HOST:PORT or unix:///PATH)", raw, why)
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		DialContext:         dialer.DialContext,
		MaxIdleConnsPerHost: 32,
		// Below petrid's default request_timeout (30 s), after which it
		// closes an idle connection: a request is never sent on a
		// connection the server is closing.
		IdleConnTimeout:       20 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	c := &remoteClient{display: raw, hc: &http.Client{Transport: tr}}
	if strings.HasPrefix(raw, "unix://") {
		path := strings.TrimPrefix(raw, "unix://")
		if !strings.HasPrefix(path, "/") {
			return nil, bad("a unix socket needs an absolute path")
		}
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, "unix", path)
		}
		// The host name is only the Host header petrid sees.
		c.root = "http://petrid"
		return c, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, bad(err.Error())
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, bad("unknown scheme")
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, bad("it needs a host, and no user, query or fragment")
	}
	tr.Proxy = http.ProxyFromEnvironment
	c.root = u.Scheme + "://" + u.Host + strings.TrimRight(u.EscapedPath(), "/")
	return c, nil
}

// A watchdog cancels a request's context when it has made no progress for
// idle: every byte sent or received kicks it.  While paused (the caller is
// busy, not the server) it does not run.
type watchdog struct {
	idle   time.Duration
	ctx    context.Context
	cancel context.CancelFunc
	fired  atomic.Bool
	mu     sync.Mutex
	t      *time.Timer
	done   bool
	paused int // under mu: pause() calls not yet resumed
}

func newWatchdog(idle time.Duration) *watchdog {
	w := &watchdog{idle: idle}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	w.t = time.AfterFunc(idle, func() {
		w.fired.Store(true)
		w.cancel()
	})
	return w
}

// kick restarts the idle period, unless paused: a kick may come from
// another goroutine (net/http's writer reading the request body to its
// end) while the reader waits for the caller, and must not rearm the
// timer then.
func (w *watchdog) kick() {
	w.mu.Lock()
	if !w.done && !w.fired.Load() && w.paused == 0 {
		w.t.Reset(w.idle)
	}
	w.mu.Unlock()
}

func (w *watchdog) pause() {
	w.mu.Lock()
	w.paused++
	w.t.Stop()
	w.mu.Unlock()
}

// resume ends a pause() and starts a new idle period.
func (w *watchdog) resume() {
	w.mu.Lock()
	w.paused--
	if w.paused == 0 && !w.done && !w.fired.Load() {
		w.t.Reset(w.idle)
	}
	w.mu.Unlock()
}

// stop ends the request (if it still runs) and the timer.
func (w *watchdog) stop() {
	w.mu.Lock()
	w.done = true
	w.t.Stop()
	w.mu.Unlock()
	w.cancel()
}

// kickReader kicks a watchdog on every read.
type kickReader struct {
	r io.Reader
	w *watchdog
}

func (k *kickReader) Read(p []byte) (int, error) {
	n, err := k.r.Read(p)
	k.w.kick()
	return n, err
}

// kickBody is a response body that kicks its watchdog, and stops it on
// Close.
type kickBody struct {
	kickReader
	c io.Closer
}

func (k *kickBody) Close() error {
	err := k.c.Close()
	k.w.stop()
	return err
}

// request is one HTTP request to petrid.
type request struct {
	op, method, path string
	query            url.Values
	body             []byte
	contentType      string
	accept           string
	token            string
	idle             time.Duration // 0: requestIdle
	// replayable lets net/http resend the request on a kept-alive
	// connection that the server had closed (DELETE, PUT and cancel are
	// safe to repeat; a create or an exec is not).
	replayable bool
	// abort, when it closes before the response's head has come, drops the
	// request (the caller's context: after the head, the caller decides).
	abort <-chan struct{}
}

// do sends r.  On success the response's body kicks the watchdog and
// Close stops it; the caller must Close it.  Errors are *Error.
func (c *remoteClient) do(r *request) (*http.Response, *watchdog, error) {
	idle := r.idle
	if idle == 0 {
		idle = requestIdle
	}
	w := newWatchdog(idle)
	u := c.root + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	var body io.Reader
	if r.body != nil {
		body = &kickReader{bytes.NewReader(r.body), w}
	}
	req, err := http.NewRequestWithContext(w.ctx, r.method, u, body)
	if err != nil {
		w.stop()
		return nil, nil, invalid(r.op, "%s: %v", c.display, err)
	}
	if r.body != nil {
		// NewRequest only knows the length of its own reader types.
		b := r.body
		req.ContentLength = int64(len(b))
		req.GetBody = func() (io.ReadCloser, error) {
			return io.NopCloser(&kickReader{bytes.NewReader(b), w}), nil
		}
		if len(b) == 0 {
			req.Body = http.NoBody
		}
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	if r.accept != "" {
		req.Header.Set("Accept", r.accept)
	}
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	if r.replayable {
		// An empty entry: replayable for net/http, and not sent.
		req.Header["Idempotency-Key"] = nil
	}
	if r.abort != nil {
		headed := make(chan struct{})
		defer close(headed)
		go func() {
			select {
			case <-r.abort:
				w.cancel()
			case <-headed:
			}
		}()
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		w.stop()
		return nil, nil, c.transportError(r.op, w, idle, err)
	}
	w.kick()
	resp.Body = &kickBody{kickReader{resp.Body, w}, resp.Body}
	return resp, w, nil
}

// transportError describes a request that got no (complete) answer.
func (c *remoteClient) transportError(op string, w *watchdog, idle time.Duration, err error) error {
	if w != nil && w.fired.Load() {
		return &Error{Op: op, Errno: syscall.ETIMEDOUT,
			Msg: fmt.Sprintf("%s: no answer for %v: the server or the connection is dead", c.display, idle)}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	e := &Error{Op: op, Errno: syscall.EIO, Msg: c.display + ": " + err.Error()}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		e.Errno = errno
	} else if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		e.Errno = syscall.ECONNRESET
	}
	return e
}

// codeErrnos: petrid's error codes and the errno an in-process caller would
// test for (see Error).
var codeErrnos = map[string]syscall.Errno{
	"bad_json":               syscall.EINVAL,
	"unknown_field":          syscall.EINVAL,
	"invalid_argument":       syscall.EINVAL,
	"unsupported_media_type": syscall.EINVAL,
	"unsafe_path":            syscall.EPERM,
	"unauthorized":           syscall.EACCES,
	"not_found":              syscall.ENOSYS,
	"method_not_allowed":     syscall.ENOSYS,
	"sandbox_not_found":      syscall.ENOENT,
	"file_not_found":         syscall.ENOENT,
	"request_timeout":        syscall.ETIMEDOUT,
	"sandbox_busy":           syscall.EBUSY,
	"sandbox_dead":           syscall.ESRCH,
	"sandbox_expired":        syscall.ETIME,
	"body_too_large":         syscall.E2BIG,
	"quota_exceeded":         syscall.EDQUOT,
	"too_many_execs":         syscall.EAGAIN,
	"unread_answers":         syscall.EAGAIN,
	"bad_request":            syscall.EINVAL,
	"node_timeout":           syscall.ETIMEDOUT,
	"internal":               syscall.EIO,
	"shutting_down":          syscall.ESHUTDOWN,
	"node_unavailable":       syscall.EHOSTDOWN,
}

// errnoNames are the errnos an error object's "errno" may name (the
// library's failures): with one, the Error has the errno an in-process call
// would have had.
var errnoNames = map[string]syscall.Errno{
	"EPERM": syscall.EPERM, "ENOENT": syscall.ENOENT, "ESRCH": syscall.ESRCH, "EIO": syscall.EIO,
	"E2BIG": syscall.E2BIG, "EACCES": syscall.EACCES, "EBUSY": syscall.EBUSY, "EEXIST": syscall.EEXIST,
	"EXDEV": syscall.EXDEV, "ENOTDIR": syscall.ENOTDIR, "EISDIR": syscall.EISDIR, "EINVAL": syscall.EINVAL,
	"EMFILE": syscall.EMFILE, "EFBIG": syscall.EFBIG, "ENOSPC": syscall.ENOSPC, "EROFS": syscall.EROFS,
	"ENAMETOOLONG": syscall.ENAMETOOLONG, "ENOTEMPTY": syscall.ENOTEMPTY, "ELOOP": syscall.ELOOP,
	"ENOMEM": syscall.ENOMEM, "EAGAIN": syscall.EAGAIN, "ENOSYS": syscall.ENOSYS, "ETIMEDOUT": syscall.ETIMEDOUT,
	"EDQUOT": syscall.EDQUOT, "ECANCELED": syscall.ECANCELED, "ENOEXEC": syscall.ENOEXEC,
}

// apiError is petrid's error body (also the data of an SSE "error" event).
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Quota   string `json:"quota"`
		Errno   string `json:"errno"`
	} `json:"error"`
}

func (a *apiError) toError(op string, status int) *Error {
	e := &Error{Op: op, Code: a.Error.Code, Status: status, Msg: a.Error.Message, Quota: a.Error.Quota}
	if n, ok := errnoNames[a.Error.Errno]; ok {
		e.Errno = n
	} else if n, ok := codeErrnos[e.Code]; ok {
		e.Errno = n
	} else {
		e.Errno = syscall.EIO
	}
	if e.Msg == "" {
		e.Msg = e.Code
	}
	return e
}

// statusError reads a non-2xx response's error (and closes the body).
func (c *remoteClient) statusError(op string, resp *http.Response) error {
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var a apiError
	if json.Unmarshal(b, &a) == nil && a.Error.Code != "" {
		return a.toError(op, resp.StatusCode)
	}
	// Not petrid's JSON: a proxy in front, say.
	text := strings.TrimSpace(string(b))
	if len(text) > 200 {
		text = text[:200] + "..."
	}
	e := &Error{Op: op, Errno: syscall.EIO, Status: resp.StatusCode,
		Msg: fmt.Sprintf("%s: HTTP %s: %s", c.display, resp.Status, text)}
	switch resp.StatusCode {
	case http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout:
		e.Errno = syscall.EHOSTDOWN
	case http.StatusUnauthorized:
		e.Errno = syscall.EACCES
	}
	return e
}

// call sends r and decodes a 2xx JSON answer into out (nil: discard it).
func (c *remoteClient) call(r *request, out any) error {
	resp, _, err := c.do(r)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return c.statusError(r.op, resp)
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return &Error{Op: r.op, Errno: syscall.EIO, Status: resp.StatusCode,
			Msg: fmt.Sprintf("%s: bad JSON answer: %v", c.display, err)}
	}
	return nil
}

// remoteSandbox is a sandbox in petrid.
type remoteSandbox struct {
	serial
	c     *remoteClient
	token string
	id    string
	lang  string
	path  string // /v1/sandboxes/<id>

	mu      sync.Mutex
	closing bool

	// dangling: an exec stream of ours ended without its result (the
	// context's grace ran out, or the connection died): petrid may still
	// be ending that exec, and answer the next operation sandbox_busy.
	dangling atomic.Bool
}

// busyWait bounds how long an operation retries sandbox_busy after a
// dangling exec of ours (petrid cancels an exec whose client went away).
var busyWait = 5 * time.Second

// retryBusy runs f again while it fails with sandbox_busy and an exec of
// ours may still be ending, for at most busyWait; when ctx is done first it
// returns ctx.Err().  In-process, the next operation simply waits for the
// previous one.
func (s *remoteSandbox) retryBusy(ctx context.Context, f func() error) error {
	deadline := time.Now().Add(busyWait)
	for {
		err := f()
		var e *Error
		if err == nil || !s.dangling.Load() || !errors.As(err, &e) || e.Code != "sandbox_busy" || time.Now().After(deadline) {
			if err == nil || (e != nil && e.Code != "sandbox_busy") {
				s.dangling.Store(false)
			}
			return err
		}
		select {
		case <-ctx.Done():
			// As a wait for the sandbox in-process: the context's error.
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// newRemote creates a sandbox in the petrid at opts.URL.
func newRemote(opts Options) (*Sandbox, error) {
	const op = "create"
	refused := []struct {
		set  bool
		name string
	}{
		{len(opts.Binds) > 0, "Binds (host paths)"},
		{opts.WorkspaceDir != "", "WorkspaceDir (a host path)"},
		{opts.Rootfs != "", "Rootfs (a host path)"},
		{opts.ID != "", "ID (petrid names its sandboxes)"},
		{opts.NoPool, "NoPool (the warm pool is petrid's: its node config's \"warm\" and \"recycle\")"},
		{opts.UpstreamCA != "", "UpstreamCA (a host path; petrid's tenant configuration holds the CAs)"},
		{len(opts.Secrets) > 0, "Secrets (a secret's value never travels to petrid: give the names of the tenant's secrets in SecretNames)"},
	}
	for _, r := range refused {
		if r.set {
			return nil, invalid(op, "Options.%s is not available with a remote sandbox (URL %s)", r.name, opts.URL)
		}
	}
	token := opts.Token
	if token == "" {
		token = os.Getenv("PETRI_TOKEN")
	}
	for _, c := range token {
		if c < 0x21 || c > 0x7e {
			return nil, invalid(op, "the token holds a character that cannot go in an HTTP header")
		}
	}
	c, err := clientFor(opts.URL)
	if err != nil {
		return nil, err
	}

	body := map[string]any{}
	for _, f := range []struct {
		v, name string
	}{{opts.Language, "language"}, {opts.Hostname, "hostname"}, {opts.Net, "net"}} {
		if strings.IndexByte(f.v, 0) >= 0 {
			return nil, invalid(op, "%s contains a NUL byte", f.name)
		}
		if f.v != "" {
			body[f.name] = f.v
		}
	}
	for _, f := range []struct {
		v    uint64
		name string
	}{
		{opts.Memory, "memory"}, {uint64(opts.Pids), "pids"}, {opts.TmpSize, "tmp_size"},
		{opts.WorkspaceSize, "workspace_size"}, {uint64(opts.NetMaxConns), "net_max_conns"},
		{opts.NetMaxBytes, "net_max_bytes"},
	} {
		if f.v != 0 {
			body[f.name] = f.v
		}
	}
	if opts.CPUs != 0 {
		if math.IsNaN(opts.CPUs) || math.IsInf(opts.CPUs, 0) || opts.CPUs < 0 {
			return nil, invalid(op, "CPUs must be a positive number of CPUs or 0 (no limit), not %v", opts.CPUs)
		}
		body["cpus"] = opts.CPUs
	}
	if opts.TTL < 0 {
		return nil, invalid(op, "TTL %v is negative", opts.TTL)
	}
	if opts.TTL > 0 {
		body["timeout"] = opts.TTL.Seconds()
	}
	if len(opts.Allow) > 0 {
		body["allow"] = opts.Allow
	}
	if len(opts.SecretNames) > 0 {
		for _, n := range opts.SecretNames {
			if !validSecretName(n) {
				return nil, invalid(op, "secret %q: the name must match [A-Za-z_][A-Za-z0-9_]{0,63} (it is an env var)", n)
			}
		}
		body["secrets"] = opts.SecretNames
	}
	if _, err := envList(op, opts.Env); err != nil {
		return nil, err
	}
	if len(opts.Env) > 0 {
		body["env"] = opts.Env
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, invalid(op, "%v", err)
	}
	var created struct {
		ID       string `json:"id"`
		Language string `json:"language"`
	}
	err = c.call(&request{op: op, method: "POST", path: "/v1/sandboxes", body: b,
		contentType: "application/json", token: token}, &created)
	if err != nil {
		return nil, err
	}
	if created.ID == "" {
		return nil, &Error{Op: op, Errno: syscall.EIO, Msg: c.display + ": the created sandbox has no id"}
	}
	lang := opts.Language
	if lang == "" {
		lang = created.Language
	}
	s := &remoteSandbox{
		serial: serial{sem: make(chan struct{}, 1)},
		c:      c,
		token:  token,
		id:     created.ID,
		lang:   lang,
		path:   "/v1/sandboxes/" + url.PathEscape(created.ID),
	}
	return handle(s), nil
}

func (s *remoteSandbox) sandboxID() string    { return s.id }
func (s *remoteSandbox) languageName() string { return s.lang }

func (s *remoteSandbox) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// cancel asks petrid to kill the running exec (no error: Cancel has none,
// and a failed request changes nothing).
func (s *remoteSandbox) cancel() {
	if s.isClosing() {
		return
	}
	s.postCancel()
}

func (s *remoteSandbox) postCancel() {
	_ = s.c.call(&request{op: "cancel", method: "POST", path: s.path + "/cancel",
		token: s.token, replayable: true, idle: 10 * time.Second}, nil)
}

// close deletes the sandbox; petrid cancels a running exec first (its
// stream ends with the result).
func (s *remoteSandbox) close() error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return nil
	}
	s.closing = true
	s.mu.Unlock()
	if s.inOwnCallback() {
		// The exec whose callback this is deletes the sandbox when it
		// returns; kill it now.
		s.closeLeft.Store(true)
		s.postCancel()
		return nil
	}
	return s.destroy()
}

func (s *remoteSandbox) destroy() error {
	err := s.c.call(&request{op: "close", method: "DELETE", path: s.path, token: s.token,
		replayable: true}, nil)
	var e *Error
	if errors.As(err, &e) && (e.Code == "sandbox_not_found" || e.Code == "sandbox_expired") {
		return nil // gone already: what Close wants
	}
	return err
}

func (s *remoteSandbox) finalize() {
	if !s.isClosing() {
		go s.close()
	}
}

// begin takes the sandbox for one operation.
func (s *remoteSandbox) begin(ctx context.Context) error {
	if err := s.acquire(ctx); err != nil {
		return err
	}
	if s.isClosing() {
		s.release()
		return ErrClosed
	}
	return nil
}

// filePath turns a path of the file API into the URL path under /files/:
// relative to /workspace (a leading "/workspace/" or "/" is accepted, as
// in-process), each component percent-encoded.
func (s *remoteSandbox) filePath(op, path string, dir bool) (string, error) {
	p := path
	if p == "/workspace" {
		p = ""
	} else if strings.HasPrefix(p, "/workspace/") {
		p = strings.TrimPrefix(p, "/workspace/")
	}
	p = strings.TrimLeft(p, "/")
	if !dir {
		// As the library: "" is no path, "/" and "/workspace" the
		// workspace itself.
		if path == "" {
			return "", invalid(op, "empty path")
		}
		if p == "" {
			return "", &Error{Op: op, Errno: syscall.EISDIR, Msg: fmt.Sprintf("%s: the workspace itself", path)}
		}
		if strings.HasSuffix(p, "/") {
			return "", &Error{Op: op, Errno: syscall.EISDIR, Msg: fmt.Sprintf("%s: names a directory", path)}
		}
	}
	parts := strings.Split(strings.TrimRight(p, "/"), "/")
	for i, c := range parts {
		parts[i] = url.PathEscape(c)
	}
	u := s.path + "/files/" + strings.Join(parts, "/")
	if dir && p != "" {
		u += "/"
	}
	return u, nil
}

func (s *remoteSandbox) writeFile(path string, data []byte, mode os.FileMode) error {
	const op = "write_file"
	u, err := s.filePath(op, path, false)
	if err != nil {
		return err
	}
	if err := s.begin(context.Background()); err != nil {
		return err
	}
	defer s.release()
	var q url.Values
	if m := modeBits(mode); m != 0 {
		q = url.Values{"mode": {fmt.Sprintf("%04o", m)}}
	}
	if data == nil {
		data = []byte{}
	}
	return s.retryBusy(context.Background(), func() error {
		return s.c.call(&request{op: op, method: "PUT", path: u, query: q, body: data,
			contentType: "application/octet-stream", token: s.token, replayable: true}, nil)
	})
}

func (s *remoteSandbox) readFile(path string, max uint64) ([]byte, error) {
	const op = "read_file"
	u, err := s.filePath(op, path, false)
	if err != nil {
		return nil, err
	}
	if max == 0 {
		max = remoteReadMax
	}
	if err := s.begin(context.Background()); err != nil {
		return nil, err
	}
	defer s.release()
	var resp *http.Response
	var w *watchdog
	err = s.retryBusy(context.Background(), func() error {
		resp, w, err = s.c.do(&request{op: op, method: "GET", path: u, token: s.token, replayable: true})
		if err == nil && resp.StatusCode/100 != 2 {
			err = s.c.statusError(op, resp)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	tooBig := &Error{Op: op, Errno: syscall.EFBIG, Msg: fmt.Sprintf("%s: larger than %d bytes", path, max)}
	if resp.ContentLength > 0 && uint64(resp.ContentLength) > max {
		return nil, tooBig
	}
	lim := max
	if lim < math.MaxInt64 {
		lim++
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, int64(lim)))
	if err != nil {
		return nil, s.c.transportError(op, w, requestIdle, err)
	}
	if uint64(len(b)) > max {
		return nil, tooBig
	}
	return b, nil
}

func (s *remoteSandbox) removeFile(path string) error {
	const op = "remove_file"
	u, err := s.filePath(op, path, false)
	if err != nil {
		return err
	}
	if err := s.begin(context.Background()); err != nil {
		return err
	}
	defer s.release()
	return s.retryBusy(context.Background(), func() error {
		return s.c.call(&request{op: op, method: "DELETE", path: u, token: s.token, replayable: true}, nil)
	})
}

// listing is petrid's directory listing.
type listing struct {
	Entries []struct {
		Name  string          `json:"name"`
		Type  string          `json:"type"`
		Size  int64           `json:"size"`
		Mode  json.RawMessage `json:"mode"`
		MTime json.RawMessage `json:"mtime"`
	} `json:"entries"`
	Truncated bool `json:"truncated"`
}

// listDir lists path; max (0: 10,000, petrid's own bound) is applied here:
// petrid has no parameter for it.
func (s *remoteSandbox) listDir(path string, max uint32) ([]DirEntry, bool, error) {
	const op = "list_dir"
	u, err := s.filePath(op, path, true)
	if err != nil {
		return nil, false, err
	}
	if err := s.begin(context.Background()); err != nil {
		return nil, false, err
	}
	defer s.release()
	var l listing
	err = s.retryBusy(context.Background(), func() error {
		return s.c.call(&request{op: op, method: "GET", path: u, token: s.token, replayable: true}, &l)
	})
	if err != nil {
		return nil, false, err
	}
	out := make([]DirEntry, 0, len(l.Entries))
	for _, e := range l.Entries {
		mode, err := parseMode(e.Mode)
		if err != nil {
			return nil, false, &Error{Op: op, Errno: syscall.EIO, Msg: fmt.Sprintf("%s: entry %q: mode: %v", s.c.display, e.Name, err)}
		}
		mtime, err := parseTime(e.MTime)
		if err != nil {
			return nil, false, &Error{Op: op, Errno: syscall.EIO, Msg: fmt.Sprintf("%s: entry %q: mtime: %v", s.c.display, e.Name, err)}
		}
		out = append(out, DirEntry{Name: e.Name, Type: e.Type, Mode: mode, Size: e.Size, ModTime: mtime})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	if max == 0 {
		max = 10000
	}
	if uint64(len(out)) > uint64(max) {
		out, l.Truncated = out[:max], true
	}
	return out, l.Truncated, nil
}

// parseMode reads a listing's mode: a number, or a string of octal digits.
func parseMode(raw json.RawMessage) (uint32, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	var n uint32
	if err := json.Unmarshal(raw, &n); err == nil {
		return n & 07777, nil
	}
	var str string
	if err := json.Unmarshal(raw, &str); err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(strings.TrimPrefix(str, "0o"), 8, 32)
	return uint32(v) & 07777, err
}

// parseTime reads a listing's mtime: RFC 3339, or seconds since the epoch.
func parseTime(raw json.RawMessage) (time.Time, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}, nil
	}
	var str string
	if err := json.Unmarshal(raw, &str); err == nil {
		return time.Parse(time.RFC3339Nano, str)
	}
	var sec float64
	if err := json.Unmarshal(raw, &sec); err != nil {
		return time.Time{}, err
	}
	whole, frac := math.Modf(sec)
	return time.Unix(int64(whole), int64(frac*1e9)), nil
}
