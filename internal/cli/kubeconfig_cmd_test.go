package cli

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/hexabase/hexabase-ai/internal/kubeconfig"
)

const (
	testOrgID = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
	testWsID  = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c"
)

// kubeconfigAPI serves GET …/kubeconfig?format=json the way the hks API
// does (the real endpoint is tested in internal/tenancy); the test here is
// about what the CLI does with the answer.
func kubeconfigAPI(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/organizations/"+testOrgID+"/workspaces/"+testWsID+"/kubeconfig" || r.URL.Query().Get("format") != "json" ||
			r.Header.Get("Authorization") != "Bearer access" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(kubeconfig.New(kubeconfig.Params{Platform: "https://hks.example.com", OrgID: testOrgID, OrgSlug: "acme",
			WorkspaceID: testWsID, WorkspaceName: "web", Server: "https://127.0.0.1:16443", CAPEM: []byte("PEM")}))
	}))
	t.Cleanup(srv.Close)
	signedInTo(t, srv.URL)
	return srv
}

const existingKubeconfig = `apiVersion: v1
kind: Config
current-context: kind-dev
preferences: {}
clusters:
- name: kind-dev
  cluster:
    server: https://127.0.0.1:35000
    insecure-skip-tls-verify: true
- name: hks-acme-web
  cluster:
    server: https://stale.invalid
contexts:
- name: kind-dev
  context: {cluster: kind-dev, user: kind-dev, namespace: apps}
users:
- name: kind-dev
  user: {token: keep-me}
- name: hks-acme-web
  user: {token: stale}
`

func TestKubeconfigCommandMerges(t *testing.T) {
	kubeconfigAPI(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "config")
	if err := os.WriteFile(path, []byte(existingKubeconfig), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", filepath.Join(dir, "missing")+string(os.PathListSeparator)+path)
	out, err := runIn(t, "", "kubeconfig", "--org", testOrgID, "--workspace", testWsID)
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !strings.Contains(out, "Merged context hks-acme-web into "+path) {
		t.Fatalf("output: %s", out)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode().Perm())
	}
	var kc struct {
		CurrentContext string         `json:"current-context"`
		Preferences    map[string]any `json:"preferences"`
		Clusters       []struct {
			Name    string
			Cluster map[string]any
		}
		Contexts []struct {
			Name    string
			Context map[string]any
		}
		Users []struct {
			Name string
			User map[string]any
		}
	}
	if err := yaml.Unmarshal(b, &kc); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if kc.CurrentContext != "hks-acme-web" || kc.Preferences == nil || len(kc.Clusters) != 2 || len(kc.Contexts) != 2 || len(kc.Users) != 2 {
		t.Fatalf("merged:\n%s", b)
	}
	// The other entries are untouched, fields unknown to hks included.
	if kc.Clusters[0].Name != "kind-dev" || kc.Clusters[0].Cluster["insecure-skip-tls-verify"] != true ||
		kc.Contexts[0].Context["namespace"] != "apps" || kc.Users[0].User["token"] != "keep-me" {
		t.Fatalf("other entries changed:\n%s", b)
	}
	// The stale entries of the same name are replaced, not duplicated.
	if kc.Clusters[1].Cluster["server"] != "https://127.0.0.1:16443" || kc.Clusters[1].Cluster["certificate-authority-data"] != "UEVN" ||
		kc.Users[1].User["token"] != nil || kc.Users[1].User["exec"] == nil || kc.Contexts[1].Name != "hks-acme-web" {
		t.Fatalf("hks entries:\n%s", b)
	}
	args := kc.Users[1].User["exec"].(map[string]any)["args"].([]any)
	if len(args) != 7 || args[2] != "https://hks.example.com" || args[4] != testOrgID || args[6] != testWsID {
		t.Fatalf("exec args %v", args)
	}
	if _, err := os.Stat(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("wrote the missing KUBECONFIG file instead of the existing one")
	}

	// Merging again changes nothing.
	if _, err := runIn(t, "", "kubeconfig", "--org", testOrgID, "--workspace", testWsID, "--kubeconfig", path); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(path); !bytes.Equal(again, b) {
		t.Fatalf("second merge changed the file:\n%s\nthen:\n%s", b, again)
	}
}

func TestKubeconfigCommandOutputs(t *testing.T) {
	kubeconfigAPI(t)
	dir := t.TempDir()
	t.Setenv("KUBECONFIG", filepath.Join(dir, "untouched"))

	// A new file, with its directory.
	fresh := filepath.Join(dir, "new", "config")
	if out, err := runIn(t, "", "kubeconfig", "--org", testOrgID, "--workspace", testWsID, "--kubeconfig", fresh, "--hks-command", "/opt/bin/hks"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var kc kubeconfig.Kubeconfig
	b, _ := os.ReadFile(fresh)
	if err := yaml.UnmarshalStrict(b, &kc); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if kc.CurrentContext != "hks-acme-web" || kc.Users[0].User.Exec.Command != "/opt/bin/hks" {
		t.Fatalf("new file:\n%s", b)
	}

	// -o - prints and writes nothing.
	out, err := runIn(t, "", "kubeconfig", "--org", testOrgID, "--workspace", testWsID, "-o", "-")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "# kubeconfig written by hks") || !strings.Contains(out, "server: https://127.0.0.1:16443") {
		t.Fatalf("printed:\n%s", out)
	}
	// --output-file writes the kubeconfig alone.
	alone := filepath.Join(dir, "web.kubeconfig")
	if _, err := runIn(t, "", "kubeconfig", "--org", testOrgID, "--workspace", testWsID, "--output-file", alone); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(alone); !strings.HasPrefix(string(b), "# kubeconfig written by hks") {
		t.Fatalf("output file:\n%s", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "untouched")); err == nil {
		t.Fatal("-o - or --output-file touched $KUBECONFIG")
	}
	if _, err := runIn(t, "", "kubeconfig", "--org", testOrgID, "--workspace", testWsID, "--output-file", alone, "--kubeconfig", fresh); err == nil {
		t.Fatal("--output-file with --kubeconfig accepted")
	}
}
