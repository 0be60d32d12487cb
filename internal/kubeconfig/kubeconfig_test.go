package kubeconfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestMerge(t *testing.T) {
	kc := New(Params{Platform: "https://hks", OrgID: "o", OrgSlug: "acme", WorkspaceID: "w", WorkspaceName: "web", Server: "https://api:6443"})
	for _, tc := range []struct {
		name, existing, err string
		clusters            int
	}{
		{"empty file", "", "", 1},
		{"only comments", "# nothing yet\n", "", 1},
		{"json", `{"apiVersion":"v1","kind":"Config","clusters":[{"name":"x","cluster":{"server":"https://x"}}]}`, "", 2},
		{"same name replaced", "clusters:\n- name: hks-acme-web\n  cluster: {server: https://old}\n", "", 1},
		{"clusters not a list", "clusters: {a: b}\n", "clusters is not a list", 0},
		{"not yaml", "clusters: [\n", "read kubeconfig", 0},
		{"not a mapping", "- a\n- b\n", "not a kubeconfig", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Merge([]byte(tc.existing), kc)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := yaml.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			cl := got["clusters"].([]any)
			if len(cl) != tc.clusters || got["current-context"] != "hks-acme-web" || got["kind"] != "Config" || got["apiVersion"] != "v1" {
				t.Fatalf("merged:\n%s", b)
			}
			last := cl[len(cl)-1].(map[string]any)["cluster"].(map[string]any)
			if last["server"] != "https://api:6443" {
				t.Fatalf("merged:\n%s", b)
			}
		})
	}
}

func TestDefaultPath(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	sep := string(os.PathListSeparator)
	t.Setenv("HOME", dir)
	// The rows run in order: the files a row creates stay for the next.
	for _, tc := range []struct {
		name, env, want string
		create          []string
	}{
		{"unset", "", filepath.Join(dir, ".kube", "config"), nil},
		{"one file", a, a, nil},
		{"none exists: the last", a + sep + b, b, nil},
		{"the last exists", a + sep + b, b, []string{b}},
		{"the first existing, empty entries skipped", sep + a + sep + b, a, []string{a, b}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, f := range tc.create {
				if err := os.WriteFile(f, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			t.Setenv("KUBECONFIG", tc.env)
			if got, err := DefaultPath(); err != nil || got != tc.want {
				t.Errorf("KUBECONFIG=%q: %q %v, want %q", tc.env, got, err, tc.want)
			}
		})
	}
}

func TestMergeFileFollowsSymlink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	if err := os.WriteFile(real, []byte("clusters: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "config")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if err := MergeFile(link, New(Params{OrgSlug: "a", WorkspaceName: "w", Server: "https://s"})); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the symlink was replaced: %v %v", fi, err)
	}
	b, _ := os.ReadFile(real)
	if !strings.Contains(string(b), "hks-a-w") {
		t.Fatalf("target not updated:\n%s", b)
	}
	if fi, _ := os.Stat(real); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode().Perm())
	}
}
