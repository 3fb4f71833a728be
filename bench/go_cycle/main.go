// SPDX-License-Identifier: Apache-2.0

// go_cycle measures what the Go binding adds to the C API: create + exec
// /bin/true + destroy, through the binding and through the C functions
// called directly (one cgo call per cycle, timed the same way from Go),
// interleaved in one process so noise hits both alike; then, as a separate
// group, exec alone in existing sandboxes.  Prints medians and ratios
// (target for the cycle, issue 4: Go <= 1.1x C).
//
// Usage (from bench/go_cycle, with the in-tree build):
//
//	CGO_CFLAGS=-I$PWD/../../include CGO_LDFLAGS=-L$PWD/../../build LD_LIBRARY_PATH=$PWD/../../build \
//	    go run . [-n 200]
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
	"sort"
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

func main() {
	n := flag.Int("n", 200, "rounds")
	flag.Parse()
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
