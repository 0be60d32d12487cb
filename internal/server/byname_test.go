package server

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/httpapi"
)

// resolvedParams are the path parameters the server takes by id or by
// name (a slug for organizations).
var resolvedParams = []string{"org", "workspace", "project", "group"}

var (
	uuidShape = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	jwtShape  = regexp.MustCompile(`^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$`)
)

// refs are the references to a fixture's objects in a path.
func (f fixture) refs(byName bool, slug string) map[string]string {
	if byName {
		return map[string]string{"org": slug, "workspace": "ws", "project": "frontend", "group": "readers"}
	}
	return map[string]string{"org": f.org, "workspace": f.ws, "project": f.project, "group": f.group}
}

// normalize makes an answer of fixture f comparable with the same answer
// of another fixture: f's ids and slug become placeholders, and what
// differs from call to call (new ids, times, tokens, request ids) a mark
// of its kind.
func normalize(t *testing.T, body []byte, f fixture, slug string) string {
	t.Helper()
	s := string(body)
	for placeholder, v := range map[string]string{"<org>": f.org, "<ws>": f.ws, "<project>": f.project, "<group>": f.group,
		"<binding>": f.binding, "<invitation>": f.invitation, "<task>": f.task, "<chat>": f.chat, "<plan>": f.plan, "<slug>": slug} {
		if v != "" {
			s = strings.ReplaceAll(s, v, placeholder)
		}
	}
	if !json.Valid([]byte(s)) {
		// An event stream or text: its data lines hold JSON.
		var out []string
		for _, line := range strings.Split(s, "\n") {
			if d, ok := strings.CutPrefix(line, "data: "); ok && json.Valid([]byte(d)) {
				line = "data: " + normalize(t, []byte(d), fixture{}, "")
			}
			out = append(out, line)
		}
		return strings.Join(out, "\n")
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("answer: %v: %s", err, s)
	}
	var walk func(key string, v any) any
	walk = func(key string, v any) any {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				x[k] = walk(k, e)
			}
		case []any:
			for i, e := range x {
				x[i] = walk(key, e)
			}
		case string:
			if _, err := time.Parse(time.RFC3339Nano, x); err == nil {
				return "<time>"
			}
			switch {
			case key == "request_id":
				return "<request id>"
			case key == "token" && x != "":
				// A secret made for this call.
				return "<token>"
			case key == "instance":
				// The path as the request gave it.
				return "<request path>"
			case uuidShape.MatchString(x):
				return "<new id>"
			case jwtShape.MatchString(x):
				return "<token>"
			}
		}
		return v
	}
	b, err := json.Marshal(walk("", v))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// callEndpoint calls endpoint e on fixture f as token, with refs for the
// resolved parameters ({org}, {workspace}, {project}, {group}).
func (ts *testServer) callEndpoint(e endpoint, f fixture, p people, refs map[string]string, token string) answer {
	ts.t.Helper()
	r := []string{"{binding}", f.binding, "{chat}", f.chat, "{plan}", f.plan, "{app}", "web", "{cronjob}", "tick", "{invitation}", f.invitation, "{task}", f.task, "{user}", p.extra.ID,
		"{function}", "hello", "{alias}", "stable", "{version}", "1", "{invocation}", f.invocation, "{trigger}", "nightly", "{topic}", "orders.created"}
	for _, param := range resolvedParams {
		r = append(r, "{"+param+"}", refs[param])
	}
	path := strings.NewReplacer(r...).Replace(e.path)
	if strings.HasSuffix(e.path, "/events") {
		return ts.doStream(path, token)
	}
	var body any
	if e.body != nil {
		body = e.body(f, p)
	}
	return ts.do(e.method, path, token, body)
}

// TestEveryRouteByIDAndByName calls every route that takes {org},
// {workspace}, {project} or {group} on two identical fixtures, once with
// ids and once with names (the slug for the organization): both answer
// the same status and the same body (up to the fixture's own ids and what
// differs on every call), the call by name is not a 404, and an unknown
// name in any of those parameters is a 404.
func TestEveryRouteByIDAndByName(t *testing.T) {
	ts := startServer(t, "")
	p, tok := ts.people()
	kubeconfigStatus := 0
	{
		f := ts.fixture(p, true, p.outsider.Email)
		kubeconfigStatus = ts.do("GET", "/api/v1/organizations/"+f.org+"/workspaces/"+f.ws+"/kubeconfig", tok["owner"], nil).status
	}
	endpoints := map[string]endpoint{}
	for _, e := range apiEndpoints(kubeconfigStatus) {
		path, _, _ := strings.Cut(e.path, "?")
		endpoints[e.method+" "+path] = e
	}
	slugOf := func(f fixture) string {
		o, err := ts.st.GetOrganization(t.Context(), f.org)
		if err != nil {
			ts.t.Fatal(err)
		}
		return o.Slug
	}
	call := func(e endpoint, f fixture, refs map[string]string) answer {
		return ts.callEndpoint(e, f, p, refs, tok["owner"])
	}
	n := 0
	for _, rt := range ts.api.Routes() {
		var params []string
		for _, param := range resolvedParams {
			if strings.Contains(rt.Path, "{"+param+"}") {
				params = append(params, param)
			}
		}
		if len(params) == 0 {
			continue
		}
		n++
		name := rt.Method + " " + rt.Path
		e, ok := endpoints[name]
		if !ok {
			t.Errorf("%s takes {%s} and has no request in apiEndpoints", name, strings.Join(params, "}, {"))
			continue
		}
		t.Run(name, func(t *testing.T) {
			ts.t = t
			fid, fname := ts.fixture(p, !e.noWorkspace, p.outsider.Email), ts.fixture(p, !e.noWorkspace, p.outsider.Email)
			idSlug, slug := slugOf(fid), slugOf(fname)
			byID := call(e, fid, fid.refs(false, ""))
			byName := call(e, fname, fname.refs(true, slug))
			if byID.status == 404 || byName.status == 404 {
				t.Fatalf("by id %d, by name %d: %s", byID.status, byName.status, byName.body)
			}
			if byID.status != byName.status {
				t.Fatalf("by id %d: %s\nby name %d: %s", byID.status, byID.body, byName.status, byName.body)
			}
			if a, b := normalize(t, byID.body, fid, idSlug), normalize(t, byName.body, fname, slug); a != b {
				t.Fatalf("answers differ:\nby id:   %s\nby name: %s", a, b)
			}
			for _, param := range params {
				f := ts.fixture(p, !e.noWorkspace, p.outsider.Email)
				refs := f.refs(true, slugOf(f))
				refs[param] = "no-such-" + param
				if a := call(e, f, refs); a.status != 404 {
					t.Errorf("unknown {%s}: %d, want 404: %s", param, a.status, a.body)
				}
			}
		})
	}
	if n < 50 || !slices.ContainsFunc(ts.api.Routes(), func(rt httpapi.Route) bool { return strings.Contains(rt.Path, "{group}") }) {
		t.Fatalf("only %d routes take a resolved parameter", n)
	}
}
