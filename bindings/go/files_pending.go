// SPDX-License-Identifier: Apache-2.0

package petri

// PROVISIONAL (wt-goremote): the in-process RemoveFile and ListDir come
// from wt-libfiles; this file holds their public shape until that branch is
// merged, then goes.

import (
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// Types of DirEntry.Type.
const (
	TypeFile    = "file"
	TypeDir     = "dir"
	TypeSymlink = "symlink"
	TypeOther   = "other"
)

// A DirEntry is one entry of ListDir (lstat: a symlink is itself).
type DirEntry struct {
	Name    string
	Type    string // TypeFile, TypeDir, TypeSymlink or TypeOther
	Mode    os.FileMode
	Size    uint64
	ModTime time.Time
}

// RemoveFile removes path in /workspace: a file, a symlink (itself) or an
// empty directory.
func (s *Sandbox) RemoveFile(path string) error {
	if strings.IndexByte(path, 0) >= 0 {
		return invalid("remove_file", "path contains a NUL byte")
	}
	err := s.b.removeFile(path)
	runtime.KeepAlive(s)
	return err
}

// ListDir lists one level of the directory path in /workspace ("" is
// /workspace itself), sorted by name; truncated says entries were left out.
func (s *Sandbox) ListDir(path string) (entries []DirEntry, truncated bool, err error) {
	if strings.IndexByte(path, 0) >= 0 {
		return nil, false, invalid("list_dir", "path contains a NUL byte")
	}
	entries, truncated, err = s.b.listDir(path)
	runtime.KeepAlive(s)
	return entries, truncated, err
}

func (s *sandbox) removeFile(path string) error {
	return &Error{Op: "remove_file", Errno: syscall.ENOSYS, Msg: "not in this build"}
}

func (s *sandbox) listDir(path string) ([]DirEntry, bool, error) {
	return nil, false, &Error{Op: "list_dir", Errno: syscall.ENOSYS, Msg: "not in this build"}
}
