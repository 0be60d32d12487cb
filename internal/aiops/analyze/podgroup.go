package analyze

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/hexabase/hexabase-ai/internal/api"
)

// podIssue is one pod's problem; the pods of one workload with the same
// problem become one finding.
type podIssue struct {
	pod *corev1.Pod
	// group is what the pods of one owner must share to be one finding,
	// e.g. the container and the image.
	group    string
	severity string
	// one and many are the predicate of the title: "Pod NAME " + one, or
	// "N pods of Deployment NAME " + many.
	one, many  string
	evidence   []string
	suggestion string
}

// podFindings groups the issues by owner and group: one finding for each,
// about the first pod (by name) and listing the others.
func (x *index) podFindings(analyzer string, issues []podIssue) []api.Finding {
	type key struct {
		owner ref
		group string
	}
	groups := map[key][]podIssue{}
	var keys []key
	for _, is := range issues {
		k := key{group: is.group}
		if o, ok := x.topOwner(is.pod.Namespace, &is.pod.ObjectMeta); ok {
			k.owner = o
		} else {
			k.owner = ref{"Pod", is.pod.Namespace, is.pod.Name}
		}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], is)
	}
	slices.SortFunc(keys, func(a, b key) int {
		return cmp.Or(cmp.Compare(a.owner.ns, b.owner.ns), cmp.Compare(a.owner.kind, b.owner.kind),
			cmp.Compare(a.owner.name, b.owner.name), cmp.Compare(a.group, b.group))
	})
	var out []api.Finding
	for _, k := range keys {
		g := groups[k]
		slices.SortFunc(g, func(a, b podIssue) int { return strings.Compare(a.pod.Name, b.pod.Name) })
		first := g[0]
		f := api.Finding{Analyzer: analyzer, Severity: first.severity, Suggestion: first.suggestion}
		for _, is := range g[1:] {
			f.Severity = worst(f.Severity, is.severity)
		}
		podRef := ref{"Pod", first.pod.Namespace, first.pod.Name}
		if len(g) == 1 {
			f.Title = "Pod " + first.pod.Name + " " + first.one
			f.Objects = []api.FindingObject{podRef.wire()}
			if k.owner != podRef {
				f.Objects = append(f.Objects, k.owner.wire())
			}
			f.Evidence = bound(first.evidence)
		} else {
			f.Title = fmt.Sprintf("%d pods of %s %s %s", len(g), k.owner.kind, k.owner.name, first.many)
			f.Objects = []api.FindingObject{k.owner.wire()}
			var pods []string
			for i, is := range g {
				if i < maxNames {
					f.Objects = append(f.Objects, ref{"Pod", is.pod.Namespace, is.pod.Name}.wire())
				}
				pods = append(pods, is.pod.Name)
			}
			ev := first.evidence
			if len(ev) > maxEvidence-1 {
				ev = ev[:maxEvidence-1]
			}
			f.Evidence = append(append([]string{}, ev...), "seen in pod "+first.pod.Name+"; the same in "+names(pods[1:]))
		}
		out = append(out, f)
	}
	return out
}

// ctr is a container of a pod with its status.
type ctr struct {
	name string
	init bool
	spec *corev1.Container
	st   *corev1.ContainerStatus
}

// containersOf returns a pod's init and regular containers that have a
// status, in that order.
func containersOf(p *corev1.Pod) []ctr {
	var out []ctr
	add := func(specs []corev1.Container, sts []corev1.ContainerStatus, init bool) {
		for i := range sts {
			c := ctr{name: sts[i].Name, init: init, st: &sts[i]}
			for j := range specs {
				if specs[j].Name == c.name {
					c.spec = &specs[j]
				}
			}
			out = append(out, c)
		}
	}
	add(p.Spec.InitContainers, p.Status.InitContainerStatuses, true)
	add(p.Spec.Containers, p.Status.ContainerStatuses, false)
	return out
}

// label is "container web" or "init container migrate".
func (c ctr) label() string {
	if c.init {
		return "init container " + c.name
	}
	return "container " + c.name
}

// several tells whether a pod has more than one container, init
// containers included: titles name the container then.
func several(p *corev1.Pod) bool { return len(p.Spec.InitContainers)+len(p.Spec.Containers) > 1 }

// inTitle is " (container web)" for a pod of several containers, "".
func (c ctr) inTitle(p *corev1.Pod) string {
	if several(p) {
		return " (" + c.label() + ")"
	}
	return ""
}

// waitingLine quotes a waiting state: `container web waiting
// ImagePullBackOff: Back-off pulling image "nginx:latst"`.
func waitingLine(c ctr) string {
	w := c.st.State.Waiting
	line := c.label() + " waiting " + w.Reason
	if m := clip(w.Message); m != "" {
		line += ": " + m
	}
	return line
}

// livePods are the pods not being deleted.
func (x *index) livePods() []*corev1.Pod {
	out := make([]*corev1.Pod, 0, len(x.s.Pods))
	for i := range x.s.Pods {
		if x.s.Pods[i].DeletionTimestamp == nil {
			out = append(out, &x.s.Pods[i])
		}
	}
	return out
}

// podRef is the ref of a pod.
func podRef(p *corev1.Pod) ref { return ref{"Pod", p.Namespace, p.Name} }
