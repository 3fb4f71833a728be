// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"
)

// post sends body to /run and decodes the JSON answer.
func post(t *testing.T, srv *httptest.Server, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(srv.URL+"/run", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("answer to %.60q is not JSON: %v", body, err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	return resp.StatusCode, out
}

func TestRun(t *testing.T) {
	srv := httptest.NewServer(NewHandler(DefaultConfig)) // 127.0.0.1 only
	defer srv.Close()

	status, out := post(t, srv, `{"language":"python","code":"import sys\nprint(6*7)\nprint('oops', file=sys.stderr)\nsys.exit(3)","timeout":10}`)
	if status != 200 {
		t.Fatalf("status %d: %v", status, out)
	}
	// Exactly the keys of `petri run --json`.
	want := []string{"cpu_ms", "exit_code", "limits_hit", "peak_memory_bytes", "reason", "sandbox_id",
		"signal", "stderr", "stderr_total_bytes", "stderr_truncated", "stdout", "stdout_total_bytes",
		"stdout_truncated", "wall_ms"}
	var keys []string
	for k := range out {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if strings.Join(keys, ",") != strings.Join(want, ",") {
		t.Fatalf("keys %v, want %v", keys, want)
	}
	if out["stdout"] != "42\n" || out["stderr"] != "oops\n" || out["exit_code"] != 3.0 ||
		out["signal"] != nil || out["reason"] != "exited" || out["wall_ms"].(float64) <= 0 ||
		!strings.HasPrefix(out["sandbox_id"].(string), "sb_") {
		t.Fatalf("result %v", out)
	}

	// A timeout: killed by SIGKILL, so exit_code is null and signal 9.
	t0 := time.Now()
	status, out = post(t, srv, `{"language":"sh","code":"sleep 30","timeout":0.3}`)
	if status != 200 || out["reason"] != "timeout" || out["exit_code"] != nil || out["signal"] != 9.0 {
		t.Fatalf("timeout: %d %v", status, out)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Fatalf("0.3 s timeout took %v", d)
	}
	if lh, _ := out["limits_hit"].([]any); len(lh) != 1 || lh[0] != "timeout" {
		t.Fatalf("limits_hit %v", out["limits_hit"])
	}

	// Each request gets a fresh sandbox: nothing carries over.
	post(t, srv, `{"language":"sh","code":"echo secret > /workspace/left"}`)
	_, out = post(t, srv, `{"language":"sh","code":"cat /workspace/left 2>&1 || echo gone"}`)
	if !strings.Contains(out["stdout"].(string), "gone") {
		t.Fatalf("state leaked between requests: %v", out["stdout"])
	}
}

func TestBadRequests(t *testing.T) {
	cfg := DefaultConfig
	cfg.MaxBody = 4096
	srv := httptest.NewServer(NewHandler(cfg))
	defer srv.Close()

	for _, c := range []struct {
		body   string
		status int
		msg    string
	}{
		{`{"language":`, 400, "bad JSON"},
		{`{"language":"python","code":"1","extra":1}`, 400, "unknown field"},
		{`{"language":"python","code":"1"} {}`, 400, "after the object"},
		{`{"language":"python"}`, 400, "required"},
		{`{"language":"python","code":"1","timeout":-1}`, 400, "timeout"},
		{`{"language":"python","code":"1","timeout":"x"}`, 400, "bad JSON"},
		// The library's own message comes through.
		{`{"language":"cobol","code":"1"}`, 400, "unknown language 'cobol'"},
		{`{"language":"sh","code":"` + strings.Repeat("x", 5000) + `"}`, 413, "larger than"},
	} {
		status, out := post(t, srv, c.body)
		msg, _ := out["error"].(string)
		if status != c.status || !strings.Contains(msg, c.msg) {
			t.Errorf("%.50q: %d %q, want %d and %q", c.body, status, msg, c.status, c.msg)
		}
	}
	resp, err := http.Get(srv.URL + "/run")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "POST" {
		t.Fatalf("GET: %d", resp.StatusCode)
	}
}

// A client that gives up takes its code down: with one slot, the next
// request runs at once instead of waiting for `sleep 60`.
func TestClientGoneKillsCode(t *testing.T) {
	cfg := DefaultConfig
	cfg.MaxConcurrent = 1
	srv := httptest.NewServer(NewHandler(cfg))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/run",
		bytes.NewReader([]byte(`{"language":"sh","code":"sleep 60","timeout":60}`)))
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("request for sleep 60 returned %d", resp.StatusCode)
	}
	t0 := time.Now()
	status, out := post(t, srv, `{"language":"sh","code":"echo next"}`)
	if status != 200 || out["stdout"] != "next\n" {
		t.Fatalf("%d %v", status, out)
	}
	if d := time.Since(t0); d > 3*time.Second {
		t.Fatalf("next request waited %v: the abandoned code kept its slot", d)
	}
}
