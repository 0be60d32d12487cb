package kube

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/rest"

	"github.com/hexabase/hexabase-ai/internal/controlplane"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
)

// Warnings collects the warnings (HTTP Warning headers, code 299) the
// workspace API server sends on the calls of one Client, that is of one
// request: ClientFor installs a fresh one as its configuration's
// WarningHandlerWithContext. Safe for concurrent use.
type Warnings struct {
	mu   sync.Mutex
	list []string
}

var _ rest.WarningHandlerWithContext = (*Warnings)(nil)

// HandleWarningHeaderWithContext records a warning of the API server.
func (w *Warnings) HandleWarningHeaderWithContext(_ context.Context, code int, _, text string) {
	if code != 299 || text == "" {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

// Len is the number of warnings so far: a mark for Since. A nil
// Warnings (a Client made without ClientFor) has none.
func (w *Warnings) Len() int {
	if w == nil {
		return 0
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.list)
}

// Since is the warnings received after mark (a Len).
func (w *Warnings) Since(mark int) []string {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.list[min(mark, len(w.list)):])
}

// drop forgets the warnings received after mark.
func (w *Warnings) drop(mark int) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = w.list[:min(mark, len(w.list))]
}

// Header is the Warning header of the answer of the request: each
// distinct warning once, in the order received, as the Kubernetes API
// does (`Warning: 299 - "text"`). nil without warnings.
func (w *Warnings) Header() http.Header {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	var h http.Header
	seen := map[string]bool{}
	for _, text := range w.list {
		if seen[text] {
			continue
		}
		seen[text] = true
		v, err := utilnet.NewWarningHeader(299, "-", text)
		if err != nil {
			continue // not representable in a header (e.g. control characters)
		}
		if h == nil {
			h = http.Header{}
		}
		h.Add("Warning", v)
	}
	return h
}

// WithWarnings is the answer body v with the Warning headers of c's
// calls, for a handler to return.
func WithWarnings(c *Client, v any) any {
	if c == nil {
		return v
	}
	h := c.Warnings.Header()
	if h == nil {
		return v
	}
	return &httpapi.Response{Header: h, Body: v}
}

// podSecurityWarning is how Pod Security Admission words a warning:
// `would violate PodSecurity "<level>:<version>": <what>`.
const podSecurityWarning = `would violate PodSecurity "`

// levels orders the Pod Security levels from the least strict.
var levels = []string{"privileged", controlplane.PodSecurityBaseline, controlplane.PodSecurityRestricted}

// PodSecurityVerdict is what the warnings of a dry run say about the pods
// of a workload in a namespace that enforces a Pod Security level.
type PodSecurityVerdict struct {
	// Violation is a warning that the pods would violate a level at most
	// as strict as the enforced one: they would be refused.
	Violation string
	// Unsure: a Pod Security warning about a stricter level (or one
	// that could not be read) says nothing of the enforced level; only
	// the API server can tell (ProbePodSecurity).
	Unsure bool
}

// JudgePodSecurity reads warnings (of a dry run of a workload) for a
// namespace that enforces level ("" is baseline). Pod Security checks a
// workload's pod template at the namespace's warn level only (restricted
// for every project), so a baseline project's violations come as
// restricted warnings and leave the verdict Unsure.
func JudgePodSecurity(warnings []string, level string) PodSecurityVerdict {
	if level == "" {
		level = controlplane.PodSecurityBaseline
	}
	enforce := slices.Index(levels, level)
	var v PodSecurityVerdict
	for _, w := range warnings {
		rest, ok := strings.CutPrefix(w, podSecurityWarning)
		if !ok {
			continue
		}
		lv, _, ok := strings.Cut(rest, `"`)
		name, _, _ := strings.Cut(lv, ":")
		at := slices.Index(levels, name)
		switch {
		case !ok || at < 0 || enforce < 0:
			v.Unsure = true
		case at <= enforce:
			if v.Violation == "" {
				v.Violation = w
			}
		default:
			v.Unsure = true
		}
	}
	return v
}

// podSecurityRefusal is how Pod Security Admission words the refusal of
// a pod: `violates PodSecurity "<level>:<version>": <what>`.
const podSecurityRefusal = `violates PodSecurity "`

// ProbePodSecurity asks the API server, with a dry run of a pod made from
// template in the project's namespace, whether it refuses the pods of
// workload name under the namespace's enforced Pod Security level, and
// answers its refusal text, or "". Any other outcome (the pod would be
// admitted, or is refused for another reason such as a quota or the
// caller's permissions) is "": the workload itself was admitted. The
// probe's own warnings are dropped (they repeat the workload's).
func (p Project) ProbePodSecurity(ctx context.Context, name string, template *corev1.PodTemplateSpec) string {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{GenerateName: name + "-", Namespace: p.NS, Labels: template.Labels, Annotations: template.Annotations},
		Spec:       template.Spec,
	}
	defer p.C.Warnings.drop(p.C.Warnings.Len())
	_, err := p.C.Kube.CoreV1().Pods(p.NS).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err == nil {
		return ""
	}
	if i := strings.Index(err.Error(), podSecurityRefusal); i >= 0 {
		return err.Error()[i:]
	}
	return ""
}

// PodSecurityRefusal tells whether the API server would refuse the pods
// of workload name (with template) under the project's enforced Pod
// Security level, given warnings, those of the workload's dry run: the
// API server's own text, or "".
func (p Project) PodSecurityRefusal(ctx context.Context, warnings []string, name string, template *corev1.PodTemplateSpec) string {
	v := JudgePodSecurity(warnings, p.Scope.Project.PodSecurity)
	switch {
	case v.Violation != "":
		return v.Violation
	case v.Unsure:
		return p.ProbePodSecurity(ctx, name, template)
	}
	return ""
}

// PodSecurityInvalid refuses a workload whose pods the project's Pod
// Security level would refuse (msg, the API server's text), naming field
// and, for a manifest, the document (what).
func PodSecurityInvalid(field, what, msg string) error {
	if what != "" {
		what += ": "
	}
	return httpapi.Invalid(httpapi.Field(field, what+"its pods would be refused by the project's pod security level: "+msg))
}

// CheckPodSecurity runs dryRun, a dry run of workload name whose pods
// are made from template, and refuses the workload (PodSecurityInvalid,
// naming field) when the project's Pod Security level would refuse its
// pods: Pod Security only warns about a workload, and its pods would be
// refused later, silently. dryRun's own error is answered as it is.
func (p Project) CheckPodSecurity(ctx context.Context, name, field string, template *corev1.PodTemplateSpec, dryRun func() error) error {
	mark := p.C.Warnings.Len()
	if err := dryRun(); err != nil {
		return err
	}
	if msg := p.PodSecurityRefusal(ctx, p.C.Warnings.Since(mark), name, template); msg != "" {
		return PodSecurityInvalid(field, "", msg)
	}
	return nil
}

// Restricted tells whether the project enforces the restricted Pod
// Security level.
func (p Project) Restricted() bool {
	return p.Scope.Project.PodSecurity == controlplane.PodSecurityRestricted
}

// Restrict sets in a pod spec that a form of the platform builds (an
// application's, a CronJob's) what the restricted Pod Security level
// requires and the form cannot express: the pod runs as non-root with
// the RuntimeDefault seccomp profile, and every container drops all
// capabilities and cannot escalate its privileges. Only fields left unset
// are set, so a choice made with kubectl or a manifest stays (and is
// judged as it is). The image must then run as a non-root user: a
// numeric USER in the image, since the form has no user field.
func Restrict(spec *corev1.PodSpec) {
	if spec.SecurityContext == nil {
		spec.SecurityContext = &corev1.PodSecurityContext{}
	}
	psc := spec.SecurityContext
	if psc.RunAsNonRoot == nil {
		yes := true
		psc.RunAsNonRoot = &yes
	}
	if psc.SeccompProfile == nil {
		psc.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
	}
	for _, cs := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range cs {
			c := &cs[i]
			if c.SecurityContext == nil {
				c.SecurityContext = &corev1.SecurityContext{}
			}
			if c.SecurityContext.AllowPrivilegeEscalation == nil {
				no := false
				c.SecurityContext.AllowPrivilegeEscalation = &no
			}
			if c.SecurityContext.Capabilities == nil {
				c.SecurityContext.Capabilities = &corev1.Capabilities{}
			}
			if len(c.SecurityContext.Capabilities.Drop) == 0 {
				c.SecurityContext.Capabilities.Drop = []corev1.Capability{"ALL"}
			}
		}
	}
}
