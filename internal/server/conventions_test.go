package server

import (
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/kubeconfig"
)

var snakeCase = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// queryAliases are the deprecated query parameter names still accepted
// for one release; each is also listed as deprecated in the OpenAPI
// document (Param.Aliases).
var queryAliases = map[string]string{
	"timeZone": "time_zone", // CronJob preview
	"after":    "since",     // CronJob preview
}

// pathConcepts are the path parameters: each named for what it is, the
// same name on every route.
var pathConcepts = []string{"org", "workspace", "project", "group", "user", "invitation", "binding", "task",
	"app", "cronjob", "provider", "session", "chat", "plan", "function", "version", "alias", "invocation", "trigger", "topic"}

// foreignTypes are answers in formats defined by others: their field names
// are not ours to choose (the kubeconfig file format of Kubernetes).
var foreignTypes = []reflect.Type{reflect.TypeOf(kubeconfig.Kubeconfig{})}

// TestWireNamingConventions walks the route table: every JSON field of
// every request and answer, and every query parameter, is snake_case
// (aliases excepted), and every path parameter is one of the concepts.
func TestWireNamingConventions(t *testing.T) {
	ts := startServer(t, "")
	routes := ts.api.Routes()
	if len(routes) < 40 {
		t.Fatalf("only %d routes", len(routes))
	}
	seen := map[reflect.Type]bool{}
	for _, rt := range routes {
		name := rt.Method + " " + rt.Path
		for _, v := range []any{rt.Request, rt.Response} {
			if v != nil {
				checkJSONNames(t, name, reflect.TypeOf(v), seen)
			}
		}
		for _, q := range rt.Query {
			if !snakeCase.MatchString(q.Name) {
				t.Errorf("%s: query parameter %q is not snake_case", name, q.Name)
			}
			for _, a := range q.Aliases {
				if queryAliases[a] != q.Name {
					t.Errorf("%s: alias %q of %q is not listed in queryAliases", name, a, q.Name)
				}
			}
		}
		for _, m := range regexp.MustCompile(`\{([^}]*)\}`).FindAllStringSubmatch(rt.Path, -1) {
			if !slices.Contains(pathConcepts, strings.TrimSuffix(m[1], "...")) {
				t.Errorf("%s: path parameter {%s} is not named for a concept (%s)", name, m[1], strings.Join(pathConcepts, ", "))
			}
		}
	}
}

func checkJSONNames(t *testing.T, route string, typ reflect.Type, seen map[reflect.Type]bool) {
	t.Helper()
	for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Array || typ.Kind() == reflect.Map {
		typ = typ.Elem()
	}
	if typ.Kind() != reflect.Struct || seen[typ] || typ == reflect.TypeOf(time.Time{}) || slices.Contains(foreignTypes, typ) {
		return
	}
	seen[typ] = true
	for i := range typ.NumField() {
		f := typ.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		jsonName, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && jsonName == "" {
			checkJSONNames(t, route, f.Type, seen)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if jsonName == "" {
			t.Errorf("%s: field %s.%s has no json tag (its wire name would be %q)", route, typ.Name(), f.Name, f.Name)
		} else if !snakeCase.MatchString(jsonName) {
			t.Errorf("%s: JSON field %s.%s is %q, not snake_case", route, typ.Name(), f.Name, jsonName)
		}
		checkJSONNames(t, route, f.Type, seen)
	}
}
