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
	"time"
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
	err := s.s.writeFile(path, data, mode)
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
	b, err := s.s.readFile(path, max)
	runtime.KeepAlive(s)
	return b, err
}

// RemoveFile removes path in /workspace: a file, a symlink (itself, never
// what it points to) or an empty directory ("dir/" must be a directory).
// Every component but the last is resolved as for WriteFile; the last is
// removed without being followed.  A missing entry gives an error for which
// errors.Is(err, fs.ErrNotExist) holds; a directory that is not empty
// syscall.ENOTEMPTY; /workspace itself syscall.EISDIR.
func (s *Sandbox) RemoveFile(path string) error {
	err := s.s.removeFile(path)
	runtime.KeepAlive(s)
	return err
}

// The values of DirEntry.Type.
const (
	DirEntryFile    = "file"
	DirEntryDir     = "dir"
	DirEntrySymlink = "symlink"
	DirEntryOther   = "other" // a FIFO, socket or device
)

// DirEntry is one entry of a directory listing, describing the entry itself:
// a symlink is reported as a symlink, never followed.
type DirEntry struct {
	Name    string    // the entry's name, without "/"
	Type    string    // DirEntryFile, DirEntryDir, DirEntrySymlink or DirEntryOther
	Size    int64     // st_size in bytes (a symlink: the length of its target)
	Mode    uint32    // Unix permission bits (& 0o7777, setuid 0o4000 as in chmod)
	ModTime time.Time // modification time
}

// ListDir lists one level of the directory path in /workspace ("" or "/":
// the workspace itself), sorted by name (bytewise), "." and ".." left out,
// at most 10,000 entries (see ListDirLimit to know whether some were left
// out).  Paths are resolved as for WriteFile: a symlink on the way is
// syscall.ELOOP, a file syscall.ENOTDIR.
func (s *Sandbox) ListDir(path string) ([]DirEntry, error) {
	entries, _, err := s.ListDirLimit(path, 0)
	return entries, err
}

// ListDirLimit is ListDir returning at most max entries (0: 10,000): the
// first ones by name, with truncated true when the directory has more.
func (s *Sandbox) ListDirLimit(path string, max int) (entries []DirEntry, truncated bool, err error) {
	if max < 0 || uint64(max) > 0xFFFFFFFF {
		return nil, false, invalid("list_dir", "max %d is out of range", max)
	}
	entries, truncated, err = s.s.listDir(path, uint32(max))
	runtime.KeepAlive(s)
	return entries, truncated, err
}

// fileMode maps Go's mode bits to the C API's mode & 07777.
func fileMode(m os.FileMode) C.uint32_t {
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
	return C.uint32_t(mode)
}

func (s *sandbox) writeFile(path string, data []byte, mode os.FileMode) error {
	const op = "write_file"
	if strings.IndexByte(path, 0) >= 0 {
		return invalid(op, "path contains a NUL byte")
	}
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
	if strings.IndexByte(path, 0) >= 0 {
		return nil, invalid(op, "path contains a NUL byte")
	}
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

func (s *sandbox) removeFile(path string) error {
	const op = "remove_file"
	if strings.IndexByte(path, 0) >= 0 {
		return invalid(op, "path contains a NUL byte")
	}
	if err := s.acquire(context.Background()); err != nil {
		return err
	}
	defer s.release()
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	if !s.usable() {
		return ErrClosed
	}
	var perr *C.petri_error
	if rc := C.petri_sandbox_remove_file(s.sb, cpath, &perr); rc < 0 {
		return takeError(op, rc, perr)
	}
	return nil
}

var direntTypes = map[C.uint32_t]string{
	C.PETRI_DIRENT_FILE:    DirEntryFile,
	C.PETRI_DIRENT_DIR:     DirEntryDir,
	C.PETRI_DIRENT_SYMLINK: DirEntrySymlink,
	C.PETRI_DIRENT_OTHER:   DirEntryOther,
}

func (s *sandbox) listDir(path string, max uint32) ([]DirEntry, bool, error) {
	const op = "list_dir"
	if strings.IndexByte(path, 0) >= 0 {
		return nil, false, invalid(op, "path contains a NUL byte")
	}
	if err := s.acquire(context.Background()); err != nil {
		return nil, false, err
	}
	defer s.release()
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	if !s.usable() {
		return nil, false, ErrClosed
	}
	var block *C.petri_dirent
	var n C.size_t
	var trunc C.int
	var perr *C.petri_error
	if rc := C.petri_sandbox_list_dir(s.sb, cpath, C.uint32_t(max), &block, &n, &trunc, &perr); rc < 0 {
		return nil, false, takeError(op, rc, perr)
	}
	defer C.petri_free(unsafe.Pointer(block))
	out := make([]DirEntry, 0, int(n))
	for _, e := range unsafe.Slice(block, int(n)) {
		typ, ok := direntTypes[e._type]
		if !ok {
			typ = DirEntryOther
		}
		out = append(out, DirEntry{
			Name:    C.GoString(e.name),
			Type:    typ,
			Size:    int64(e.size),
			Mode:    uint32(e.mode),
			ModTime: time.Unix(0, int64(e.mtime_ns)),
		})
	}
	return out, trunc != 0, nil
}
