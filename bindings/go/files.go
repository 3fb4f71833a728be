// SPDX-License-Identifier: Apache-2.0

package petri

// #include <stdlib.h>
// #include <petri/petri.h>
import "C"

import (
	"context"
	"os"
	"runtime"
	"strings"
	"unsafe"
)

// WriteFile writes data to path in /workspace, creating or truncating it and
// creating missing parent directories; the code sees it owned by the sandbox
// user, with mode's permission bits (and setuid/setgid/sticky).  path is
// relative to /workspace (a leading "/workspace/" or "/" is accepted).  ".."
// components, and symlinks or mount points planted by sandboxed code, are
// refused: the error wraps the library's errno (e.g. syscall.ELOOP,
// syscall.EXDEV).
func (s *Sandbox) WriteFile(path string, data []byte, mode os.FileMode) error {
	if strings.IndexByte(path, 0) >= 0 {
		return invalid("write_file", "path contains a NUL byte")
	}
	err := s.b.writeFile(path, data, mode)
	runtime.KeepAlive(s)
	return err
}

// ReadFile returns the contents of path in /workspace (at most 64 MiB; see
// ReadFileLimit).  Paths are resolved as for WriteFile; a missing file gives
// an error for which errors.Is(err, fs.ErrNotExist) holds.
func (s *Sandbox) ReadFile(path string) ([]byte, error) {
	return s.ReadFileLimit(path, 0)
}

// ReadFileLimit is ReadFile reading at most max bytes (0: 64 MiB); a larger
// file is an error (EFBIG), not a short read.
func (s *Sandbox) ReadFileLimit(path string, max uint64) ([]byte, error) {
	if strings.IndexByte(path, 0) >= 0 {
		return nil, invalid("read_file", "path contains a NUL byte")
	}
	b, err := s.b.readFile(path, max)
	runtime.KeepAlive(s)
	return b, err
}

// fileMode maps Go's mode bits to the C API's mode & 07777.
func fileMode(m os.FileMode) C.uint32_t { return C.uint32_t(modeBits(m)) }

// modeBits maps Go's mode bits to the POSIX mode & 07777.
func modeBits(m os.FileMode) uint32 {
	mode := uint32(m.Perm())
	if m&os.ModeSetuid != 0 {
		mode |= 04000
	}
	if m&os.ModeSetgid != 0 {
		mode |= 02000
	}
	if m&os.ModeSticky != 0 {
		mode |= 01000
	}
	return mode
}

func (s *sandbox) writeFile(path string, data []byte, mode os.FileMode) error {
	const op = "write_file"
	if err := s.acquire(context.Background()); err != nil {
		return err
	}
	defer s.release()
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	if !s.usable() {
		return ErrClosed
	}
	// The bytes are passed without a copy: they hold no Go pointers and the
	// library does not keep them after the call.
	var p unsafe.Pointer
	if len(data) > 0 {
		p = unsafe.Pointer(&data[0])
	}
	var perr *C.petri_error
	if rc := C.petri_sandbox_write_file(s.sb, cpath, p, C.size_t(len(data)), fileMode(mode), &perr); rc < 0 {
		return takeError(op, rc, perr)
	}
	return nil
}

func (s *sandbox) readFile(path string, max uint64) ([]byte, error) {
	const op = "read_file"
	if err := s.acquire(context.Background()); err != nil {
		return nil, err
	}
	defer s.release()
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	if !s.usable() {
		return nil, ErrClosed
	}
	var data unsafe.Pointer
	var n C.size_t
	var perr *C.petri_error
	if rc := C.petri_sandbox_read_file(s.sb, cpath, C.uint64_t(max), &data, &n, &perr); rc < 0 {
		return nil, takeError(op, rc, perr)
	}
	defer C.petri_free(data)
	return goBytes((*C.char)(data), n), nil
}
