// SPDX-License-Identifier: Apache-2.0

package petri

// #include <stdlib.h>
// #include <petri/petri.h>
import "C"

import (
	"errors"
	"fmt"
	"syscall"
)

// ErrClosed is returned by every method of a Sandbox or Context that has been
// closed, and by an Exec that Close interrupted.  Test with errors.Is.
var ErrClosed = errors.New("petri: closed")

// ErrBusy is returned by Exec, Run, ReadFile, WriteFile and
// ReadFileLimit when they are called from a WithOutput callback of the same
// sandbox's running exec: they would wait for that exec, which waits for the
// callback.  (Close and Cancel may be called there.)
var ErrBusy = errors.New("petri: the sandbox is running the exec whose output callback called it")

// Error is a failure reported by libpetri (or found by the binding before it
// called the library, such as a string containing a NUL byte).
//
// Errno is the errno the library returned, so errors.Is(err, syscall.ENOENT)
// and errors.Is(err, fs.ErrNotExist) work through Unwrap.  Msg is the
// library's one-line message, which names the operation and the path, e.g.
// "bind source /nope: No such file or directory".
type Error struct {
	Op    string        // the binding's operation: "context", "create", "exec", "run", "write_file", "read_file"
	Errno syscall.Errno // the errno (positive), or 0 when there is none
	Msg   string        // the library's message
}

func (e *Error) Error() string {
	if e.Msg == "" && e.Errno != 0 {
		return "petri: " + e.Op + ": " + e.Errno.Error()
	}
	return "petri: " + e.Op + ": " + e.Msg
}

// Unwrap returns the Errno, or nil when there is none.
func (e *Error) Unwrap() error {
	if e.Errno == 0 {
		return nil
	}
	return e.Errno
}

// PanicError is returned by Exec and Run when the WithOutput callback
// panicked.  The panic does not cross into C: the exec is killed (its Result,
// returned alongside, has Reason "killed") and the panic is reported here.
type PanicError struct {
	Value any    // the value passed to panic
	Stack []byte // the goroutine's stack where the panic was recovered
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("petri: output callback panicked: %v", e.Value)
}

// takeError turns a negative return code and an optional petri_error into an
// *Error, freeing the petri_error.
func takeError(op string, rc C.int, perr *C.petri_error) error {
	e := &Error{Op: op}
	if perr != nil {
		e.Msg = C.GoString(C.petri_error_message(perr))
		if code := C.petri_error_code(perr); code < 0 {
			e.Errno = syscall.Errno(-code)
		}
		C.petri_error_free(perr)
	}
	if e.Errno == 0 && rc < 0 {
		e.Errno = syscall.Errno(-rc)
	}
	if e.Msg == "" && e.Errno != 0 {
		e.Msg = e.Errno.Error()
	}
	return e
}

// invalid reports a misuse the binding found itself, as EINVAL.
func invalid(op, format string, args ...any) error {
	return &Error{Op: op, Errno: syscall.EINVAL, Msg: fmt.Sprintf(format, args...)}
}
