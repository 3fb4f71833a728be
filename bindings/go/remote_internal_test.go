// SPDX-License-Identifier: Apache-2.0

package petri

// The remote transport against a scripted HTTP server: what a real petrid
// does not do on demand (a stream cut or gone silent at a chosen point,
// every error shape).  The behaviour against the real petrid is in
// petri_test.go and remote_test.go.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// fakePetrid serves create and delete, and hands exec to the test.
func fakePetrid(t *testing.T, exec http.HandlerFunc) (*httptest.Server, *Sandbox) {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/sandboxes", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(401)
			io.WriteString(w, `{"error": {"code": "unauthorized", "message": "no such token"}}`)
			return
		}
		w.WriteHeader(201)
		io.WriteString(w, `{"id": "sb_f1_0123", "language": "sh"}`)
	})
	mux.HandleFunc("/v1/sandboxes/sb_f1_0123", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	mux.HandleFunc("/v1/sandboxes/sb_f1_0123/exec", exec)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	sb, err := New(Options{URL: srv.URL, Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	return srv, sb
}

// within runs f, failing the test if it has not returned after d.
func within(t *testing.T, d time.Duration, f func() (*Result, error)) (*Result, error) {
	t.Helper()
	type outcome struct {
		r   *Result
		err error
	}
	ch := make(chan outcome, 1)
	go func() {
		r, err := f()
		ch <- outcome{r, err}
	}()
	select {
	case o := <-ch:
		return o.r, o.err
	case <-time.After(d):
		t.Fatalf("still waiting after %v", d)
		return nil, nil
	}
}

func sse(w http.ResponseWriter, text string) {
	io.WriteString(w, text)
	w.(http.Flusher).Flush()
}

func sseHeader(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(200)
	w.(http.Flusher).Flush()
}

// The SSE grammar as petrid may use it (comments, CRLF, multi-line data,
// unknown events) and the result object's mapping.
func TestRemoteEventParsing(t *testing.T) {
	_, sb := fakePetrid(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept") != "text/event-stream" {
			t.Errorf("Accept %q", r.Header.Get("Accept"))
		}
		sseHeader(w)
		sse(w, ": a comment\n\nevent: stdout\ndata: {\"data\": \"a\\u00e9\"}\n\n")
		sse(w, "event: heartbeat\r\ndata: {\"t_ms\": 5000}\r\n\r\n")
		sse(w, "event: stderr\ndata: {\"data\":\ndata: \"e\\n\"}\n\n")
		sse(w, "event: gap\ndata: {\"stream\": \"stdout\", \"dropped_bytes\": 3}\n\n")
		sse(w, "event: future\ndata: {}\n\n")
		sse(w, "event: stdout\ndata: {\"data\": \"\\ufffd\"}\n\n")
		sse(w, `event: result
data: {"exit_code": null, "signal": 9, "reason": "signaled", "wall_ms": 12.5, "cpu_ms": 0.25, "peak_memory_bytes": 4096, "stdout": "a\u00e9\ufffd", "stderr": "e\n", "stdout_truncated": false, "stderr_truncated": true, "stdout_total_bytes": 6, "stderr_total_bytes": 9, "limits_hit": ["output"], "seccomp_denials": 2, "sandbox_id": "sb_f1_0123"}

`)
	})
	var got []string
	r, err := sb.Exec(context.Background(), "x", WithOutput(func(s Stream, b []byte) {
		got = append(got, s.String()+":"+string(b))
	}))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, "|") != "stdout:aé|stderr:e\n|stdout:\ufffd" {
		t.Fatalf("chunks %q", got)
	}
	want := Result{Stdout: []byte("aé\ufffd"), Stderr: []byte("e\n"), ExitCode: -1, Signal: 9, Reason: "signaled",
		StderrTruncated: true, StdoutTotal: 6, StderrTotal: 9, Wall: 12500 * time.Microsecond,
		CPU: 250 * time.Microsecond, PeakMemoryBytes: 4096, LimitsHit: []string{"output"}, SeccompDenials: 2}
	if fmt.Sprintf("%+v", *r) != fmt.Sprintf("%+v", want) {
		t.Fatalf("result\n %+v\nwant\n %+v", *r, want)
	}
}

// A server that stops sending (no heartbeat) ends the exec with ETIMEDOUT
// after the silence limit, never hangs it.
func TestRemoteSilentStream(t *testing.T) {
	defer SetStreamSilence(400 * time.Millisecond)()
	release := make(chan struct{})
	defer close(release)
	srv, sb := fakePetrid(t, func(w http.ResponseWriter, r *http.Request) {
		sseHeader(w)
		sse(w, "event: heartbeat\ndata: {\"t_ms\": 5000}\n\n")
		<-release
	})
	t0 := time.Now()
	r, err := within(t, 5*time.Second, func() (*Result, error) { return sb.Exec(context.Background(), "x") })
	d := time.Since(t0)
	var pe *Error
	if r != nil || !errors.As(err, &pe) || pe.Errno != syscall.ETIMEDOUT || !strings.Contains(pe.Msg, srv.URL) {
		t.Fatalf("r %v err %#v", r, err)
	}
	if d < 400*time.Millisecond || d > 3*time.Second {
		t.Fatalf("returned after %v for a 400 ms silence limit", d)
	}
	t.Logf("%v after %v", err, d)
}

// A slow callback is not a silent server: the watchdog waits for it.
func TestRemoteSlowCallback(t *testing.T) {
	defer SetStreamSilence(time.Second)()
	_, sb := fakePetrid(t, func(w http.ResponseWriter, r *http.Request) {
		sseHeader(w)
		// While the callback takes the first chunk, the reader holds the
		// second and reads nothing more.
		sse(w, "event: stdout\ndata: {\"data\": \"x\"}\n\n")
		sse(w, "event: stdout\ndata: {\"data\": \"y\"}\n\n")
		for i := 0; i < 20; i++ {
			time.Sleep(100 * time.Millisecond)
			sse(w, ": heartbeat\n\n")
		}
		sse(w, "event: result\ndata: {\"exit_code\": 0, \"reason\": \"exited\"}\n\n")
	})
	r, err := sb.Exec(context.Background(), "x", WithOutput(func(Stream, []byte) { time.Sleep(1500 * time.Millisecond) }))
	if err != nil || r.Reason != ReasonExited {
		t.Fatalf("r %+v err %v", r, err)
	}
}

// A stream cut before its result is an error at once, naming the URL.
func TestRemoteStreamCut(t *testing.T) {
	srv, sb := fakePetrid(t, func(w http.ResponseWriter, r *http.Request) {
		sseHeader(w)
		sse(w, "event: stdout\ndata: {\"data\": \"partial\"}\n\n")
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	})
	t0 := time.Now()
	var out string
	r, err := within(t, 5*time.Second, func() (*Result, error) {
		return sb.Exec(context.Background(), "x", WithOutput(func(_ Stream, b []byte) { out += string(b) }))
	})
	var pe *Error
	if r != nil || !errors.As(err, &pe) || pe.Errno != syscall.ECONNRESET || !strings.Contains(pe.Msg, srv.URL) ||
		!strings.Contains(pe.Msg, "without a result") {
		t.Fatalf("r %v err %#v", r, err)
	}
	if out != "partial" || time.Since(t0) > 2*time.Second {
		t.Fatalf("streamed %q, took %v", out, time.Since(t0))
	}
}

// Every error shape: petrid's JSON with its code, and what a proxy in front
// may answer.
func TestRemoteErrorMapping(t *testing.T) {
	cases := []struct {
		status int
		body   string
		errno  syscall.Errno
		code   string
		is     error
	}{
		{429, `{"error": {"code": "quota_exceeded", "message": "tenant t: max_execs is 4", "quota": "max_execs"}}`, syscall.EDQUOT, "quota_exceeded", nil},
		{409, `{"error": {"code": "sandbox_busy", "message": "an exec runs"}}`, syscall.EBUSY, "sandbox_busy", ErrBusy},
		{410, `{"error": {"code": "sandbox_expired", "message": "expired"}}`, syscall.ETIME, "sandbox_expired", ErrClosed},
		{404, `{"error": {"code": "sandbox_not_found", "message": "no such sandbox"}}`, syscall.ENOENT, "sandbox_not_found", nil},
		{400, `{"error": {"code": "invalid_argument", "message": "timeout: not a number"}}`, syscall.EINVAL, "invalid_argument", nil},
		{500, `{"error": {"code": "brand_new", "message": "?"}}`, syscall.EIO, "brand_new", nil},
		{503, `<html>no server is available</html>`, syscall.EHOSTDOWN, "", nil},
	}
	for _, c := range cases {
		_, sb := fakePetrid(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(c.status)
			io.WriteString(w, c.body)
		})
		_, err := sb.Exec(context.Background(), "x")
		var pe *Error
		if !errors.As(err, &pe) || pe.Errno != c.errno || pe.Code != c.code || pe.Status != c.status || pe.Op != "exec" {
			t.Fatalf("%d %s: %#v", c.status, c.body, err)
		}
		if c.is != nil && !errors.Is(err, c.is) {
			t.Fatalf("%v: not errors.Is %v", err, c.is)
		}
		if c.code == "quota_exceeded" && pe.Quota != "max_execs" {
			t.Fatalf("quota %q", pe.Quota)
		}
		t.Logf("%v", err)
	}
}

// Cancelling the context POSTs cancel (repeated until it lands) and returns
// the result petrid sends, with the context's error.
func TestRemoteContextCancelPostsCancel(t *testing.T) {
	var cancels atomic.Int32
	killed := make(chan struct{})
	srv, sb := fakePetrid(t, func(w http.ResponseWriter, r *http.Request) {
		sseHeader(w)
		for {
			select {
			case <-killed:
				sse(w, "event: result\ndata: {\"exit_code\": null, \"signal\": 9, \"reason\": \"killed\"}\n\n")
				return
			case <-time.After(50 * time.Millisecond):
				sse(w, ": keep\n\n")
			case <-r.Context().Done():
				return
			}
		}
	})
	// The first two cancels find nothing running (as one that overtakes
	// the exec would); the third kills.
	srv.Config.Handler.(*http.ServeMux).HandleFunc("/v1/sandboxes/sb_f1_0123/cancel", func(w http.ResponseWriter, r *http.Request) {
		if cancels.Add(1) == 3 {
			close(killed)
			io.WriteString(w, `{"cancelled": true}`)
			return
		}
		io.WriteString(w, `{"cancelled": false}`)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	r, err := sb.Exec(ctx, "x", WithTimeout(time.Minute))
	if !errors.Is(err, context.DeadlineExceeded) || r == nil || r.Reason != ReasonKilled {
		t.Fatalf("r %+v err %v", r, err)
	}
	if n := cancels.Load(); n != 3 {
		t.Fatalf("%d cancels", n)
	}
}

// A refused connection names the URL and keeps the socket's errno.
func TestRemoteConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	l.Close()
	_, err = New(Options{URL: url, Token: "x"})
	var pe *Error
	if !errors.As(err, &pe) || !errors.Is(err, syscall.ECONNREFUSED) || !strings.Contains(err.Error(), url) || pe.Op != "create" {
		t.Fatalf("%#v", err)
	}
	t.Log(err)
}

// A context done before petrid's answer has come drops the request at once
// (petrid cancels the exec of a client that went away).
func TestRemoteContextBeforeAnswer(t *testing.T) {
	gone := make(chan struct{})
	_, sb := fakePetrid(t, func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body) // (net/http watches for the client going only after the body)
		select {
		case <-r.Context().Done():
			close(gone)
		case <-time.After(10 * time.Second):
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	r, err := sb.Exec(ctx, "x", WithTimeout(time.Minute))
	if r != nil || !errors.Is(err, context.DeadlineExceeded) || time.Since(t0) > 2*time.Second {
		t.Fatalf("r %v err %v after %v", r, err, time.Since(t0))
	}
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("the server never saw the request go")
	}
}

// After a stream of ours ended without its result, petrid may still be
// ending that exec: the next Exec retries its sandbox_busy (as in-process,
// where it would wait), and a file call too.
func TestRemoteBusyAfterDroppedStream(t *testing.T) {
	var calls atomic.Int32
	_, sb := fakePetrid(t, func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1: // the stream dies
			sseHeader(w)
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				conn.Close()
			}
		case 2, 3: // the dead stream's exec still ends
			w.WriteHeader(409)
			io.WriteString(w, `{"error": {"code": "sandbox_busy", "message": "another exec is running in the sandbox"}}`)
		default:
			sseHeader(w)
			sse(w, "event: result\ndata: {\"exit_code\": 0, \"reason\": \"exited\"}\n\n")
		}
	})
	if _, err := sb.Exec(context.Background(), "x"); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("first: %v", err)
	}
	r, err := sb.Exec(context.Background(), "x")
	if err != nil || r.Reason != ReasonExited || calls.Load() != 4 {
		t.Fatalf("second: %+v %v after %d requests", r, err, calls.Load())
	}
	// With nothing of ours left running, sandbox_busy is another client's:
	// an error at once.
	calls.Store(1)
	t0 := time.Now()
	if _, err := sb.Exec(context.Background(), "x"); !errors.Is(err, ErrBusy) || time.Since(t0) > time.Second {
		t.Fatalf("third: %v after %v", err, time.Since(t0))
	}
}
