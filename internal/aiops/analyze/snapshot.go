package analyze

import (
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// Snapshot is what the analyzers look at: the objects of some namespaces
// at one moment. Collect fills it from a cluster; tests build it by hand.
type Snapshot struct {
	// Now is the moment ages are measured from.
	Now time.Time
	// Namespaces are the namespaces the objects were listed in.
	Namespaces []string

	Pods           []corev1.Pod
	Deployments    []appsv1.Deployment
	ReplicaSets    []appsv1.ReplicaSet
	StatefulSets   []appsv1.StatefulSet
	Services       []corev1.Service
	EndpointSlices []discoveryv1.EndpointSlice
	Jobs           []batchv1.Job
	CronJobs       []batchv1.CronJob
	ResourceQuotas []corev1.ResourceQuota
	LimitRanges    []corev1.LimitRange
	PVCs           []corev1.PersistentVolumeClaim
	Ingresses      []networkingv1.Ingress
	HPAs           []autoscalingv2.HorizontalPodAutoscaler
	Events         []corev1.Event

	// Runs are the platform's own CronJob run history (filled by the
	// caller): they outlive the Jobs the cluster keeps.
	Runs []store.CronJobRun

	// Skipped are the kinds that could not be listed, each as
	// "<resource>: <why>" when it could be listed in no namespace, or
	// "<resource> in <namespace>: <why>" for one namespace, the resource
	// being one of the Resource* names (e.g. "pods: forbidden"). They are
	// reported, never fatal; an analyzer concludes nothing from the absence
	// of objects of a skipped kind.
	Skipped []string
}

// The resources Collect lists, by the names Skipped uses.
const (
	ResourcePods                     = "pods"
	ResourceDeployments              = "deployments"
	ResourceReplicaSets              = "replicasets"
	ResourceStatefulSets             = "statefulsets"
	ResourceServices                 = "services"
	ResourceEndpointSlices           = "endpointslices"
	ResourceJobs                     = "jobs"
	ResourceCronJobs                 = "cronjobs"
	ResourceResourceQuotas           = "resourcequotas"
	ResourceLimitRanges              = "limitranges"
	ResourcePersistentVolumeClaims   = "persistentvolumeclaims"
	ResourceIngresses                = "ingresses"
	ResourceHorizontalPodAutoscalers = "horizontalpodautoscalers"
	ResourceEvents                   = "events"
)

// Listed tells whether resource was listed in namespace ns: false when
// Skipped names it for all namespaces or for ns.
func (s *Snapshot) Listed(resource, ns string) bool {
	for _, sk := range s.Skipped {
		head, _, ok := strings.Cut(sk, ":")
		if !ok {
			continue
		}
		if head == resource || head == resource+" in "+ns {
			return false
		}
	}
	return true
}

// objects counts the objects of the snapshot, events included.
func (s *Snapshot) objects() int {
	return len(s.Pods) + len(s.Deployments) + len(s.ReplicaSets) + len(s.StatefulSets) + len(s.Services) +
		len(s.EndpointSlices) + len(s.Jobs) + len(s.CronJobs) + len(s.ResourceQuotas) + len(s.LimitRanges) +
		len(s.PVCs) + len(s.Ingresses) + len(s.HPAs) + len(s.Events)
}

// ref is an object by kind, namespace and name.
type ref struct{ kind, ns, name string }

// wire is the ref as a finding's object.
func (r ref) wire() api.FindingObject {
	return api.FindingObject{Kind: r.kind, Namespace: r.ns, Name: r.name}
}

// String is "Kind name".
func (r ref) String() string { return r.kind + " " + r.name }

// index holds the lookups the analyzers share, built from a snapshot.
type index struct {
	s *Snapshot
	// events by the object they are about, newest first.
	events map[ref][]*corev1.Event
	// controllers: the owner (by controller reference) of ReplicaSets and
	// Jobs, the only intermediate owners followed.
	rsOwner  map[ref]metav1.OwnerReference
	jobOwner map[ref]metav1.OwnerReference
	// objects present, by kind.
	deployments  map[ref]*appsv1.Deployment
	replicaSets  map[ref]*appsv1.ReplicaSet
	statefulSets map[ref]*appsv1.StatefulSet
	jobs         map[ref]*batchv1.Job
	services     map[ref]*corev1.Service
	pods         map[ref]*corev1.Pod
	// podsOf: the pods of each top owner (topOwner), by name.
	podsOf map[ref][]*corev1.Pod
}

func newIndex(s *Snapshot) *index {
	x := &index{s: s, events: map[ref][]*corev1.Event{}, rsOwner: map[ref]metav1.OwnerReference{}, jobOwner: map[ref]metav1.OwnerReference{},
		deployments: map[ref]*appsv1.Deployment{}, replicaSets: map[ref]*appsv1.ReplicaSet{}, statefulSets: map[ref]*appsv1.StatefulSet{},
		jobs: map[ref]*batchv1.Job{}, services: map[ref]*corev1.Service{}, pods: map[ref]*corev1.Pod{}, podsOf: map[ref][]*corev1.Pod{}}
	for i := range s.Events {
		e := &s.Events[i]
		ns := e.InvolvedObject.Namespace
		if ns == "" {
			ns = e.Namespace
		}
		k := ref{e.InvolvedObject.Kind, ns, e.InvolvedObject.Name}
		x.events[k] = append(x.events[k], e)
	}
	for _, evs := range x.events {
		slices.SortStableFunc(evs, func(a, b *corev1.Event) int {
			if c := lastSeen(b).Compare(lastSeen(a)); c != 0 {
				return c
			}
			return strings.Compare(a.Name, b.Name)
		})
	}
	for i := range s.ReplicaSets {
		rs := &s.ReplicaSets[i]
		k := ref{"ReplicaSet", rs.Namespace, rs.Name}
		x.replicaSets[k] = rs
		if o := metav1.GetControllerOf(rs); o != nil {
			x.rsOwner[k] = *o
		}
	}
	for i := range s.Jobs {
		j := &s.Jobs[i]
		k := ref{"Job", j.Namespace, j.Name}
		x.jobs[k] = j
		if o := metav1.GetControllerOf(j); o != nil {
			x.jobOwner[k] = *o
		}
	}
	for i := range s.Deployments {
		d := &s.Deployments[i]
		x.deployments[ref{"Deployment", d.Namespace, d.Name}] = d
	}
	for i := range s.StatefulSets {
		st := &s.StatefulSets[i]
		x.statefulSets[ref{"StatefulSet", st.Namespace, st.Name}] = st
	}
	for i := range s.Services {
		sv := &s.Services[i]
		x.services[ref{"Service", sv.Namespace, sv.Name}] = sv
	}
	for i := range s.Pods {
		p := &s.Pods[i]
		x.pods[ref{"Pod", p.Namespace, p.Name}] = p
		if o, ok := x.topOwner(p.Namespace, &p.ObjectMeta); ok {
			x.podsOf[o] = append(x.podsOf[o], p)
		}
	}
	for _, ps := range x.podsOf {
		slices.SortFunc(ps, func(a, b *corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	}
	return x
}

// gone tells whether the object is of a kind the snapshot lists (and
// listed in its namespace) but not there: deleted since its events.
func (x *index) gone(k ref) bool {
	var present bool
	var resource string
	switch k.kind {
	case "Pod":
		_, present = x.pods[k]
		resource = ResourcePods
	case "Deployment":
		_, present = x.deployments[k]
		resource = ResourceDeployments
	case "ReplicaSet":
		_, present = x.replicaSets[k]
		resource = ResourceReplicaSets
	case "StatefulSet":
		_, present = x.statefulSets[k]
		resource = ResourceStatefulSets
	case "Job":
		_, present = x.jobs[k]
		resource = ResourceJobs
	case "Service":
		_, present = x.services[k]
		resource = ResourceServices
	default:
		return false
	}
	return !present && x.s.Listed(resource, k.ns)
}

// eventsOf returns the events about the object, newest first, of type typ
// (any when empty) and with one of the reasons (any when none).
func (x *index) eventsOf(k ref, typ string, reasons ...string) []*corev1.Event {
	var out []*corev1.Event
	for _, e := range x.events[k] {
		if typ != "" && e.Type != typ {
			continue
		}
		if len(reasons) > 0 && !slices.Contains(reasons, e.Reason) {
			continue
		}
		out = append(out, e)
	}
	return out
}

// topOwner follows the controller references of an object up through
// ReplicaSets and Jobs: a pod of a Deployment answers the Deployment, a
// pod of a CronJob's Job the Job (the run is what failed). ok is false
// for an object without a controller.
func (x *index) topOwner(ns string, meta *metav1.ObjectMeta) (ref, bool) {
	o := metav1.GetControllerOfNoCopy(meta)
	if o == nil {
		return ref{}, false
	}
	k := ref{o.Kind, ns, o.Name}
	if o.Kind == "ReplicaSet" {
		if up, ok := x.rsOwner[k]; ok && up.Kind == "Deployment" {
			return ref{"Deployment", ns, up.Name}, true
		}
	}
	return k, true
}

// lastSeen is when an event was last observed.
func lastSeen(e *corev1.Event) time.Time {
	switch {
	case e.Series != nil && !e.Series.LastObservedTime.IsZero():
		return e.Series.LastObservedTime.Time
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.FirstTimestamp.IsZero():
		return e.FirstTimestamp.Time
	}
	return e.CreationTimestamp.Time
}

// eventCount is how many times an event was observed.
func eventCount(e *corev1.Event) int {
	switch {
	case e.Series != nil && e.Series.Count > 0:
		return int(e.Series.Count)
	case e.Count > 0:
		return int(e.Count)
	}
	return 1
}
