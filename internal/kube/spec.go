package kube

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
)

// What the platform puts on the objects it makes.
const (
	// FieldManager is the platform's field manager in every write.
	FieldManager   = "hks"
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "hks"
)

// Limits of the lists of a spec, so that a request cannot ask for absurd
// objects.
const (
	MaxItems  = 64
	MaxArgLen = 4096
)

// ListLimits checks a command or an argument list: at most MaxItems
// items of at most MaxArgLen bytes.
func ListLimits(field string, list []string) []api.FieldError {
	var errs []api.FieldError
	if len(list) > MaxItems {
		errs = append(errs, httpapi.Field(field, fmt.Sprintf("at most %d items", MaxItems)))
	}
	for i, a := range list {
		if len(a) > MaxArgLen {
			errs = append(errs, httpapi.Field(fmt.Sprintf("%s[%d]", field, i), fmt.Sprintf("at most %d bytes", MaxArgLen)))
		}
	}
	return errs
}

// EnvVars checks the environment of a container (field names it in the
// errors) and converts it.
func EnvVars(field string, env []api.EnvVar) ([]corev1.EnvVar, []api.FieldError) {
	var errs []api.FieldError
	var out []corev1.EnvVar
	if len(env) > MaxItems {
		errs = append(errs, httpapi.Field(field, fmt.Sprintf("at most %d variables", MaxItems)))
	}
	seen := map[string]bool{}
	for i, e := range env {
		if msgs := validation.IsEnvVarName(e.Name); e.Name == "" || len(msgs) > 0 {
			errs = append(errs, httpapi.Field(fmt.Sprintf("%s[%d].name", field, i), "must be a C identifier-like name (letters, digits, '_', '-', '.'; not starting with a digit)"))
		} else if seen[e.Name] {
			errs = append(errs, httpapi.Field(fmt.Sprintf("%s[%d].name", field, i), e.Name+" is set twice"))
		}
		seen[e.Name] = true
		out = append(out, corev1.EnvVar{Name: e.Name, Value: e.Value})
	}
	return out, errs
}

// EnvOf is a container's environment in the API's form; a variable taken
// from elsewhere (valueFrom) shows with an empty value.
func EnvOf(c corev1.Container) []api.EnvVar {
	var out []api.EnvVar
	for _, e := range c.Env {
		out = append(out, api.EnvVar{Name: e.Name, Value: e.Value})
	}
	return out
}

// ResourcesOf is a container's CPU and memory requests and limits, nil
// when it has none.
func ResourcesOf(c corev1.Container) *api.Resources {
	list := func(rl corev1.ResourceList) api.ResourceList {
		var out api.ResourceList
		if q, ok := rl[corev1.ResourceCPU]; ok {
			out.CPU = q.String()
		}
		if q, ok := rl[corev1.ResourceMemory]; ok {
			out.Memory = q.String()
		}
		return out
	}
	r := api.Resources{Requests: list(c.Resources.Requests), Limits: list(c.Resources.Limits)}
	if r == (api.Resources{}) {
		return nil
	}
	return &r
}

// UserLabels are the labels of an object that are not the platform's.
func UserLabels(labels map[string]string) map[string]string {
	var out map[string]string
	for k, v := range labels {
		if k != LabelManagedBy && !strings.HasPrefix(k, "hks.io/") {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	return out
}

// Differs reports whether a and b, two values of the same field of an
// API type, say different things: an absent, empty or null value are the
// same.
func Differs(a, b any) bool {
	norm := func(v any) string {
		j, err := json.Marshal(v)
		if err != nil {
			return fmt.Sprint(v)
		}
		switch s := string(j); s {
		case "null", "[]", "{}", `""`:
			return ""
		default:
			return s
		}
	}
	return norm(a) != norm(b)
}

// The Set functions below write a spec's field onto a live object, keeping
// everything of the object the API does not describe.

// SetEnv makes a container's environment want (checked and converted by
// EnvVars); a variable that takes its value from elsewhere (valueFrom)
// and is still wanted with an empty value keeps its source.
func SetEnv(c *corev1.Container, want []corev1.EnvVar) {
	from := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			from[e.Name] = e
		}
	}
	out := make([]corev1.EnvVar, 0, len(want))
	for _, e := range want {
		if live, ok := from[e.Name]; ok && e.Value == "" {
			e = live
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		out = nil
	}
	c.Env = out
}

// SetResources makes a container's CPU and memory requests and limits
// those of want; other resources (ephemeral storage, devices) stay.
func SetResources(c *corev1.Container, want corev1.ResourceRequirements) {
	set := func(live *corev1.ResourceList, want corev1.ResourceList) {
		for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			q, ok := want[name]
			switch {
			case ok:
				if *live == nil {
					*live = corev1.ResourceList{}
				}
				(*live)[name] = q
			case *live != nil:
				delete(*live, name)
			}
		}
		if len(*live) == 0 {
			*live = nil
		}
	}
	set(&c.Resources.Requests, want.Requests)
	set(&c.Resources.Limits, want.Limits)
}

// SetUserLabels replaces the user labels old by want in each of the label
// maps; the platform's labels and those of others stay.
func SetUserLabels(old, want map[string]string, objs ...*map[string]string) {
	for _, m := range objs {
		for k := range old {
			delete(*m, k)
		}
		if len(want) > 0 && *m == nil {
			*m = map[string]string{}
		}
		maps.Copy(*m, want)
	}
}

// Version is the resource_version the API shows for an object: its
// generation, which the API server moves on every change of the object's
// spec and not on changes of its status. (Its resourceVersion moves on
// every status write too: a Deployment's while it rolls out, a CronJob's
// at every run, so a precondition on it would fail without anyone having
// changed what the caller sees as the resource.)
func Version(o metav1.Object) string { return strconv.FormatInt(o.GetGeneration(), 10) }

// Versioned is a spec as a PUT sends it or a PATCH is merged into, with
// the version it was read at (or that the request expects).
type Versioned interface{ Version() string }

// Change makes the spec wanted from the current one (with the object's
// version), or refuses: a 412 when a precondition does not hold.
type Change[D Versioned] func(cur D) (D, error)

// PatchChange is the change of a JSON merge patch, under the request's
// preconditions (If-Match, or a resource_version the patch names).
func PatchChange[D Versioned](r *http.Request, patch httpapi.MergePatch) Change[D] {
	return func(cur D) (D, error) {
		var want D
		if err := patch.Apply(cur, &want); err != nil {
			return want, err
		}
		return want, httpapi.CheckVersion(r, want.Version(), cur.Version())
	}
}

// ReplaceChange is the change of a PUT of want, under the request's
// preconditions (If-Match, or the resource_version of the body).
func ReplaceChange[D Versioned](r *http.Request, want D) Change[D] {
	return func(cur D) (D, error) {
		return want, httpapi.CheckVersion(r, want.Version(), cur.Version())
	}
}

// ConflictBackoff spaces the attempts of a write that loses races: a
// Deployment that rolls out has its status written many times a second,
// and each status write makes a write read before it stale. Eight attempts
// over about five seconds.
var ConflictBackoff = wait.Backoff{Steps: 8, Duration: 20 * time.Millisecond, Factor: 2, Jitter: 0.2}

// Update applies change to a live object: read gives the object and its
// spec, write writes onto the object what the wanted spec changes (and
// answers the object written). A write the cluster refuses as stale
// (Conflict: the object changed since it was read, if only its status)
// starts again from read, so concurrent changes of different fields all
// survive.
func Update[O any, D Versioned](read func() (O, D, error), change Change[D], write func(obj O, cur, want D) (O, error)) (O, error) {
	var out O
	err := retry.RetryOnConflict(ConflictBackoff, func() error {
		obj, cur, err := read()
		if err != nil {
			return err
		}
		want, err := change(cur)
		if err != nil {
			return err
		}
		out, err = write(obj, cur, want)
		return err
	})
	return out, err
}

// Field is one field of a spec: its current and wanted values, and how to
// write the wanted one onto the object.
type Field struct {
	Cur, Want any
	Set       func()
}

// SetChanged writes onto the object the fields whose wanted value differs
// from the current one, and reports whether there was any.
func SetChanged(fields ...Field) bool {
	changed := false
	for _, f := range fields {
		if Differs(f.Cur, f.Want) {
			f.Set()
			changed = true
		}
	}
	return changed
}
