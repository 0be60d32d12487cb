package tenancy

import (
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/api/resource"

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

// quantityBound is the range of one quota quantity: at most max, in whole
// millis (CPU) or whole units (bytes). The maxima are far above what one
// project could mean and far inside what resource.Quantity holds exactly
// (its int64 clamps without an error: "8Ei" reads back as 2^63-1); the
// steps refuse what Kubernetes would round away ("0.0001" CPU) and the
// classic slip of "100m" memory (a tenth of a byte).
type quantityBound struct {
	max   resource.Quantity
	milli bool
	// maxText and stepText say them in the field error.
	maxText, stepText string
}

var (
	cpuBound     = quantityBound{max: resource.MustParse("1M"), milli: true, maxText: "1000000 cores (1M)", stepText: "millicores (1m)"}
	memoryBound  = quantityBound{max: resource.MustParse("1Pi"), maxText: "1Pi", stepText: "bytes (m means thousandths: use M or Mi)"}
	storageBound = quantityBound{max: resource.MustParse("1Ei"), maxText: "1Ei", stepText: "bytes (m means thousandths: use M or Mi)"}
)

// maxQuotaPods bounds quota.pods.
const maxQuotaPods = 1_000_000

// maxExponent bounds a decimal exponent (1e3, 5e-1) before parsing: the
// parser takes any int32 exponent and no bound is near 1e99.
const maxExponent = 99

// checkQuantity checks a Kubernetes quantity against its bound.
func checkQuantity(field, v string, b quantityBound) *api.FieldError {
	if v == "" {
		return nil
	}
	m := quantity.FindStringSubmatch(v)
	if len(v) > 32 || m == nil {
		return &api.FieldError{Field: field, Message: "must be a Kubernetes quantity such as 500m, 2, 1.5Gi or 10G"}
	}
	tooBig := &api.FieldError{Field: field, Message: "must be at most " + b.maxText}
	tooFine := &api.FieldError{Field: field, Message: "must be a whole number of " + b.stepText}
	if exp := m[3]; len(exp) > 1 && (exp[0] == 'e' || exp[0] == 'E') && exp != "Ei" {
		n, err := strconv.Atoi(exp[1:]) // err: beyond int
		if negative := exp[1] == '-'; negative && (err != nil || n < -maxExponent) {
			return tooFine
		} else if !negative && (err != nil || n > maxExponent) {
			return tooBig
		}
	}
	q, err := resource.ParseQuantity(v)
	if err != nil {
		return &api.FieldError{Field: field, Message: "must be a Kubernetes quantity such as 500m, 2, 1.5Gi or 10G"}
	}
	if q.Cmp(b.max) > 0 {
		return tooBig
	}
	if !whole(q, b.milli) {
		return tooFine
	}
	return nil
}

// whole reports whether q (within a bound) is a whole number of millis or
// of units.
func whole(q resource.Quantity, milli bool) bool {
	if milli {
		return q.Cmp(*resource.NewMilliQuantity(q.MilliValue(), resource.DecimalSI)) == 0
	}
	return q.Cmp(*resource.NewQuantity(q.Value(), resource.BinarySI)) == 0
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
