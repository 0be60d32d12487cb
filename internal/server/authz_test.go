package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"github.com/hexabase/hexabase-ai/internal/aiops/tools"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/hexabase/hexabase-ai/internal/store"
)

// fixture is one organization with everything in it, made fresh for each
// call so that a call that succeeds cannot disturb the next.
type fixture struct {
	org, ws, project, group, binding, invitation, task string
	// chat and plan are the owner's (nobody else sees them).
	chat, plan string
	// invocation is one of the function "hello" of the project, which
	// has the versions 1 and 2 and the aliases latest and stable.
	invocation string
}

type people struct {
	owner, admin, member, viewer, outsider, extra store.User
}

func (ts *testServer) fixture(p people, withWorkspace bool, inviteEmail string) fixture {
	t := ts.t
	t.Helper()
	ctx := context.Background()
	st := ts.st
	now := time.Now().UTC().Truncate(time.Microsecond)
	f := fixture{org: store.NewID()}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.CreateOrganization(ctx, store.Organization{ID: f.org, Name: "Org", Slug: "org-" + f.org[len(f.org)-12:], CreatedAt: now, UpdatedAt: now},
		store.OrgMember{OrgID: f.org, UserID: p.owner.ID, Role: store.RoleOwner, CreatedAt: now}))
	for _, m := range []struct {
		u    store.User
		role string
	}{{p.admin, store.RoleAdmin}, {p.member, store.RoleMember}, {p.viewer, store.RoleMember}, {p.extra, store.RoleMember}} {
		must(st.AddOrgMember(ctx, store.OrgMember{OrgID: f.org, UserID: m.u.ID, Role: m.role, CreatedAt: now}))
	}
	f.invitation = store.NewID()
	must(st.CreateInvitation(ctx, store.Invitation{ID: f.invitation, OrgID: f.org, Email: inviteEmail, Role: store.RoleMember,
		TokenHash: hashInviteToken(f.invitation), InvitedBy: p.owner.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))
	f.task = store.NewID()
	must(st.CreateTask(ctx, store.Task{ID: f.task, Kind: "test.noop", OrgID: f.org, Payload: []byte("{}"), Status: store.TaskSucceeded, CreatedAt: now, UpdatedAt: now}))
	if !withWorkspace {
		return f
	}
	f.ws, f.project, f.group, f.binding = store.NewID(), store.NewID(), store.NewID(), store.NewID()
	must(st.CreateWorkspace(ctx, store.Workspace{ID: f.ws, OrgID: f.org, Name: "ws", Plan: store.PlanShared, Status: store.WorkspaceRunning, CreatedBy: p.owner.ID, CreatedAt: now, UpdatedAt: now}))
	must(st.CreateProject(ctx, store.Project{ID: f.project, WorkspaceID: f.ws, Name: "frontend", CreatedAt: now, UpdatedAt: now}))
	must(st.CreateGroup(ctx, store.Group{ID: f.group, WorkspaceID: f.ws, Name: "readers", CreatedAt: now, UpdatedAt: now}))
	for _, u := range []store.User{p.viewer, p.extra} {
		must(st.AddWorkspaceMember(ctx, store.WorkspaceMember{WorkspaceID: f.ws, UserID: u.ID, CreatedAt: now}))
		must(st.AddGroupMember(ctx, store.GroupMember{GroupID: f.group, UserID: u.ID, CreatedAt: now}))
	}
	must(st.CreateRoleBinding(ctx, store.RoleBinding{ID: f.binding, WorkspaceID: f.ws, GroupID: f.group, Role: store.RoleViewer, CreatedAt: now}))
	f.chat, f.plan = store.NewID(), store.NewID()
	must(st.CreateChat(ctx, store.Chat{ID: f.chat, OrgID: f.org, WorkspaceID: f.ws, UserID: p.owner.ID, CreatedAt: now, UpdatedAt: now}))
	must(st.CreatePlan(ctx, store.Plan{ID: f.plan, OrgID: f.org, WorkspaceID: f.ws, UserID: p.owner.ID, ChatID: f.chat, Tool: "scale", Args: `{"name":"web","replicas":3}`,
		Summary: "scale deployment web", Method: "PATCH", Path: "/apis/apps/v1/namespaces/frontend/deployments/web", Body: "{}",
		Hash:   tools.Hash("PATCH", "/apis/apps/v1/namespaces/frontend/deployments/web", []byte("{}")),
		Status: store.PlanPending, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))
	fn := store.Function{ID: store.NewID(), OrgID: f.org, WorkspaceID: f.ws, ProjectID: f.project, Name: "hello", Runtime: "wasm", Access: store.FunctionPrivate,
		LatestVersion: 1, Aliases: []store.FunctionAlias{{Name: store.AliasLatest, Targets: []store.AliasTarget{{Version: 1, Weight: 100}}},
			{Name: "stable", Targets: []store.AliasTarget{{Version: 1, Weight: 100}}}}, CreatedAt: now, UpdatedAt: now, Version: 1}
	must(st.CreateFunction(ctx, fn, store.FunctionVersion{Digest: "fixture", Filename: "fn.wasm", Content: []byte("\x00asm\x01\x00\x00\x00"),
		Limits: store.FunctionLimits{MemoryMB: 128, TimeoutSeconds: 10, Concurrency: 1, MaxInstances: 4}, CreatedAt: now}))
	_, _, err := st.AddFunctionVersion(ctx, fn.ID, store.FunctionVersion{Digest: "fixture-2", Filename: "fn.wasm", Content: []byte("\x00asm\x01\x00\x00\x00"),
		Limits: store.FunctionLimits{MemoryMB: 128, TimeoutSeconds: 10, Concurrency: 1, MaxInstances: 4}, CreatedAt: now}, func(old store.Function) (store.Function, error) { return old, nil })
	must(err)
	f.invocation = store.NewID()
	must(st.CreateInvocation(ctx, store.Invocation{ID: f.invocation, FunctionID: fn.ID, OrgID: f.org, WorkspaceID: f.ws, Version: 1, Alias: "latest", Trigger: "api",
		Status: store.InvocationSucceeded, StartedAt: now, FinishedAt: now, Logs: "hi\n"}))
	nextFire := now.Add(time.Hour)
	must(st.CreateFunctionTrigger(ctx, store.FunctionTrigger{ID: store.NewID(), FunctionID: fn.ID, FunctionName: fn.Name, OrgID: f.org, WorkspaceID: f.ws, ProjectID: f.project,
		Name: "nightly", Kind: store.FunctionTriggerCron, Schedule: "0 3 * * *", CreatedAt: now, NextFireAt: &nextFire}))
	return f
}

// hashInviteToken makes the fixture's invitation acceptable with the token
// "invite-<id>" (the API stores sha256 hex of the token).
func hashInviteToken(id string) string { return sha256hex("invite-" + id) }

// Expected answers by caller class.
type expect struct{ owner, admin, member, viewer, outsider int }

var (
	orgRead  = expect{200, 200, 200, 200, 404}
	orgAdmin = expect{200, 200, 403, 403, 404}
	wsRead   = expect{200, 200, 404, 200, 404}
	wsAdmin  = expect{200, 200, 404, 403, 404}
	// ownerOnly: the owner's own chat or plan; to everyone else it does
	// not exist.
	ownerOnly = expect{200, 404, 404, 404, 404}
)

func (e expect) with(ok int) expect {
	r := e
	for _, p := range []*int{&r.owner, &r.admin, &r.member, &r.viewer, &r.outsider} {
		if *p == 200 {
			*p = ok
		}
	}
	return r
}

type endpoint struct {
	method, path string // path with {org} {workspace} {project} {group} {binding} {invitation} {task} {user}
	body         func(f fixture, p people) any
	want         expect
	noWorkspace  bool
}

func TestAuthorizationTable(t *testing.T) {
	ts := startServer(t, "")
	p, tok := ts.people()
	// The outsider owns another organization.
	if a := ts.do("POST", "/api/v1/organizations", tok["outsider"], map[string]string{"name": "Other"}); a.status != 201 {
		t.Fatalf("outsider org: %d %s", a.status, a.body)
	}
	badTokens := forgedTokens(t, ts, p.owner)

	// The fixture's workspace is running in the database but has no
	// control plane: its kubeconfig is 409 when the server runs a
	// provider, 503 when it runs none. Either way every caller who may see
	// the workspace gets the same answer (200 is tested in
	// internal/tenancy against a control plane).
	kubeconfigStatus := 0
	{
		f := ts.fixture(p, true, "probe-"+p.outsider.Email)
		kubeconfigStatus = ts.do("GET", "/api/v1/organizations/"+f.org+"/workspaces/"+f.ws+"/kubeconfig", tok["owner"], nil).status
		if kubeconfigStatus != 409 && kubeconfigStatus != 503 {
			t.Fatalf("kubeconfig of a workspace without a control plane: %d", kubeconfigStatus)
		}
	}

	endpoints := apiEndpoints(kubeconfigStatus)

	// Every tenancy route is in the table.
	covered := map[string]bool{}
	for _, e := range endpoints {
		path, _, _ := strings.Cut(e.path, "?")
		covered[e.method+" "+path] = true
	}
	for _, rt := range ts.api.Routes() {
		if !strings.HasPrefix(rt.Path, "/api/v1/") || rt.Public {
			continue
		}
		if !covered[rt.Method+" "+rt.Path] {
			t.Errorf("route %s %s is not in the authorization table", rt.Method, rt.Path)
		}
	}

	callers := []struct {
		name  string
		token string
		want  func(expect) int
	}{
		{"owner", tok["owner"], func(e expect) int { return e.owner }},
		{"admin", tok["admin"], func(e expect) int { return e.admin }},
		{"member", tok["member"], func(e expect) int { return e.member }},
		{"workspace-viewer", tok["viewer"], func(e expect) int { return e.viewer }},
		{"other-org-user", tok["outsider"], func(e expect) int { return e.outsider }},
		{"no-token", "", func(expect) int { return 401 }},
		{"expired-token", badTokens["expired"], func(expect) int { return 401 }},
		{"other-key-token", badTokens["other-key"], func(expect) int { return 401 }},
		{"alg-none-token", badTokens["alg-none"], func(expect) int { return 401 }},
	}
	for _, e := range endpoints {
		for _, c := range callers {
			t.Run(e.method+" "+e.path+" as "+c.name, func(t *testing.T) {
				ts.t = t
				f := ts.fixture(p, !e.noWorkspace, p.outsider.Email)
				target := p.extra.ID
				path := strings.NewReplacer("{org}", f.org, "{workspace}", f.ws, "{project}", f.project, "{group}", f.group,
					"{binding}", f.binding, "{chat}", f.chat, "{plan}", f.plan, "{app}", "web", "{cronjob}", "tick", "{invitation}", f.invitation, "{task}", f.task, "{user}", target,
					"{function}", "hello", "{alias}", "stable", "{version}", "1", "{invocation}", f.invocation, "{trigger}", "nightly", "{topic}", "orders.created").Replace(e.path)
				var body any
				if e.body != nil {
					body = e.body(f, p)
				}
				var a answer
				if strings.HasSuffix(e.path, "/events") {
					a = ts.doStream(path, c.token)
				} else {
					a = ts.do(e.method, path, c.token, body)
				}
				want := c.want(e.want)
				if a.status != want {
					t.Fatalf("%s %s as %s: status %d, want %d: %s", e.method, e.path, c.name, a.status, want, a.body)
				}
				if a.status >= 400 {
					pr := a.problem(t)
					if pr["status"] != float64(a.status) || pr["type"] == "" {
						t.Fatalf("bad problem: %s", a.body)
					}
				}
				if e.method == "GET" && e.path == "/api/v1/organizations" && c.name == "other-org-user" && strings.Contains(string(a.body), f.org) {
					t.Fatalf("another organization's list shows this one: %s", a.body)
				}
			})
		}
	}
}

// apiEndpoints is a request to each route of the API under /api/v1 that
// is not public, with the status each class of caller gets on a fresh
// fixture. kubeconfigStatus is the kubeconfig's answer for a workspace
// without a control plane.
func apiEndpoints(kubeconfigStatus int) []endpoint {
	name := func(v string) func(fixture, people) any {
		return func(fixture, people) any { return map[string]string{"name": v} }
	}
	return []endpoint{
		{"GET", "/api/v1/organizations/{org}", nil, orgRead, false},
		{"PATCH", "/api/v1/organizations/{org}", name("Renamed"), orgAdmin, false},
		{"DELETE", "/api/v1/organizations/{org}", nil, expect{204, 403, 403, 403, 404}, true},
		{"GET", "/api/v1/organizations/{org}/members", nil, orgRead, false},
		{"PATCH", "/api/v1/organizations/{org}/members/{user}", func(fixture, people) any { return map[string]string{"role": "admin"} }, orgAdmin, false},
		{"DELETE", "/api/v1/organizations/{org}/members/{user}", nil, orgAdmin.with(204), false},
		{"POST", "/api/v1/organizations/{org}/invitations", func(fixture, people) any { return map[string]string{"email": "new@example.com"} }, orgAdmin.with(201), false},
		{"GET", "/api/v1/organizations/{org}/invitations", nil, orgAdmin, false},
		{"DELETE", "/api/v1/organizations/{org}/invitations/{invitation}", nil, orgAdmin.with(204), false},
		{"GET", "/api/v1/organizations/{org}/tasks", nil, orgAdmin, false},
		{"GET", "/api/v1/organizations/{org}/tasks/{task}", nil, orgAdmin, false},
		{"GET", "/api/v1/organizations/{org}/audit", nil, orgAdmin, false},
		{"POST", "/api/v1/organizations/{org}/workspaces", name("new-ws"), orgAdmin.with(202), false},
		{"GET", "/api/v1/organizations/{org}/workspaces", nil, orgRead, false},
		{"GET", "/api/v1/organizations/{org}/workspaces/{workspace}", nil, wsRead, false},
		{"PATCH", "/api/v1/organizations/{org}/workspaces/{workspace}", name("renamed"), wsAdmin, false},
		{"DELETE", "/api/v1/organizations/{org}/workspaces/{workspace}", nil, wsAdmin.with(202), false},
		{"GET", "/api/v1/organizations/{org}/workspaces/{workspace}/members", nil, wsRead, false},
		{"POST", "/api/v1/organizations/{org}/workspaces/{workspace}/members", func(_ fixture, p people) any { return map[string]string{"user_id": p.admin.ID} }, wsAdmin.with(201), false},
		{"DELETE", "/api/v1/organizations/{org}/workspaces/{workspace}/members/{user}", nil, wsAdmin.with(204), false},
		{"POST", "/api/v1/organizations/{org}/workspaces/{workspace}/projects", name("backend"), wsAdmin.with(201), false},
		{"GET", "/api/v1/organizations/{org}/workspaces/{workspace}/projects", nil, wsRead, false},
		{"GET", "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}", nil, wsRead, false},
		{"PATCH", "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}", func(fixture, people) any { return map[string]any{"quota": map[string]string{"cpu": "2"}} }, wsAdmin, false},
		{"DELETE", "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}", nil, wsAdmin.with(204), false},
		{"POST", "/api/v1/organizations/{org}/workspaces/{workspace}/groups", name("writers"), wsAdmin.with(201), false},
		{"GET", "/api/v1/organizations/{org}/workspaces/{workspace}/groups", nil, wsRead, false},
		{"GET", "/api/v1/organizations/{org}/workspaces/{workspace}/groups/{group}", nil, wsRead, false},
		{"PATCH", "/api/v1/organizations/{org}/workspaces/{workspace}/groups/{group}", name("renamed"), wsAdmin, false},
		{"DELETE", "/api/v1/organizations/{org}/workspaces/{workspace}/groups/{group}", nil, wsAdmin.with(204), false},
		{"GET", "/api/v1/organizations/{org}/workspaces/{workspace}/groups/{group}/members", nil, wsRead, false},
		{"POST", "/api/v1/organizations/{org}/workspaces/{workspace}/groups/{group}/members", func(_ fixture, p people) any { return map[string]string{"user_id": p.admin.ID} }, wsAdmin.with(201), false},
		{"DELETE", "/api/v1/organizations/{org}/workspaces/{workspace}/groups/{group}/members/{user}", nil, wsAdmin.with(204), false},
		{"POST", "/api/v1/organizations/{org}/workspaces/{workspace}/rolebindings", func(f fixture, _ people) any { return map[string]string{"group_id": f.group, "role": "developer"} }, wsAdmin.with(201), false},
		{"GET", "/api/v1/organizations/{org}/workspaces/{workspace}/rolebindings", nil, wsRead, false},
		{"DELETE", "/api/v1/organizations/{org}/workspaces/{workspace}/rolebindings/{binding}", nil, wsAdmin.with(204), false},
		{"POST", "/api/v1/organizations/{org}/workspaces/{workspace}/token", nil, wsRead, false},
		{"GET", "/api/v1/organizations/{org}/workspaces/{workspace}/kubeconfig", nil, wsRead.with(kubeconfigStatus), false},
		// Sleep and wake of the running fixture: 202 and 200 (running
		// already) with a provider, 503 without one.
		{"POST", "/api/v1/organizations/{org}/workspaces/{workspace}/sleep", nil, wsAdmin.with(map[bool]int{true: 202, false: 503}[kubeconfigStatus == 409]), false},
		{"POST", "/api/v1/organizations/{org}/workspaces/{workspace}/wake", nil, wsAdmin.with(map[bool]int{true: 200, false: 503}[kubeconfigStatus == 409]), false},
		{"GET", "/api/v1/organizations/{org}/workspaces/{workspace}/events", nil, wsRead, false},
		// In the workspace's cluster, as the caller: the fixture's workspace
		// has no cluster (409 to all who may see it); the cluster's own
		// refusals (403) are tested end to end in test/e2e.
		{"POST", "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/applications", func(fixture, people) any { return map[string]any{"name": "web", "image": "nginx"} }, wsRead.with(409), false},
		{"GET", "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/applications", nil, wsRead.with(409), false},
		{"GET", "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/applications/{app}", nil, wsRead.with(409), false},
		{"PUT", "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/applications/{app}", func(fixture, people) any { return map[string]any{"image": "nginx"} }, wsRead.with(409), false},
		{"PATCH", "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/applications/{app}", func(fixture, people) any { return map[string]any{"image": "nginx:2"} }, wsRead.with(409), false},
		{"DELETE", "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/applications/{app}", nil, wsRead.with(409), false},
		{"POST", "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/applications/{app}/scale", func(fixture, people) any { return map[string]any{"replicas": 1} }, wsRead.with(409), false},
		{"POST", "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/applications/{app}/restart", nil, wsRead.with(409), false},
		{"GET", "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/applications/{app}/pods", nil, wsRead.with(409), false},
		{"GET", "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/applications/{app}/events", nil, wsRead.with(409), false},
		{"GET", "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/applications/{app}/logs", nil, wsRead.with(409), false},
		{"GET", "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/usage", nil, wsRead.with(409), false},
		{"GET", "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/access", nil, wsRead.with(409), false},
		{"GET", "/api/v1/organizations/{org}/workspaces/{workspace}/usage", nil, wsRead.with(409), false},
		// The assistant: the organization's settings and usage; a user's
		// own chats and plans (another user's is a 404, even to the
		// organization's owner: the fixture's belong to its owner); the
		// analyzers as the caller (no cluster here: 409).
		{"GET", "/api/v1/organizations/{org}/ai", nil, orgRead, true},
		{"PATCH", "/api/v1/organizations/{org}/ai", func(fixture, people) any { return map[string]any{"monthly_token_budget": 1000} }, orgAdmin, true},
		{"GET", "/api/v1/organizations/{org}/ai/status", nil, orgRead, true},
		{"GET", "/api/v1/organizations/{org}/usage", nil, orgAdmin, true},
		{"GET", "/api/v1/organizations/{org}/workspaces/{workspace}/ai/chats", nil, wsRead, false},
		{"POST", "/api/v1/organizations/{org}/workspaces/{workspace}/ai/chats", func(fixture, people) any { return map[string]any{"project": "frontend"} }, wsRead.with(201), false},
		{"GET", "/api/v1/organizations/{org}/workspaces/{workspace}/ai/chats/{chat}", nil, ownerOnly, false},
		{"DELETE", "/api/v1/organizations/{org}/workspaces/{workspace}/ai/chats/{chat}", nil, ownerOnly.with(204), false},
		// No model is configured here: 409 no-model, after the checks.
		{"POST", "/api/v1/organizations/{org}/workspaces/{workspace}/ai/chats/{chat}/messages", func(fixture, people) any { return map[string]any{"content": "hello"} }, ownerOnly.with(409), false},
		{"GET", "/api/v1/organizations/{org}/workspaces/{workspace}/ai/plans/{plan}", nil, ownerOnly, false},
		{"POST", "/api/v1/organizations/{org}/workspaces/{workspace}/ai/plans/{plan}/confirm", nil, ownerOnly.with(kubeconfigStatus), false},
		{"POST", "/api/v1/organizations/{org}/workspaces/{workspace}/ai/plans/{plan}/reject", nil, ownerOnly, false},
		{"GET", "/api/v1/organizations/{org}/workspaces/{workspace}/diagnose", nil, wsRead.with(kubeconfigStatus), false},
		{"GET", "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/diagnose", nil, wsRead.with(kubeconfigStatus), false},
		{"POST", "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/cronjobs", func(fixture, people) any {
			return map[string]any{"name": "tick", "schedule": "@hourly", "template": map[string]string{"image": "busybox"}}
		}, wsRead.with(409), false},
		{"GET", "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/cronjobs", nil, wsRead.with(409), false},
		{"GET", "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/cronjobs/{cronjob}", nil, wsRead.with(409), false},
		{"PUT", "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/cronjobs/{cronjob}", func(fixture, people) any {
			return map[string]any{"schedule": "@hourly", "template": map[string]string{"image": "busybox"}}
		}, wsRead.with(409), false},
		{"PATCH", "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/cronjobs/{cronjob}", func(fixture, people) any {
			return map[string]any{"schedule": "@daily"}
		}, wsRead.with(409), false},
		{"DELETE", "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/cronjobs/{cronjob}", nil, wsRead.with(409), false},
		{"POST", "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/cronjobs/{cronjob}/suspend", nil, wsRead.with(409), false},
		{"POST", "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/cronjobs/{cronjob}/resume", nil, wsRead.with(409), false},
		{"POST", "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/cronjobs/{cronjob}/trigger", nil, wsRead.with(409), false},
		{"GET", "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/cronjobs/{cronjob}/history", nil, wsRead.with(409), false},
		{"GET", "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/cronjobs/preview?schedule=@daily", nil, wsRead, false},
		// Functions: viewers read, developers and up write and invoke
		// (the async invocation answers at once). The deploy names an
		// unknown runtime: 422 once the caller may write.
		{"GET", "/api/v1/functions/runtimes", nil, expect{200, 200, 200, 200, 200}, true},
		{"GET", "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/functions", nil, wsRead, false},
		{"PUT", "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/functions/{function}", func(fixture, people) any {
			return map[string]any{"runtime": "cobol", "source": map[string]any{"filename": "x.cob", "content": "eA=="}}
		}, wsAdmin.with(422), false},
		{"GET", "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/functions/{function}", nil, wsRead, false},
		{"DELETE", "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/functions/{function}", nil, wsAdmin.with(204), false},
		{"GET", "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/functions/{function}/versions", nil, wsRead, false},
		{"GET", "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/functions/{function}/versions/{version}/code", nil, wsRead, false},
		{"PUT", "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/functions/{function}/aliases/{alias}", func(fixture, people) any {
			return map[string]any{"targets": []map[string]int{{"version": 1, "weight": 50}, {"version": 2, "weight": 50}}}
		}, wsAdmin, false},
		{"DELETE", "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/functions/{function}/aliases/{alias}", nil, wsAdmin.with(204), false},
		{"POST", "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/functions/{function}/rollback", func(fixture, people) any { return map[string]any{"version": 1} }, wsAdmin, false},
		{"POST", "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/functions/{function}/secrets", func(fixture, people) any { return map[string]any{"set": map[string]string{"A": "b"}} }, wsAdmin, false},
		{"POST", "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/functions/{function}/invoke", func(fixture, people) any { return map[string]any{"async": true} }, wsAdmin.with(202), false},
		{"GET", "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/functions/{function}/invocations", nil, wsRead, false},
		{"GET", "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/functions/{function}/invocations/{invocation}", nil, wsRead, false},
		{"GET", "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/functions/{function}/logs", nil, wsRead, false},
		{"GET", "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/functions/{function}/triggers", nil, wsRead, false},
		{"POST", "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/functions/{function}/triggers", func(fixture, people) any {
			return map[string]any{"name": "hourly", "kind": "cron", "schedule": "@hourly"}
		}, wsAdmin.with(201), false},
		{"DELETE", "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/functions/{function}/triggers/{trigger}", nil, wsAdmin.with(204), false},
		{"GET", "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/functions/{function}/deadletters", nil, wsRead, false},
		{"POST", "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}/events/{topic}", func(fixture, people) any { return map[string]any{"order": 1} }, wsAdmin.with(202), false},
		// Accepting needs the invitation's token and email: the fixture
		// invites the outsider, so only the outsider may accept.
		// The live-update WebSocket: every signed-in caller may open it
		// (here without the handshake: 426); what it carries is
		// authorized per subscription (live_test.go, test/e2e).
		{"GET", "/api/v1/ws", nil, expect{426, 426, 426, 426, 426}, true},
		{"POST", "/api/v1/invitations/accept", func(f fixture, _ people) any { return map[string]string{"token": "invite-" + f.invitation} }, expect{403, 403, 403, 403, 200}, false},
		// Collections outside any organization: every signed-in user.
		{"POST", "/api/v1/organizations", func(f fixture, _ people) any { return map[string]string{"name": "Fresh " + f.org} }, expect{201, 201, 201, 201, 201}, false},
		{"GET", "/api/v1/organizations", nil, expect{200, 200, 200, 200, 200}, false},
	}
}

// forgedTokens returns access tokens that must all be refused: one that
// expired, one signed by another key under the real kid, and an alg:none one.
func forgedTokens(t *testing.T, ts *testServer, u store.User) map[string]string {
	t.Helper()
	out := map[string]string{}
	// Expired: issued 20 minutes ago with a 15 minute lifetime.
	ts.offset.Store(int64(-20 * time.Minute))
	_, expired := ts.user("expired-" + u.Email)
	ts.offset.Store(0)
	out["expired"] = expired
	if a := ts.do("GET", "/auth/me", expired, nil); a.status != 401 {
		t.Fatalf("expired token accepted: %d", a.status)
	}

	// The real token's header and claims, re-signed by a stranger's key.
	_, good := ts.user("forged-" + u.Email)
	parts := strings.Split(good, ".")
	var hdr map[string]any
	var claims jwt.MapClaims
	decodeSeg(t, parts[0], &hdr)
	decodeSeg(t, parts[1], &claims)
	claims["sub"] = u.ID
	claims["email"] = u.Email
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	jt := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	jt.Header["kid"] = hdr["kid"]
	out["other-key"], err = jt.SignedString(other)
	if err != nil {
		t.Fatal(err)
	}
	none := jwt.NewWithClaims(jwt.SigningMethodNone, claims)
	none.Header["kid"] = hdr["kid"]
	out["alg-none"], err = none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	// The good token itself works, so the refusals above are about the forgery.
	if a := ts.do("GET", "/auth/me", good, nil); a.status != 200 {
		t.Fatalf("good token refused: %d %s", a.status, a.body)
	}
	return out
}

func decodeSeg(t *testing.T, seg string, v any) {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

// doStream opens an event stream: for a 200 it reads the first event and
// hangs up (answer.body is that event); otherwise it reads the problem.
func (ts *testServer) doStream(path, token string) answer {
	ts.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp := ts.send(ctx, "GET", path, token, nil, nil)
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			ts.t.Fatal(err)
		}
		return answer{status: resp.StatusCode, header: resp.Header, body: b}
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		ts.t.Fatalf("stream content type %q", ct)
	}
	var first bytes.Buffer
	br := bufio.NewReader(resp.Body)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			ts.t.Fatalf("read the first event: %v (%q)", err, first.String())
		}
		if line == "\n" {
			break
		}
		first.WriteString(line)
	}
	if !strings.HasPrefix(first.String(), "event: workspace.status\n") {
		ts.t.Fatalf("the first event is not the workspace status: %q", first.String())
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: first.Bytes()}
}
