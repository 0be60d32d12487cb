package cli

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

func TestKubeconfigRendering(t *testing.T) {
	for _, tc := range []struct {
		name, apiServer, wantServer string
		placeholder                 bool
	}{
		{"unknown api server", "", "https://alpha.invalid", true},
		{"known api server", "https://alpha.k8s.example.com:6443", "https://alpha.k8s.example.com:6443", false},
	} {
		b, err := Kubeconfig("https://hks.example.com", "org-id", "acme", "ws-id", "alpha", tc.apiServer, "", "hks")
		if err != nil {
			t.Fatal(err)
		}
		var kc struct {
			CurrentContext string `json:"current-context"`
			Clusters       []struct {
				Name    string
				Cluster struct{ Server string }
			}
			Users []struct {
				Name string
				User struct {
					Exec struct {
						APIVersion         string `json:"apiVersion"`
						Command            string
						Args               []string
						InteractiveMode    string `json:"interactiveMode"`
						ProvideClusterInfo *bool  `json:"provideClusterInfo"`
					}
					Token string
				}
			}
		}
		if err := yaml.Unmarshal(b, &kc); err != nil {
			t.Fatalf("%s: not YAML: %v\n%s", tc.name, err, b)
		}
		ex := kc.Users[0].User.Exec
		if kc.CurrentContext != "hks-acme-alpha" || kc.Clusters[0].Cluster.Server != tc.wantServer ||
			ex.APIVersion != "client.authentication.k8s.io/v1" || ex.Command != "hks" || ex.InteractiveMode != "Never" ||
			ex.ProvideClusterInfo == nil || *ex.ProvideClusterInfo ||
			strings.Join(ex.Args, " ") != "kubectl-token --server https://hks.example.com --org org-id --workspace ws-id" ||
			kc.Users[0].User.Token != "" {
			t.Errorf("%s: %+v\n%s", tc.name, kc, b)
		}
		if got := strings.Contains(string(b), "# PLACEHOLDER"); got != tc.placeholder {
			t.Errorf("%s: placeholder comment %v:\n%s", tc.name, got, b)
		}
	}
}

func TestTokenCache(t *testing.T) {
	t.Setenv("HKS_CONFIG_DIR", t.TempDir())
	now := time.Now()
	p1, err := tokenCachePath("https://hks", "user-1", "acme", "alpha")
	if err != nil {
		t.Fatal(err)
	}
	p2, _ := tokenCachePath("https://hks", "user-2", "acme", "alpha")
	if p1 == p2 {
		t.Fatal("two users share a token cache entry")
	}
	if _, ok := readCachedToken(p1, now); ok {
		t.Fatal("missing cache file used")
	}
	write := func(body string) {
		t.Helper()
		if err := writePrivate(p1, []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	at := func(d time.Duration) string { return now.Add(d).UTC().Format(time.RFC3339) }
	for _, tc := range []struct {
		name, body string
		ok         bool
	}{
		{"fresh", `{"token":"t","expires_at":"` + at(9*time.Minute) + `"}`, true},
		{"near expiry", `{"token":"t","expires_at":"` + at(time.Minute) + `"}`, false},
		{"expired", `{"token":"t","expires_at":"` + at(-time.Minute) + `"}`, false},
		{"no token", `{"expires_at":"` + at(9*time.Minute) + `"}`, false},
		{"garbage", `{{`, false},
	} {
		write(tc.body)
		if _, ok := readCachedToken(p1, now); ok != tc.ok {
			t.Errorf("%s: used %v, want %v", tc.name, ok, tc.ok)
		}
	}
	fi, err := os.Stat(p1)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("cache file mode: %v %v", fi, err)
	}
	if di, _ := os.Stat(filepath.Dir(p1)); di.Mode().Perm() != 0o700 {
		t.Fatalf("cache dir mode %v", di.Mode().Perm())
	}
	payload := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"u-1"}`))
	if got := subjectOf("h." + payload + ".s"); got != "u-1" {
		t.Fatalf("subjectOf: %q", got)
	}
	for _, bad := range []string{"", "a.b", "h.!!.s", "h." + base64.RawURLEncoding.EncodeToString([]byte("[]")) + ".s"} {
		if got := subjectOf(bad); got != "" {
			t.Fatalf("subjectOf(%q) = %q", bad, got)
		}
	}
}
