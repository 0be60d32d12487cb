package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
)

// MergePatch is a JSON merge patch (RFC 7396) read from a request body: the
// members it names replace the resource's, null removes one, and objects
// merge member by member. Handlers apply it to the resource's current
// representation inside the store's compare-and-swap, so the fields it
// does not name keep whatever another writer put there meanwhile.
type MergePatch struct {
	doc map[string]any
}

// DecodeMergePatch reads a merge patch from r. The body must be a JSON
// object, sent as application/merge-patch+json or application/json.
func DecodeMergePatch(r *http.Request) (MergePatch, error) {
	var raw json.RawMessage
	if err := DecodeJSON(r, &raw); err != nil {
		return MergePatch{}, err
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil || doc == nil {
		return MergePatch{}, BadRequest("a merge patch must be a JSON object")
	}
	return MergePatch{doc: doc}, nil
}

// Has reports whether the patch names field (a top-level member), with
// any value including null.
func (p MergePatch) Has(field string) bool {
	_, ok := p.doc[field]
	return ok
}

// Apply merges the patch into current (a value that marshals to a JSON
// object) and decodes the result into out, refusing unknown fields and
// values of the wrong type with the same errors as DecodeJSON.
func (p MergePatch) Apply(current, out any) error {
	if err := exactMembers(p.doc, reflect.TypeOf(out), ""); err != nil {
		return err
	}
	b, err := json.Marshal(current)
	if err != nil {
		return fmt.Errorf("merge patch: %w", err)
	}
	var target any
	if err := json.Unmarshal(b, &target); err != nil {
		return fmt.Errorf("merge patch: %w", err)
	}
	merged, err := json.Marshal(mergeValue(target, p.doc))
	if err != nil {
		return fmt.Errorf("merge patch: %w", err)
	}
	return DecodeJSONBytes(merged, out)
}

// exactMembers refuses a member of doc that is not spelt exactly as a
// JSON field of t. encoding/json matches names case-insensitively, so
// {"Parent_ID": …} would decode as parent_id while Has("parent_id"), on
// which the checks of a field depend, said it was absent.
func exactMembers(doc map[string]any, t reflect.Type, prefix string) error {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil // maps take any key; scalars are the decoder's to check
	}
	fields := map[string]reflect.Type{}
	jsonFields(t, fields)
	for k, v := range doc {
		ft, ok := fields[k]
		if !ok {
			return Invalid(Field(prefix+k, "unknown field"))
		}
		for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice || ft.Kind() == reflect.Array {
			ft = ft.Elem()
		}
		switch v := v.(type) {
		case map[string]any:
			if err := exactMembers(v, ft, prefix+k+"."); err != nil {
				return err
			}
		case []any:
			for i, e := range v {
				if m, ok := e.(map[string]any); ok {
					if err := exactMembers(m, ft, fmt.Sprintf("%s%s[%d].", prefix, k, i)); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// jsonFields adds the JSON names of t's fields (and of the fields of its
// embedded structs without a name of their own) to fields.
func jsonFields(t reflect.Type, fields map[string]reflect.Type) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				jsonFields(ft, fields)
				continue
			}
		}
		if name == "" {
			name = f.Name
		}
		fields[name] = f.Type
	}
}

// mergeValue is RFC 7396's MergePatch(Target, Patch).
func mergeValue(target, patch any) any {
	pm, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	tm, ok := target.(map[string]any)
	if !ok {
		tm = map[string]any{}
	}
	for k, v := range pm {
		if v == nil {
			delete(tm, k)
			continue
		}
		tm[k] = mergeValue(tm[k], v)
	}
	return tm
}

// PreconditionFailed is the 412 of a write whose version precondition did
// not hold: someone else changed the resource first.
func PreconditionFailed(current string) *Error {
	return &Error{Status: http.StatusPreconditionFailed, Type: "precondition-failed", Title: "Precondition failed",
		Detail: fmt.Sprintf("the resource was changed by someone else (it is now at resource_version %s); read it again and retry", current)}
}

// CheckVersion enforces a write's preconditions against current, the
// resource's version now: the If-Match header (an ETag such as "7", W/"7"
// or *) and bodyVersion, the resource_version the body carries ("" when
// it has none). Either one that names another version is a 412.
func CheckVersion(r *http.Request, bodyVersion, current string) error {
	if im := strings.TrimSpace(r.Header.Get("If-Match")); im != "" && im != "*" {
		ok := false
		for _, tag := range strings.Split(im, ",") {
			if etagValue(tag) == current {
				ok = true
			}
		}
		if !ok {
			return PreconditionFailed(current)
		}
	}
	if bodyVersion != "" && bodyVersion != current {
		return PreconditionFailed(current)
	}
	return nil
}

// ETag is the entity tag of a resource version.
func ETag(version string) string { return `"` + version + `"` }

func etagValue(tag string) string {
	tag = strings.TrimSpace(tag)
	tag = strings.TrimPrefix(tag, "W/")
	return strings.Trim(tag, `"`)
}

// versioned reports whether a response type carries a resource_version,
// so that its updates take If-Match.
func versioned(body any) bool {
	t := reflect.TypeOf(body)
	if t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return false
	}
	f, ok := t.FieldByName("ResourceVersion")
	return ok && f.Type.Kind() == reflect.String && strings.HasPrefix(f.Tag.Get("json"), "resource_version")
}

// resourceVersion is the ResourceVersion field of a response body (a
// struct or pointer to one), "" when it has none.
func resourceVersion(body any) string {
	if !versioned(body) {
		return ""
	}
	v := reflect.Indirect(reflect.ValueOf(body))
	if !v.IsValid() {
		return ""
	}
	return v.FieldByName("ResourceVersion").String()
}
