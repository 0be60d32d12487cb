package tenancy

import (
	"net/mail"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/store"
)

const (
	maxDisplayName = 100
	maxLabel       = 63
	maxEmail       = 254
)

var dns1123Label = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// reservedNamespaces are names a project may not take because they are the
// cluster's own namespaces or prefixes the platform reserves.
var reservedPrefixes = []string{"kube-", "hks-", "hexabase-"}
var reservedNames = map[string]bool{"default": true, "kube-system": true, "kube-public": true, "kube-node-lease": true}

// checkLabel validates a DNS-1123 label (a Kubernetes name).
func checkLabel(field, v string) *api.FieldError {
	switch {
	case v == "":
		return &api.FieldError{Field: field, Message: "is required"}
	case len(v) > maxLabel:
		return &api.FieldError{Field: field, Message: "must be at most 63 characters"}
	case !dns1123Label.MatchString(v):
		return &api.FieldError{Field: field, Message: "must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit"}
	case store.LooksLikeID(v):
		return &api.FieldError{Field: field, Message: "must not have the form of an id: paths take an id or a name in the same place"}
	}
	return nil
}

func checkProjectName(v string) *api.FieldError {
	if fe := checkLabel("name", v); fe != nil {
		return fe
	}
	if reservedNames[v] {
		return &api.FieldError{Field: "name", Message: "is reserved for the cluster's own namespaces"}
	}
	for _, p := range reservedPrefixes {
		if strings.HasPrefix(v, p) {
			return &api.FieldError{Field: "name", Message: "must not start with " + p + " (reserved)"}
		}
	}
	return nil
}

// checkDisplayName validates a human-readable name.
func checkDisplayName(field, v string) *api.FieldError {
	switch {
	case strings.TrimSpace(v) == "":
		return &api.FieldError{Field: field, Message: "is required"}
	case !utf8.ValidString(v):
		return &api.FieldError{Field: field, Message: "must be valid UTF-8"}
	case utf8.RuneCountInString(v) > maxDisplayName:
		return &api.FieldError{Field: field, Message: "must be at most 100 characters"}
	case v != strings.TrimSpace(v):
		return &api.FieldError{Field: field, Message: "must not start or end with whitespace"}
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return &api.FieldError{Field: field, Message: "must not contain control characters"}
		}
	}
	return nil
}

// checkEmail validates a plain address (no display name).
func checkEmail(field, v string, required bool) *api.FieldError {
	if v == "" {
		if required {
			return &api.FieldError{Field: field, Message: "is required"}
		}
		return nil
	}
	if len(v) > maxEmail {
		return &api.FieldError{Field: field, Message: "must be at most 254 characters"}
	}
	a, err := mail.ParseAddress(v)
	if err != nil || a.Address != v || a.Name != "" {
		return &api.FieldError{Field: field, Message: "must be an email address like name@example.com"}
	}
	return nil
}

// slugify derives an organization slug from its name.
func slugify(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
	}
	s := b.String()
	if len(s) > maxLabel {
		s = s[:maxLabel]
	}
	return strings.Trim(s, "-")
}

// quantity is the Kubernetes resource.Quantity syntax: a non-negative
// decimal number followed by an optional binary-SI (Ki … Ei), decimal-SI
// (n u m k M G T P E) or decimal-exponent (e3, E-2) suffix.
var quantity = regexp.MustCompile(`^(\d+(\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][-+]?\d+)?$`)

func checkQuantity(field, v string) *api.FieldError {
	if v == "" {
		return nil
	}
	if len(v) > 32 || !quantity.MatchString(v) {
		return &api.FieldError{Field: field, Message: "must be a Kubernetes quantity such as 500m, 2, 1.5Gi or 10G"}
	}
	return nil
}

func collect(fes ...*api.FieldError) error {
	var out []api.FieldError
	for _, fe := range fes {
		if fe != nil {
			out = append(out, *fe)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return httpapi.Invalid(out...)
}
