package kube

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/tenancy"
)

// noProjects answers every project with errNoProject and counts the asks.
type noProjects struct{ asked int }

var errNoProject = errors.New("no such project")

func (n *noProjects) ResolveWorkspace(*http.Request) (tenancy.WorkspaceScope, error) {
	n.asked++
	return tenancy.WorkspaceScope{}, errNoProject
}

func (n *noProjects) ResolveProject(*http.Request) (tenancy.ProjectScope, error) {
	n.asked++
	return tenancy.ProjectScope{}, errNoProject
}

// TestObjectsOrder checks what each prelude reads before it resolves the
// project: a bad name or page or body is answered as such, and the project
// is asked for only when they are good.
func TestObjectsOrder(t *testing.T) {
	type req struct {
		Replicas int `json:"replicas"`
	}
	cases := []struct {
		name, path, app, body string
		run                   func(Objects, *http.Request) error
		want                  error // errors.Is; nil: an httpapi error of status
		status                int
		asked                 int
	}{
		{name: "target, bad name", app: "Not_A_Name", status: http.StatusNotFound,
			run: func(o Objects, r *http.Request) error { _, _, err := o.Target(r); return err }},
		{name: "target, good name", app: "web", want: errNoProject, asked: 1,
			run: func(o Objects, r *http.Request) error { _, _, err := o.Target(r); return err }},
		{name: "page, bad limit", path: "/?limit=x", status: http.StatusUnprocessableEntity,
			run: func(o Objects, r *http.Request) error { _, _, err := o.Page(r); return err }},
		{name: "page, good", path: "/?limit=5", want: errNoProject, asked: 1,
			run: func(o Objects, r *http.Request) error { _, _, err := o.Page(r); return err }},
		{name: "decode, bad body", body: "{", status: http.StatusBadRequest,
			run: func(o Objects, r *http.Request) error { _, _, err := Decode[req](o, r); return err }},
		{name: "decode, good body", body: `{"replicas":2}`, want: errNoProject, asked: 1,
			run: func(o Objects, r *http.Request) error { _, _, err := Decode[req](o, r); return err }},
		{name: "decode named, bad name first", app: "-web", body: "{", status: http.StatusNotFound,
			run: func(o Objects, r *http.Request) error { _, _, err := DecodeNamed[req](o, r); return err }},
		{name: "decode named, bad body", app: "web", body: "{", status: http.StatusBadRequest,
			run: func(o Objects, r *http.Request) error { _, _, err := DecodeNamed[req](o, r); return err }},
		{name: "patch, bad name first", app: "Web", body: "[]", status: http.StatusNotFound,
			run: func(o Objects, r *http.Request) error { _, _, err := o.NamedPatch(r); return err }},
		{name: "patch, not an object", app: "web", body: "[]", status: http.StatusBadRequest,
			run: func(o Objects, r *http.Request) error { _, _, err := o.NamedPatch(r); return err }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			scopes := &noProjects{}
			o := Objects{Scopes: scopes, Param: "app", What: "application", Valid: func(name string) bool { return name == "web" }}
			path := tc.path
			if path == "" {
				path = "/"
			}
			r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(tc.body))
			r.Header.Set("Content-Type", "application/json")
			r.SetPathValue("app", tc.app)
			err := tc.run(o, r)
			var he *httpapi.Error
			switch {
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Fatalf("error %v, want %v", err, tc.want)
			case tc.want == nil && (!errors.As(err, &he) || he.Status != tc.status):
				t.Fatalf("error %v, want an error of status %d", err, tc.status)
			}
			if scopes.asked != tc.asked {
				t.Fatalf("the project was asked for %d times, want %d", scopes.asked, tc.asked)
			}
		})
	}
}
