package cli

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/api"
)

// tenancyAPI answers the organization, workspace, project and group
// routes for the references acme (an organization slug), web (a
// workspace), api (a project) and ops (a group), as the server does after
// resolving them, and 404 for any other reference; it records every
// request. The resolution itself is tested in internal/server.
func tenancyAPI(t *testing.T) *[]recordedCall {
	t.Helper()
	var mu sync.Mutex
	calls := &[]recordedCall{}
	known := map[string]any{
		"/api/v1/organizations/acme":                                   api.Organization{ID: "o1", Name: "Acme Corp", Slug: "acme"},
		"/api/v1/organizations/acme/workspaces/web":                    api.Workspace{ID: "w1", Name: "web"},
		"/api/v1/organizations/acme/workspaces/web/projects/api":       api.Project{ID: "p1", Name: "api"},
		"/api/v1/organizations/acme/workspaces/web/groups/ops":         api.Group{ID: "g1", Name: "ops"},
		"/api/v1/organizations/acme/workspaces/web/projects":           api.Project{ID: "p2", Name: "api-canary", ParentID: "p1"},
		"/api/v1/organizations/acme/workspaces/web/groups":             api.Group{ID: "g2", Name: "backend", ParentID: "g1"},
		"/api/v1/organizations/acme/workspaces/web/rolebindings":       api.RoleBinding{ID: "b1", GroupID: "g1", Role: "developer", ProjectID: "p1"},
		"/api/v1/organizations/acme/workspaces/web/groups/ops/members": api.User{UserID: "u1", Email: "dev@example.com"},
	}
	notFound := map[string]string{"organizations": "organization", "workspaces": "workspace", "projects": "project", "groups": "group"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		*calls = append(*calls, recordedCall{r.Method, r.URL.RequestURI(), string(b)})
		mu.Unlock()
		if v, ok := known[r.URL.Path]; ok {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(v)
			return
		}
		// The kind of the first unknown reference, as the server words it.
		segs := strings.Split(r.URL.Path, "/")
		what := "resource"
		for i := 3; i+1 < len(segs); i += 2 {
			if _, ok := known[strings.Join(segs[:i+2], "/")]; !ok {
				what = notFound[segs[i]]
				break
			}
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusNotFound)
		_ = json.NewEncoder(w).Encode(api.Problem{Type: "not-found", Title: "Not found", Status: 404, Detail: what + " not found"})
	}))
	t.Cleanup(srv.Close)
	signedInTo(t, srv.URL)
	return calls
}

// signedInTo gives the test a config dir of its own with credentials for
// server (access token "access"), and clears the HKS_ environment.
func signedInTo(t *testing.T, server string) {
	t.Helper()
	t.Setenv("HKS_CONFIG_DIR", t.TempDir())
	for _, k := range []string{"HKS_ORG", "HKS_WORKSPACE", "HKS_PROJECT", "HKS_SERVER"} {
		t.Setenv(k, "")
	}
	if err := SaveCredentials(Credentials{Server: server, AccessToken: "access", RefreshToken: "refresh", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
}

func body(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestReferencesGoInThePath: names and slugs are sent in the path as
// given (escaped), with no listing to find an id; an unknown one fails
// with the server's 404 naming the reference.
func TestReferencesGoInThePath(t *testing.T) {
	const ws = "/api/v1/organizations/acme/workspaces/web"
	in := []string{"--org", "acme", "--workspace", "web"}
	for _, tc := range []struct {
		name string
		args []string
		env  []string // HKS_ORG, HKS_WORKSPACE
		want []recordedCall
		err  string
	}{
		{name: "org get by slug", args: []string{"org", "get", "acme"},
			want: []recordedCall{{"GET", "/api/v1/organizations/acme", ""}}},
		{name: "group get by name", args: append([]string{"group", "get", "ops"}, in...),
			want: []recordedCall{{"GET", ws + "/groups/ops", ""}}},
		{name: "scope from the environment", args: []string{"group", "get", "ops"}, env: []string{"acme", "web"},
			want: []recordedCall{{"GET", ws + "/groups/ops", ""}}},
		{name: "project delete by name", args: append([]string{"project", "delete", "api"}, in...),
			want: []recordedCall{{"DELETE", ws + "/projects/api", ""}}},
		{name: "project create with a parent by name", args: append([]string{"project", "create", "api-canary", "--parent", "api", "--cpu", "2"}, in...),
			want: []recordedCall{{"GET", ws + "/projects/api", ""},
				{"POST", ws + "/projects", body(t, api.CreateProjectRequest{Name: "api-canary", ParentID: "p1", Quota: &api.Quota{CPU: "2"}})}}},
		{name: "project create restricted", args: append([]string{"project", "create", "vault", "--pod-security", "restricted"}, in...),
			want: []recordedCall{{"POST", ws + "/projects", body(t, api.CreateProjectRequest{Name: "vault", Quota: &api.Quota{}, PodSecurity: "restricted"})}}},
		{name: "project update sends only the flags given", args: append([]string{"project", "update", "api", "--pod-security", "restricted", "--cpu", "4", "--pods", "0"}, in...),
			want: []recordedCall{{"PATCH", ws + "/projects/api", `{"pod_security":"restricted","quota":{"cpu":"4","pods":0}}`}}},
		{name: "project update to top level", args: append([]string{"project", "update", "api", "--parent", ""}, in...),
			want: []recordedCall{{"PATCH", ws + "/projects/api", `{"parent_id":""}`}}},
		{name: "project update with nothing to change", args: append([]string{"project", "update", "api"}, in...),
			err: "nothing to change: give --parent, --pod-security, --cpu, --memory, --storage or --pods"},
		{name: "group create with a parent by name", args: append([]string{"group", "create", "backend", "--parent", "ops"}, in...),
			want: []recordedCall{{"GET", ws + "/groups/ops", ""},
				{"POST", ws + "/groups", body(t, api.CreateGroupRequest{Name: "backend", ParentID: "g1"})}}},
		{name: "rolebinding create by names", args: append([]string{"rolebinding", "create", "--group", "ops", "--role", "developer", "--project", "api"}, in...),
			want: []recordedCall{{"GET", ws + "/groups/ops", ""}, {"GET", ws + "/projects/api", ""},
				{"POST", ws + "/rolebindings", body(t, api.CreateRoleBindingRequest{GroupID: "g1", Role: "developer", ProjectID: "p1"})}}},
		{name: "group add-member", args: append([]string{"group", "add-member", "ops", "--email", "dev@example.com"}, in...),
			want: []recordedCall{{"POST", ws + "/groups/ops/members", body(t, api.AddUserRequest{Email: "dev@example.com"})}}},
		{name: "a reference is escaped", args: []string{"workspace", "list", "--org", "Acme Corp/x"},
			want: []recordedCall{{"GET", "/api/v1/organizations/Acme%20Corp%2Fx/workspaces?limit=500", ""}},
			err:  `organization "Acme Corp/x" not found (HTTP 404)`},
		{name: "unknown organization", args: []string{"workspace", "list", "--org", "nope"},
			want: []recordedCall{{"GET", "/api/v1/organizations/nope/workspaces?limit=500", ""}},
			err:  `organization "nope" not found (HTTP 404)`},
		{name: "unknown workspace", args: []string{"project", "list", "--org", "acme", "--workspace", "mobile"},
			want: []recordedCall{{"GET", "/api/v1/organizations/acme/workspaces/mobile/projects?limit=500", ""}},
			err:  `workspace "mobile" not found (HTTP 404)`},
		{name: "unknown group", args: append([]string{"group", "get", "devs"}, in...),
			want: []recordedCall{{"GET", ws + "/groups/devs", ""}},
			err:  `group "devs" not found (HTTP 404)`},
		{name: "unknown parent", args: append([]string{"project", "create", "x", "--parent", "nope"}, in...),
			want: []recordedCall{{"GET", ws + "/projects/nope", ""}},
			err:  `project "nope" not found (HTTP 404)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := tenancyAPI(t)
			if tc.env != nil {
				t.Setenv("HKS_ORG", tc.env[0])
				t.Setenv("HKS_WORKSPACE", tc.env[1])
			}
			out, err := runIn(t, "", tc.args...)
			if (err == nil) != (tc.err == "") || (err != nil && err.Error() != tc.err) {
				t.Fatalf("error %v (output %q), want %q", err, out, tc.err)
			}
			if len(*calls) != len(tc.want) {
				t.Fatalf("sent %+v\nwant %+v", *calls, tc.want)
			}
			for i, c := range *calls {
				if c.Method != tc.want[i].Method || c.Path != tc.want[i].Path || canonical(t, c.Body) != canonical(t, tc.want[i].Body) {
					t.Errorf("call %d: %+v, want %+v", i, c, tc.want[i])
				}
			}
		})
	}
}

// TestRequiredFlags: required flags are marked for cobra (shell
// completion shows them) and a missing one is named before anything is
// sent.
func TestRequiredFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"workspace", "list"}, "--org is required (or set HKS_ORG)"},
		{[]string{"project", "list", "--org", "acme"}, "--workspace is required (or set HKS_WORKSPACE)"},
		{[]string{"org", "invite", "a@example.com"}, "--org is required (or set HKS_ORG)"},
		{[]string{"kubeconfig"}, "--org is required (or set HKS_ORG)"},
		{[]string{"kubectl-token", "--org", "acme"}, "--workspace is required (or set HKS_WORKSPACE)"},
		{[]string{"group", "add-member", "ops", "--org", "acme", "--workspace", "web"}, "--email is required"},
		{[]string{"rolebinding", "create", "--role", "viewer", "--org", "acme", "--workspace", "web"}, "--group is required"},
		{[]string{"rolebinding", "create", "--group", "ops"}, "--org is required (or set HKS_ORG)"},
		{[]string{"workspace", "list", "--org", ""}, "--org must not be empty"},
		{[]string{"project", "get", "api", "--org", "acme", "--workspace", ""}, "--workspace must not be empty"},
		{[]string{"kubeconfig", "--org", "", "--workspace", ""}, "--org must not be empty"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			calls := tenancyAPI(t)
			if _, err := runIn(t, "", tc.args...); err == nil || err.Error() != tc.want {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if len(*calls) != 0 {
				t.Errorf("sent %+v", *calls)
			}
		})
	}
	root := newTestRoot()
	for _, path := range [][]string{{"workspace", "list"}, {"group", "add-member"}, {"rolebinding", "create"}, {"kubeconfig"}} {
		cmd, _, err := root.Find(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range map[string][]string{"list": {"org"}, "add-member": {"org", "workspace", "email"}, "create": {"group", "role"}, "kubeconfig": {"org", "workspace"}}[cmd.Name()] {
			f := cmd.Flags().Lookup(name)
			if f == nil {
				f = cmd.PersistentFlags().Lookup(name)
			}
			if f == nil {
				f = cmd.InheritedFlags().Lookup(name)
			}
			if f == nil || len(f.Annotations["cobra_annotation_bash_completion_one_required_flag"]) == 0 {
				t.Errorf("%s: --%s is not marked required", cmd.CommandPath(), name)
			}
		}
	}
}

// TestResourceCommandShorts: the generated commands of each resource name
// it in prose, with the right article.
func TestResourceCommandShorts(t *testing.T) {
	root := newTestRoot()
	for _, tc := range []struct{ path, want string }{
		{"org list", "List organizations"},
		{"org get", "Show one organization"},
		{"org delete", "Delete an organization"},
		{"workspace list", "List workspaces"},
		{"workspace delete", "Delete a workspace"},
		{"project get", "Show one project"},
		{"group delete", "Delete a group"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			cmd, _, err := root.Find(strings.Fields(tc.path))
			if err != nil {
				t.Fatal(err)
			}
			if cmd.Short != tc.want {
				t.Errorf("Short %q, want %q", cmd.Short, tc.want)
			}
		})
	}
}
