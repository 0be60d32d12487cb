package server

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestBadRequests sends each kind of bad input to the real endpoints and
// checks the exact status, problem type and the field named.
func TestBadRequests(t *testing.T) {
	ts := startServer(t, "")
	_, tok := ts.user("owner@example.com")
	orgs := "/api/v1/organizations"
	org := ts.do("POST", orgs, tok, map[string]string{"name": "Acme"}).id(t, 201)
	wss := orgs + "/" + org + "/workspaces"
	ws := ts.do("POST", wss, tok, map[string]string{"name": "web"}).id(t, 202)
	projects := wss + "/" + ws + "/projects"
	groups := wss + "/" + ws + "/groups"
	if a := ts.do("POST", projects, tok, map[string]string{"name": "frontend"}); a.status != 201 {
		t.Fatalf("create project: %d %s", a.status, a.body)
	}
	var g1, g2 struct{ ID string }
	ts.do("POST", groups, tok, map[string]string{"name": "a"}).json(t, &g1)
	ts.do("POST", groups, tok, map[string]string{"name": "b", "parent_id": g1.ID}).json(t, &g2)

	long := strings.Repeat("x", 101)
	tests := []struct {
		name, method, path string
		body               any
		status             int
		typ, field         string
	}{
		{"malformed json", "POST", orgs, `{"name": "x"`, 400, "bad-request", ""},
		{"not json at all", "POST", orgs, `name=x`, 400, "bad-request", ""},
		{"unknown field", "POST", orgs, `{"name":"x","colour":"red"}`, 422, "validation", "colour"},
		{"wrong type", "POST", wss, `{"name":1}`, 422, "validation", "name"},
		{"missing name", "POST", orgs, `{}`, 422, "validation", "name"},
		{"missing project name", "POST", projects, `{"quota":{"cpu":"1"}}`, 422, "validation", "name"},
		{"over-long org name", "POST", orgs, map[string]string{"name": long}, 422, "validation", "name"},
		{"over-long workspace name", "POST", wss, map[string]string{"name": strings.Repeat("a", 64)}, 422, "validation", "name"},
		{"invalid dns workspace", "POST", wss, map[string]string{"name": "Web_1"}, 422, "validation", "name"},
		{"invalid dns project", "POST", projects, map[string]string{"name": "-front"}, 422, "validation", "name"},
		{"reserved project", "POST", projects, map[string]string{"name": "kube-system"}, 422, "validation", "name"},
		{"invalid slug", "POST", orgs, map[string]string{"name": "x", "slug": "Not A Slug"}, 422, "validation", "slug"},
		{"bad billing email", "POST", orgs, map[string]string{"name": "x", "billing_email": "nope"}, 422, "validation", "billing_email"},
		{"bad plan", "POST", wss, map[string]string{"name": "w2", "plan": "gold"}, 422, "validation", "plan"},
		{"bad quota", "POST", projects, map[string]any{"name": "p2", "quota": map[string]string{"memory": "lots"}}, 422, "validation", "quota.memory"},
		{"negative pods", "POST", projects, map[string]any{"name": "p3", "quota": map[string]int{"pods": -1}}, 422, "validation", "quota.pods"},
		{"unknown parent", "POST", projects, map[string]string{"name": "p4", "parent_id": "nope"}, 422, "validation", "parent_id"},
		{"privileged pod security", "POST", projects, map[string]string{"name": "p5", "pod_security": "privileged"}, 422, "validation", "pod_security"},
		{"pod security of another case", "POST", projects, map[string]string{"name": "p6", "pod_security": "Restricted"}, 422, "validation", "pod_security"},
		{"patch privileged pod security", "PATCH", projects + "/frontend", map[string]string{"pod_security": "privileged"}, 422, "validation", "pod_security"},
		{"duplicate org slug", "POST", orgs, map[string]string{"name": "Acme"}, 409, "conflict", "slug"},
		{"duplicate workspace", "POST", wss, map[string]string{"name": "web"}, 409, "conflict", "name"},
		{"duplicate project", "POST", projects, map[string]string{"name": "frontend"}, 409, "conflict", "name"},
		{"duplicate group", "POST", groups, map[string]string{"name": "a"}, 409, "conflict", "name"},
		{"group cycle", "PATCH", groups + "/" + g1.ID, map[string]string{"parent_id": g2.ID}, 422, "validation", "parent_id"},
		{"group own parent", "PATCH", groups + "/" + g1.ID, map[string]string{"parent_id": g1.ID}, 422, "validation", "parent_id"},
		{"bad role", "POST", wss + "/" + ws + "/rolebindings", map[string]string{"group_id": g1.ID, "role": "god"}, 422, "validation", "role"},
		{"bad limit", "GET", orgs + "?limit=0", nil, 422, "validation", "limit"},
		{"bad cursor", "GET", orgs + "?cursor=garbage", nil, 400, "validation", "cursor"},
		{"unknown org", "GET", orgs + "/00000000-0000-0000-0000-000000000000", nil, 404, "not-found", ""},
		{"sql in id", "GET", orgs + "/x'%20OR%20'1'='1", nil, 404, "not-found", ""},
		{"bad login body", "POST", "/auth/login", `{"email":"a@b.c"}`, 422, "validation", "password"},
		{"bad session kind", "POST", "/auth/login", map[string]string{"email": "owner@example.com", "password": "x", "session": "localStorage"}, 422, "validation", "session"},
		{"wrong password", "POST", "/auth/login", map[string]string{"email": "owner@example.com", "password": "wrong-password"}, 401, "unauthorized", ""},
		{"setup after users exist", "POST", "/auth/setup", map[string]string{"token": "x", "email": "b@example.com", "password": "long-enough"}, 409, "conflict", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := ts.do(tt.method, tt.path, tok, tt.body)
			if a.status != tt.status {
				t.Fatalf("status %d, want %d: %s", a.status, tt.status, a.body)
			}
			p := a.problem(t)
			if p["type"] != "https://hexabase.ai/problems/"+tt.typ {
				t.Fatalf("type %v, want %s", p["type"], tt.typ)
			}
			if tt.field != "" {
				errs, _ := p["errors"].([]any)
				if len(errs) == 0 || errs[0].(map[string]any)["field"] != tt.field {
					t.Fatalf("want field %q named: %s", tt.field, a.body)
				}
			}
			if p["detail"] == "" || p["request_id"] == "" {
				t.Fatalf("problem lacks detail or request id: %s", a.body)
			}
		})
	}
}

// TestOpenAPIDocument checks the served document lists every route the
// router serves, and that api/openapi.json (committed for readers and
// client generators) is up to date (-update rewrites it).
func TestOpenAPIDocument(t *testing.T) {
	ts := startServer(t, "")
	a := ts.do("GET", "/api/v1/openapi.json", "", nil)
	if a.status != 200 {
		t.Fatalf("status %d", a.status)
	}
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	a.json(t, &doc)
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	n := 0
	for _, rt := range ts.api.Routes() {
		n++
		if _, ok := doc.Paths[rt.Path][strings.ToLower(rt.Method)]; !ok {
			t.Errorf("route %s %s is missing from the OpenAPI document", rt.Method, rt.Path)
		}
		// And the router really serves what the document lists.
		if a := ts.do(rt.Method, strings.NewReplacer("{", "x", "}", "x").Replace(rt.Path), "", nil); a.status == 405 || (a.status == 404 && strings.Contains(string(a.body), "no such route")) {
			t.Errorf("documented route %s %s is not served: %d", rt.Method, rt.Path, a.status)
		}
	}
	if n < 40 {
		t.Fatalf("only %d routes", n)
	}

	want, err := OpenAPIDocument()
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("..", "..", "api", "openapi.json")
	if *update {
		if err := os.WriteFile(golden, append(want, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run: go test ./internal/server -run TestOpenAPIDocument -update)", err)
	}
	if strings.TrimSpace(string(got)) != strings.TrimSpace(string(want)) {
		t.Fatalf("api/openapi.json is stale: run make openapi")
	}
	var served, committed any
	_ = json.Unmarshal(a.body, &served)
	_ = json.Unmarshal(got, &committed)
	sb, _ := json.Marshal(served)
	cb, _ := json.Marshal(committed)
	if string(sb) != string(cb) {
		t.Fatalf("the served document differs from api/openapi.json")
	}
}

// TestSignInFlow walks first-run setup, login, me, refresh with rotation,
// logout, health, readiness and metrics.
func TestSignInFlow(t *testing.T) {
	ts := startServer(t, "")
	if ts.SetupToken == "" {
		t.Fatal("no setup token on first start")
	}
	if a := ts.do("POST", "/auth/setup", "", map[string]string{"token": "wrong", "email": "root@example.com", "password": "correct-horse"}); a.status != 422 {
		t.Fatalf("wrong setup token: %d %s", a.status, a.body)
	}
	if a := ts.do("POST", "/auth/setup", "", map[string]string{"token": ts.SetupToken, "email": "root@example.com", "password": "short"}); a.status != 422 {
		t.Fatalf("short password: %d %s", a.status, a.body)
	}
	a := ts.do("POST", "/auth/setup", "", map[string]string{"token": ts.SetupToken, "email": "root@example.com", "password": "correct-horse"})
	if a.status != 201 {
		t.Fatalf("setup: %d %s", a.status, a.body)
	}
	if a := ts.do("POST", "/auth/setup", "", map[string]string{"token": ts.SetupToken, "email": "two@example.com", "password": "correct-horse"}); a.status != 409 {
		t.Fatalf("second setup: %d %s", a.status, a.body)
	}
	a = ts.do("POST", "/auth/login", "", map[string]string{"email": "ROOT@example.com", "password": "correct-horse"})
	if a.status != 200 || a.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("login: %d %v %s", a.status, a.header, a.body)
	}
	var tp struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		TokenType    string `json:"token_type"`
		ExpiresIn    int    `json:"expires_in"`
	}
	a.json(t, &tp)
	if tp.TokenType != "Bearer" || tp.ExpiresIn < 899 || tp.ExpiresIn > 900 || tp.RefreshToken == "" {
		t.Fatalf("token answer %+v", tp)
	}
	var me struct {
		ID, Email     string
		PlatformAdmin bool `json:"platform_admin"`
	}
	ts.do("GET", "/auth/me", tp.AccessToken, nil).json(t, &me)
	if me.Email != "root@example.com" || !me.PlatformAdmin {
		t.Fatalf("me: %+v", me)
	}
	var claims map[string]any
	decodeSeg(t, strings.Split(tp.AccessToken, ".")[1], &claims)
	for _, c := range []string{"sub", "email", "sid", "iss", "aud", "exp", "iat", "jti"} {
		if _, ok := claims[c]; !ok {
			t.Errorf("access token lacks claim %q", c)
		}
	}
	var jwks struct{ Keys []map[string]any }
	ts.do("GET", "/.well-known/jwks.json", "", nil).json(t, &jwks)
	if len(jwks.Keys) == 0 || jwks.Keys[0]["alg"] != "RS256" {
		t.Fatalf("jwks: %+v", jwks)
	}

	// Refresh rotates: the old refresh token stops working.
	var tp2 struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	ts.do("POST", "/auth/refresh", "", map[string]string{"refresh_token": tp.RefreshToken}).decode(t, 200, &tp2)
	if tp2.RefreshToken == tp.RefreshToken {
		t.Fatal("refresh token did not rotate")
	}
	if a := ts.do("POST", "/auth/refresh", "", map[string]string{"refresh_token": tp.RefreshToken}); a.status != 401 {
		t.Fatalf("spent refresh token: %d %s", a.status, a.body)
	}

	// A fresh session, logged out, refuses its tokens.
	var tp3 struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	ts.do("POST", "/auth/login", "", map[string]string{"email": "root@example.com", "password": "correct-horse"}).json(t, &tp3)
	if a := ts.do("POST", "/auth/logout", tp3.AccessToken, nil); a.status != 204 {
		t.Fatalf("logout: %d %s", a.status, a.body)
	}
	if a := ts.do("POST", "/auth/refresh", "", map[string]string{"refresh_token": tp3.RefreshToken}); a.status != 401 {
		t.Fatalf("refresh after logout: %d", a.status)
	}

	if a := ts.do("GET", "/healthz", "", nil); a.status != 200 {
		t.Fatalf("healthz %d", a.status)
	}
	if a := ts.do("GET", "/readyz", "", nil); a.status != 200 || !strings.Contains(string(a.body), `"database":"ok"`) {
		t.Fatalf("readyz %d %s", a.status, a.body)
	}
	a = ts.metrics()
	if a.status != 200 || !strings.Contains(string(a.body), `hks_http_request_duration_seconds_bucket{code="200",method="POST",route="POST /auth/login"`) {
		t.Fatalf("metrics lack per-route latency: %d", a.status)
	}
}

// TestWorkspaceEventsWired follows a new workspace's events through the
// assembled server: the current status first, then (with since) the
// stored workspace.status event of its creation.
func TestWorkspaceEventsWired(t *testing.T) {
	ts := startServer(t, "")
	_, tok := ts.user("owner@example.com")
	org := ts.do("POST", "/api/v1/organizations", tok, map[string]string{"name": "Acme"}).id(t, 201)
	since := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	ws := ts.do("POST", "/api/v1/organizations/"+org+"/workspaces", tok, map[string]string{"name": "web"}).id(t, 202)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL()+"/api/v1/organizations/"+org+"/workspaces/"+ws+"/events?since="+since, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := ts.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
	br := bufio.NewReader(resp.Body)
	var frames []string
	var cur strings.Builder
	pending := func(f string) bool {
		return strings.Contains(f, "id: ") && strings.Contains(f, "event: workspace.status\n") && strings.Contains(f, `"status":"pending"`)
	}
	for len(frames) == 0 || !pending(frames[len(frames)-1]) {
		if len(frames) > 10 {
			t.Fatalf("no stored pending status among %q", frames)
		}
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("read: %v (got %q)", err, frames)
		}
		if line == "\n" {
			frames = append(frames, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteString(line)
	}
	// The snapshot first (no id), then the stored events of the creation
	// in the order they were published: the provisioning task queued
	// before the workspace's pending status.
	if f := frames[0]; strings.Contains(f, "id: ") || !strings.Contains(f, "event: workspace.status\n") || !strings.Contains(f, `"resource_id":"`+ws+`"`) {
		t.Fatalf("snapshot: %q", f)
	}
	if f := frames[1]; !strings.Contains(f, "id: ") || !strings.Contains(f, "event: task.status\n") || !strings.Contains(f, `"kind":"workspace.provision"`) {
		t.Fatalf("task event: %q", f)
	}
}
