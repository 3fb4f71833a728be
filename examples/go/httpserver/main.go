// SPDX-License-Identifier: Apache-2.0

// httpserver runs code that clients submit, each request in a fresh sandbox.
//
//	POST /run  {"language": "python", "code": "print(6*7)", "timeout": 5}
//
// answers 200 with the result as the `petri run --json` object (exit_code,
// signal, reason, wall_ms, cpu_ms, peak_memory_bytes, stdout, stderr,
// stdout_truncated, stderr_truncated, ...), or 4xx/5xx with {"error": "..."}.
// "timeout" is in seconds (default 10, at most 60).  A client that goes away
// takes its code down with it: the request's context is the exec's.
//
// Usage: httpserver [-addr 127.0.0.1:8080] [-concurrency 4]
//
// This is an example, not a service to expose as is: add authentication and
// rate limits first.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"strings"
	"syscall"
	"time"

	petri "github.com/libpetri/petri-go"
)

// Config bounds what one request may use.
type Config struct {
	MaxConcurrent  int           // sandboxes at once; more requests wait
	MaxBody        int64         // bytes of request body
	DefaultTimeout time.Duration // when the request gives none
	MaxTimeout     time.Duration
	Memory         uint64 // bytes per sandbox
	Pids           uint32
}

// DefaultConfig is what main uses.
var DefaultConfig = Config{
	MaxConcurrent:  4,
	MaxBody:        1 << 20,
	DefaultTimeout: 10 * time.Second,
	MaxTimeout:     60 * time.Second,
	Memory:         256 << 20,
	Pids:           64,
}

type runRequest struct {
	Language string   `json:"language"`
	Code     string   `json:"code"`
	Timeout  *float64 `json:"timeout"` // seconds
}

// runResult has the keys and meaning of `petri run --json`.
type runResult struct {
	ExitCode         *int     `json:"exit_code"` // null when a signal killed the code
	Signal           *int     `json:"signal"`    // null when none did
	Reason           string   `json:"reason"`
	WallMs           float64  `json:"wall_ms"`
	CPUMs            float64  `json:"cpu_ms"`
	PeakMemoryBytes  uint64   `json:"peak_memory_bytes"`
	Stdout           string   `json:"stdout"` // invalid UTF-8 becomes U+FFFD, as in the CLI
	Stderr           string   `json:"stderr"`
	StdoutTruncated  bool     `json:"stdout_truncated"`
	StderrTruncated  bool     `json:"stderr_truncated"`
	StdoutTotalBytes uint64   `json:"stdout_total_bytes"`
	StderrTotalBytes uint64   `json:"stderr_total_bytes"`
	LimitsHit        []string `json:"limits_hit"`
	SandboxID        string   `json:"sandbox_id"`
}

func toJSON(r *petri.Result, id string) runResult {
	out := runResult{
		Reason:           r.Reason,
		WallMs:           float64(r.Wall) / 1e6,
		CPUMs:            float64(r.CPU) / 1e6,
		PeakMemoryBytes:  r.PeakMemoryBytes,
		Stdout:           string(r.Stdout),
		Stderr:           string(r.Stderr),
		StdoutTruncated:  r.StdoutTruncated,
		StderrTruncated:  r.StderrTruncated,
		StdoutTotalBytes: r.StdoutTotal,
		StderrTotalBytes: r.StderrTotal,
		LimitsHit:        r.LimitsHit,
		SandboxID:        id,
	}
	if r.Signal > 0 {
		sig := r.Signal
		out.Signal = &sig
	} else if r.ExitCode >= 0 {
		code := r.ExitCode
		out.ExitCode = &code
	}
	return out
}

// NewHandler returns the /run handler.
func NewHandler(cfg Config) http.Handler {
	slots := make(chan struct{}, cfg.MaxConcurrent)
	mux := http.NewServeMux()
	mux.HandleFunc("/run", func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeError(w, http.StatusMethodNotAllowed, "use POST")
			return
		}
		var in runRequest
		dec := json.NewDecoder(http.MaxBytesReader(w, req.Body, cfg.MaxBody))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", cfg.MaxBody))
				return
			}
			writeError(w, http.StatusBadRequest, "bad JSON: "+err.Error())
			return
		}
		if _, err := dec.Token(); err != io.EOF {
			writeError(w, http.StatusBadRequest, "bad JSON: data after the object")
			return
		}
		if in.Language == "" || in.Code == "" {
			writeError(w, http.StatusBadRequest, `"language" and "code" are required`)
			return
		}
		timeout := cfg.DefaultTimeout
		if in.Timeout != nil {
			if *in.Timeout <= 0 || *in.Timeout > cfg.MaxTimeout.Seconds() {
				writeError(w, http.StatusBadRequest, fmt.Sprintf(`"timeout" must be in (0, %g] seconds`, cfg.MaxTimeout.Seconds()))
				return
			}
			timeout = time.Duration(*in.Timeout * float64(time.Second))
		}

		ctx := req.Context()
		select {
		case slots <- struct{}{}:
			defer func() { <-slots }()
		case <-ctx.Done():
			return // the client left while waiting
		}

		sb, err := petri.New(petri.Options{Language: in.Language, Memory: cfg.Memory, Pids: cfg.Pids})
		if err != nil {
			writeLibraryError(w, err)
			return
		}
		defer sb.Close()
		res, err := sb.Exec(ctx, in.Code, petri.WithTimeout(timeout))
		switch {
		case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
			return // the client is gone; its code was killed
		case err != nil:
			writeLibraryError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, toJSON(res, sb.ID()))
	})
	return mux
}

// writeLibraryError maps the library's errno to a status: the caller's
// mistakes (EINVAL: unknown language, code too large...) are 4xx.
func writeLibraryError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.E2BIG) {
		status = http.StatusBadRequest
	}
	writeError(w, status, strings.TrimPrefix(err.Error(), "petri: "))
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	conc := flag.Int("concurrency", DefaultConfig.MaxConcurrent, "sandboxes running at once")
	flag.Parse()
	cfg := DefaultConfig
	cfg.MaxConcurrent = *conc
	srv := &http.Server{
		Addr:              *addr,
		Handler:           NewHandler(cfg),
		ReadHeaderTimeout: 10 * time.Second,
	}
	log.Printf("petri %s: POST http://%s/run", petri.Version(), *addr)
	log.Fatal(srv.ListenAndServe())
}
