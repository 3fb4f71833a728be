// SPDX-License-Identifier: Apache-2.0

package petri_test

import (
	"errors"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	petri "github.com/libpetri/petri-go"
)

// poolWait is how long a test lets a pool fill on a loaded machine.
const poolWait = 60 * time.Second

func newPoolContext(t *testing.T, opts petri.ContextOptions) *petri.Context {
	t.Helper()
	c, err := petri.NewContext(opts)
	if err != nil {
		t.Fatalf("NewContext(%+v): %v", opts, err)
	}
	t.Cleanup(func() { c.Close() })
	if full, err := c.PoolWait(poolWait); err != nil || !full {
		t.Fatalf("PoolWait: full %v, %v", full, err)
	}
	return c
}

func stats(t *testing.T, c *petri.Context, lang string) petri.PoolStats {
	t.Helper()
	st, err := c.PoolStats(lang)
	if err != nil {
		t.Fatalf("PoolStats(%q): %v", lang, err)
	}
	return st
}

func TestWarmIsChecked(t *testing.T) {
	for _, tc := range []struct {
		warm map[string]int
		want string
	}{
		{map[string]int{"sh": 0}, `Warm["sh"] must be between 1 and 1024, got 0`},
		{map[string]int{"sh": 1025}, "between 1 and 1024"},
		{map[string]int{"s\x00h": 1}, "NUL"},
		{func() map[string]int {
			m := map[string]int{}
			for i := 0; i < 17; i++ {
				m[strings.Repeat("x", i+1)] = 1
			}
			return m
		}(), "at most 16 languages, got 17"},
	} {
		_, err := petri.NewContext(petri.ContextOptions{Warm: tc.warm})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, syscall.EINVAL) {
			t.Errorf("Warm %v: got %v, want EINVAL with %q", tc.warm, err, tc.want)
		}
	}
	// The library's own check: a language it does not know.
	if _, err := petri.NewContext(petri.ContextOptions{Warm: map[string]int{"cobol": 1}}); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("Warm cobol: got %v, want EINVAL", err)
	}
}

func TestPoolServesAndCounts(t *testing.T) {
	c := newPoolContext(t, petri.ContextOptions{Warm: map[string]int{"sh": 2, "": 1}})
	st := stats(t, c, "sh")
	if st.Language != "sh" || st.Target != 2 || st.Ready != 2 || st.Hits != 0 || st.Created < 2 {
		t.Fatalf("before: %+v", st)
	}
	sb, err := c.New(petri.Options{Language: "sh", Env: map[string]string{"A": "1"}, Memory: 128 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if n := sb.Reuses(); n != 0 {
		t.Errorf("a fresh pooled sandbox: Reuses %d, want 0", n)
	}
	r := mustRun(t, sb, "sh", "-c", `echo "$A"`)
	if r.ExitCode != 0 || string(r.Stdout) != "1\n" {
		t.Errorf("run: %+v", r)
	}
	sb.Close()
	if n := sb.Reuses(); n != -1 {
		t.Errorf("closed: Reuses %d, want -1", n)
	}
	if st := stats(t, c, "sh"); st.Hits != 1 || st.Misses != 0 {
		t.Errorf("after: %+v", st)
	}
	// The language-less pool is its own.
	if st := stats(t, c, ""); st.Language != "" || st.Target != 1 || st.Hits != 0 {
		t.Errorf("no-language pool before: %+v", st)
	}
	sb, err = c.New(petri.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sb.Close()
	if st := stats(t, c, ""); st.Hits != 1 {
		t.Errorf("no-language pool after: %+v", st)
	}
	if _, err := c.PoolStats("python"); !errors.Is(err, syscall.ENOENT) || !strings.Contains(err.Error(), `no warm pool for language "python"`) {
		t.Errorf("PoolStats(python): %v, want ENOENT", err)
	}
}

func TestPoolRecyclesClean(t *testing.T) {
	// Two ready: a take leaves one, so the refill waits a moment for the
	// taken one to come back (with one it would build at once, and the
	// closed sandbox would find the pool full).
	c := newPoolContext(t, petri.ContextOptions{Warm: map[string]int{"sh": 2}})
	var seen []int64
	for i := 0; i < 6; i++ {
		if full, err := c.PoolWait(poolWait); err != nil || !full {
			t.Fatalf("PoolWait: %v %v", full, err)
		}
		sb, err := c.New(petri.Options{Language: "sh"})
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, sb.Reuses())
		r := mustRun(t, sb, "sh", "-c", "find /workspace /tmp /dev/shm -mindepth 1; echo x > /workspace/f; echo y > /tmp/t")
		if r.ExitCode != 0 || string(r.Stdout) != "" {
			t.Errorf("cycle %d: left over: %q", i, r.Stdout)
		}
		sb.Close()
	}
	st := stats(t, c, "sh")
	max := int64(0)
	for _, n := range seen {
		if n > max {
			max = n
		}
	}
	if st.Recycled == 0 || max == 0 || st.Hits != 6 {
		t.Errorf("no recycle seen: reuses %v, %+v", seen, st)
	}
}

func TestNoPoolAndNoRecycle(t *testing.T) {
	c := newPoolContext(t, petri.ContextOptions{Warm: map[string]int{"sh": 1}})
	for _, o := range []petri.Options{{Language: "sh", NoPool: true}, {Language: "sh", Hostname: "other"}} {
		sb, err := c.New(o)
		if err != nil {
			t.Fatal(err)
		}
		if n := sb.Reuses(); n != 0 {
			t.Errorf("%+v: Reuses %d", o, n)
		}
		sb.Close()
	}
	c.PoolWait(poolWait)
	if st := stats(t, c, "sh"); st.Hits != 0 || st.Misses != 0 || st.Recycled != 0 {
		t.Errorf("options a pool cannot give were pooled: %+v", st)
	}

	nr := newPoolContext(t, petri.ContextOptions{Warm: map[string]int{"sh": 1}, NoRecycle: true})
	for i := 0; i < 3; i++ {
		nr.PoolWait(poolWait)
		sb, err := nr.New(petri.Options{Language: "sh"})
		if err != nil {
			t.Fatal(err)
		}
		if n := sb.Reuses(); n != 0 {
			t.Errorf("NoRecycle: Reuses %d", n)
		}
		sb.Close()
	}
	nr.PoolWait(poolWait)
	if st := stats(t, nr, "sh"); st.Hits != 3 || st.Recycled != 0 || st.Created < 4 {
		t.Errorf("NoRecycle: %+v", st)
	}
}

func TestPoolWaitAndClose(t *testing.T) {
	c, err := petri.NewContext(petri.ContextOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if full, err := c.PoolWait(0); !full || err != nil {
		t.Errorf("no pool: PoolWait(0) = %v, %v; want full", full, err)
	}
	if _, err := c.PoolStats("sh"); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("no pool: PoolStats: %v", err)
	}
	if _, err := c.PoolWait(-time.Second); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("negative timeout: %v", err)
	}
	c.Close()
	if _, err := c.PoolWait(time.Second); !errors.Is(err, petri.ErrClosed) {
		t.Errorf("closed: PoolWait: %v", err)
	}
	if _, err := c.PoolStats("sh"); !errors.Is(err, petri.ErrClosed) {
		t.Errorf("closed: PoolStats: %v", err)
	}
}

func TestPoolFromTwoGoroutines(t *testing.T) {
	c := newPoolContext(t, petri.ContextOptions{Warm: map[string]int{"sh": 4}})
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				sb, err := c.New(petri.Options{Language: "sh"})
				if err != nil {
					errs <- err
					return
				}
				sb.Close()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if st := stats(t, c, "sh"); st.Hits+st.Misses != 10 {
		t.Errorf("%+v: hits+misses != 10", st)
	}
}

func TestRemoteRefusesNoPool(t *testing.T) {
	_, err := petri.New(petri.Options{URL: "http://127.0.0.1:1", Token: "t", NoPool: true})
	if !errors.Is(err, syscall.EINVAL) || !strings.Contains(err.Error(), "NoPool") || !strings.Contains(err.Error(), "petrid's") {
		t.Errorf("got %v", err)
	}
}
