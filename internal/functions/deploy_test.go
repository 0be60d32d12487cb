package functions

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

type tarEntry struct {
	name string
	typ  byte
	body []byte
}

func tarGz(t *testing.T, entries ...tarEntry) []byte {
	t.Helper()
	var b bytes.Buffer
	gz := gzip.NewWriter(&b)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: 0o644, Size: int64(len(e.body))}
		if e.typ != tar.TypeReg {
			h.Size, h.Linkname = 0, "/etc/passwd"
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.body); err != nil && e.typ == tar.TypeReg {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func reg(name string, body string) tarEntry {
	return tarEntry{name: name, typ: tar.TypeReg, body: []byte(body)}
}

// TestArchives: what an uploaded archive may hold, and the error each
// refusal names.
func TestArchives(t *testing.T) {
	many := []tarEntry{reg("index.js", "x")}
	for i := range MaxArchiveFiles {
		many = append(many, reg(fmt.Sprintf("f%d.js", i), "x"))
	}
	big := make([]byte, MaxArchiveBytes/2+1)
	for _, tt := range []struct {
		name    string
		archive []byte
		want    string // "" for accepted
	}{
		{"ok", tarGz(t, reg("index.js", "module.exports = 1"), reg("lib/util.js", "x"), tarEntry{name: "lib/", typ: tar.TypeDir}), ""},
		{"dot slash", tarGz(t, reg("./index.js", "x")), ""},
		{"absolute", tarGz(t, reg("index.js", "x"), reg("/etc/passwd", "x")), `"/etc/passwd": absolute paths and .. are not allowed`},
		{"dot dot", tarGz(t, reg("index.js", "x"), reg("a/../../x", "x")), `"a/../../x": absolute paths and .. are not allowed`},
		{"symlink", tarGz(t, reg("index.js", "x"), tarEntry{name: "link", typ: tar.TypeSymlink}), `"link": only regular files are allowed`},
		{"no entry", tarGz(t, reg("main.js", "x")), "the archive has no index.js"},
		{"too many files", tarGz(t, many...), fmt.Sprintf("more than %d files", MaxArchiveFiles)},
		{"too large", tarGz(t, reg("index.js", string(big)), reg("b.js", string(big))), "the files hold more than 16 MiB"},
		{"not gzip", []byte("plain"), "not a gzip-compressed tar archive"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fs, err := files("code.tar.gz", "index.js", tt.archive)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want == "" && fs["index.js"] == nil:
				t.Fatalf("no entry in %v", fs)
			case tt.want != "" && (err == nil || err.Error() != tt.want):
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestCapUTF8(t *testing.T) {
	s := strings.Repeat("é", 10) // 2 bytes each
	for n := range 21 {
		got := capUTF8([]byte(s), n)
		if len(got) > n || !utf8.ValidString(got) || len(got) < n-1 {
			t.Fatalf("cap %d: %q", n, got)
		}
	}
}

// TestDigest: every part of a version changes its digest; the order of
// the environment does not.
func TestDigest(t *testing.T) {
	base := digest("node", "index.js", []byte("x"), map[string]string{"A": "1", "B": "2"}, limitsDefault())
	if base != digest("node", "index.js", []byte("x"), map[string]string{"B": "2", "A": "1"}, limitsDefault()) {
		t.Fatal("the environment's order changed the digest")
	}
	l := limitsDefault()
	l.MemoryMB = 256
	for name, d := range map[string]string{
		"runtime":   digest("python", "index.js", []byte("x"), map[string]string{"A": "1", "B": "2"}, limitsDefault()),
		"filename":  digest("node", "main.js", []byte("x"), map[string]string{"A": "1", "B": "2"}, limitsDefault()),
		"content":   digest("node", "index.js", []byte("y"), map[string]string{"A": "1", "B": "2"}, limitsDefault()),
		"env":       digest("node", "index.js", []byte("x"), map[string]string{"A": "1", "B": "3"}, limitsDefault()),
		"env split": digest("node", "index.js", []byte("x"), map[string]string{"A": "1", "B": "2", "": ""}, limitsDefault()),
		"limits":    digest("node", "index.js", []byte("x"), map[string]string{"A": "1", "B": "2"}, l),
	} {
		if d == base {
			t.Errorf("%s does not change the digest", name)
		}
	}
}
