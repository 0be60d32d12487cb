package analyze

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/hexabase/hexabase-ai/internal/api"
)

// service is a ClusterIP Service of ns with the selector and port 80
// named http, to targetPort 8080.
func service(name string, selector map[string]string, mods ...func(*corev1.Service)) corev1.Service {
	s := corev1.Service{ObjectMeta: meta(name)}
	s.Spec.Selector = selector
	s.Spec.Ports = []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(8080)}}
	for _, m := range mods {
		m(&s)
	}
	return s
}

// endpointSlice is a slice of Service svc with one endpoint per ready
// value.
func endpointSlice(svc string, ready ...bool) discoveryv1.EndpointSlice {
	es := discoveryv1.EndpointSlice{ObjectMeta: meta(svc + "-x1")}
	es.Labels = map[string]string{discoveryv1.LabelServiceName: svc}
	for _, r := range ready {
		es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{Addresses: []string{"10.0.0.1"}, Conditions: discoveryv1.EndpointConditions{Ready: &r}})
	}
	return es
}

func web() map[string]string { return map[string]string{"app": "web"} }

func TestServiceSelector(t *testing.T) {
	deps, rss := webApp(2)
	pods := []corev1.Pod{pod("web-5d9c-a"), pod("web-5d9c-b")}
	runTable(t, "service-selector", []tc{
		{name: "matches", s: Snapshot{Deployments: deps, ReplicaSets: rss, Pods: pods, Services: []corev1.Service{service("web", web())}}},
		{name: "no selector, ExternalName", s: Snapshot{Pods: pods, Services: []corev1.Service{service("ext", nil),
			service("db", map[string]string{"app": "db"}, func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeExternalName })}}},
		{name: "pods not listed", s: Snapshot{Services: []corev1.Service{service("web", map[string]string{"app": "webb"})}, Skipped: []string{"pods: forbidden"}}},
		{name: "pods not listed in its namespace", s: Snapshot{Services: []corev1.Service{service("web", map[string]string{"app": "webb"})}, Skipped: []string{"pods in shop: forbidden"}}},
		{name: "a typo in the selector",
			s: Snapshot{Deployments: deps, ReplicaSets: rss, Pods: pods, Services: []corev1.Service{service("web", map[string]string{"app": "webb"})},
				Skipped: []string{"pods in other: forbidden"}},
			want: []api.Finding{{Analyzer: "service-selector", Severity: api.SeverityWarning, Title: "Service web's selector matches no pod",
				Objects:  objects("Service", "web"),
				Evidence: []string{"selector app=webb matches none of the 2 pods in shop", "pods in shop carry app=web (pod web-5d9c-a)"},
				Suggestion: "make the selector and the pod labels agree: the selector asks app=webb: fix the selector (`kubectl -n shop edit service web`) " +
					"or the labels of the pod template"}}},
		{name: "labels nobody has",
			s: Snapshot{Deployments: deps, ReplicaSets: rss, Pods: pods, Services: []corev1.Service{service("db", map[string]string{"tier": "db"})}},
			want: []api.Finding{{Analyzer: "service-selector", Severity: api.SeverityWarning, Title: "Service db's selector matches no pod",
				Objects:    objects("Service", "db"),
				Evidence:   []string{"selector tier=db matches none of the 2 pods in shop", "no pod in shop has the label keys of the selector"},
				Suggestion: "no workload in shop makes pods labelled tier=db: create it, or fix the selector (`kubectl -n shop edit service db`)"}}},
		{name: "its Deployment scaled to zero",
			s: Snapshot{Deployments: []appsv1.Deployment{app("web", 0)}, Services: []corev1.Service{service("web", web())}},
			want: []api.Finding{{Analyzer: "service-selector", Severity: api.SeverityInfo, Title: "Service web selects Deployment web, scaled to 0",
				Objects:    objects("Service", "web", "Deployment", "web"),
				Evidence:   []string{"selector app=web matches no pod: shop has none", "Deployment web has 0 replicas"},
				Suggestion: "nothing answers the Service until it is scaled up: `hks app scale web --replicas 1 --project shop`"}}},
		{name: "its Deployment has no pod",
			s: Snapshot{Deployments: deps, ReplicaSets: rss, Services: []corev1.Service{service("web", web())}},
			want: []api.Finding{{Analyzer: "service-selector", Severity: api.SeverityWarning, Title: "Service web selects Deployment web, which has no pod",
				Objects:    objects("Service", "web", "Deployment", "web"),
				Evidence:   []string{"selector app=web matches no pod: shop has none", "Deployment web wants 2 replicas"},
				Suggestion: "the selector is right but Deployment web has no pod: see the findings about it (it cannot create or keep its pods)"}}},
	})
}

func TestServiceEndpoints(t *testing.T) {
	deps, rss := webApp(2)
	pull := waiting("ImagePullBackOff", "")
	runTable(t, "service-endpoints", []tc{
		{name: "a ready endpoint", s: Snapshot{Deployments: deps, ReplicaSets: rss, Pods: []corev1.Pod{pod("web-5d9c-a"), pod("web-5d9c-b", notReady)},
			Services: []corev1.Service{service("web", web())}, EndpointSlices: []discoveryv1.EndpointSlice{endpointSlice("web", true, false)}}},
		{name: "selecting no pod is service-selector's", s: Snapshot{Services: []corev1.Service{service("web", web())}}},
		{name: "slices not listed", s: Snapshot{Pods: []corev1.Pod{pod("web-5d9c-a")}, Services: []corev1.Service{service("web", web())}, Skipped: []string{"endpointslices: forbidden"}}},
		{name: "pods not ready",
			s: Snapshot{Deployments: deps, ReplicaSets: rss, Pods: []corev1.Pod{pod("web-5d9c-a", pull), pod("web-5d9c-b", pull)},
				Services: []corev1.Service{service("web", web())}, EndpointSlices: []discoveryv1.EndpointSlice{endpointSlice("web", false, false)}},
			want: []api.Finding{{Analyzer: "service-endpoints", Severity: api.SeverityCritical, Title: "Service web has no ready endpoint",
				Objects: objects("Service", "web"),
				Evidence: []string{"selector app=web matches 2 pods, 0 ready; its EndpointSlices list 2 endpoints, none ready",
					"pod web-5d9c-a: Pending, container web waiting ImagePullBackOff", "pod web-5d9c-b: Pending, container web waiting ImagePullBackOff"},
				Suggestion: "its pods are not ready (ImagePullBackOff): fix that first, see the findings about its pods"}}},
		{name: "a named target port no pod declares",
			s: Snapshot{Deployments: deps, ReplicaSets: rss, Pods: []corev1.Pod{pod("web-5d9c-a")},
				Services: []corev1.Service{service("web", web(), func(s *corev1.Service) {
					s.Spec.Ports = []corev1.ServicePort{{Name: "web", Port: 80, TargetPort: intstr.FromString("http")}}
				})}, EndpointSlices: []discoveryv1.EndpointSlice{endpointSlice("web")}},
			want: []api.Finding{{Analyzer: "service-endpoints", Severity: api.SeverityCritical, Title: "Service web has no ready endpoint",
				Objects: objects("Service", "web"),
				Evidence: []string{"selector app=web matches 1 pod, 1 ready; its EndpointSlices list 0 endpoints, none ready",
					`port web targets the named port "http", which no selected pod declares`},
				Suggestion: "name the container port in the pod template as the Service's targetPort says, or set the targetPort to the container's port number (`kubectl -n shop edit service web`)"}}},
	})
}

// ingress routes host/path to each service:port given as pairs.
func ingress(name, host string, routes ...networkingv1.HTTPIngressPath) networkingv1.Ingress {
	ing := networkingv1.Ingress{ObjectMeta: meta(name)}
	ing.Spec.Rules = []networkingv1.IngressRule{{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: routes}}}}
	return ing
}

func path(p, svc string, port networkingv1.ServiceBackendPort) networkingv1.HTTPIngressPath {
	return networkingv1.HTTPIngressPath{Path: p, Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: svc, Port: port}}}
}

func TestIngressBackend(t *testing.T) {
	svcs := []corev1.Service{service("web", web())}
	byNumber := func(n int32) networkingv1.ServiceBackendPort { return networkingv1.ServiceBackendPort{Number: n} }
	runTable(t, "ingress-backend", []tc{
		{name: "by number and by name", s: Snapshot{Services: svcs, Ingresses: []networkingv1.Ingress{ingress("shop", "shop.example.com",
			path("/", "web", byNumber(80)), path("/static", "web", networkingv1.ServiceBackendPort{Name: "http"}))}}},
		{name: "services not listed", s: Snapshot{Ingresses: []networkingv1.Ingress{ingress("shop", "shop.example.com", path("/api", "api", byNumber(8080)))},
			Skipped: []string{"services: forbidden"}}},
		{name: "a Service that does not exist",
			s: Snapshot{Services: svcs, Ingresses: []networkingv1.Ingress{ingress("shop", "shop.example.com", path("/", "web", byNumber(80)),
				path("/api", "api", byNumber(8080)), path("/v2", "api", byNumber(8080)))}},
			want: []api.Finding{{Analyzer: "ingress-backend", Severity: api.SeverityCritical, Title: "Ingress shop routes to Service api, which does not exist",
				Objects:    objects("Ingress", "shop", "Service", "api"),
				Evidence:   []string{"rule shop.example.com/api, rule shop.example.com/v2 → service api:8080"},
				Suggestion: "create Service api in shop, or route to an existing Service: `kubectl -n shop edit ingress shop`"}}},
		{name: "a port the Service does not have",
			s: Snapshot{Services: svcs, Ingresses: []networkingv1.Ingress{ingress("shop", "shop.example.com", path("/", "web", byNumber(8080)))}},
			want: []api.Finding{{Analyzer: "ingress-backend", Severity: api.SeverityCritical, Title: "Ingress shop routes to port 8080 of Service web, which has no such port",
				Objects:    objects("Ingress", "shop", "Service", "web"),
				Evidence:   []string{"rule shop.example.com/ → service web:8080", "Service web ports: http 80/TCP"},
				Suggestion: "route to one of the Service's ports (by number or name): `kubectl -n shop edit ingress shop`"}}},
	})
}
