package fsutil

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteFileAtomic(t *testing.T) {
	for _, tc := range []struct {
		name string
		old  string // existing content ("" for none)
		perm os.FileMode
		data string
	}{
		{name: "new file", perm: 0o600, data: "secret\n"},
		{name: "replaces a file", old: "old content that is longer", perm: 0o644, data: "new"},
		{name: "empty data", old: "x", perm: 0o600, data: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "f")
			if tc.old != "" {
				if err := os.WriteFile(path, []byte(tc.old), 0o666); err != nil {
					t.Fatal(err)
				}
			}
			if err := WriteFileAtomic(path, []byte(tc.data), tc.perm); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			if err != nil || string(b) != tc.data {
				t.Fatalf("content %q (%v), want %q", b, err, tc.data)
			}
			fi, err := os.Stat(path)
			if err != nil || fi.Mode().Perm() != tc.perm {
				t.Fatalf("mode %v (%v), want %v", fi.Mode().Perm(), err, tc.perm)
			}
			assertOnly(t, dir, "f")
		})
	}
}

// TestWriteFileAtomicFailure: a rename that cannot happen (the target is
// a non-empty directory) leaves the target as it was and no temporary
// file behind.
func TestWriteFileAtomicFailure(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.MkdirAll(filepath.Join(target, "inside"), 0o700); err != nil {
		t.Fatal(err)
	}
	err := WriteFileAtomic(target, []byte("data"), 0o600)
	if err == nil || !strings.Contains(err.Error(), "write "+target) {
		t.Fatalf("error %v, want one naming %s", err, target)
	}
	if fi, err := os.Stat(target); err != nil || !fi.IsDir() {
		t.Fatalf("target changed: %v %v", fi, err)
	}
	assertOnly(t, dir, "target")

	if err := WriteFileAtomic(filepath.Join(dir, "missing", "f"), nil, 0o600); err == nil {
		t.Fatal("no error for a missing directory")
	}
}

func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Fatalf("directory holds %v, want %v (no temporary files left)", got, names)
	}
}

func TestWritePrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new", "dir", "credentials.json")
	if err := WritePrivate(path, []byte("secret")); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700 | os.ModeDir} {
		t.Run(filepath.Base(p), func(t *testing.T) {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode() != want {
				t.Errorf("%s: mode %v, want %v", p, fi.Mode(), want)
			}
		})
	}
}
