package kube

import (
	"context"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	utilnet "k8s.io/apimachinery/pkg/util/net"

	"github.com/hexabase/hexabase-ai/internal/httpapi"
)

// TestJudgePodSecurity: a Pod Security warning about a level at most as
// strict as the enforced one is a violation; one about a stricter level
// (what a baseline project gets, its warn level being restricted) or one
// that cannot be read leaves the API server to ask; other warnings say
// nothing.
func TestJudgePodSecurity(t *testing.T) {
	const (
		restricted = `would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false)`
		baseline   = `would violate PodSecurity "baseline:v1.35": hostPath volumes (volume "root")`
		deprecated = `apps/v1beta1 Deployment is deprecated in v1.9+, unavailable in v1.16+; use apps/v1 Deployment`
	)
	for _, tc := range []struct {
		name     string
		warnings []string
		level    string
		want     PodSecurityVerdict
	}{
		{"no warnings", nil, "baseline", PodSecurityVerdict{}},
		{"restricted warning, restricted enforced", []string{restricted}, "restricted", PodSecurityVerdict{Violation: restricted}},
		{"restricted warning, baseline enforced", []string{restricted}, "baseline", PodSecurityVerdict{Unsure: true}},
		{"restricted warning, level unset (baseline)", []string{restricted}, "", PodSecurityVerdict{Unsure: true}},
		{"baseline warning, baseline enforced", []string{baseline}, "", PodSecurityVerdict{Violation: baseline}},
		{"baseline warning, restricted enforced", []string{baseline}, "restricted", PodSecurityVerdict{Violation: baseline}},
		{"the first violation", []string{deprecated, restricted, baseline}, "baseline", PodSecurityVerdict{Violation: baseline, Unsure: true}},
		{"other warnings only", []string{deprecated, "would violate something else"}, "restricted", PodSecurityVerdict{}},
		{"no closing quote", []string{`would violate PodSecurity "baseline`}, "baseline", PodSecurityVerdict{Unsure: true}},
		{"unknown level", []string{`would violate PodSecurity "strict:latest": x`}, "baseline", PodSecurityVerdict{Unsure: true}},
		{"empty level", []string{`would violate PodSecurity "": x`}, "restricted", PodSecurityVerdict{Unsure: true}},
		{"unknown enforced level", []string{restricted}, "privileged-ish", PodSecurityVerdict{Unsure: true}},
		{"not at the start", []string{"note: " + baseline}, "baseline", PodSecurityVerdict{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := JudgePodSecurity(tc.warnings, tc.level); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestWarningsHeader: the warnings of a request's calls become its
// answer's Warning headers in the Kubernetes form, each once, in order;
// Since gives one call's warnings; codes other than 299 are ignored.
func TestWarningsHeader(t *testing.T) {
	var w Warnings
	if h := w.Header(); h != nil {
		t.Errorf("no warnings: header %v", h)
	}
	ctx := context.Background()
	w.HandleWarningHeaderWithContext(ctx, 299, "-", `first "quoted" \ text`)
	mark := w.Len()
	w.HandleWarningHeaderWithContext(ctx, 299, "-", "second")
	w.HandleWarningHeaderWithContext(ctx, 199, "-", "not a 299")
	w.HandleWarningHeaderWithContext(ctx, 299, "-", `first "quoted" \ text`)
	if got := w.Since(mark); !slices.Equal(got, []string{"second", `first "quoted" \ text`}) {
		t.Errorf("Since: %q", got)
	}
	h := w.Header()
	parsed, errs := utilnet.ParseWarningHeaders(h.Values("Warning"))
	if len(errs) > 0 || len(parsed) != 2 || parsed[0].Text != `first "quoted" \ text` || parsed[1].Text != "second" || parsed[0].Code != 299 || parsed[0].Agent != "-" {
		t.Errorf("header %q: %+v %v", h.Values("Warning"), parsed, errs)
	}
	if got := h.Values("Warning")[1]; got != `299 - "second"` {
		t.Errorf("header %q, want 299 - \"second\"", got)
	}
	c := &Client{Warnings: &w}
	r, ok := WithWarnings(c, "body").(*httpapi.Response)
	if !ok || r.Body != "body" || len(r.Header.Values("Warning")) != 2 || r.Status != 0 {
		t.Errorf("WithWarnings: %+v", r)
	}
	if got := WithWarnings(&Client{}, "body"); got != "body" {
		t.Errorf("WithWarnings without warnings: %v", got)
	}
	var none *Warnings
	if none.Len() != 0 || none.Since(0) != nil || none.Header() != nil {
		t.Error("a nil Warnings has warnings")
	}
}

// TestRestrictFillsOnlyWhatIsUnset: Restrict gives a form's pod spec what
// the restricted level requires, in every container, and keeps what is
// set already (a choice made elsewhere is judged as it is).
func TestRestrictFillsOnlyWhatIsUnset(t *testing.T) {
	yes := true
	spec := corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "init"}},
		Containers: []corev1.Container{{Name: "app"}, {Name: "side", SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: &yes,
			Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"NET_RAW"}}}}},
	}
	Restrict(&spec)
	psc := spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext %+v", psc)
	}
	for _, c := range []corev1.Container{spec.InitContainers[0], spec.Containers[0]} {
		sc := c.SecurityContext
		if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
			t.Errorf("container %s securityContext %+v", c.Name, sc)
		}
	}
	if sc := spec.Containers[1].SecurityContext; !*sc.AllowPrivilegeEscalation || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"NET_RAW"}) {
		t.Errorf("the sidecar's own securityContext was changed: %+v", sc)
	}
}
