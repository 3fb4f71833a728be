// SPDX-License-Identifier: Apache-2.0

package petri_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	petri "github.com/libpetri/petri-go"
)

// RemoveFile removes a file, a symlink (not its host target) and an empty
// directory; refuses a non-empty directory, "..", /workspace itself and a
// symlinked parent planted by the code (the host file behind it stays).
func TestRemoveFile(t *testing.T) {
	sb := newSandbox(t, petri.Options{Language: "sh"})
	host := t.TempDir()
	if err := os.Chmod(host, 0o777); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(host, "victim")
	if err := os.WriteFile(victim, []byte("keep"), 0o666); err != nil {
		t.Fatal(err)
	}
	if err := sb.WriteFile("a.txt", []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := mustRun(t, sb, "/bin/sh", "-c", "mkdir empty full && touch full/x && ln -s "+victim+" link && ln -s "+host+" out")
	if r.ExitCode != 0 {
		t.Fatalf("plant: %+v", r)
	}
	for _, p := range []string{"a.txt", "/workspace/link", "empty", "full/x"} {
		if err := sb.RemoveFile(p); err != nil {
			t.Fatalf("RemoveFile(%q): %v", p, err)
		}
	}
	if b, err := os.ReadFile(victim); err != nil || string(b) != "keep" {
		t.Fatalf("host file behind the removed symlink: %q %v", b, err)
	}
	if err := sb.RemoveFile("a.txt"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("removing a missing file: %v", err)
	}
	if err := sb.WriteFile("full/y", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := map[string]syscall.Errno{
		"full":          syscall.ENOTEMPTY,
		"../etc/passwd": syscall.EPERM,
		"/workspace":    syscall.EISDIR,
		"":              syscall.EINVAL,
		"out/victim":    syscall.ELOOP,
		"a\x00b":        syscall.EINVAL,
	}
	for p, want := range cases {
		err := sb.RemoveFile(p)
		var pe *petri.Error
		if !errors.Is(err, want) || !errors.As(err, &pe) || pe.Op != "remove_file" {
			t.Errorf("RemoveFile(%q): %v, want %v", p, err, want)
		}
	}
	if _, err := os.Stat(victim); err != nil {
		t.Fatalf("host file behind a planted parent symlink: %v", err)
	}
}

// ListDir is sorted, types entries without following symlinks, and
// ListDirLimit reports truncation.
func TestListDir(t *testing.T) {
	sb := newSandbox(t, petri.Options{Language: "sh"})
	r := mustRun(t, sb, "/bin/sh", "-c",
		"printf hello > b.txt && chmod 640 b.txt && touch -d @1700000000 b.txt && "+
			"mkdir adir && ln -s /etc/passwd zlink && mkfifo fifo && "+
			"mkdir many && for i in 4 3 2 1 0; do touch many/f$i; done")
	if r.ExitCode != 0 {
		t.Fatalf("setup: %+v", r)
	}
	entries, err := sb.ListDir("")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	byName := map[string]petri.DirEntry{}
	for _, e := range entries {
		names = append(names, e.Name)
		byName[e.Name] = e
	}
	if want := []string{"adir", "b.txt", "fifo", "many", "zlink"}; !equalStrings(names, want) {
		t.Fatalf("names %v, want %v", names, want)
	}
	if b := byName["b.txt"]; b.Type != petri.DirEntryFile || b.Size != 5 || b.Mode != 0o640 ||
		!b.ModTime.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("b.txt: %+v", b)
	}
	if z := byName["zlink"]; z.Type != petri.DirEntrySymlink || z.Size != int64(len("/etc/passwd")) {
		t.Errorf("zlink: %+v", z)
	}
	if byName["adir"].Type != petri.DirEntryDir || byName["fifo"].Type != petri.DirEntryOther {
		t.Errorf("adir %+v fifo %+v", byName["adir"], byName["fifo"])
	}
	some, truncated, err := sb.ListDirLimit("many", 2)
	if err != nil || !truncated || len(some) != 2 || some[0].Name != "f0" || some[1].Name != "f1" {
		t.Fatalf("ListDirLimit(many, 2): %+v %v %v", some, truncated, err)
	}
	all, truncated, err := sb.ListDirLimit("/workspace/many", 5)
	if err != nil || truncated || len(all) != 5 {
		t.Fatalf("ListDirLimit(many, 5): %+v %v %v", all, truncated, err)
	}
	if _, err := sb.ListDir("b.txt"); !errors.Is(err, syscall.ENOTDIR) {
		t.Errorf("ListDir(file): %v", err)
	}
	if _, err := sb.ListDir("missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ListDir(missing): %v", err)
	}
	if _, _, err := sb.ListDirLimit("", -1); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("ListDirLimit(-1): %v", err)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
