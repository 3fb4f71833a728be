// SPDX-License-Identifier: Apache-2.0

package petri

/*
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <petri/petri.h>

// Exported from callback.go.  The trampoline gives the library a function
// pointer with its exact signature (const char *, void *) and carries the
// cgo.Handle through the userdata pointer as an integer, so no Go pointer is
// ever stored in C memory.  (The same for output: exec.go.)
extern void petriGoLog(int level, char *msg, uintptr_t handle);

static void petri_go_log(int level, const char *msg, void *ud)
{
	petriGoLog(level, (char *)msg, (uintptr_t)ud);
}

static void petri_go_ctx_set_log(petri_ctx_opts *o, uintptr_t handle)
{
	o->log_fn = petri_go_log;
	o->log_userdata = (void *)handle;
}
*/
import "C"

import (
	"bytes"
	"context"
	"math"
	"os"
	"runtime"
	"runtime/cgo"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Version returns the version of the libpetri the program is linked with,
// e.g. "0.1.0".
func Version() string { return C.GoString(C.petri_version()) }

// LogLevel is the severity of a library diagnostic.
type LogLevel int

const (
	LogError LogLevel = iota + 1
	LogWarn
	LogInfo
	LogDebug
)

func (l LogLevel) String() string {
	switch l {
	case LogError:
		return "error"
	case LogWarn:
		return "warn"
	case LogInfo:
		return "info"
	case LogDebug:
		return "debug"
	}
	return "unknown"
}

// CgroupMode says how a Context enforces memory and pids limits.
type CgroupMode int

const (
	CgroupNone CgroupMode = C.PETRI_CGROUP_NONE // no writable cgroup: rlimit fallbacks only
	CgroupV1   CgroupMode = C.PETRI_CGROUP_V1   // v1 controllers (hybrid hosts)
	CgroupV2   CgroupMode = C.PETRI_CGROUP_V2   // unified hierarchy
)

func (m CgroupMode) String() string {
	switch m {
	case CgroupNone:
		return "none"
	case CgroupV1:
		return "v1"
	case CgroupV2:
		return "v2"
	}
	return "unknown"
}

// ContextOptions configure NewContext.  The zero value gives the library's
// defaults.
type ContextOptions struct {
	// Log receives the library's diagnostics (one line each), from any
	// thread, including threads the library created.  It must not block for
	// long.  Nil: no logging.
	Log func(level LogLevel, msg string)
	// LogLevel is the most verbose level passed to Log; zero means LogWarn.
	LogLevel LogLevel
	// HostUIDBase: when the host process is root, each sandbox maps its ids
	// 0..65535 onto a claimed range of 65536 host ids at HostUIDBase +
	// k*65536.  Zero: 0xc8000000; at most 0xfffeffff (see petri_ctx_opts in
	// petri.h).
	HostUIDBase uint32
	// RequireCgroups refuses to create sandboxes when cgroup limits cannot be
	// enforced, instead of falling back to rlimits with a warning.
	RequireCgroups bool
	// CgroupLeaf (pure cgroup v2 only; PETRI_CTX_F_CGROUP_LEAF in petri.h):
	// when this process's cgroup holds processes, so that cgroup v2 will not
	// enable memory and pids for its children, NewContext moves the whole
	// process into "<its cgroup>/petri-host" and creates the sandboxes'
	// cgroups beside it -- for a service in a delegated cgroup (systemd
	// Delegate=yes).  Without it the library never moves the process.
	CgroupLeaf bool
	// Warm keeps sandboxes ready (the warm pool, petri_warm in petri.h):
	// language ("python", "node", "go", "sh"; "" for sandboxes without a
	// language, as Options.Language "") -> how many, 1 to 1024; at most 16
	// languages.  New with that Language whose other Options are only Env,
	// Memory, Pids and CPUs takes a ready one (any other option, or
	// NoPool, builds one as without a pool); a background thread of the
	// library refills the pool.  Nil: no pool.
	Warm map[string]int
	// NoRecycle (PETRI_CTX_F_NO_RECYCLE): Close always tears a pooled
	// sandbox down and the pool is refilled with fresh ones.  Without it,
	// Close of a sandbox matching a pool resets it (fresh /tmp, /workspace,
	// home and /dev/shm, a new IPC namespace and cgroup, every process
	// killed) and puts it back when it is proven clean.
	NoRecycle bool
}

// maxWarm and maxWarmCount are petri_ctx_opts.nwarm's and
// petri_warm.count's limits (petri.h).
const (
	maxWarm      = 16
	maxWarmCount = 1024
)

// A Context owns the library state that sandboxes share: the supervisor
// thread that forks every sandbox (which lives as long as the Context, so the
// death signal that takes sandboxes down with the host is not tied to one of
// Go's short-lived threads), the compiled seccomp filter and the cgroup
// layout.  Most programs never make one: New uses a package-level Context
// created on first use and never closed.
//
// A Context is safe for concurrent use.  Close destroys every sandbox still
// open in it.  There is no finalizer for Contexts: call Close.
type Context struct {
	// life is held for reading while c is used (creating a sandbox), for
	// writing while it is freed.
	life   sync.RWMutex
	c      *C.petri_ctx
	closed bool
	log    cgo.Handle // 0 when there is no log callback

	mu        sync.Mutex // guards sandboxes
	sandboxes map[*sandbox]struct{}
}

// NewContext creates a Context of its own.  Close it when done.
func NewContext(opts ContextOptions) (*Context, error) {
	var copts C.petri_ctx_opts
	C.petri_ctx_opts_init(&copts)
	if opts.LogLevel != 0 {
		copts.log_level = C.uint32_t(opts.LogLevel - 1)
	}
	copts.host_uid_base = C.uint32_t(opts.HostUIDBase)
	if opts.RequireCgroups {
		copts.flags |= C.PETRI_CTX_F_REQUIRE_CGROUPS
	}
	if opts.CgroupLeaf {
		copts.flags |= C.PETRI_CTX_F_CGROUP_LEAF
	}
	if opts.NoRecycle {
		copts.flags |= C.PETRI_CTX_F_NO_RECYCLE
	}
	var a cArena
	defer a.free()
	if len(opts.Warm) > 0 {
		w, err := a.warm(opts.Warm)
		if err != nil {
			return nil, err
		}
		copts.warm = w
		copts.nwarm = C.uint32_t(len(opts.Warm))
	}
	c := &Context{sandboxes: make(map[*sandbox]struct{})}
	if opts.Log != nil {
		c.log = cgo.NewHandle(opts.Log)
		C.petri_go_ctx_set_log(&copts, C.uintptr_t(c.log))
	}
	var perr *C.petri_error
	if rc := C.petri_ctx_new(&c.c, &copts, &perr); rc < 0 {
		if c.log != 0 {
			c.log.Delete()
		}
		return nil, takeError("context", rc, perr)
	}
	return c, nil
}

// CgroupMode says how the Context enforces memory and pids limits.
func (c *Context) CgroupMode() CgroupMode {
	c.life.RLock()
	defer c.life.RUnlock()
	if c.closed {
		return CgroupNone
	}
	return CgroupMode(C.petri_ctx_cgroup_mode(c.c))
}

// PoolStats are the counts of one warm pool (struct petri_pool_stats in
// petri.h) since the Context was made.
type PoolStats struct {
	Language  string // the pool's language ("": sandboxes without one)
	Ready     uint32 // sandboxes ready in the pool now
	Target    uint32 // the pool's count (ContextOptions.Warm)
	Hits      uint64 // creates served from the pool
	Misses    uint64 // matching creates that found it empty
	Created   uint64 // sandboxes the refill thread built
	Recycled  uint64 // closed sandboxes reset and put back
	Discarded uint64 // closed sandboxes torn down instead: not proven clean, or the pool was full
	Failed    uint64 // refill builds or resets that failed
}

// PoolStats returns the counts of the Context's warm pool of language (""
// for the pool of sandboxes without a language).  An *Error with
// Errno ENOENT when the Context has no such pool; ErrClosed after Close.
func (c *Context) PoolStats(language string) (PoolStats, error) {
	const op = "pool stats"
	var a cArena
	defer a.free()
	var name *C.char
	if language != "" {
		if strings.IndexByte(language, 0) >= 0 {
			return PoolStats{}, invalid(op, "language contains a NUL byte")
		}
		name = a.str(language)
	}
	var out C.petri_pool_stats
	out.sz = C.uint32_t(unsafe.Sizeof(out))
	c.life.RLock()
	defer c.life.RUnlock()
	if c.closed {
		return PoolStats{}, ErrClosed
	}
	if rc := C.petri_ctx_pool_stats(c.c, name, &out); rc < 0 {
		e := takeError(op, rc, nil).(*Error)
		if rc == -C.ENOENT {
			what := "language " + strconv.Quote(language)
			if language == "" {
				what = "sandboxes without a language"
			}
			e.Msg = "the context has no warm pool for " + what
		}
		return PoolStats{}, e
	}
	return PoolStats{
		Language:  language,
		Ready:     uint32(out.ready),
		Target:    uint32(out.target),
		Hits:      uint64(out.hits),
		Misses:    uint64(out.misses),
		Created:   uint64(out.created),
		Recycled:  uint64(out.recycled),
		Discarded: uint64(out.discarded),
		Failed:    uint64(out.failed),
	}, nil
}

// PoolWait waits until every warm pool of the Context is full, for at most
// timeout (0: just check).  For start-up, tests and benchmarks: New never
// needs it.  It returns true when full (also for a Context without a pool),
// false when the time ran out, and an *Error with the refill's errno when a
// pool is not full and its last build failed (EPERM: the kernel refuses a
// namespace, say; the library keeps retrying).  New may run meanwhile; Close waits for
// it to return.
func (c *Context) PoolWait(timeout time.Duration) (bool, error) {
	if timeout < 0 {
		return false, invalid("pool wait", "negative timeout %v", timeout)
	}
	ms := uint64((timeout + time.Millisecond - 1) / time.Millisecond)
	c.life.RLock()
	defer c.life.RUnlock()
	if c.closed {
		return false, ErrClosed
	}
	rc := C.petri_ctx_pool_wait(c.c, C.uint64_t(ms))
	switch {
	case rc == 0:
		return true, nil
	case rc == -C.ETIMEDOUT:
		return false, nil
	}
	e := takeError("pool wait", rc, nil).(*Error)
	e.Msg = "the warm pool cannot be filled: " + e.Msg
	return false, e
}

// Close destroys every sandbox still open in the Context (killing what runs
// in them, see Sandbox.Close), then the Context.  Later calls return nil;
// the Context's methods and its sandboxes' methods return ErrClosed.
func (c *Context) Close() error {
	// Creations hold life for reading: none is in progress past this point,
	// and later ones see closed.
	c.life.Lock()
	defer c.life.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	c.mu.Lock()
	open := make([]*sandbox, 0, len(c.sandboxes))
	for s := range c.sandboxes {
		open = append(open, s)
	}
	c.mu.Unlock()
	for _, s := range open {
		_ = s.close()
	}
	C.petri_ctx_free(c.c)
	c.c = nil
	// Only now: the library may log while it frees the context.
	if c.log != 0 {
		c.log.Delete()
		c.log = 0
	}
	return nil
}

var (
	defaultMu  sync.Mutex
	defaultCtx *Context
)

// defaultContext returns the package-level Context, creating it on first use.
// Unlike a sync.Once, a failed creation is retried by the next call.
func defaultContext() (*Context, error) {
	defaultMu.Lock()
	defer defaultMu.Unlock()
	if defaultCtx == nil {
		c, err := NewContext(ContextOptions{})
		if err != nil {
			return nil, err
		}
		defaultCtx = c
	}
	return defaultCtx, nil
}

// Options describe a sandbox.  Zero fields take the library's defaults.
type Options struct {
	// Language Exec runs code in: "python", "node", "go" or "sh".  Empty:
	// Exec needs WithLanguage; Run works regardless.
	Language string
	// Memory limit in bytes (cgroup); default 512 MiB.
	Memory uint64
	// Pids is the maximum number of processes and threads; default 256.
	Pids uint32
	// CPUs is the CPU time the sandbox's processes may use together per
	// wall second, in CPUs (0.5, 2); 0: no limit (the default).  At least
	// 0.01 and at most the host's online CPUs.
	CPUs float64
	// TmpSize is the size of /tmp in bytes; default 64 MiB.
	TmpSize uint64
	// WorkspaceSize is the size of the /workspace tmpfs in bytes; default
	// 256 MiB.  Ignored with WorkspaceDir.
	WorkspaceSize uint64
	// Net is "none" (the default: a network namespace with only lo),
	// "host" (share the host's network: trusted code only) or "proxy"
	// (only lo, and the host's egress proxy and DNS for the names in
	// Allow).
	Net string
	// Allow is the proxy's allowlist, "HOST[:PORT][=ADDR]": a name,
	// "*.NAME" (subdomains), an IP literal ("[v6]"); PORT default 80 and
	// 443; =ADDR the address the host dials for it.  Required with Net
	// "proxy" (unless Secrets are given), refused with any other mode.
	Allow []string
	// NetMaxConns bounds the proxied connections open at once (Net
	// "proxy"); 0: 256.
	NetMaxConns uint32
	// NetMaxBytes bounds the bytes proxied both ways in all (Net "proxy");
	// 0: 16 GiB.
	NetMaxBytes uint64
	// Secrets (Net "proxy", implied when Net is ""; TenantVault, see Secret): NAME -> value and
	// hosts.  Inside, env NAME holds a placeholder the proxy replaces by
	// the value only in HTTPS requests to the secret's hosts, which need
	// no Allow entry of their own (Allow may then be empty).
	Secrets map[string]Secret
	// UpstreamCA is a PEM file of extra CAs trusted, beside the system's,
	// for the servers of secret-bound hosts (needs Secrets).
	UpstreamCA string
	// Env is passed to every exec (on top of PATH, HOME, LANG, TMPDIR).
	Env map[string]string
	// Binds are extra host paths, "SRC:DST[:ro|rw][,sockets]", read-only by
	// default.  Host unix sockets in a bound directory refuse connections
	// unless the bind has the "sockets" option (with an "rw" bind,
	// WorkspaceDir or Rootfs, sendmsg to a pathname socket fails with
	// EPERM: see the README's "unix guard").
	Binds []string
	// WorkspaceDir is a host directory bound read-write at /workspace;
	// empty: a private tmpfs that disappears with the sandbox.
	WorkspaceDir string
	// Rootfs is a custom root directory, bound read-only; empty: the host's
	// /usr and friends.
	Rootfs string
	// Hostname inside the sandbox; default "petri".
	Hostname string
	// ID names the sandbox, [a-zA-Z0-9_-]{1,48}; empty: generated "sb_<hex>".
	ID string
	// NoPool (PETRI_SANDBOX_F_NO_POOL): never taken from the Context's
	// warm pool nor recycled into it; built for this sandbox and torn down
	// by Close.  In-process only (a petrid's pool is its own).
	NoPool bool

	// URL makes the sandbox in a petrid service instead of in this
	// process: "http://HOST:PORT", "https://HOST:PORT" (TLS from a reverse
	// proxy in front of petrid; the system's CAs, or SSL_CERT_FILE) or
	// "unix:///path/to/petrid.sock"; an http(s) URL may carry a path
	// prefix.  Empty: the environment variable PETRI_URL, if set, else
	// in-process.  Remotely the API is the same, with these differences:
	// Binds, WorkspaceDir, Rootfs, ID, UpstreamCA and Secrets are refused
	// (they name host paths or carry secret values; use SecretNames); the
	// tenant's defaults fill fields left zero; a Result's output is text
	// (invalid UTF-8 arrives as U+FFFD); errors carry petrid's Code (see
	// Error).  See README.md, "Remote sandboxes".
	URL string
	// Token is the bearer token of a petrid tenant; empty: the environment
	// variable PETRI_TOKEN.  Remote only.
	Token string
	// SecretNames (remote only) lists secrets of the petrid tenant's vault
	// this sandbox may use: env NAME holds a placeholder, as with Secrets.
	// The values and their hosts stay in petrid's configuration, which is
	// the point: a secret's value never travels from the client.
	SecretNames []string
	// TTL (remote only) is the idle timeout after which petrid destroys
	// the sandbox (an exec, a file write or delete renews it; reads do
	// not); zero: the tenant's default (600 s unless configured), at most
	// the tenant's max_ttl.  An expired sandbox's methods return an *Error
	// for which errors.Is(err, ErrClosed) holds.
	TTL time.Duration
}

// A Sandbox is an isolated environment (see the package documentation) that
// runs code with Exec and Run; files in /workspace persist between execs.
// It lives in this process (libpetri, the default) or in a petrid service
// (Options.URL, or PETRI_URL in the environment): the API is the same.
//
// A Sandbox runs one operation at a time: concurrent calls on one Sandbox
// wait for each other (Exec and Run stop waiting when their context is
// done).  Many sandboxes may be used concurrently.
//
// Close is required: it kills what runs and removes every trace of the
// sandbox.  A finalizer closes sandboxes that become unreachable, but only as
// a backstop: it may run late or, at exit, not at all (the library's init
// process still dies with the host process; a remote sandbox expires after
// its idle TTL).
type Sandbox struct {
	b backend
}

// backend is what a Sandbox dispatches to: *sandbox (in-process, cgo) or
// *remoteSandbox (petrid over HTTP).  Arguments are checked by the Sandbox
// methods where both share the rule.
type backend interface {
	sandboxID() string
	languageName() string
	exec(ctx context.Context, op, code string, argv []string, cfg *execConfig) (*Result, error)
	writeFile(path string, data []byte, mode os.FileMode) error
	readFile(path string, max uint64) ([]byte, error)
	removeFile(path string) error
	listDir(path string, max uint32) ([]DirEntry, bool, error)
	cancel()
	close() error
	// finalize is close from the finalizer goroutine: it must not block
	// other finalizers for long.
	finalize()
}

// serial is the one-operation-at-a-time rule both backends share.
type serial struct {
	// sem is held (a value sent) by the operation using the sandbox:
	// exec, file I/O, destroy.  A channel, so a waiting Exec can give up
	// when its context is done.
	sem chan struct{}

	// cbG is the id of the goroutine running a WithOutput callback of this
	// sandbox's exec (0: none).  What that callback calls must not wait for
	// sem, which its own exec holds: Close leaves the destroy to the exec
	// (closeLeft), the other methods return ErrBusy.
	cbG       atomic.Uint64
	closeLeft atomic.Bool
}

// sandbox is the in-process state; Sandbox is the handle users hold, so the
// finalizer on a Sandbox can run while its Context still lists the sandbox.
type sandbox struct {
	serial
	ctx  *Context
	id   string
	lang string

	// hmu guards sb and closing for Cancel, which runs beside an exec.
	// sb itself is only set to nil by the holder of sem.
	hmu     sync.Mutex
	sb      *C.petri_sandbox
	closing bool
}

// goid is the id of the calling goroutine, from the header of its stack
// trace ("goroutine 7 [running]:").  Only compared with cbG.
func goid() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	var id uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			break
		}
		id = id*10 + uint64(c-'0')
	}
	return id
}

// inOwnCallback reports whether the caller is a WithOutput callback of this
// sandbox's running exec.
func (s *serial) inOwnCallback() bool {
	g := s.cbG.Load()
	return g != 0 && g == goid()
}

// New creates a sandbox: in a petrid service when opts.URL is set (or,
// when it is empty, the environment variable PETRI_URL is), else in this
// process, in the package-level Context.  See Options.URL.
func New(opts Options) (*Sandbox, error) {
	if opts.URL == "" {
		opts.URL = os.Getenv("PETRI_URL")
	}
	if opts.URL != "" {
		return newRemote(opts)
	}
	c, err := defaultContext()
	if err != nil {
		return nil, err
	}
	return c.New(opts)
}

// localOnly refuses the remote-only options for an in-process sandbox.
func localOnly(op string, opts *Options) error {
	switch {
	case opts.URL != "":
		return invalid(op, "Options.URL: a Context makes in-process sandboxes; petri.New makes remote ones")
	case opts.Token != "":
		return invalid(op, "Options.Token needs Options.URL (a petrid service)")
	case len(opts.SecretNames) > 0:
		return invalid(op, "Options.SecretNames names a petrid tenant's secrets (needs Options.URL); in-process, give Options.Secrets")
	case opts.TTL != 0:
		return invalid(op, "Options.TTL is the idle timeout of a petrid sandbox (needs Options.URL)")
	}
	return nil
}

// cpusMilli converts Options.CPUs to the library's thousandths of a CPU
// (the library checks the range).
func cpusMilli(op string, cpus float64) (C.uint32_t, error) {
	if cpus == 0 {
		return 0, nil
	}
	if math.IsNaN(cpus) || math.IsInf(cpus, 0) || cpus < 0 {
		return 0, invalid(op, "CPUs must be a positive number of CPUs or 0 (no limit), not %v", cpus)
	}
	milli := math.Round(cpus * 1000)
	if milli < 1 {
		return 0, invalid(op, "CPUs %v is below the minimum of 0.01", cpus)
	}
	if milli > math.MaxUint32 {
		return 0, invalid(op, "CPUs %v is too large", cpus)
	}
	return C.uint32_t(milli), nil
}

// New creates a sandbox in the Context (always in-process: PETRI_URL is
// not consulted, and Options.URL is an error).
func (c *Context) New(opts Options) (*Sandbox, error) {
	const op = "create"
	if err := localOnly(op, &opts); err != nil {
		return nil, err
	}
	var a cArena
	defer a.free()

	var so C.petri_sandbox_opts
	C.petri_sandbox_opts_init(&so)
	var err error
	str := func(s, what string) *C.char {
		if s == "" || err != nil {
			return nil
		}
		if strings.IndexByte(s, 0) >= 0 {
			err = invalid(op, "%s contains a NUL byte", what)
			return nil
		}
		return a.str(s)
	}
	so.language = str(opts.Language, "language")
	so.id = str(opts.ID, "id")
	so.hostname = str(opts.Hostname, "hostname")
	so.rootfs = str(opts.Rootfs, "rootfs")
	so.workspace_dir = str(opts.WorkspaceDir, "workspace dir")
	if err != nil {
		return nil, err
	}
	if so.binds, err = a.strv(op, "bind", opts.Binds); err != nil {
		return nil, err
	}
	env, err := envList(op, opts.Env)
	if err != nil {
		return nil, err
	}
	if so.env, err = a.strv(op, "env", env); err != nil {
		return nil, err
	}
	so.memory_bytes = C.uint64_t(opts.Memory)
	so.tmp_bytes = C.uint64_t(opts.TmpSize)
	so.workspace_bytes = C.uint64_t(opts.WorkspaceSize)
	so.pids_max = C.uint32_t(opts.Pids)
	if so.cpus_milli, err = cpusMilli(op, opts.CPUs); err != nil {
		return nil, err
	}
	switch opts.Net {
	case "":
		// Not given: the proxy when there are secrets (the only way
		// one is ever sent), else none.
		so.net = C.PETRI_NET_NONE
		if len(opts.Secrets) > 0 {
			so.net = C.PETRI_NET_PROXY
		}
	case "none":
		so.net = C.PETRI_NET_NONE
	case "host":
		so.net = C.PETRI_NET_HOST
	case "proxy":
		so.net = C.PETRI_NET_PROXY
	default:
		return nil, invalid(op, "unknown network mode %q (expected none, proxy or host)", opts.Net)
	}
	if so.allow, err = a.strv(op, "allow", opts.Allow); err != nil {
		return nil, err
	}
	so.net_max_conns = C.uint32_t(opts.NetMaxConns)
	so.net_max_bytes = C.uint64_t(opts.NetMaxBytes)
	if so.secrets, err = a.secrets(op, opts.Secrets); err != nil {
		return nil, err
	}
	so.upstream_ca = str(opts.UpstreamCA, "upstream CA")
	if err != nil {
		return nil, err
	}
	if opts.NoPool {
		so.flags |= C.PETRI_SANDBOX_F_NO_POOL
	}

	c.life.RLock()
	defer c.life.RUnlock()
	if c.closed {
		return nil, ErrClosed
	}
	var sb *C.petri_sandbox
	var perr *C.petri_error
	if rc := C.petri_sandbox_create(c.c, &so, &sb, &perr); rc < 0 {
		return nil, takeError(op, rc, perr)
	}
	s := &sandbox{
		serial: serial{sem: make(chan struct{}, 1)},
		ctx:    c,
		id:     C.GoString(C.petri_sandbox_id(sb)),
		lang:   opts.Language,
		sb:     sb,
	}
	c.mu.Lock()
	c.sandboxes[s] = struct{}{}
	c.mu.Unlock()
	return handle(s), nil
}

// handle wraps a backend in the Sandbox users hold, with the finalizer.
func handle(b backend) *Sandbox {
	h := &Sandbox{b: b}
	runtime.SetFinalizer(h, func(h *Sandbox) { h.b.finalize() })
	return h
}

func (s *sandbox) sandboxID() string    { return s.id }
func (s *sandbox) languageName() string { return s.lang }
func (s *sandbox) finalize()            { s.close() }

// ID returns the sandbox's id (also after Close).  A remote sandbox's id
// names its petrid node: "sb_<node>_<hex>".
func (s *Sandbox) ID() string { return s.b.sandboxID() }

// Reuses says how many times the sandbox was recycled before it was handed
// out: 0 for one built fresh (by New or by the warm pool's refill), n after
// n recycles (see ContextOptions.Warm).  -1 when it is not known: a remote
// sandbox (the pool is petrid's) or a closed one.
func (s *Sandbox) Reuses() int64 {
	defer runtime.KeepAlive(s)
	l, ok := s.b.(*sandbox)
	if !ok {
		return -1
	}
	l.hmu.Lock()
	defer l.hmu.Unlock()
	if l.sb == nil {
		return -1
	}
	return int64(C.petri_sandbox_reuses(l.sb))
}

// Language returns the language given in Options (remotely, when Options
// left it empty: the tenant's default language, if it has one).
func (s *Sandbox) Language() string { return s.b.languageName() }

// Cancel kills the Exec or Run running on the sandbox, if any; it ends with
// Reason "killed".  Safe to call from any goroutine, at any time.  (A Cancel
// that finds nothing running is forgotten by the next Exec.)
func (s *Sandbox) Cancel() {
	s.b.cancel()
	runtime.KeepAlive(s)
}

// Close kills whatever runs in the sandbox (a running Exec returns its
// Result with Reason "killed" and ErrClosed), then destroys the sandbox: its
// processes, cgroup and workspace.  Nothing remains.  Close is idempotent and
// safe to call concurrently with other methods; after it, they return
// ErrClosed.  Called from a WithOutput callback of the sandbox's own exec,
// it returns at once and the sandbox is destroyed when that Exec returns.
//
// In-process, Close always returns nil.  A remote Close returns the error
// of its DELETE request (the connection failed, say); a sandbox the server
// no longer has (deleted, expired) is not an error.  Either way the Sandbox
// is closed for this process afterwards.
func (s *Sandbox) Close() error {
	runtime.SetFinalizer(s, nil)
	return s.b.close()
}

func (s *sandbox) cancel() {
	s.hmu.Lock()
	if s.sb != nil {
		C.petri_sandbox_cancel(s.sb)
	}
	s.hmu.Unlock()
}

// acquire takes sem, giving up when ctx is done.
func (s *serial) acquire(ctx context.Context) error {
	if s.inOwnCallback() {
		return ErrBusy
	}
	select {
	case s.sem <- struct{}{}:
		return nil
	default:
	}
	select {
	case s.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *serial) release() { <-s.sem }

// usable reports whether the sandbox is open; the caller holds sem.
func (s *sandbox) usable() bool {
	s.hmu.Lock()
	ok := s.sb != nil && !s.closing
	s.hmu.Unlock()
	return ok
}

func (s *sandbox) close() error {
	s.hmu.Lock()
	s.closing = true
	if s.sb != nil {
		C.petri_sandbox_cancel(s.sb)
	}
	s.hmu.Unlock()
	if s.inOwnCallback() {
		// Called from the running exec's own callback: that exec holds
		// sem and destroys the sandbox when it returns (destroyLocked).
		s.closeLeft.Store(true)
		return nil
	}

	// Wait for a running exec to end.  The cancel is repeated: one sent just
	// before the exec drained stale cancels would be lost.
	select {
	case s.sem <- struct{}{}:
	default:
		t := time.NewTicker(25 * time.Millisecond)
	wait:
		for {
			select {
			case s.sem <- struct{}{}:
				break wait
			case <-t.C:
				s.cancel()
			}
		}
		t.Stop()
	}
	s.destroyLocked()
	s.release()
	return nil
}

// destroyLocked destroys the sandbox; the caller holds sem.
func (s *sandbox) destroyLocked() {
	s.hmu.Lock()
	sb := s.sb
	s.sb = nil
	s.hmu.Unlock()
	if sb != nil {
		C.petri_sandbox_destroy(sb)
		s.ctx.mu.Lock()
		delete(s.ctx.sandboxes, s)
		s.ctx.mu.Unlock()
	}
}

// envList turns a map into sorted "K=V" strings.
func envList(op string, env map[string]string) ([]string, error) {
	if len(env) == 0 {
		return nil, nil
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.IndexByte(v, 0) >= 0 {
			return nil, invalid(op, "bad environment variable %q (empty name, '=' in the name or a NUL byte)", k)
		}
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out, nil
}

// cArena collects C allocations made for one call and frees them together.
type cArena struct {
	ptrs []unsafe.Pointer
	wipe [][]byte // C copies of secret values, zeroed before they are freed
}

func (a *cArena) str(s string) *C.char {
	p := C.CString(s)
	a.ptrs = append(a.ptrs, unsafe.Pointer(p))
	return p
}

// strv returns a NULL-terminated C array of C strings, or nil for no strings.
func (a *cArena) strv(op, what string, v []string) (**C.char, error) {
	if len(v) == 0 {
		return nil, nil
	}
	for _, s := range v {
		if strings.IndexByte(s, 0) >= 0 {
			return nil, invalid(op, "%s %q contains a NUL byte", what, s)
		}
	}
	p := C.calloc(C.size_t(len(v)+1), C.size_t(unsafe.Sizeof((*C.char)(nil))))
	if p == nil {
		panic("petri: out of memory")
	}
	a.ptrs = append(a.ptrs, p)
	arr := unsafe.Slice((**C.char)(p), len(v)+1)
	for i, s := range v {
		arr[i] = a.str(s)
	}
	return (**C.char)(p), nil
}

// warm returns ContextOptions.Warm as a C array of petri_warm, sorted by
// language (so that errors do not depend on map order), checked.
func (a *cArena) warm(warm map[string]int) (*C.petri_warm, error) {
	const op = "context"
	if len(warm) > maxWarm {
		return nil, invalid(op, "Warm: at most %d languages, got %d", maxWarm, len(warm))
	}
	langs := make([]string, 0, len(warm))
	for l := range warm {
		langs = append(langs, l)
	}
	sort.Strings(langs)
	p := C.calloc(C.size_t(len(langs)), C.size_t(unsafe.Sizeof(C.petri_warm{})))
	if p == nil {
		panic("petri: out of memory")
	}
	a.ptrs = append(a.ptrs, p)
	arr := unsafe.Slice((*C.petri_warm)(p), len(langs))
	for i, l := range langs {
		n := warm[l]
		if n < 1 || n > maxWarmCount {
			return nil, invalid(op, "Warm[%q] must be between 1 and %d, got %d", l, maxWarmCount, n)
		}
		if l != "" {
			if strings.IndexByte(l, 0) >= 0 {
				return nil, invalid(op, "Warm: language %q contains a NUL byte", l)
			}
			arr[i].language = a.str(l)
		}
		arr[i].count = C.uint32_t(n)
	}
	return (*C.petri_warm)(p), nil
}

func (a *cArena) bytes(b []byte) unsafe.Pointer {
	p := C.CBytes(b)
	a.ptrs = append(a.ptrs, p)
	return p
}

func (a *cArena) free() {
	for _, w := range a.wipe {
		for i := range w {
			w[i] = 0
		}
	}
	a.wipe = nil
	for _, p := range a.ptrs {
		C.free(p)
	}
	a.ptrs = nil
}
