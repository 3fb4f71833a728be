// SPDX-License-Identifier: Apache-2.0

// go_cycle measures what the Go binding adds to the C API: create + exec
// /bin/true + destroy, through the binding and through the C functions
// called directly (one cgo call per cycle, timed the same way from Go),
// interleaved in one process so noise hits both alike; then, as a separate
// group, exec alone in existing sandboxes.  Prints medians and ratios
// (target for the cycle, issue 4: Go <= 1.1x C).
//
// With -pool W (issue 15), it measures instead create + exec + destroy
// cycles per second with a warm pool of W language-less sandboxes
// (recycling on): the C API (cgo calls in this process, a pooled context of
// its own) and the binding (a pooled petri.Context), each from 1 and 2
// goroutines, in interleaved blocks of -block cycles, each block started
// with its pool full.  Prints the medians of the blocks and the load
// average before and after.
//
// Usage (from bench/go_cycle, with the in-tree build):
//
//	CGO_CFLAGS=-I$PWD/../../include CGO_LDFLAGS=-L$PWD/../../build LD_LIBRARY_PATH=$PWD/../../build \
//	    go run . [-n 200] [-pool 16 [-blocks 15] [-block 200]]
package main

/*
#cgo LDFLAGS: -lpetri
#include <stdio.h>
#include <petri/petri.h>

static const char *const true_argv[] = {"/bin/true", NULL};

// One exec of /bin/true through the C API; 0 or a negative errno.
static int c_exec(petri_sandbox *sb)
{
	petri_exec_opts eo;
	petri_result *r = NULL;
	petri_exec_opts_init(&eo);
	eo.argv = true_argv;
	int rc = petri_sandbox_exec(sb, &eo, &r, NULL);
	if (rc < 0)
		return rc;
	rc = petri_result_exit_code(r) == 0 ? 0 : -1;
	petri_result_free(r);
	return rc;
}

// The C cycle, as bench/cycle_bench.c does it (options initialised by the
// _init() functions, as the binding does, rather than the macros).
static int c_cycle(petri_ctx *ctx)
{
	petri_sandbox_opts so;
	petri_sandbox_opts_init(&so);
	petri_sandbox *sb;
	int rc = petri_sandbox_create(ctx, &so, &sb, NULL);
	if (rc < 0)
		return rc;
	rc = c_exec(sb);
	petri_sandbox_destroy(sb);
	return rc;
}

// A context with a warm pool of @count language-less sandboxes.
static petri_ctx *c_ctx_warm(uint32_t count)
{
	struct petri_warm w = {NULL, count, 0};
	petri_ctx_opts co;
	petri_ctx_opts_init(&co);
	co.warm = &w;
	co.nwarm = 1;
	petri_ctx *ctx = NULL;
	if (petri_ctx_new(&ctx, &co, NULL) < 0)
		return NULL;
	return ctx;
}

static petri_sandbox *c_create(petri_ctx *ctx)
{
	petri_sandbox_opts so;
	petri_sandbox_opts_init(&so);
	petri_sandbox *sb = NULL;
	petri_sandbox_create(ctx, &so, &sb, NULL);
	return sb;
}
*/
import "C"

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	petri "github.com/libpetri/petri-go"
)

func median(v []time.Duration) time.Duration {
	s := append([]time.Duration(nil), v...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

func goCycle(ctx context.Context) {
	sb, err := petri.New(petri.Options{})
	if err != nil {
		log.Fatal(err)
	}
	r, err := sb.Run(ctx, []string{"/bin/true"})
	if err != nil || r.ExitCode != 0 {
		log.Fatalf("binding exec: %v %+v", err, r)
	}
	sb.Close()
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

func medianF(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// pooled measures cycles/s with warm pools (-pool).
func pooled(warm, blocks, block int) {
	cctx := C.c_ctx_warm(C.uint32_t(warm))
	if cctx == nil {
		log.Fatal("C context with a warm pool failed")
	}
	defer C.petri_ctx_free(cctx)
	gctx, err := petri.NewContext(petri.ContextOptions{Warm: map[string]int{"": warm}})
	if err != nil {
		log.Fatal(err)
	}
	defer gctx.Close()
	bg := context.Background()
	cWait := func() {
		if rc := C.petri_ctx_pool_wait(cctx, 120000); rc < 0 {
			log.Fatalf("C pool wait: %d", rc)
		}
	}
	gWait := func() {
		if full, err := gctx.PoolWait(120 * time.Second); !full || err != nil {
			log.Fatalf("Go pool wait: %v %v", full, err)
		}
	}
	cCycle := func() {
		if rc := C.c_cycle(cctx); rc < 0 {
			log.Fatalf("C cycle: %d", rc)
		}
	}
	goCycle := func() {
		sb, err := gctx.New(petri.Options{})
		if err != nil {
			log.Fatal(err)
		}
		if r, err := sb.Run(bg, []string{"/bin/true"}); err != nil || r.ExitCode != 0 {
			log.Fatalf("binding exec: %v", err)
		}
		sb.Close()
	}
	// cycles/s of block cycles of fn over g goroutines.
	rate := func(fn func(), wait func(), g int) float64 {
		wait()
		per := block / g
		var wg sync.WaitGroup
		t := time.Now()
		for i := 0; i < g; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := 0; j < per; j++ {
					fn()
				}
			}()
		}
		wg.Wait()
		return float64(per*g) / time.Since(t).Seconds()
	}
	type variant struct {
		name string
		fn   func() float64
		v    []float64
	}
	vs := []*variant{
		{name: "C 1 goroutine", fn: func() float64 { return rate(cCycle, cWait, 1) }},
		{name: "C 2 goroutines", fn: func() float64 { return rate(cCycle, cWait, 2) }},
		{name: "Go 1 goroutine", fn: func() float64 { return rate(goCycle, gWait, 1) }},
		{name: "Go 2 goroutines", fn: func() float64 { return rate(goCycle, gWait, 2) }},
	}
	for i := 0; i < 30; i++ { // warm-up
		cCycle()
		goCycle()
	}
	l0 := loadavg()
	for b := 0; b < blocks; b++ {
		for j := range vs {
			x := vs[(b+j)%len(vs)]
			x.v = append(x.v, x.fn())
		}
	}
	l1 := loadavg()
	st, _ := gctx.PoolStats("")
	fmt.Printf("%d blocks of %d cycles, interleaved; warm {\"\": %d}, recycling on; %s; load average %s before, %s after\n",
		blocks, block, warm, petri.Version(), l0, l1)
	fmt.Printf("Go context's pool: %+v\n", st)
	med := map[string]float64{}
	for _, x := range vs {
		med[x.name] = medianF(x.v)
		fmt.Printf("%-18s median %6.0f cycles/s  (%.3f ms/cycle)\n", x.name+":", med[x.name], 1e3/med[x.name])
	}
	fmt.Printf("Go/C 1 goroutine:  %.2fx\n", med["Go 1 goroutine"]/med["C 1 goroutine"])
	fmt.Printf("Go/C 2 goroutines: %.2fx\n", med["Go 2 goroutines"]/med["C 2 goroutines"])
}

func main() {
	n := flag.Int("n", 200, "rounds")
	warm := flag.Int("pool", 0, "measure cycles/s with a warm pool of this many sandboxes instead")
	blocks := flag.Int("blocks", 15, "with -pool: blocks per variant")
	block := flag.Int("block", 200, "with -pool: cycles per block")
	flag.Parse()
	if *warm > 0 {
		pooled(*warm, *blocks, *block)
		return
	}
	if *n < 5 {
		*n = 5
	}
	var cctx *C.petri_ctx
	if rc := C.petri_ctx_new(&cctx, nil, nil); rc < 0 {
		log.Fatalf("petri_ctx_new: %d", rc)
	}
	defer C.petri_ctx_free(cctx)
	// Exec alone is compared over several sandboxes of each kind, used in
	// turn: two sandboxes differ by a few percent between themselves.
	const pool = 4
	var csbs []*C.petri_sandbox
	var gsbs []*petri.Sandbox
	for i := 0; i < pool; i++ {
		csb := C.c_create(cctx)
		if csb == nil {
			log.Fatal("C create failed")
		}
		defer C.petri_sandbox_destroy(csb)
		csbs = append(csbs, csb)
		gsb, err := petri.New(petri.Options{})
		if err != nil {
			log.Fatal(err)
		}
		defer gsb.Close()
		gsbs = append(gsbs, gsb)
	}
	ci, gi := 0, 0
	bg := context.Background()
	cancellable, cancel := context.WithCancel(bg)
	defer cancel()

	cCycle := func() {
		if rc := C.c_cycle(cctx); rc < 0 {
			log.Fatalf("C cycle: %d", rc)
		}
	}
	cExec := func() {
		ci++
		if rc := C.c_exec(csbs[ci%pool]); rc < 0 {
			log.Fatalf("C exec: %d", rc)
		}
	}
	goExec := func() {
		gi++
		if r, err := gsbs[gi%pool].Run(bg, []string{"/bin/true"}); err != nil || r.ExitCode != 0 {
			log.Fatalf("binding exec: %v", err)
		}
	}
	type bench struct {
		name string
		fn   func()
		d    []time.Duration
	}
	cycles := []*bench{
		{name: "C   create+exec+destroy", fn: cCycle},
		{name: "Go  New+Run+Close (Background)", fn: func() { goCycle(bg) }},
		{name: "Go  New+Run+Close (cancellable ctx)", fn: func() { goCycle(cancellable) }},
	}
	execs := []*bench{
		{name: "C   exec in existing sandbox", fn: cExec},
		{name: "Go  Run in existing sandbox", fn: goExec},
	}
	// Each group interleaved, in an order that rotates so neither side
	// always goes first.  The groups run apart: mixed with create/destroy
	// churn, exec times shift by more than the binding costs.
	measure := func(group []*bench) {
		for i := 0; i < 10; i++ { // warm-up
			for _, b := range group {
				b.fn()
			}
		}
		for i := 0; i < *n; i++ {
			for j := range group {
				b := group[(i+j)%len(group)]
				t := time.Now()
				b.fn()
				b.d = append(b.d, time.Since(t))
			}
		}
	}
	measure(cycles)
	measure(execs)
	var med []time.Duration
	fmt.Printf("rounds: %d (%s)\n", *n, petri.Version())
	for _, b := range append(cycles, execs...) {
		med = append(med, median(b.d))
		fmt.Printf("%-38s median %.3f ms\n", b.name+":", ms(med[len(med)-1]))
	}
	ratio := float64(med[1]) / float64(med[0])
	verdict := "met"
	if ratio > 1.1 {
		verdict = "NOT met"
	}
	fmt.Printf("cycle ratio Go/C (Background):       %.3fx  (target <= 1.1x: %s)\n", ratio, verdict)
	fmt.Printf("cycle ratio Go/C (cancellable ctx):  %.3fx\n", float64(med[2])/float64(med[0]))
	fmt.Printf("exec ratio Go/C:                     %.3fx\n", float64(med[4])/float64(med[3]))
}
