package analyze

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/hexabase/hexabase-ai/internal/api"
)

// selecting reports whether a Service selects pods: it has a selector and
// is not an ExternalName.
func selecting(svc *corev1.Service) bool {
	return len(svc.Spec.Selector) > 0 && svc.Spec.Type != corev1.ServiceTypeExternalName
}

// selectedPods are the pods of the Service's namespace its selector
// matches, the terminal and deleted ones left out (no endpoint has them).
func (x *index) selectedPods(svc *corev1.Service) []*corev1.Pod {
	sel := labels.SelectorFromSet(svc.Spec.Selector)
	var out []*corev1.Pod
	for i := range x.s.Pods {
		p := &x.s.Pods[i]
		if p.Namespace != svc.Namespace || p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		if sel.Matches(labels.Set(p.Labels)) {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b *corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// workloadsSelected are the Deployments and StatefulSets of the Service's
// namespace whose pod template the selector matches, by kind and name,
// with their replicas.
func (x *index) workloadsSelected(svc *corev1.Service) (out []ref, replicas []int32) {
	type w struct {
		r ref
		n int32
	}
	var ws []w
	sel := labels.SelectorFromSet(svc.Spec.Selector)
	for i := range x.s.Deployments {
		d := &x.s.Deployments[i]
		if d.Namespace == svc.Namespace && sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			ws = append(ws, w{ref{"Deployment", d.Namespace, d.Name}, replicasOf(d.Spec.Replicas)})
		}
	}
	for i := range x.s.StatefulSets {
		st := &x.s.StatefulSets[i]
		if st.Namespace == svc.Namespace && sel.Matches(labels.Set(st.Spec.Template.Labels)) {
			ws = append(ws, w{ref{"StatefulSet", st.Namespace, st.Name}, replicasOf(st.Spec.Replicas)})
		}
	}
	slices.SortFunc(ws, func(a, b w) int { return cmp.Or(cmp.Compare(a.r.kind, b.r.kind), cmp.Compare(a.r.name, b.r.name)) })
	for _, x := range ws {
		out, replicas = append(out, x.r), append(replicas, x.n)
	}
	return out, replicas
}

// serviceSelector: Services whose selector matches no pod. A selector
// that matches a workload's pod template is right: the workload is scaled
// to zero (info) or has no pod (warning, its own findings say why).
func serviceSelector(x *index) []api.Finding {
	var out []api.Finding
	for i := range x.s.Services {
		svc := &x.s.Services[i]
		if !selecting(svc) || !x.s.Listed(ResourcePods, svc.Namespace) || len(x.selectedPods(svc)) > 0 {
			continue
		}
		self := ref{"Service", svc.Namespace, svc.Name}
		sel := selectorText(svc.Spec.Selector)
		edit := "`kubectl -n " + svc.Namespace + " edit service " + svc.Name + "`"
		f := api.Finding{Analyzer: "service-selector", Severity: api.SeverityWarning, Objects: []api.FindingObject{self.wire()}}
		inNS := 0
		for j := range x.s.Pods {
			if x.s.Pods[j].Namespace == svc.Namespace {
				inNS++
			}
		}
		ev := []string{fmt.Sprintf("selector %s matches none of the %s in %s", sel, plural(inNS, "pod"), svc.Namespace)}
		if inNS == 0 {
			ev[0] = "selector " + sel + " matches no pod: " + svc.Namespace + " has none"
		}
		ws, reps := x.workloadsSelected(svc)
		switch {
		case len(ws) > 0 && slices.Max(reps) == 0:
			f.Severity = api.SeverityInfo
			f.Title = "Service " + svc.Name + " selects " + ws[0].String() + ", scaled to 0"
			f.Objects = append(f.Objects, ws[0].wire())
			ev = append(ev, ws[0].String()+" has 0 replicas")
			f.Suggestion = "nothing answers the Service until it is scaled up"
			if a := x.app(ws[0]); a != "" {
				f.Suggestion += ": `hks app scale " + a + " --replicas 1 --project " + svc.Namespace + "`"
			}
		case len(ws) > 0:
			f.Title = "Service " + svc.Name + " selects " + ws[0].String() + ", which has no pod"
			f.Objects = append(f.Objects, ws[0].wire())
			ev = append(ev, fmt.Sprintf("%s wants %d replicas", ws[0], slices.Max(reps)))
			f.Suggestion = "the selector is right but " + ws[0].String() + " has no pod: see the findings about it (it cannot create or keep its pods)"
		default:
			f.Title = "Service " + svc.Name + "'s selector matches no pod"
			near := x.nearLabels(svc)
			if len(near) > 0 {
				ev = append(ev, "pods in "+svc.Namespace+" carry "+strings.Join(near, "; "))
				f.Suggestion = "make the selector and the pod labels agree: the selector asks " + sel + ": fix the selector (" + edit + ") or the labels of the pod template"
			} else {
				ev = append(ev, "no pod in "+svc.Namespace+" has the label keys of the selector")
				f.Suggestion = "no workload in " + svc.Namespace + " makes pods labelled " + sel + ": create it, or fix the selector (" + edit + ")"
			}
		}
		f.Evidence = bound(ev)
		out = append(out, f)
	}
	return out
}

// nearLabels lists, for the keys of a Service's selector, the other values
// the namespace's pods carry, each with a pod: `app=webapp (pod
// webapp-7d-x)`; at most 3.
func (x *index) nearLabels(svc *corev1.Service) []string {
	seen := map[string]string{}
	for i := range x.s.Pods {
		p := &x.s.Pods[i]
		if p.Namespace != svc.Namespace {
			continue
		}
		for k := range svc.Spec.Selector {
			if v, ok := p.Labels[k]; ok {
				kv := k + "=" + v
				if prev, ok := seen[kv]; !ok || p.Name < prev {
					seen[kv] = p.Name
				}
			}
		}
	}
	kvs := make([]string, 0, len(seen))
	for kv := range seen {
		kvs = append(kvs, kv)
	}
	slices.Sort(kvs)
	var out []string
	for _, kv := range kvs[:min(len(kvs), 3)] {
		out = append(out, kv+" (pod "+seen[kv]+")")
	}
	return out
}

// serviceEndpoints: Services whose selector matches pods but whose
// EndpointSlices list no ready endpoint.
func serviceEndpoints(x *index) []api.Finding {
	slicesOf := map[ref][]*discoveryv1.EndpointSlice{}
	for i := range x.s.EndpointSlices {
		es := &x.s.EndpointSlices[i]
		if name := es.Labels[discoveryv1.LabelServiceName]; name != "" {
			k := ref{"Service", es.Namespace, name}
			slicesOf[k] = append(slicesOf[k], es)
		}
	}
	var out []api.Finding
	for i := range x.s.Services {
		svc := &x.s.Services[i]
		if !selecting(svc) || !x.s.Listed(ResourcePods, svc.Namespace) || !x.s.Listed(ResourceEndpointSlices, svc.Namespace) {
			continue
		}
		pods := x.selectedPods(svc)
		if len(pods) == 0 {
			continue
		}
		self := ref{"Service", svc.Namespace, svc.Name}
		endpoints, ready := 0, 0
		for _, es := range slicesOf[self] {
			for _, e := range es.Endpoints {
				endpoints++
				if e.Conditions.Ready == nil || *e.Conditions.Ready {
					ready++
				}
			}
		}
		if ready > 0 {
			continue
		}
		readyPods := 0
		for _, p := range pods {
			if podReady(p) {
				readyPods++
			}
		}
		f := api.Finding{Analyzer: "service-endpoints", Severity: api.SeverityCritical, Objects: []api.FindingObject{self.wire()},
			Title: "Service " + svc.Name + " has no ready endpoint"}
		ev := []string{fmt.Sprintf("selector %s matches %s, %d ready; its EndpointSlices list %s, none ready",
			selectorText(svc.Spec.Selector), plural(len(pods), "pod"), readyPods, plural(endpoints, "endpoint"))}
		lines, reason := unreadyPods(pods)
		ev = append(ev, lines...)
		missing := missingTargetPorts(svc, pods)
		ev = append(ev, missing...)
		switch {
		case len(missing) > 0:
			f.Suggestion = "name the container port in the pod template as the Service's targetPort says, or set the targetPort to the container's port number (`kubectl -n " + svc.Namespace + " edit service " + svc.Name + "`)"
		case reason != "":
			f.Suggestion = "its pods are not ready (" + reason + "): fix that first, see the findings about its pods"
		case readyPods == 0:
			f.Suggestion = "its pods are not ready: see the probes findings about them"
		default:
			f.Suggestion = "its pods are ready but not listed as endpoints: check that the Service's ports target ports the containers listen on"
		}
		f.Evidence = bound(ev)
		out = append(out, f)
	}
	return out
}

// missingTargetPorts quotes the Service ports whose named targetPort no
// selected pod declares.
func missingTargetPorts(svc *corev1.Service, pods []*corev1.Pod) []string {
	var out []string
	for _, sp := range svc.Spec.Ports {
		if sp.TargetPort.Type != intstr.String || sp.TargetPort.StrVal == "" {
			continue
		}
		found := false
		for _, p := range pods {
			for _, c := range p.Spec.Containers {
				for _, cp := range c.Ports {
					if cp.Name == sp.TargetPort.StrVal {
						found = true
					}
				}
			}
		}
		if !found {
			out = append(out, fmt.Sprintf("port %s targets the named port %q, which no selected pod declares", servicePortName(sp), sp.TargetPort.StrVal))
		}
	}
	return out
}

func servicePortName(sp corev1.ServicePort) string {
	if sp.Name != "" {
		return sp.Name
	}
	return strconv.Itoa(int(sp.Port))
}

// ingressRoute is one place an Ingress sends traffic to a Service.
type ingressRoute struct {
	where string // "shop.example.com/api" or "default backend"
	b     *networkingv1.IngressServiceBackend
}

func ingressRoutes(ing *networkingv1.Ingress) []ingressRoute {
	var out []ingressRoute
	if b := ing.Spec.DefaultBackend; b != nil && b.Service != nil {
		out = append(out, ingressRoute{"default backend", b.Service})
	}
	for _, r := range ing.Spec.Rules {
		if r.HTTP == nil {
			continue
		}
		host := r.Host
		if host == "" {
			host = "*"
		}
		for _, p := range r.HTTP.Paths {
			if p.Backend.Service != nil {
				out = append(out, ingressRoute{"rule " + host + p.Path, p.Backend.Service})
			}
		}
	}
	return out
}

func backendPort(b *networkingv1.IngressServiceBackend) string {
	if b.Port.Name != "" {
		return b.Port.Name
	}
	return strconv.Itoa(int(b.Port.Number))
}

// ingressBackend: Ingress routes to a Service that does not exist or to a
// port the Service does not have.
func ingressBackend(x *index) []api.Finding {
	var out []api.Finding
	for i := range x.s.Ingresses {
		ing := &x.s.Ingresses[i]
		if !x.s.Listed(ResourceServices, ing.Namespace) {
			continue
		}
		self := ref{"Ingress", ing.Namespace, ing.Name}
		type target struct{ svc, port string }
		where := map[target][]string{}
		var order []target
		for _, r := range ingressRoutes(ing) {
			t := target{r.b.Name, backendPort(r.b)}
			if _, ok := where[t]; !ok {
				order = append(order, t)
			}
			where[t] = append(where[t], r.where)
		}
		edit := "`kubectl -n " + ing.Namespace + " edit ingress " + ing.Name + "`"
		for _, t := range order {
			svcRef := ref{"Service", ing.Namespace, t.svc}
			svc, ok := x.services[svcRef]
			f := api.Finding{Analyzer: "ingress-backend", Severity: api.SeverityCritical, Objects: []api.FindingObject{self.wire(), svcRef.wire()}}
			routes := where[t]
			ev := []string{fmt.Sprintf("%s → service %s:%s", names(routes), t.svc, t.port)}
			if !ok {
				f.Title = "Ingress " + ing.Name + " routes to Service " + t.svc + ", which does not exist"
				f.Suggestion = "create Service " + t.svc + " in " + ing.Namespace + ", or route to an existing Service: " + edit
			} else {
				var ports []string
				found := false
				for _, sp := range svc.Spec.Ports {
					if strconv.Itoa(int(sp.Port)) == t.port || (sp.Name != "" && sp.Name == t.port) {
						found = true
					}
					p := fmt.Sprintf("%d/%s", sp.Port, sp.Protocol)
					if sp.Name != "" {
						p = sp.Name + " " + p
					}
					ports = append(ports, p)
				}
				if found {
					continue
				}
				f.Title = "Ingress " + ing.Name + " routes to port " + t.port + " of Service " + t.svc + ", which has no such port"
				ev = append(ev, "Service "+t.svc+" ports: "+strings.Join(ports, ", "))
				f.Suggestion = "route to one of the Service's ports (by number or name): " + edit
			}
			f.Evidence = ev
			out = append(out, f)
		}
	}
	return out
}
