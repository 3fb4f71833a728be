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
// callback.  (Close and Cancel may be called there.)  Remotely,
// errors.Is(err, ErrBusy) also holds for petrid's 409 sandbox_busy: another
// client's exec runs in the sandbox.
var ErrBusy = errors.New("petri: the sandbox is running the exec whose output callback called it")

// Error is a failure reported by libpetri or petrid (or found by the
// binding before it called either, such as a string containing a NUL
// byte).
//
// Errno is the errno the library returned, so errors.Is(err, syscall.ENOENT)
// and errors.Is(err, fs.ErrNotExist) work through Unwrap.  Msg is the
// library's one-line message, which names the operation and the path, e.g.
// "bind source /nope: No such file or directory".
//
// For a remote sandbox, Code is petrid's error code and Status the HTTP
// status (both empty in-process), Msg petrid's message, and Errno the
// library's errno when petrid's error names it ("errno": "ENOTEMPTY"),
// else the nearest errno of the code, so that checks written for
// in-process sandboxes keep working:
//
//	invalid_argument, bad_json, unknown_field,
//	unsupported_media_type, bad_request          EINVAL
//	unsafe_path                                  EPERM
//	unauthorized                                 EACCES
//	sandbox_not_found, file_not_found            ENOENT
//	sandbox_busy                                 EBUSY (and errors.Is(err, ErrBusy))
//	sandbox_dead                                 ESRCH (as the library's dead sandbox)
//	sandbox_expired                              ETIME (and errors.Is(err, ErrClosed))
//	body_too_large                               E2BIG
//	quota_exceeded                               EDQUOT (Quota names the quota)
//	too_many_execs, unread_answers               EAGAIN
//	request_timeout, node_timeout                ETIMEDOUT
//	not_found, method_not_allowed                ENOSYS (client and server disagree on the API)
//	shutting_down                                ESHUTDOWN
//	node_unavailable                             EHOSTDOWN
//	internal, anything else                      EIO
//
// A request that never got an answer (connection refused, reset, a stream
// silent for longer than 3 heartbeats) has no Code; Msg names the URL and
// Errno is the socket's errno where there is one (ECONNREFUSED,
// ECONNRESET...), else EIO or ETIMEDOUT.
type Error struct {
	Op    string        // the binding's operation: "context", "create", "exec", "run", "write_file", "read_file", "remove_file", "list_dir", "cancel", "close"
	Errno syscall.Errno // the errno (positive), or 0 when there is none
	Msg   string        // the library's (or petrid's) message

	Code   string // remote only: petrid's error code, e.g. "quota_exceeded"
	Status int    // remote only: the HTTP status, e.g. 429; 0 for an error event inside an exec's stream
	Quota  string // with Code "quota_exceeded": the quota, e.g. "max_sandboxes"
}

func (e *Error) Error() string {
	msg := e.Msg
	if msg == "" && e.Errno != 0 {
		msg = e.Errno.Error()
	}
	if e.Code != "" && e.Status != 0 {
		return fmt.Sprintf("petri: %s: %s (%d %s)", e.Op, msg, e.Status, e.Code)
	}
	if e.Code != "" {
		return fmt.Sprintf("petri: %s: %s (%s)", e.Op, msg, e.Code)
	}
	return "petri: " + e.Op + ": " + msg
}

// Unwrap returns the Errno, or nil when there is none.
func (e *Error) Unwrap() error {
	if e.Errno == 0 {
		return nil
	}
	return e.Errno
}

// Is makes petrid's sandbox_busy match ErrBusy and sandbox_expired match
// ErrClosed.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrBusy:
		return e.Code == "sandbox_busy"
	case ErrClosed:
		return e.Code == "sandbox_expired"
	}
	return false
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
