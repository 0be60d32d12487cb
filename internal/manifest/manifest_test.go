package manifest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hexabase/hexabase-ai/internal/httpapi"
)

func TestDecode(t *testing.T) {
	deploy := "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"
	svc := "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n"
	for _, tc := range []struct {
		name, text string
		want       []string // kind/name of each object
	}{
		{"one document", deploy, []string{"Deployment/web"}},
		{"two documents", deploy + "---\n" + svc, []string{"Deployment/web", "Service/web"}},
		{"comments and empty documents are skipped", "# header\n---\n" + deploy + "---\n---\n# only a comment\n", []string{"Deployment/web"}},
		{"a null document is skipped", "null\n---\n" + svc, []string{"Service/web"}},
		{"JSON", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg"}}`, []string{"ConfigMap/cfg"}},
		{"a v1 List", "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a\n- apiVersion: v1\n  kind: Secret\n  metadata:\n    name: b\n",
			[]string{"ConfigMap/a", "Secret/b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := Decode(tc.text)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range objs {
				got = append(got, o.GetKind()+"/"+o.GetName())
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	deploy := "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"
	many := strings.Repeat("---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n", MaxObjects+1)
	for _, tc := range []struct{ name, text, want string }{
		{"empty", "", "the manifest holds no object"},
		{"only comments", "# nothing\n", "the manifest holds no object"},
		{"bad YAML in the second document", deploy + "---\nkind: [\n", "document 2: not YAML or JSON"},
		{"not an object", "- a\n- b\n", "document 1: not a Kubernetes object"},
		{"no kind", "apiVersion: v1\nmetadata:\n  name: x\n", "document 1: not a Kubernetes object"},
		{"no name", "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n", "object 1 (ConfigMap): metadata.name is required"},
		{"too many objects", many, fmt.Sprintf("at most %d objects in one manifest", MaxObjects)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.text)
			var e *httpapi.Error
			if !errors.As(err, &e) || e.Status != 422 || len(e.Fields) != 1 || e.Fields[0].Field != "manifest" || !strings.Contains(e.Fields[0].Message, tc.want) {
				t.Fatalf("Decode: %v, want a 422 on manifest containing %q", err, tc.want)
			}
		})
	}
}
