package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/hexabase/hexabase-ai/internal/authz"
	"github.com/hexabase/hexabase-ai/internal/kube"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/tenancy"
)

// offlineTarget is a Target of a developer in projects shop and other of
// a workspace whose "cluster" is a test double: an HTTP server that
// answers every request 503 and counts them in *hits (nil: not counted),
// for the checks that happen before anything reaches a cluster.
func offlineTarget(t *testing.T, hits *atomic.Int64) *Target {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits != nil {
			hits.Add(1)
		}
		http.Error(w, "no cluster in this test", http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	cfg := &rest.Config{Host: srv.URL}
	warnings := &kube.Warnings{}
	cfg.WarningHandlerWithContext = warnings
	projects := []store.Project{{ID: "p1", Name: "shop"}, {ID: "p2", Name: "other"}, {ID: "p3", Name: "hidden"}}
	acc := authz.WorkspaceAccess{Projects: map[string]authz.Level{"p1": authz.Develop, "p2": authz.View}}
	return &Target{
		Client:  &kube.Client{Kube: kubernetes.NewForConfigOrDie(cfg), Dynamic: dynamic.NewForConfigOrDie(cfg), Config: cfg, Warnings: warnings},
		Scope:   tenancy.WorkspaceScope{Access: acc, Projects: projects},
		Project: "shop",
	}
}

func TestRegistryValidation(t *testing.T) {
	read := func(context.Context, *Target, json.RawMessage) (Result, error) { return Result{}, nil }
	propose := func(context.Context, *Target, json.RawMessage) (Proposal, error) { return Proposal{}, nil }
	schema := func() map[string]any { return object(map[string]any{"name": str("x")}) }
	ok := Tool{Name: "good_tool", Description: "d", Effect: Read, Schema: schema(), Read: read}
	with := func(f func(*Tool)) Tool {
		t := ok
		t.Schema = schema()
		f(&t)
		return t
	}
	cases := []struct {
		name  string
		tools []Tool
		want  string // "" = accepted
	}{
		{"a read tool", []Tool{ok}, ""},
		{"a write tool", []Tool{with(func(t *Tool) { t.Effect, t.Read, t.Propose = Write, nil, propose })}, ""},
		{"upper case", []Tool{with(func(t *Tool) { t.Name = "GoodTool" })}, "snake_case"},
		{"dashes", []Tool{with(func(t *Tool) { t.Name = "good-tool" })}, "snake_case"},
		{"empty name", []Tool{with(func(t *Tool) { t.Name = "" })}, "snake_case"},
		{"leading underscore", []Tool{with(func(t *Tool) { t.Name = "_tool" })}, "snake_case"},
		{"double underscore", []Tool{with(func(t *Tool) { t.Name = "good__tool" })}, "snake_case"},
		{"too long", []Tool{with(func(t *Tool) { t.Name = strings.Repeat("a", 65) })}, "snake_case"},
		{"no description", []Tool{with(func(t *Tool) { t.Description = " " })}, "description"},
		{"no schema", []Tool{with(func(t *Tool) { t.Schema = nil })}, "schema is required"},
		{"schema not an object", []Tool{with(func(t *Tool) { t.Schema["type"] = "string" })}, "type object"},
		{"schema without properties", []Tool{with(func(t *Tool) { delete(t.Schema, "properties") })}, "properties"},
		{"schema open to more", []Tool{with(func(t *Tool) { delete(t.Schema, "additionalProperties") })}, "additionalProperties"},
		{"schema not JSON", []Tool{with(func(t *Tool) { t.Schema["x"] = func() {} })}, "schema:"},
		{"read tool with Propose", []Tool{with(func(t *Tool) { t.Propose = propose })}, "read tool has Read and no Propose"},
		{"read tool without Read", []Tool{with(func(t *Tool) { t.Read = nil })}, "read tool has Read and no Propose"},
		{"write tool with Read", []Tool{with(func(t *Tool) { t.Effect, t.Propose = Write, propose })}, "write tool has Propose and no Read"},
		{"write tool without Propose", []Tool{with(func(t *Tool) { t.Effect, t.Read = Write, nil })}, "write tool has Propose and no Read"},
		{"no effect", []Tool{with(func(t *Tool) { t.Effect = "" })}, "neither read nor write"},
		{"other effect", []Tool{with(func(t *Tool) { t.Effect = "readwrite" })}, "neither read nor write"},
		{"duplicate", []Tool{ok, ok}, "registered twice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := NewRegistry(c.tools...)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("NewRegistry: %v, want an error with %q", err, c.want)
			case c.want == "" && len(r.List()) != len(c.tools):
				t.Fatalf("List: %d tools, want %d", len(r.List()), len(c.tools))
			}
		})
	}
	// Add checks against what is registered, and adds nothing on refusal.
	r, err := NewRegistry(ok)
	if err != nil {
		t.Fatal(err)
	}
	other := with(func(t *Tool) { t.Name = "other_tool" })
	if err := r.Add(other, ok); err == nil || !strings.Contains(err.Error(), "registered twice") {
		t.Errorf("Add of a registered name: %v", err)
	}
	if _, found := r.Get("other_tool"); found {
		t.Error("a refused Add added other_tool")
	}
}

// TestBuiltinTools: the builtin tools register, each schema's required
// arguments are among its properties, and the tools are the ones the
// issue names, each with the right effect.
func TestBuiltinTools(t *testing.T) {
	r, err := NewRegistry(Builtin()...)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Effect{
		"list_resources": Read, "get_resource": Read, "describe": Read, "pod_logs": Read, "events": Read, "diagnose": Read,
		"list_projects": Read, "cronjob_runs": Read,
		"scale": Write, "restart": Write, "set_image": Write, "cronjob_create": Write, "cronjob_suspend": Write, "cronjob_trigger": Write, "delete": Write,
	}
	var names []string
	for _, tool := range r.List() {
		names = append(names, tool.Name)
		if e, ok := want[tool.Name]; !ok || e != tool.Effect {
			t.Errorf("tool %s: effect %s, want %s", tool.Name, tool.Effect, e)
		}
		props := tool.Schema["properties"].(map[string]any)
		req, _ := tool.Schema["required"].([]string)
		for _, f := range req {
			if _, ok := props[f]; !ok {
				t.Errorf("tool %s requires %s, which is not a property", tool.Name, f)
			}
		}
	}
	if len(names) != len(want) {
		t.Errorf("tools %v, want %d", names, len(want))
	}
	for i := 1; i < len(names); i++ {
		if names[i-1] >= names[i] {
			t.Errorf("List is not sorted: %v", names)
		}
	}
}

// TestToolArguments: bad arguments to each tool are an *ArgError naming
// the field, found before anything is sent to the cluster.
func TestToolArguments(t *testing.T) {
	cases := []struct{ tool, args, field string }{
		{"list_resources", `{}`, "kind"},
		{"list_resources", `{"kind":5}`, "kind"},
		{"list_resources", `{"kind":"pods","limit":0}`, "limit"},
		{"list_resources", `{"kind":"pods","limit":201}`, "limit"},
		{"list_resources", `{"kind":"pods","label_selector":"a in ((b"}`, "label_selector"},
		{"list_resources", `{"kind":"pods","project":"hidden"}`, "project"},
		{"list_resources", `{"kind":"pods","project":"nope"}`, "project"},
		{"list_resources", `{"kind":"pods","namespace":"kube-system"}`, "namespace"},
		{"list_resources", `{"kind":"pods/../secrets"}`, "kind"},
		{"list_resources", `[1]`, ""},
		{"list_resources", `{"kind":"pods"`, ""},
		{"get_resource", `{"kind":"pods"}`, "name"},
		{"get_resource", `{"name":"x"}`, "kind"},
		{"get_resource", `{"kind":"pods","name":"a/b"}`, "name"},
		{"get_resource", `{"kind":"pods","name":"x","project":"kube-system"}`, "project"},
		{"describe", `{"kind":"pods","name":""}`, "name"},
		{"describe", `{"kind":"pods","name":"x","extra":true}`, "extra"},
		{"pod_logs", `{}`, "pod"},
		{"pod_logs", `{"pod":"p","tail_lines":501}`, "tail_lines"},
		{"pod_logs", `{"pod":"p","tail_lines":0}`, "tail_lines"},
		{"pod_logs", `{"pod":"p","previous":"yes"}`, "previous"},
		{"pod_logs", `{"pod":"p","project":"hidden"}`, "project"},
		{"events", `{"limit":1000}`, "limit"},
		{"events", `{"project":"hidden"}`, "project"},
		{"events", `{"name":"a/b"}`, "name"},
		{"events", `{"warnings_only":1}`, "warnings_only"},
		{"diagnose", `{"project":"hidden"}`, "project"},
		{"diagnose", `{"namespace":"x"}`, "namespace"},
		{"list_projects", `{"project":"shop"}`, "project"},
		{"cronjob_runs", `{}`, "name"},
		{"cronjob_runs", `{"name":"x","limit":0}`, "limit"},
		{"cronjob_runs", `{"name":"x","project":"hidden"}`, "project"},
		{"scale", `{"name":"web"}`, "replicas"},
		{"scale", `{"name":"web","replicas":1001}`, "replicas"},
		{"scale", `{"name":"web","replicas":-1}`, "replicas"},
		{"scale", `{"name":"web","replicas":"5"}`, "replicas"},
		{"scale", `{"name":"web","replicas":2.5}`, "replicas"},
		{"scale", `{"replicas":2}`, "name"},
		{"scale", `{"name":"web","replicas":2,"kind":"daemonset"}`, "kind"},
		{"scale", `{"name":"web","replicas":2,"project":"other2"}`, "project"},
		{"restart", `{}`, "name"},
		{"restart", `{"name":"web","kind":"pod"}`, "kind"},
		{"set_image", `{"name":"web"}`, "image"},
		{"set_image", `{"name":"web","image":"Not An Image"}`, "image"},
		{"set_image", `{"name":"web","image":"nginx:1.27 && rm -rf /"}`, "image"},
		{"set_image", `{"image":"nginx"}`, "name"},
		{"cronjob_create", `{"name":"n","schedule":"* * *","image":"busybox"}`, "schedule"},
		{"cronjob_create", `{"name":"n","schedule":"61 * * * *","image":"busybox"}`, "schedule"},
		{"cronjob_create", `{"name":"n","schedule":"@daily","image":"busybox","time_zone":"Mars/Olympus"}`, "time_zone"},
		{"cronjob_create", `{"name":"N_bad","schedule":"@daily","image":"busybox"}`, "name"},
		{"cronjob_create", `{"name":"` + strings.Repeat("n", 53) + `","schedule":"@daily","image":"busybox"}`, "name"},
		{"cronjob_create", `{"name":"n","schedule":"@daily"}`, "image"},
		{"cronjob_create", `{"name":"n","schedule":"@daily","image":"busybox","command":"echo"}`, "command"},
		{"cronjob_create", `{"name":"n","schedule":"@daily","image":"busybox","project":"hidden"}`, "project"},
		{"cronjob_suspend", `{"name":"n"}`, "suspend"},
		{"cronjob_suspend", `{"suspend":true}`, "name"},
		{"cronjob_suspend", `{"name":"n","suspend":"true"}`, "suspend"},
		{"cronjob_trigger", `{}`, "name"},
		{"cronjob_trigger", `{"name":"Bad Name"}`, "name"},
		{"delete", `{"name":"x"}`, "kind"},
		{"delete", `{"kind":"pods"}`, "name"},
		{"delete", `{"kind":"pods","name":"x","project":"hidden"}`, "project"},
		{"delete", `{"kind":"pods","name":"x","force":true}`, "force"},
	}
	r, err := NewRegistry(Builtin()...)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, c := range cases {
		seen[c.tool] = true
		t.Run(c.tool+" "+c.args, func(t *testing.T) {
			var hits atomic.Int64
			tgt := offlineTarget(t, &hits)
			tool, ok := r.Get(c.tool)
			if !ok {
				t.Fatalf("no tool %s", c.tool)
			}
			var err error
			if tool.Effect == Read {
				_, err = r.Call(context.Background(), tgt, c.tool, json.RawMessage(c.args))
			} else {
				_, err = r.Propose(context.Background(), tgt, c.tool, json.RawMessage(c.args))
			}
			var ae *ArgError
			if !errors.As(err, &ae) || ae.Field != c.field {
				t.Fatalf("%s(%s): %v, want an ArgError on %q", c.tool, c.args, err, c.field)
			}
			if hits.Load() != 0 {
				t.Errorf("%s(%s) reached the cluster (%d requests) before refusing its arguments", c.tool, c.args, hits.Load())
			}
		})
	}
	for _, tool := range r.List() {
		if !seen[tool.Name] {
			t.Errorf("tool %s has no case in TestToolArguments", tool.Name)
		}
	}
}

// TestNamespace: a project argument resolves only among the projects the
// caller sees; "" is the chat's project, and with none the workspace.
func TestNamespace(t *testing.T) {
	tgt := offlineTarget(t, nil)
	for _, c := range []struct {
		chat, arg, want, errField string
	}{
		{"shop", "", "shop", ""},
		{"shop", "other", "other", ""},
		{"", "", "", ""},
		{"shop", "hidden", "", "project"},
		{"shop", "kube-system", "", "project"},
		{"hidden", "", "", "project"},
	} {
		tgt.Project = c.chat
		ns, err := tgt.Namespace(c.arg)
		var ae *ArgError
		switch {
		case c.errField != "" && (!errors.As(err, &ae) || ae.Field != c.errField):
			t.Errorf("chat %q, Namespace(%q): %v, want an ArgError on %s", c.chat, c.arg, err, c.errField)
		case c.errField == "" && (err != nil || ns != c.want):
			t.Errorf("chat %q, Namespace(%q) = %q, %v, want %q", c.chat, c.arg, ns, err, c.want)
		}
	}
	tgt.Project = ""
	nss, err := tgt.namespaces("")
	if err != nil || strings.Join(nss, ",") != "other,shop" {
		t.Errorf("the workspace's namespaces: %v %v, want other,shop", nss, err)
	}
}

// TestCallScrubsAndCaps: whatever a tool answers, Call scrubs it and
// caps it at MaxOutput with a visible mark.
func TestCallScrubsAndCaps(t *testing.T) {
	leaky := Tool{Name: "leaky", Description: "answers a certificate and a lot", Effect: Read, Schema: object(map[string]any{}),
		Read: func(context.Context, *Target, json.RawMessage) (Result, error) {
			return Result{Text: "ca: " + testPEM + "\n" + strings.Repeat("x", 40<<10)}, nil
		}}
	r, err := NewRegistry(leaky)
	if err != nil {
		t.Fatal(err)
	}
	tgt := offlineTarget(t, nil)
	res, err := r.Call(context.Background(), tgt, "leaky", nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(res.Text, "BEGIN CERTIFICATE") || strings.Contains(res.Text, "MIIB") {
		t.Errorf("Call let a certificate out: %.200q", res.Text)
	}
	if len(res.Text) > DefaultMaxOutput+64 || !strings.Contains(res.Text, "[truncated: ") {
		t.Errorf("Call: %d bytes, want at most %d with a truncation mark", len(res.Text), DefaultMaxOutput)
	}
	r.SetMaxOutput(1000)
	if res, _ := r.Call(context.Background(), tgt, "leaky", nil); len(res.Text) > 1064 {
		t.Errorf("SetMaxOutput(1000): %d bytes", len(res.Text))
	}
}

func TestHash(t *testing.T) {
	h := Hash("PUT", "/api/v1/x", []byte("{}"))
	if len(h) != 64 {
		t.Fatalf("Hash: %q", h)
	}
	// Length prefixes: moving bytes between the parts changes the hash.
	for _, other := range []string{Hash("PU", "T/api/v1/x", []byte("{}")), Hash("PUT", "/api/v1/x{", []byte("}")), Hash("PUT", "/api/v1/x", nil), Hash("POST", "/api/v1/x", []byte("{}"))} {
		if other == h {
			t.Error("two requests share a hash")
		}
	}
	if Hash("PUT", "/api/v1/x", []byte("{}")) != h {
		t.Error("Hash is not deterministic")
	}
}

func TestUnifiedDiff(t *testing.T) {
	a := "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nreplicas: 2\nk\n"
	b := "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nreplicas: 5\nk\nnew\n"
	got := unifiedDiff("before", "after", a, b)
	want := "--- before\n+++ after\n@@ -8,5 +8,6 @@\n h\n i\n j\n-replicas: 2\n+replicas: 5\n k\n+new\n"
	if got != want {
		t.Errorf("diff:\n%s\nwant:\n%s", got, want)
	}
	if d := unifiedDiff("before", "after", "", "x: 1\n"); d != "--- before\n+++ after\n@@ -0,0 +1 @@\n+x: 1\n" {
		t.Errorf("diff of a create:\n%s", d)
	}
	if d := unifiedDiff("before", "after", "x: 1\ny: 2\n", ""); d != "--- before\n+++ after\n@@ -1,2 +0,0 @@\n-x: 1\n-y: 2\n" {
		t.Errorf("diff of a delete:\n%s", d)
	}
	if unifiedDiff("a", "b", "same\n", "same\n") != "" {
		t.Error("equal texts have a diff")
	}
	// Two changes far apart are two hunks.
	long := strings.Repeat("l\n", 20)
	if d := unifiedDiff("a", "b", "x\n"+long+"y\n", "X\n"+long+"Y\n"); strings.Count(d, "@@ -") != 2 {
		t.Errorf("want two hunks:\n%s", d)
	}
}

// TestNotAvailable: diagnose and cronjob_runs without what they need
// (Target.Diagnose, Target.Runs) say so, without asking the cluster.
func TestNotAvailable(t *testing.T) {
	r, err := NewRegistry(Builtin()...)
	if err != nil {
		t.Fatal(err)
	}
	var hits atomic.Int64
	tgt := offlineTarget(t, &hits)
	for tool, args := range map[string]string{"diagnose": `{}`, "cronjob_runs": `{"name":"nightly"}`} {
		_, err := r.Call(context.Background(), tgt, tool, json.RawMessage(args))
		if !errors.Is(err, ErrNotAvailable) || ErrorText(err) != "not available in this workspace" {
			t.Errorf("%s: %v (%q), want ErrNotAvailable", tool, err, ErrorText(err))
		}
	}
	if hits.Load() != 0 {
		t.Errorf("%d requests reached the cluster", hits.Load())
	}
}

func TestErrorText(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{&ArgError{Field: "replicas", Message: "must be between 0 and 1000"}, "invalid argument replicas: must be between 0 and 1000"},
		{&ClusterError{Status: 403, Reason: "Forbidden", Message: "no"}, "the workspace cluster refused (403 Forbidden): no"},
		{fmt.Errorf("execute: %w", &ClusterError{Status: 404, Message: "gone"}), "the workspace cluster refused (404 Not Found): gone"},
		{fmt.Errorf("%w: resourceVersion 2", ErrStale), "the object changed since the plan: make a fresh plan"},
		{errors.New("dial tcp 10.0.0.1:6443: secret internal detail"), "the tool failed (internal error)"},
	} {
		if got := ErrorText(c.err); got != c.want {
			t.Errorf("ErrorText(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

func TestImageReference(t *testing.T) {
	for ref, ok := range map[string]bool{
		"nginx": true, "nginx:1.27": true, "busybox:1.36-musl": true, "library/nginx:latest": true, "ghcr.io/org/app:v1.2.3": true,
		"localhost:5000/app": true, "registry.example.com:443/team/app@sha256:" + strings.Repeat("a", 64): true, "app:v1@sha256:" + strings.Repeat("0", 64): true,
		"[::1]:5000/app:v1": true,
		"":                  false, "Nginx": false, "nginx:": false, "nginx 1.27": false, "nginx;rm": false, "-nginx": false, "nginx:1.27 && rm -rf /": false,
		"app@sha256:short": false, "a//b": false, "nginx:" + strings.Repeat("x", 129): false, "http://registry/app": false,
	} {
		err := image("image", ref)
		if (err == nil) != ok {
			t.Errorf("image(%q): %v, want valid=%t", ref, err, ok)
		}
	}
}
