package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFunctionsCLI drives `hks fn` against a real server and its embedded
// function engine: a developer deploys a python function from a file,
// calls it through the CLI and its URL, deploys a second version, splits an
// alias, rolls back, reads versions, code, invocations and logs; a failed
// invocation exits 1 with its exit reason; a viewer reads but cannot
// deploy or invoke; bad input is refused with the API's field errors.
func TestFunctionsCLI(t *testing.T) {
	needBinary(t)
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not installed: the python runtime is unavailable")
	}
	t.Parallel()
	// Functions run on the platform itself: no workspace cluster needed.
	s := startServer(t, filepath.Join(t.TempDir(), "data"), "127.0.0.1:0", []string{noControlPlanes})
	admin := setupAdmin(t, s, "admin@example.com", "password-of-admin")
	orgPath := admin.createOrg("Acme")
	var ws struct {
		ID string `json:"id"`
	}
	admin.must("POST", orgPath+"/workspaces", map[string]string{"name": "web"}, http.StatusAccepted, &ws)
	wsPath := orgPath + "/workspaces/" + ws.ID
	projectID := admin.createProject(wsPath, map[string]any{"name": "backend"})
	viewer := createUser(t, s, "viewer@example.com", "password-of-viewer")
	admin.invite(orgPath, viewer)
	admin.grant(wsPath, "readers", viewer, "viewer", projectID)

	login := func(email, password string) []string {
		t.Helper()
		env := baseEnv("HKS_CONFIG_DIR="+filepath.Join(t.TempDir(), "cfg"), "HKS_ORG=acme", "HKS_WORKSPACE=web", "HKS_PROJECT=backend")
		mustHKS(t, env, password+"\n", "login", "--server", s.URL, "--email", email, "--password-stdin")
		return env
	}
	dev := login("admin@example.com", "password-of-admin")
	view := login("viewer@example.com", "password-of-viewer")
	hks := func(args ...string) string { t.Helper(); return mustHKS(t, dev, "", args...) }
	decode := func(out string, v any) {
		t.Helper()
		if err := json.Unmarshal([]byte(out), v); err != nil {
			t.Fatalf("decode %q: %v", out, err)
		}
	}
	type fnOut struct {
		Name          string `json:"name"`
		Runtime       string `json:"runtime"`
		Access        string `json:"access"`
		URL           string `json:"url"`
		LatestVersion int    `json:"latest_version"`
		Aliases       []struct {
			Name    string `json:"name"`
			Targets []struct{ Version, Weight int }
		} `json:"aliases"`
		Secrets []string `json:"secrets"`
	}

	dir := t.TempDir()
	write := func(name, code string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(code), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	v1 := write("hello.py", "def handle(req):\n    print('v1 got', req['body'])\n    return {'status': 200, 'body': 'v1:' + req['body']}\n")

	// Deploy: the name and runtime come from the file.
	var f fnOut
	decode(hks("fn", "deploy", v1, "--access", "public", "--env", "MODE=test", "-o", "json"), &f)
	if f.Name != "hello" || f.Runtime != "python" || f.Access != "public" || f.LatestVersion != 1 || !strings.Contains(f.URL, "/fn/acme/web/backend/hello") {
		t.Fatalf("fn deploy: %+v", f)
	}
	// The same deploy again makes no new version.
	decode(hks("fn", "deploy", v1, "--access", "public", "--env", "MODE=test", "-o", "json"), &f)
	if f.LatestVersion != 1 {
		t.Errorf("an unchanged deploy made version %d", f.LatestVersion)
	}

	// Invoke prints the body on stdout.
	if out := hks("fn", "invoke", "hello", "--data", "ada"); out != "v1:ada" {
		t.Errorf("fn invoke: %q", out)
	}
	// The public URL answers anyone.
	resp, err := http.Post(f.URL, "text/plain", strings.NewReader("web"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "v1:web" {
		t.Errorf("POST %s: %d %q", f.URL, resp.StatusCode, b)
	}

	// A second version; an alias split between the two; rollback.
	v2 := write("hello2.py", "def handle(req):\n    return 'v2:' + req['body']\n")
	decode(hks("fn", "deploy", v2, "--name", "hello", "-o", "json"), &f)
	if f.LatestVersion != 2 {
		t.Fatalf("second deploy: %+v", f)
	}
	if out := hks("fn", "invoke", "hello", "--data", "x"); out != "v2:x" {
		t.Errorf("latest after the second deploy: %q", out)
	}
	if out := hks("fn", "invoke", "hello", "--data", "x", "--version", "1"); out != "v1:x" {
		t.Errorf("--version 1: %q", out)
	}
	decode(hks("fn", "alias", "hello", "prod", "v1=90", "v2=10", "-o", "json"), &f)
	var prod []struct{ Version, Weight int }
	for _, a := range f.Aliases {
		if a.Name == "prod" {
			prod = a.Targets
		}
	}
	if len(prod) != 2 || prod[0].Weight+prod[1].Weight != 100 {
		t.Errorf("alias prod: %+v", f.Aliases)
	}
	if r := runHKS(t, dev, "", "fn", "alias", "hello", "prod", "v1=90", "v2=20"); r.Code != 1 || r.Stderr != "error: the weights add up to 110, not 100\n" {
		t.Errorf("bad weights: %s", r)
	}
	hks("fn", "alias", "hello", "prod", "v2")
	decode(hks("fn", "rollback", "hello", "--alias", "prod", "-o", "json"), &f)
	for _, a := range f.Aliases {
		if a.Name == "prod" && (len(a.Targets) != 2 || a.Targets[0].Version != 1) {
			t.Errorf("rollback of prod: %+v", a.Targets)
		}
	}
	decode(hks("fn", "rollback", "hello", "--to", "1", "-o", "json"), &f)
	if out := hks("fn", "invoke", "hello", "--data", "y"); out != "v1:y" {
		t.Errorf("latest after rollback --to 1: %q", out)
	}

	// Versions, code, get, list.
	if rows := parseTable(t, hks("fn", "versions", "hello")); len(rows) != 2 || rows[0]["VERSION"] != "2" || rows[0]["FILENAME"] != "hello2.py" {
		t.Errorf("fn versions: %v", rows)
	}
	if out := hks("fn", "code", "hello", "--version", "2"); out != "def handle(req):\n    return 'v2:' + req['body']\n" {
		t.Errorf("fn code --version 2: %q", out)
	}
	if rows := parseTable(t, hks("fn", "list")); len(rows) != 1 || rows[0]["NAME"] != "hello" || rows[0]["RUNTIME"] != "python" {
		t.Errorf("fn list: %v", rows)
	}

	// A failed invocation exits 1 with its exit reason on stderr.
	write("boom.py", "def handle(req):\n    raise ValueError('no')\n")
	hks("fn", "deploy", filepath.Join(dir, "boom.py"))
	if r := runHKS(t, dev, "", "fn", "invoke", "boom"); r.Code != 1 || !strings.Contains(r.Stderr, "failed: error") {
		t.Errorf("a failing handler: %s", r)
	}
	if r := runHKS(t, dev, "", "fn", "invoke", "boom", "--logs"); !strings.Contains(r.Stderr, "ValueError: no") {
		t.Errorf("--logs of a failing handler: %s", r)
	}

	// Invocations and logs: the records of the calls above.
	if rows := parseTable(t, hks("fn", "invocations", "hello")); len(rows) < 5 || rows[0]["STATUS"] != "succeeded" {
		t.Errorf("fn invocations: %v", rows)
	}
	if out := hks("fn", "logs", "hello"); !strings.Contains(out, "  v1 got ada\n") {
		t.Errorf("fn logs: %q", out)
	}

	// Secrets: names only.
	decode(hks("fn", "secrets", "hello", "--set", "API_KEY=s3cret", "-o", "json"), &f)
	if len(f.Secrets) != 1 || f.Secrets[0] != "API_KEY" || strings.Contains(hks("fn", "get", "hello", "-o", "json"), "s3cret") {
		t.Errorf("fn secrets: %+v", f)
	}

	// Triggers: a schedule checked by the server, an event topic.
	if rows := parseTable(t, hks("fn", "trigger", "create", "hello", "tick", "--cron", "*/5 * * * *")); len(rows) != 1 || rows[0]["KIND"] != "cron" {
		t.Errorf("trigger create: %v", rows)
	}
	if r := runHKS(t, dev, "", "fn", "trigger", "create", "hello", "bad", "--cron", "61 * * * *"); r.Code != 1 || !strings.Contains(r.Stderr, "schedule") {
		t.Errorf("bad schedule: %s", r)
	}
	hks("fn", "trigger", "create", "hello", "on-upload", "--topic", "uploads")
	if rows := parseTable(t, hks("fn", "trigger", "list", "hello")); len(rows) != 2 {
		t.Errorf("trigger list: %v", rows)
	}
	if out := hks("fn", "publish", "uploads", "--data", "ev"); !strings.Contains(out, "published to uploads (1 handler)") {
		t.Errorf("publish: %q", out)
	}
	eventually(t, 30*time.Second, func() (bool, string) {
		out := hks("fn", "invocations", "hello")
		return strings.Contains(out, "event"), out
	})
	hks("fn", "trigger", "delete", "hello", "tick")

	// The viewer reads but cannot change or call.
	if rows := parseTable(t, mustHKS(t, view, "", "fn", "list")); len(rows) != 2 {
		t.Errorf("viewer's fn list: %v", rows)
	}
	for _, args := range [][]string{{"fn", "invoke", "hello"}, {"fn", "deploy", v1}, {"fn", "delete", "hello"}} {
		if r := runHKS(t, view, "", args...); r.Code != 1 || !strings.Contains(r.Stderr, "(HTTP 403)") {
			t.Errorf("viewer's %v: %s", args, r)
		}
	}

	// Bad input, refused by the CLI or with the API's field errors.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"fn", "deploy", write("x.rb", "puts 1")}, "error: cannot tell the runtime of x.rb from its name: give --runtime (node, python, go or wasm)\n"},
		{[]string{"fn", "deploy", write("syntax.py", "def handle(req:\n")}, "SyntaxError"},
		{[]string{"fn", "deploy", v1, "--name", "ruby", "--runtime", "ruby"}, "runtime"},
		{[]string{"fn", "get", "nope"}, "error: function \"nope\" not found (HTTP 404)\n"},
	} {
		if r := runHKS(t, dev, "", tc.args...); r.Code != 1 || !strings.Contains(r.Stderr, tc.want) {
			t.Errorf("hks %v: %s\nwant %q", tc.args, r, tc.want)
		}
	}

	// Delete.
	if out := hks("fn", "delete", "boom"); out != "function boom deleted\n" {
		t.Errorf("fn delete: %q", out)
	}
	if r := runHKS(t, dev, "", "fn", "get", "boom"); r.Code != 1 {
		t.Errorf("a deleted function: %s", r)
	}
}
