package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// TestCLITour drives the command-line client against a real server: login,
// the org/workspace/project/group commands in every output format, name
// and slug resolution, and the errors a user sees.
func TestCLITour(t *testing.T) {
	needBinary(t)
	t.Parallel()
	// The tour is about the CLI: workspaces stay records (no control planes).
	s := startServer(t, filepath.Join(t.TempDir(), "data"), "127.0.0.1:0", []string{noControlPlanes})
	const email, password = "admin@example.com", "tour-password-1"
	setupAdmin(t, s, email, password)

	cfgDir := filepath.Join(t.TempDir(), "cfg")
	env := baseEnv("HKS_CONFIG_DIR=" + cfgDir)
	hks := func(args ...string) string { t.Helper(); return mustHKS(t, env, "", args...) }
	// fails runs a command that must exit 1 with exactly want on stderr.
	fails := func(want string, args ...string) {
		t.Helper()
		if r := runHKS(t, env, "", args...); r.Code != 1 || r.Stderr != want {
			t.Errorf("hks %s: %s\nwant exit 1 and stderr %q", strings.Join(args, " "), r, want)
		}
	}
	decode := func(out string, v any) {
		t.Helper()
		if err := json.Unmarshal([]byte(out), v); err != nil {
			t.Fatalf("decode %q: %v", out, err)
		}
	}

	// Login stores private credentials; a failed login keeps them.
	fails("error: not logged in: run `hks login` first\n", "org", "list")
	if out := mustHKS(t, env, password+"\n", "login", "--server", s.URL, "--email", email, "--password-stdin"); out != "Logged in to "+s.URL+" as "+email+"\n" {
		t.Errorf("login: %q", out)
	}
	credsPath := filepath.Join(cfgDir, "credentials.json")
	fi, err := os.Stat(credsPath)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("credentials file mode %v, want 0600", fi.Mode().Perm())
	}
	creds, _ := os.ReadFile(credsPath)
	if strings.Contains(string(creds), password) || !strings.Contains(string(creds), s.URL) {
		t.Errorf("credentials file: %s", creds)
	}
	if r := runHKS(t, env, "wrong-password\n", "login", "--server", s.URL, "--email", email, "--password-stdin"); r.Code != 1 || r.Stderr != "error: login: invalid email or password (HTTP 401)\n" {
		t.Errorf("login with a wrong password: %s", r)
	}
	if now, _ := os.ReadFile(credsPath); string(now) != string(creds) {
		t.Error("a failed login changed the stored credentials")
	}

	// Organizations: by id or slug (a display name is not a reference).
	var org map[string]any
	decode(hks("org", "create", "Acme Corp", "-o", "json"), &org)
	orgID, _ := org["id"].(string)
	if org["slug"] != "acme-corp" || org["role"] != "owner" || orgID == "" {
		t.Fatalf("org create: %v", org)
	}
	fails("error: the slug \"acme-corp\" is taken (HTTP 409)\n", "org", "create", "Acme Corp")
	fails("error: slug: must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit (HTTP 422)\n",
		"org", "create", "Other", "--slug", "Not_A_Label")
	for _, ref := range []string{orgID, "acme-corp"} {
		t.Run(ref, func(t *testing.T) {
			var got map[string]any
			if err := json.Unmarshal([]byte(mustHKS(t, env, "", "org", "get", ref, "-o", "json")), &got); err != nil {
				t.Fatal(err)
			}
			if got["id"] != orgID {
				t.Errorf("org get %q: %v", ref, got)
			}
		})
	}
	fails("error: organization \"Acme Corp\" not found (HTTP 404)\n", "org", "get", "Acme Corp")
	if rows := parseTable(t, hks("org", "list")); len(rows) != 1 ||
		rows[0]["ID"] != orgID || rows[0]["NAME"] != "Acme Corp" || rows[0]["SLUG"] != "acme-corp" || rows[0]["ROLE"] != "owner" {
		t.Errorf("org list table: %v", rows)
	}

	// Workspaces: --org by slug or id, or HKS_ORG.
	var ws map[string]any
	decode(hks("workspace", "create", "web", "--org", "acme-corp", "-o", "json"), &ws)
	wsID, _ := ws["id"].(string)
	if taskID, _ := ws["task_id"].(string); ws["name"] != "web" || ws["status"] != "pending" || ws["plan"] != "shared" || taskID == "" || wsID == "" {
		t.Fatalf("workspace create: %v", ws)
	}
	fails("error: a workspace named \"web\" exists in this organization (HTTP 409)\n", "workspace", "create", "web", "--org", orgID)
	fails("error: name: must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit (HTTP 422)\n",
		"ws", "create", "Web_1", "--org", "acme-corp")
	fails("error: --org is required (or set HKS_ORG)\n", "workspace", "list")
	fails("error: organization \"nope\" not found (HTTP 404)\n", "workspace", "list", "--org", "nope")
	var wsList []map[string]any
	if err := yaml.Unmarshal([]byte(mustHKS(t, slices.Concat(env, []string{"HKS_ORG=acme-corp"}), "", "workspace", "list", "-o", "yaml")), &wsList); err != nil {
		t.Fatal(err)
	}
	if len(wsList) != 1 || wsList[0]["id"] != wsID {
		t.Errorf("workspace list -o yaml: %v", wsList)
	}

	// Projects with quotas; resolution of --workspace by name and id.
	in := []string{"--org", "acme-corp", "--workspace", "web"}
	var proj map[string]any
	decode(hks(append([]string{"project", "create", "api", "--cpu", "2", "--memory", "4Gi", "-o", "json"}, in...)...), &proj)
	if q, _ := proj["quota"].(map[string]any); q["cpu"] != "2" || q["memory"] != "4Gi" || proj["workspace_id"] != wsID {
		t.Errorf("project create: %v", proj)
	}
	var child map[string]any
	decode(hks("project", "create", "api-canary", "--parent", "api", "--org", orgID, "--workspace", wsID, "-o", "json"), &child)
	if child["parent_id"] != proj["id"] {
		t.Errorf("project create --parent: %v", child)
	}
	fails("error: a project named \"api\" exists in this workspace (HTTP 409)\n", append([]string{"project", "create", "api"}, in...)...)
	// update changes only the flags given: the memory quota stays.
	var updated map[string]any
	decode(hks(append([]string{"project", "update", "api-canary", "--pod-security", "restricted", "--cpu", "1", "-o", "json"}, in...)...), &updated)
	if q, _ := updated["quota"].(map[string]any); updated["pod_security"] != "restricted" || q["cpu"] != "1" || updated["parent_id"] != proj["id"] {
		t.Errorf("project update: %v", updated)
	}
	fails("error: pod_security: must be baseline or restricted (HTTP 422)\n",
		append([]string{"project", "update", "api-canary", "--pod-security", "privileged"}, in...)...)
	fails("error: quota.cpu: must be a Kubernetes quantity such as 500m, 2, 1.5Gi or 10G (HTTP 422)\n",
		append([]string{"project", "create", "batch", "--cpu", "lots"}, in...)...)
	if rows := parseTable(t, hks(append([]string{"project", "list"}, in...)...)); len(rows) != 2 ||
		rows[0]["NAME"] != "api" || rows[0]["CPU"] != "2" || rows[0]["MEMORY"] != "4Gi" || rows[0]["PARENT"] != "" ||
		rows[1]["NAME"] != "api-canary" || rows[1]["PARENT"] != proj["id"] {
		t.Errorf("project list table: %v", rows)
	}

	// Groups with a parent; every output format of get.
	var devs, backend map[string]any
	decode(hks(append([]string{"group", "create", "devs", "-o", "json"}, in...)...), &devs)
	decode(hks(append([]string{"group", "create", "backend", "--parent", "devs", "-o", "json"}, in...)...), &backend)
	if backend["parent_id"] != devs["id"] || devs["id"] == nil {
		t.Errorf("group create --parent: %v %v", devs, backend)
	}
	var groups []map[string]any
	decode(hks(append([]string{"group", "list", "-o", "json"}, in...)...), &groups)
	if len(groups) != 2 {
		t.Errorf("group list -o json: %v", groups)
	}
	var got map[string]any
	if err := yaml.Unmarshal([]byte(hks(append([]string{"group", "get", "backend", "-o", "yaml"}, in...)...)), &got); err != nil || got["id"] != backend["id"] {
		t.Errorf("group get -o yaml: %v %v", got, err)
	}
	if rows := parseTable(t, hks(append([]string{"group", "get", backend["id"].(string), "-o", "table"}, in...)...)); len(rows) != 1 ||
		rows[0]["ID"] != backend["id"] || rows[0]["NAME"] != "backend" || rows[0]["PARENT"] != devs["id"] {
		t.Errorf("group get -o table: %v", rows)
	}
	fails("error: unknown output format \"xml\": use json, yaml or table\n", append([]string{"group", "list", "-o", "xml"}, in...)...)
	fails("error: group \"ops\" not found (HTTP 404)\n", append([]string{"group", "get", "ops"}, in...)...)

	// Deleting: children first, then the workspace (a task), then the org.
	fails("error: the group has child groups; delete or move them first (HTTP 409)\n", append([]string{"group", "delete", "devs"}, in...)...)
	if out := hks(append([]string{"group", "delete", "backend"}, in...)...); out != "group backend deleted\n" {
		t.Errorf("group delete: %q", out)
	}
	hks(append([]string{"group", "delete", "devs"}, in...)...)
	fails("error: the project has child projects; delete them first (HTTP 409)\n", append([]string{"project", "delete", "api"}, in...)...)
	hks(append([]string{"project", "delete", "api-canary"}, in...)...)
	hks(append([]string{"project", "delete", "api"}, in...)...)
	fails("error: the organization still has workspaces; delete them first (HTTP 409)\n", "org", "delete", "acme-corp")
	var deleting map[string]any
	decode(hks("workspace", "delete", "web", "--org", "acme-corp", "-o", "json"), &deleting)
	if taskID, _ := deleting["task_id"].(string); deleting["status"] != "deleting" || taskID == "" {
		t.Errorf("workspace delete: %v", deleting)
	}
	eventually(t, 30*time.Second, func() (bool, string) {
		r := runHKS(t, env, "", "workspace", "get", "web", "--org", "acme-corp")
		return r.Code == 1 && r.Stderr == "error: workspace \"web\" not found (HTTP 404)\n", r.String()
	})
	if out := hks("workspace", "list", "--org", "acme-corp", "-o", "json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("workspace list after the delete: %s", out)
	}
	if out := hks("org", "delete", "acme-corp"); out != "org acme-corp deleted\n" {
		t.Errorf("org delete: %q", out)
	}
	fails("error: organization \"acme-corp\" not found (HTTP 404)\n", "org", "get", "acme-corp")
}
