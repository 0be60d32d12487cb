package httpapi

import (
	"encoding/json"
	"maps"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hexabase/hexabase-ai/internal/api"
)

// OpenAPIInfo describes the API in the document's info object.
type OpenAPIInfo struct {
	Title   string
	Version string
}

// OpenAPI builds the OpenAPI 3.1 document of a route table. Schemas come
// from the Request/Response types by reflection over their JSON tags.
func OpenAPI(info OpenAPIInfo, routes []Route) ([]byte, error) {
	g := &schemaGen{schemas: map[string]any{}}
	g.schemas["Problem"] = g.structSchema(reflect.TypeOf(api.Problem{}))
	paths := map[string]map[string]any{}
	for _, rt := range routes {
		item := paths[rt.Path]
		if item == nil {
			item = map[string]any{}
			paths[rt.Path] = item
		}
		op := map[string]any{
			"summary":     rt.Summary,
			"operationId": operationID(rt),
		}
		if rt.Tag != "" {
			op["tags"] = []string{rt.Tag}
		}
		var params []any
		for _, m := range pathParam.FindAllStringSubmatch(rt.Path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, q := range rt.Query {
			typ := q.Type
			if typ == "" {
				typ = "string"
			}
			params = append(params, map[string]any{"name": q.Name, "in": "query", "description": q.Description, "schema": map[string]any{"type": typ}})
			for _, a := range q.Aliases {
				params = append(params, map[string]any{"name": a, "in": "query", "deprecated": true, "schema": map[string]any{"type": typ},
					"description": "deprecated alias of " + q.Name + ", accepted until the next release"})
			}
		}
		conditional := (rt.Method == "PATCH" || rt.Method == "PUT") && versioned(rt.Response)
		if conditional {
			params = append(params, map[string]any{"name": "If-Match", "in": "header", "schema": map[string]any{"type": "string"},
				"description": "the ETag (resource_version) the change is based on: a change made by someone else first is refused with 412"})
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if rt.Request != nil {
			schema := map[string]any{"schema": g.ref(reflect.TypeOf(rt.Request))}
			content := map[string]any{"application/json": schema}
			if rt.Method == "PATCH" {
				// A JSON merge patch (RFC 7396): the members sent replace
				// the resource's, null removes one, objects merge.
				content["application/merge-patch+json"] = schema
			}
			op["requestBody"] = map[string]any{"required": true, "content": content}
		}
		if rt.Public {
			op["security"] = []any{}
		}
		responses := map[string]any{}
		ok := map[string]any{"description": http.StatusText(rt.successStatus())}
		ct := rt.ContentType
		if ct == "" {
			ct = "application/json"
		}
		if rt.Response != nil && rt.successStatus() != http.StatusNoContent {
			ok["content"] = map[string]any{ct: map[string]any{"schema": g.ref(reflect.TypeOf(rt.Response))}}
		} else if rt.Raw != nil {
			ok["content"] = map[string]any{ct: map[string]any{}}
		}
		if versioned(rt.Response) {
			ok["headers"] = map[string]any{"ETag": map[string]any{"schema": map[string]any{"type": "string"},
				"description": "the resource_version, quoted: send it back as If-Match"}}
		}
		responses[strconv.Itoa(rt.successStatus())] = ok
		if rt.AlsoStatus != 0 {
			also := maps.Clone(ok)
			also["description"] = http.StatusText(rt.AlsoStatus)
			responses[strconv.Itoa(rt.AlsoStatus)] = also
		}
		statuses := []int{http.StatusBadRequest, http.StatusNotFound, http.StatusInternalServerError}
		if !rt.Public {
			statuses = append(statuses, http.StatusUnauthorized)
		}
		if rt.Request != nil {
			statuses = append(statuses, http.StatusUnprocessableEntity, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType)
		}
		if conditional {
			statuses = append(statuses, http.StatusPreconditionFailed)
		}
		statuses = append(statuses, rt.Errors...)
		for _, s := range statuses {
			responses[strconv.Itoa(s)] = map[string]any{
				"description": http.StatusText(s),
				"content":     map[string]any{"application/problem+json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Problem"}}},
			}
		}
		op["responses"] = responses
		item[strings.ToLower(rt.Method)] = op
	}
	doc := map[string]any{
		"openapi": "3.1.0",
		"info":    map[string]any{"title": info.Title, "version": info.Version},
		"paths":   paths,
		"components": map[string]any{
			"schemas": g.schemas,
			"securitySchemes": map[string]any{
				"bearerAuth": map[string]any{"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
			},
		},
		"security": []any{map[string]any{"bearerAuth": []string{}}},
	}
	return json.MarshalIndent(doc, "", "  ")
}

func operationID(rt Route) string {
	parts := []string{strings.ToLower(rt.Method)}
	for _, seg := range strings.Split(strings.Trim(rt.Path, "/"), "/") {
		if seg == "api" || seg == "v1" || seg == "" {
			continue
		}
		if strings.HasPrefix(seg, "{") {
			seg = "by-" + strings.Trim(seg, "{}")
		}
		parts = append(parts, seg)
	}
	return strings.Join(parts, "-")
}

type schemaGen struct {
	schemas map[string]any
}

var timeType = reflect.TypeOf(time.Time{})

func schemaName(t reflect.Type) string {
	name := t.Name()
	if i := strings.Index(name, "["); i >= 0 {
		inner := name[i+1 : len(name)-1]
		if j := strings.LastIndex(inner, "."); j >= 0 {
			inner = inner[j+1:]
		}
		return inner + name[:i]
	}
	return name
}

func (g *schemaGen) ref(t reflect.Type) any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() == reflect.Struct && t != timeType && t.Name() != "" {
		name := schemaName(t)
		if _, ok := g.schemas[name]; !ok {
			g.schemas[name] = map[string]any{} // placeholder breaks recursion
			g.schemas[name] = g.structSchema(t)
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return g.schema(t)
}

func (g *schemaGen) schema(t reflect.Type) any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == timeType {
		return map[string]any{"type": "string", "format": "date-time"}
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "contentEncoding": "base64"}
		}
		return map[string]any{"type": "array", "items": g.ref(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.ref(t.Elem())}
	case reflect.Struct:
		if t.Name() != "" {
			return g.ref(t)
		}
		return g.structSchema(t)
	case reflect.Interface:
		return map[string]any{}
	}
	return map[string]any{}
}

func (g *schemaGen) structSchema(t reflect.Type) any {
	props := map[string]any{}
	var required []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		if f.Anonymous && tag == "" && f.Type.Kind() == reflect.Struct {
			// Embedded: its fields are the outer object's (as encoding/json does).
			inner, _ := g.structSchema(f.Type).(map[string]any)
			for k, v := range inner["properties"].(map[string]any) {
				props[k] = v
			}
			if req, ok := inner["required"].([]string); ok {
				required = append(required, req...)
			}
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		s := g.ref(f.Type)
		if d := f.Tag.Get("doc"); d != "" {
			if m, ok := s.(map[string]any); ok {
				if _, isRef := m["$ref"]; !isRef {
					m["description"] = d
				} else {
					s = map[string]any{"allOf": []any{m}, "description": d}
				}
			}
		}
		props[name] = s
		if !strings.Contains(opts, "omitempty") && f.Type.Kind() != reflect.Pointer {
			required = append(required, name)
		}
	}
	sort.Strings(required)
	out := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		out["required"] = required
	}
	return out
}
