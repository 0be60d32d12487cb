package server

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestREADMELayoutListsEveryPackage: every directory of Go code in the
// module (tools/ is a module of its own and named as one line) has a line
// in the README's Layout, and every line there names a directory that
// exists, so the map a newcomer reads first cannot drift from the tree.
func TestREADMELayoutListsEveryPackage(t *testing.T) {
	root := filepath.Join("..", "..")
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, layout, ok := strings.Cut(string(readme), "## Layout")
	if !ok {
		t.Fatal("README.md has no Layout section")
	}
	_, block, _ := strings.Cut(layout, "```\n")
	block, _, _ = strings.Cut(block, "```")
	listed := map[string]bool{}
	for _, line := range strings.Split(block, "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			listed[strings.TrimSuffix(f[0], "/")] = true
		}
	}
	for dir := range listed {
		if _, err := os.Stat(filepath.Join(root, dir)); err != nil {
			t.Errorf("README Layout names %s/, which does not exist", dir)
		}
	}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if name := d.Name(); rel != "." && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules" || rel == "tools" || rel == "bin") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") && !strings.HasPrefix(rel, "test"+string(filepath.Separator)) {
			return nil
		}
		if dir := filepath.ToSlash(filepath.Dir(rel)); !listed[dir] {
			t.Errorf("package directory %s/ is missing from README's Layout", dir)
			listed[dir] = true // once per directory
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
