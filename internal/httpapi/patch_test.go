package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

// TestMergeValue runs the examples of RFC 7396, appendix A.
func TestMergeValue(t *testing.T) {
	for _, tc := range []struct{ name, target, patch, want string }{
		{"replace", `{"a":"b"}`, `{"a":"c"}`, `{"a":"c"}`},
		{"add", `{"a":"b"}`, `{"b":"c"}`, `{"a":"b","b":"c"}`},
		{"remove", `{"a":"b"}`, `{"a":null}`, `{}`},
		{"remove one of two", `{"a":"b","b":"c"}`, `{"a":null}`, `{"b":"c"}`},
		{"array replaces", `{"a":["b"]}`, `{"a":"c"}`, `{"a":"c"}`},
		{"value becomes array", `{"a":"c"}`, `{"a":["b"]}`, `{"a":["b"]}`},
		{"nested", `{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`, `{"a":{"b":"d"}}`},
		{"array of objects replaced", `{"a":[{"b":"c"}]}`, `{"a":[1]}`, `{"a":[1]}`},
		{"non-object target", `["a","b"]`, `{"a":"c"}`, `{"a":"c"}`},
		{"null leaves nothing", `{}`, `{"a":{"bb":{"ccc":null}}}`, `{"a":{"bb":{}}}`},
		{"scalar patch", `{"e":null}`, `{"a":1}`, `{"a":1,"e":null}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var target, patch, want any
			for i, s := range []string{tc.target, tc.patch, tc.want} {
				if err := json.Unmarshal([]byte(s), []*any{&target, &patch, &want}[i]); err != nil {
					t.Fatal(err)
				}
			}
			if got := mergeValue(target, patch); !reflect.DeepEqual(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
	}
}

func TestCheckVersion(t *testing.T) {
	for _, tc := range []struct {
		name, ifMatch, body string
		ok                  bool
	}{
		{"no precondition", "", "", true},
		{"current tag", `"3"`, "", true},
		{"weak current tag", `W/"3"`, "", true},
		{"wildcard", "*", "", true},
		{"one of a list", `"1", "3"`, "", true},
		{"stale tag", `"2"`, "", false},
		{"current body", "", "3", true},
		{"stale body", "", "2", false},
		{"current tag, stale body", `"3"`, "2", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("PATCH", "/", nil)
			if tc.ifMatch != "" {
				r.Header.Set("If-Match", tc.ifMatch)
			}
			err := CheckVersion(r, tc.body, "3")
			if (err == nil) != tc.ok {
				t.Fatalf("CheckVersion: %v, want ok=%v", err, tc.ok)
			}
			if err != nil {
				if e, isErr := err.(*Error); !isErr || e.Status != 412 {
					t.Fatalf("want a 412 *Error, got %#v", err)
				}
			}
		})
	}
}

// TestApplyExactMembers: members are matched to fields exactly, not
// case-insensitively as encoding/json would, at every depth.
func TestApplyExactMembers(t *testing.T) {
	type quota struct {
		CPU string `json:"cpu,omitempty"`
	}
	type item struct {
		Name string `json:"name"`
	}
	type embedded struct {
		Note string `json:"note,omitempty"`
	}
	type doc struct {
		embedded
		ParentID *string           `json:"parent_id,omitempty"`
		Quota    *quota            `json:"quota,omitempty"`
		Items    []item            `json:"items,omitempty"`
		Labels   map[string]string `json:"labels,omitempty"`
	}
	for _, tc := range []struct{ name, patch, field string }{
		{"exact", `{"parent_id":"p","quota":{"cpu":"1"},"items":[{"name":"a"}],"labels":{"Any-Key":"v"},"note":"n"}`, ""},
		{"other case", `{"Parent_ID":"p"}`, "Parent_ID"},
		{"other case nested", `{"quota":{"CPU":"1"}}`, "quota.CPU"},
		{"other case in a list", `{"items":[{"name":"a"},{"Name":"b"}]}`, "items[1].Name"},
		{"other case of an embedded field", `{"Note":"n"}`, "Note"},
		{"unknown", `{"colour":"red"}`, "colour"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("PATCH", "/", strings.NewReader(tc.patch))
			p, err := DecodeMergePatch(r)
			if err != nil {
				t.Fatal(err)
			}
			var out doc
			err = p.Apply(doc{}, &out)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Apply: %v", err)
				}
				if out.ParentID == nil || *out.ParentID != "p" || out.Quota == nil || out.Quota.CPU != "1" || len(out.Items) != 1 || out.Items[0].Name != "a" ||
					out.Labels["Any-Key"] != "v" || out.Note != "n" {
					t.Fatalf("Apply gave %+v", out)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Status != 422 || len(e.Fields) != 1 || e.Fields[0].Field != tc.field {
				t.Fatalf("Apply: %#v, want a 422 naming %s", err, tc.field)
			}
		})
	}
}

// TestOpenAPIConditionalUpdates: an update of a versioned resource
// documents If-Match, the merge-patch body, the 412 and the ETag.
func TestOpenAPIConditionalUpdates(t *testing.T) {
	type thing struct {
		Name            string `json:"name"`
		ResourceVersion string `json:"resource_version"`
	}
	type plain struct {
		Name string `json:"name"`
	}
	h := func(*http.Request) (any, error) { return nil, nil }
	b, err := OpenAPI(OpenAPIInfo{Title: "t", Version: "1"}, []Route{
		{Method: "PATCH", Path: "/things/{thing}", Request: thing{}, Response: thing{}, Handle: h},
		{Method: "PATCH", Path: "/plain/{plain}", Request: plain{}, Response: plain{}, Handle: h},
	})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters  []struct{ Name, In string }
			RequestBody struct{ Content map[string]any }
			Responses   map[string]struct{ Headers map[string]any }
		}
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path      string
		versioned bool
	}{{"/things/{thing}", true}, {"/plain/{plain}", false}} {
		t.Run(tc.path, func(t *testing.T) {
			op := doc.Paths[tc.path]["patch"]
			ifMatch := false
			for _, p := range op.Parameters {
				ifMatch = ifMatch || (p.Name == "If-Match" && p.In == "header")
			}
			_, has412 := op.Responses["412"]
			_, etag := op.Responses["200"].Headers["ETag"]
			if ifMatch != tc.versioned || has412 != tc.versioned || etag != tc.versioned {
				t.Fatalf("If-Match %v, 412 %v, ETag %v; want %v", ifMatch, has412, etag, tc.versioned)
			}
			if _, ok := op.RequestBody.Content["application/merge-patch+json"]; !ok {
				t.Fatal("no application/merge-patch+json body")
			}
		})
	}
}
