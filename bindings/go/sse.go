// SPDX-License-Identifier: Apache-2.0

package petri

// Remote execs: POST /v1/sandboxes/{id}/exec with Accept: text/event-stream,
// read as Server-Sent Events (docs/petrid.md, "Streaming").

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"runtime/debug"
	"strings"
	"syscall"
	"time"
)

// maxEvent bounds one event (a result holds the captured output, whose caps
// the caller chose): beyond it the stream is treated as broken.
const maxEvent = 1 << 30

// sseEvent is one event of the stream, or (err set) its end without a
// terminal event.
type sseEvent struct {
	name string
	data []byte
	err  error
}

// readEvents parses the stream into events until it ends or quit closes.
// While it waits for the consumer to take an event, the watchdog is paused:
// a slow callback is not a dead server.  After a terminal event ("result",
// "error") the rest of the response is drained (briefly) so the connection
// can be reused.
func readEvents(body io.ReadCloser, w *watchdog, out chan<- sseEvent, quit <-chan struct{}) {
	br := bufio.NewReaderSize(body, 64<<10)
	send := func(ev sseEvent) bool {
		w.pause()
		defer w.resume()
		select {
		case out <- ev:
			return true
		case <-quit:
			return false
		}
	}
	var name string
	var data bytes.Buffer
	haveData := false
	for {
		line, err := readLine(br, maxEvent)
		if err != nil {
			send(sseEvent{err: err})
			return
		}
		if len(line) == 0 {
			// Dispatch.
			if !haveData && name == "" {
				continue
			}
			ev := sseEvent{name: name, data: append([]byte(nil), data.Bytes()...)}
			if ev.name == "" {
				ev.name = "message"
			}
			name, haveData = "", false
			data.Reset()
			if ev.name == "result" || ev.name == "error" {
				t := time.AfterFunc(time.Second, func() { body.Close() })
				_, _ = io.Copy(io.Discard, io.LimitReader(br, 64<<10))
				t.Stop()
				send(ev)
				return
			}
			if !send(ev) {
				return
			}
			continue
		}
		if line[0] == ':' {
			continue // a comment
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			value = bytes.TrimPrefix(value, []byte(" "))
		}
		switch string(field) {
		case "event":
			name = string(value)
		case "data":
			if haveData {
				data.WriteByte('\n')
			}
			if data.Len()+len(value) > maxEvent {
				send(sseEvent{err: fmt.Errorf("an event larger than %d bytes", maxEvent)})
				return
			}
			data.Write(value)
			haveData = true
		}
	}
}

// readLine reads one line without its "\n" or "\r\n", of at most max bytes.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var long []byte
	for {
		frag, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			if len(long)+len(frag) > max {
				return nil, fmt.Errorf("a line longer than %d bytes", max)
			}
			long = append(long, frag...)
			continue
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if long != nil {
			frag = append(long, frag...)
		}
		frag = bytes.TrimSuffix(frag[:len(frag)-1], []byte("\r"))
		return frag, nil
	}
}

// resultJSON is the result object (the CLI's --json).
type resultJSON struct {
	ExitCode         *int     `json:"exit_code"`
	Signal           *int     `json:"signal"`
	Reason           string   `json:"reason"`
	Error            string   `json:"error"`
	WallMS           float64  `json:"wall_ms"`
	CPUMS            float64  `json:"cpu_ms"`
	PeakMemoryBytes  uint64   `json:"peak_memory_bytes"`
	Stdout           string   `json:"stdout"`
	Stderr           string   `json:"stderr"`
	StdoutTruncated  bool     `json:"stdout_truncated"`
	StderrTruncated  bool     `json:"stderr_truncated"`
	StdoutTotalBytes uint64   `json:"stdout_total_bytes"`
	StderrTotalBytes uint64   `json:"stderr_total_bytes"`
	LimitsHit        []string `json:"limits_hit"`
	SeccompDenials   uint64   `json:"seccomp_denials"`
}

func msDuration(ms float64) time.Duration {
	return time.Duration(math.Round(ms * float64(time.Millisecond)))
}

// toResult converts the object; a program that could not be started
// (reason "failed") is an *Error, as in-process.
func (j *resultJSON) toResult(op string) (*Result, error) {
	if j.Reason == ReasonFailed {
		e := &Error{Op: op, Errno: syscall.EIO, Msg: j.Error}
		if j.ExitCode != nil {
			switch *j.ExitCode {
			case 127:
				e.Errno = syscall.ENOENT
			case 126:
				e.Errno = syscall.EACCES
			}
		}
		if e.Msg == "" {
			e.Msg = e.Errno.Error()
		}
		return nil, e
	}
	r := &Result{
		Stdout:          []byte(j.Stdout),
		Stderr:          []byte(j.Stderr),
		ExitCode:        -1,
		Reason:          j.Reason,
		StdoutTruncated: j.StdoutTruncated,
		StderrTruncated: j.StderrTruncated,
		StdoutTotal:     j.StdoutTotalBytes,
		StderrTotal:     j.StderrTotalBytes,
		Wall:            msDuration(j.WallMS),
		CPU:             msDuration(j.CPUMS),
		PeakMemoryBytes: j.PeakMemoryBytes,
		LimitsHit:       j.LimitsHit,
		SeccompDenials:  j.SeccompDenials,
	}
	if j.ExitCode != nil {
		r.ExitCode = *j.ExitCode
	}
	if j.Signal != nil {
		r.Signal = *j.Signal
	}
	if r.LimitsHit == nil {
		r.LimitsHit = []string{}
	}
	return r, nil
}

// secondsCeil is d in seconds, rounded up to the millisecond.
func secondsCeil(d time.Duration) float64 {
	return math.Ceil(float64(d)/float64(time.Millisecond)) / 1000
}

// execBody is the request's JSON.
func execBody(code string, argv []string, cfg *execConfig) map[string]any {
	body := map[string]any{}
	if argv != nil {
		body["argv"] = argv
	} else {
		body["code"] = code
		if cfg.haveArgs {
			body["args"] = append([]string{}, cfg.args...)
		}
	}
	if cfg.language != "" {
		body["language"] = cfg.language
	}
	if cfg.cwd != "" {
		body["cwd"] = cfg.cwd
	}
	if len(cfg.env) > 0 {
		body["env"] = cfg.env
	}
	if cfg.haveStdin && len(cfg.stdin) > 0 {
		body["stdin_b64"] = base64.StdEncoding.EncodeToString(cfg.stdin)
	}
	if cfg.cpu > 0 {
		body["cpu"] = secondsCeil(cfg.cpu)
	}
	for _, f := range []struct {
		v    uint64
		name string
	}{
		{cfg.stdoutMax, "stdout_limit"}, {cfg.stderrMax, "stderr_limit"},
		{cfg.outputKill, "output_kill"}, {cfg.fileSize, "file_size"}, {uint64(cfg.nofile), "nofile"},
	} {
		if f.v != 0 {
			body[f.name] = f.v
		}
	}
	return body
}

func (s *remoteSandbox) exec(ctx context.Context, op, code string, argv []string, cfg *execConfig) (*Result, error) {
	r, err := s.execStream(ctx, op, code, argv, cfg)
	if err != nil && s.isClosing() && !errors.Is(err, ErrClosed) {
		// Close deleted the sandbox under the exec (petrid then answers
		// with a killed result, or an error if the exec had not started):
		// as in-process, that is ErrClosed.
		var pe *PanicError
		if !errors.As(err, &pe) {
			return r, ErrClosed
		}
	}
	return r, err
}

func (s *remoteSandbox) execStream(ctx context.Context, op, code string, argv []string, cfg *execConfig) (*Result, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("petri: %s: %w", op, err)
	}
	if _, err := checkExec(op, code, argv, cfg); err != nil {
		return nil, err
	}
	body := execBody(code, argv, cfg)
	if err := s.acquire(ctx); err != nil {
		return nil, fmt.Errorf("petri: %s: %w", op, err)
	}
	defer s.release()
	if s.isClosing() {
		return nil, ErrClosed
	}
	timeout, send, fromCtx := execTimeout(ctx, cfg)
	if send {
		body["timeout"] = secondsCeil(timeout)
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, invalid(op, "%v", err)
	}
	defer func() {
		if s.closeLeft.Load() {
			// Close was called from our own callback: it is ours to finish.
			_ = s.destroy()
		}
	}()

	var resp *http.Response
	var w *watchdog
	err = s.retryBusy(ctx, func() error {
		resp, w, err = s.c.do(&request{op: op, method: "POST", path: s.path + "/exec", body: b,
			contentType: "application/json", accept: "text/event-stream", token: s.token,
			idle: streamSilence, abort: ctx.Done()})
		if err == nil && resp.StatusCode/100 != 2 {
			err = s.c.statusError(op, resp)
		}
		return err
	})
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.Code != "" {
			return nil, err // petrid answered: no exec started
		}
		// The request may have reached petrid.
		s.dangling.Store(true)
		if ctx.Err() != nil {
			// Dropped before petrid answered: it cancels an exec whose
			// client went away.
			return nil, fmt.Errorf("petri: %s: %w", op, ctx.Err())
		}
		return nil, err
	}
	defer resp.Body.Close()
	// Until the result is read, this stream may leave an exec behind.
	s.dangling.Store(true)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		// A server that answered with the plain result.
		var j resultJSON
		if err := json.NewDecoder(resp.Body).Decode(&j); err != nil {
			return nil, s.c.transportError(op, w, streamSilence, fmt.Errorf("bad result JSON (Content-Type %q): %w", ct, err))
		}
		s.dangling.Store(false)
		return s.finish(ctx, op, &j, false, fromCtx, nil)
	}

	events := make(chan sseEvent)
	quit := make(chan struct{})
	defer close(quit)
	go readEvents(resp.Body, w, events, quit)

	var (
		panicked  *PanicError
		fired     bool
		ctxDone   = ctx.Done()
		stopper   chan struct{} // closed to stop the cancel loop
		grace     <-chan time.Time
		startKill = func() {
			if stopper != nil {
				return
			}
			stopper = make(chan struct{})
			go func(stop <-chan struct{}) {
				t := time.NewTicker(cancelRepeat)
				defer t.Stop()
				for {
					s.postCancel()
					select {
					case <-stop:
						return
					case <-t.C:
					}
				}
			}(stopper)
		}
	)
	defer func() {
		if stopper != nil {
			close(stopper)
		}
	}()
	for {
		select {
		case ev := <-events:
			switch {
			case ev.err != nil:
				if fired || ctx.Err() != nil {
					return nil, fmt.Errorf("petri: %s: %w", op, ctx.Err())
				}
				if panicked != nil {
					return nil, panicked
				}
				return nil, s.streamError(op, w, ev.err)
			case ev.name == "stdout" || ev.name == "stderr":
				if cfg.output == nil || panicked != nil {
					continue
				}
				var chunk struct {
					Data string `json:"data"`
				}
				if err := json.Unmarshal(ev.data, &chunk); err != nil {
					return nil, s.streamError(op, w, fmt.Errorf("bad %s event: %v", ev.name, err))
				}
				st := Stdout
				if ev.name == "stderr" {
					st = Stderr
				}
				if p := s.callOutput(cfg.output, st, []byte(chunk.Data)); p != nil {
					panicked = p
					startKill()
				}
			case ev.name == "result":
				var j resultJSON
				if err := json.Unmarshal(ev.data, &j); err != nil {
					return nil, s.streamError(op, w, fmt.Errorf("bad result event: %v", err))
				}
				s.dangling.Store(false)
				return s.finish(ctx, op, &j, fired, fromCtx, panicked)
			case ev.name == "error":
				s.dangling.Store(false)
				var a apiError
				if err := json.Unmarshal(ev.data, &a); err != nil || a.Error.Code == "" {
					return nil, s.streamError(op, w, fmt.Errorf("bad error event %q", ev.data))
				}
				// Inside a 200 stream: there is no status of its own.
				return nil, a.toError(op, 0)
			}
			// heartbeat, gap and unknown events: nothing to do (the
			// read itself kicked the watchdog).
		case <-ctxDone:
			ctxDone = nil
			fired = true
			startKill()
			grace = time.After(cancelGrace)
		case <-grace:
			// No result: drop the connection, which cancels the exec
			// server-side too.
			resp.Body.Close()
			return nil, fmt.Errorf("petri: %s: %w", op, ctx.Err())
		}
	}
}

// callOutput runs the callback on this goroutine, marked as the sandbox's
// callback (see serial.cbG), and turns a panic into a *PanicError.
func (s *remoteSandbox) callOutput(fn func(Stream, []byte), st Stream, data []byte) (p *PanicError) {
	s.cbG.Store(goid())
	defer s.cbG.Store(0)
	defer func() {
		if v := recover(); v != nil {
			p = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	fn(st, data)
	return nil
}

// finish turns the result object into what Exec returns, by the rules of
// the in-process exec.
func (s *remoteSandbox) finish(ctx context.Context, op string, j *resultJSON, fired, fromCtx bool, panicked *PanicError) (*Result, error) {
	r, err := j.toResult(op)
	if err != nil {
		return nil, err
	}
	switch {
	case panicked != nil:
		return r, panicked
	case fired && r.Reason == ReasonKilled:
		return r, fmt.Errorf("petri: %s: %w", op, ctx.Err())
	case fromCtx && r.Reason == ReasonTimeout:
		return r, fmt.Errorf("petri: %s: %w", op, context.DeadlineExceeded)
	case r.Reason == ReasonKilled && s.isClosing():
		return r, ErrClosed
	}
	return r, nil
}

// streamError describes a stream that ended without a result.
func (s *remoteSandbox) streamError(op string, w *watchdog, err error) error {
	if w.fired.Load() {
		return &Error{Op: op, Errno: syscall.ETIMEDOUT,
			Msg: fmt.Sprintf("%s: the exec stream was silent for %v (petrid sends a heartbeat every 5 s): the server or the connection is dead", s.c.display, streamSilence)}
	}
	e := s.c.transportError(op, nil, 0, err).(*Error)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		e.Msg = s.c.display + ": the exec stream ended without a result (the server died or closed the connection)"
	} else {
		e.Msg = s.c.display + ": the exec stream broke: " + err.Error()
	}
	return e
}
