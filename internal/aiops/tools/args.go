package tools

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
)

// decode reads a tool's arguments into v (a pointer to a struct whose
// json tags are the schema's properties): an unknown argument, a value of
// the wrong type or JSON that is not an object is an *ArgError naming
// the field. Empty arguments are {}.
func decode(args json.RawMessage, v any) error {
	args = bytes.TrimSpace(args)
	if len(args) == 0 || bytes.Equal(args, []byte("null")) {
		args = []byte("{}")
	}
	if args[0] != '{' {
		return &ArgError{Message: "the arguments must be a JSON object"}
	}
	dec := json.NewDecoder(bytes.NewReader(args))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &te):
			field := te.Field
			if field == "" {
				field = "arguments"
			}
			return &ArgError{Field: field, Message: "must be " + jsonType(te.Type.Kind().String())}
		case errors.As(err, &se):
			return &ArgError{Message: "not valid JSON: " + se.Error()}
		}
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return &ArgError{Field: strings.Trim(f, `"`), Message: "is not an argument of this tool"}
		}
		return &ArgError{Message: "cannot be read: " + err.Error()}
	}
	if dec.More() {
		return &ArgError{Message: "the arguments must be one JSON object"}
	}
	return nil
}

func jsonType(kind string) string {
	switch {
	case strings.HasPrefix(kind, "int"), strings.HasPrefix(kind, "uint"):
		return "an integer"
	case strings.HasPrefix(kind, "float"):
		return "a number"
	case kind == "bool":
		return "true or false"
	case kind == "string":
		return "a string"
	case kind == "slice":
		return "an array"
	case kind == "ptr":
		return "a value of its type"
	}
	return "a " + kind
}

// Schema builders.

func object(props map[string]any, required ...string) map[string]any {
	s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

func str(desc string) map[string]any { return map[string]any{"type": "string", "description": desc} }

func integer(desc string, min, max int) map[string]any {
	return map[string]any{"type": "integer", "description": desc, "minimum": min, "maximum": max}
}

func boolean(desc string) map[string]any {
	return map[string]any{"type": "boolean", "description": desc}
}

func strList(desc string) map[string]any {
	return map[string]any{"type": "array", "items": map[string]any{"type": "string"}, "description": desc}
}

func enum(desc string, values ...string) map[string]any {
	return map[string]any{"type": "string", "description": desc, "enum": values}
}

const projectDesc = "the project (its name); default: the chat's project"

// Validators: each answers an *ArgError naming field, or nil.

func required(field, v string) error {
	if strings.TrimSpace(v) == "" {
		return &ArgError{Field: field, Message: "is required"}
	}
	return nil
}

// objectName checks the name of an object (a DNS-1123 subdomain, as
// most kinds' names are; the API server checks the rest).
func objectName(field, name string) error {
	if err := required(field, name); err != nil {
		return err
	}
	if len(name) > 253 || strings.ContainsAny(name, "/%") || name == "." || name == ".." {
		return &ArgError{Field: field, Message: "not an object name"}
	}
	return nil
}

// labelName checks a DNS-1123 label (a Deployment's, a CronJob's).
func labelName(field, name string, max int) error {
	if err := required(field, name); err != nil {
		return err
	}
	if len(validation.IsDNS1123Label(name)) > 0 || len(name) > max {
		return &ArgError{Field: field, Message: fmt.Sprintf("must be a DNS-1123 label of at most %d characters: lowercase letters, digits and '-'", max)}
	}
	return nil
}

func between(field string, v, min, max int) error {
	if v < min || v > max {
		return &ArgError{Field: field, Message: fmt.Sprintf("must be between %d and %d", min, max)}
	}
	return nil
}

func selector(field, s string) error {
	if s == "" {
		return nil
	}
	if _, err := labels.Parse(s); err != nil {
		return &ArgError{Field: field, Message: "not a label selector (examples: app=web, tier in (a,b), !canary)"}
	}
	return nil
}

// imageRef is the grammar of an image reference (the distribution
// reference's, without its length limits): [host[:port]/]path[:tag][@digest].
var imageRef = regexp.MustCompile(`^(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?/)?` +
	`[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*` +
	`(?::[\w][\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$`)

func image(field, ref string) error {
	if err := required(field, ref); err != nil {
		return err
	}
	if len(ref) > 512 || !imageRef.MatchString(ref) {
		return &ArgError{Field: field, Message: "not an image reference (examples: nginx:1.27, ghcr.io/org/app@sha256:…)"}
	}
	return nil
}
