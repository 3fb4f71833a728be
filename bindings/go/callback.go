// SPDX-License-Identifier: Apache-2.0

package petri

// Functions the library calls back.  A file with //export may only declare
// in its preamble: the trampolines that call these are in petri.go and
// exec.go.

// #include <stdint.h>
// #include <stddef.h>
import "C"

import (
	"runtime/cgo"
	"runtime/debug"
)

// petriGoOutput is the exec's petri_output_fn: it runs on the goroutine that
// called Exec (the library calls it from petri_sandbox_exec).  A panic must
// not unwind into C: it is recovered, kept for Exec to return, and the
// non-zero return kills the exec.
//
//export petriGoOutput
func petriGoOutput(stream C.int, data *C.char, n C.size_t, handle C.uintptr_t) (ret C.int) {
	st, ok := cgo.Handle(handle).Value().(*outputState)
	if !ok || st.panic != nil {
		return 1
	}
	if st.s != nil {
		st.s.cbG.Store(goid())
		defer st.s.cbG.Store(0)
	}
	defer func() {
		if v := recover(); v != nil {
			st.panic = &PanicError{Value: v, Stack: debug.Stack()}
			ret = 1
		}
	}()
	st.fn(Stream(stream), goBytes(data, n))
	return 0
}

// petriGoLog is the context's petri_log_fn, called from any thread,
// including the library's own.  A panicking logger is ignored.
//
//export petriGoLog
func petriGoLog(level C.int, msg *C.char, handle C.uintptr_t) {
	fn, ok := cgo.Handle(handle).Value().(func(LogLevel, string))
	if !ok {
		return
	}
	defer func() { _ = recover() }()
	fn(LogLevel(level)+1, C.GoString(msg))
}
