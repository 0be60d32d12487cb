package analyze

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Bounds of Collect (variables: tests lower them).
var (
	// collectParallel lists run at once.
	collectParallel = 8
	// collectPage objects are asked for per list request.
	collectPage = 500
	// collectPerKind objects of a kind are examined per namespace at
	// most: past them the kind is recorded in Skipped for the namespace.
	collectPerKind = 2000
	// collectTotal objects are examined at most in all: past them what
	// is cut is recorded in Skipped. Which lists the cut falls on
	// depends on the order they answer in.
	collectTotal = 20000
)

// Collect lists every kind of a Snapshot in each of the namespaces with c,
// which must be the caller's own client: what the caller may not list
// (403) is recorded in Skipped, as is a kind the cluster does not serve
// (404), and the rest is collected. Any other error ends it, wrapped.
// The lists run concurrently, at most 8 at once, in pages; the objects
// come out in namespace order, then in the API server's (name) order.
// At most 2,000 objects of a kind are examined per namespace and 20,000
// in all: a list cut short is recorded in Skipped ("pods in shop: more
// than 2000, the rest not examined"), so the analyzers conclude nothing
// from what it lacks. Runs is left for the caller to fill.
func Collect(ctx context.Context, c kubernetes.Interface, namespaces []string, now time.Time) (*Snapshot, error) {
	nss := slices.Clone(namespaces)
	slices.Sort(nss)
	nss = slices.Compact(nss)
	s := &Snapshot{Now: now, Namespaces: nss}
	kinds := []lister{
		kindOf(ResourcePods, &s.Pods, func(ctx context.Context, ns string, o metav1.ListOptions) ([]corev1.Pod, string, error) {
			l, err := c.CoreV1().Pods(ns).List(ctx, o)
			return itemsOf(l, err, func(l *corev1.PodList) ([]corev1.Pod, string) { return l.Items, l.Continue })
		}),
		kindOf(ResourceDeployments, &s.Deployments, func(ctx context.Context, ns string, o metav1.ListOptions) ([]appsv1.Deployment, string, error) {
			l, err := c.AppsV1().Deployments(ns).List(ctx, o)
			return itemsOf(l, err, func(l *appsv1.DeploymentList) ([]appsv1.Deployment, string) { return l.Items, l.Continue })
		}),
		kindOf(ResourceReplicaSets, &s.ReplicaSets, func(ctx context.Context, ns string, o metav1.ListOptions) ([]appsv1.ReplicaSet, string, error) {
			l, err := c.AppsV1().ReplicaSets(ns).List(ctx, o)
			return itemsOf(l, err, func(l *appsv1.ReplicaSetList) ([]appsv1.ReplicaSet, string) { return l.Items, l.Continue })
		}),
		kindOf(ResourceStatefulSets, &s.StatefulSets, func(ctx context.Context, ns string, o metav1.ListOptions) ([]appsv1.StatefulSet, string, error) {
			l, err := c.AppsV1().StatefulSets(ns).List(ctx, o)
			return itemsOf(l, err, func(l *appsv1.StatefulSetList) ([]appsv1.StatefulSet, string) { return l.Items, l.Continue })
		}),
		kindOf(ResourceServices, &s.Services, func(ctx context.Context, ns string, o metav1.ListOptions) ([]corev1.Service, string, error) {
			l, err := c.CoreV1().Services(ns).List(ctx, o)
			return itemsOf(l, err, func(l *corev1.ServiceList) ([]corev1.Service, string) { return l.Items, l.Continue })
		}),
		kindOf(ResourceEndpointSlices, &s.EndpointSlices, func(ctx context.Context, ns string, o metav1.ListOptions) ([]discoveryv1.EndpointSlice, string, error) {
			l, err := c.DiscoveryV1().EndpointSlices(ns).List(ctx, o)
			return itemsOf(l, err, func(l *discoveryv1.EndpointSliceList) ([]discoveryv1.EndpointSlice, string) {
				return l.Items, l.Continue
			})
		}),
		kindOf(ResourceJobs, &s.Jobs, func(ctx context.Context, ns string, o metav1.ListOptions) ([]batchv1.Job, string, error) {
			l, err := c.BatchV1().Jobs(ns).List(ctx, o)
			return itemsOf(l, err, func(l *batchv1.JobList) ([]batchv1.Job, string) { return l.Items, l.Continue })
		}),
		kindOf(ResourceCronJobs, &s.CronJobs, func(ctx context.Context, ns string, o metav1.ListOptions) ([]batchv1.CronJob, string, error) {
			l, err := c.BatchV1().CronJobs(ns).List(ctx, o)
			return itemsOf(l, err, func(l *batchv1.CronJobList) ([]batchv1.CronJob, string) { return l.Items, l.Continue })
		}),
		kindOf(ResourceResourceQuotas, &s.ResourceQuotas, func(ctx context.Context, ns string, o metav1.ListOptions) ([]corev1.ResourceQuota, string, error) {
			l, err := c.CoreV1().ResourceQuotas(ns).List(ctx, o)
			return itemsOf(l, err, func(l *corev1.ResourceQuotaList) ([]corev1.ResourceQuota, string) { return l.Items, l.Continue })
		}),
		kindOf(ResourceLimitRanges, &s.LimitRanges, func(ctx context.Context, ns string, o metav1.ListOptions) ([]corev1.LimitRange, string, error) {
			l, err := c.CoreV1().LimitRanges(ns).List(ctx, o)
			return itemsOf(l, err, func(l *corev1.LimitRangeList) ([]corev1.LimitRange, string) { return l.Items, l.Continue })
		}),
		kindOf(ResourcePersistentVolumeClaims, &s.PVCs, func(ctx context.Context, ns string, o metav1.ListOptions) ([]corev1.PersistentVolumeClaim, string, error) {
			l, err := c.CoreV1().PersistentVolumeClaims(ns).List(ctx, o)
			return itemsOf(l, err, func(l *corev1.PersistentVolumeClaimList) ([]corev1.PersistentVolumeClaim, string) {
				return l.Items, l.Continue
			})
		}),
		kindOf(ResourceIngresses, &s.Ingresses, func(ctx context.Context, ns string, o metav1.ListOptions) ([]networkingv1.Ingress, string, error) {
			l, err := c.NetworkingV1().Ingresses(ns).List(ctx, o)
			return itemsOf(l, err, func(l *networkingv1.IngressList) ([]networkingv1.Ingress, string) { return l.Items, l.Continue })
		}),
		kindOf(ResourceHorizontalPodAutoscalers, &s.HPAs, func(ctx context.Context, ns string, o metav1.ListOptions) ([]autoscalingv2.HorizontalPodAutoscaler, string, error) {
			l, err := c.AutoscalingV2().HorizontalPodAutoscalers(ns).List(ctx, o)
			return itemsOf(l, err, func(l *autoscalingv2.HorizontalPodAutoscalerList) ([]autoscalingv2.HorizontalPodAutoscaler, string) {
				return l.Items, l.Continue
			})
		}),
		kindOf(ResourceEvents, &s.Events, func(ctx context.Context, ns string, o metav1.ListOptions) ([]corev1.Event, string, error) {
			l, err := c.CoreV1().Events(ns).List(ctx, o)
			return itemsOf(l, err, func(l *corev1.EventList) ([]corev1.Event, string) { return l.Items, l.Continue })
		}),
	}
	// why[k][n] is why kind k could not be listed in namespace n; cut[k][n]
	// why its list there was cut short.
	why := make([][]string, len(kinds))
	cut := make([][]string, len(kinds))
	b := &bounds{perKind: collectPerKind, page: collectPage, total: collectTotal}
	b.left.Store(int64(b.total))
	// errs[k][n] is kind k's failure in namespace n: the first in this
	// order is the one answered, whichever came first in time, so that
	// the same cluster gives the same answer.
	errs := make([][]error, len(kinds))
	// No early cancel: every list answers (the failures are quick), so
	// the failure answered is always the same one.
	var g errgroup.Group
	gctx := ctx
	g.SetLimit(collectParallel)
	for k, kd := range kinds {
		kd.prepare(len(nss))
		why[k] = make([]string, len(nss))
		cut[k] = make([]string, len(nss))
		errs[k] = make([]error, len(nss))
		for n, ns := range nss {
			g.Go(func() error {
				c, err := kd.fetch(gctx, ns, n, b)
				cut[k][n] = c
				switch {
				case err == nil:
				case apierrors.IsForbidden(err):
					why[k][n] = "forbidden"
				case apierrors.IsNotFound(err):
					why[k][n] = "not served by the cluster"
				default:
					errs[k][n] = fmt.Errorf("list %s in %s: %w", kd.resource(), ns, err)
					return errs[k][n]
				}
				return nil
			})
		}
	}
	if err := g.Wait(); err != nil {
		for _, ks := range errs {
			for _, e := range ks {
				if e != nil {
					return nil, e
				}
			}
		}
		return nil, err
	}
	for k, kd := range kinds {
		kd.merge()
		s.Skipped = append(s.Skipped, skipped(kd.resource(), nss, why[k])...)
		for n, c := range cut[k] {
			if c != "" {
				s.Skipped = append(s.Skipped, kd.resource()+" in "+nss[n]+": "+c)
			}
		}
	}
	slices.Sort(s.Skipped)
	return s, nil
}

// skipped writes the Skipped entries of one resource: one for all the
// namespaces when it failed the same way in each, else one per namespace.
func skipped(resource string, nss, why []string) []string {
	var out []string
	all := len(nss) > 0
	for _, w := range why {
		if w == "" || w != why[0] {
			all = false
		}
	}
	if all {
		return []string{resource + ": " + why[0]}
	}
	for n, w := range why {
		if w != "" {
			out = append(out, resource+" in "+nss[n]+": "+w)
		}
	}
	return out
}

// lister lists one kind, namespace by namespace, into slots merged at the
// end in namespace order.
type lister interface {
	resource() string
	prepare(namespaces int)
	fetch(ctx context.Context, ns string, slot int, b *bounds) (cut string, err error)
	merge()
}

// bounds are the limits of one Collect: left is what is left of total,
// shared by the lists.
type bounds struct {
	perKind, page, total int
	left                 atomic.Int64
}

type kind[T any] struct {
	name  string
	dst   *[]T
	list  func(ctx context.Context, ns string, o metav1.ListOptions) ([]T, string, error)
	slots [][]T
}

func kindOf[T any](name string, dst *[]T, list func(ctx context.Context, ns string, o metav1.ListOptions) ([]T, string, error)) *kind[T] {
	return &kind[T]{name: name, dst: dst, list: list}
}

func (k *kind[T]) resource() string { return k.name }

func (k *kind[T]) prepare(n int) { k.slots = make([][]T, n) }

// fetch lists the kind in ns, page by page, up to b's bounds: cut says
// why it stopped short ("" when it listed everything).
func (k *kind[T]) fetch(ctx context.Context, ns string, slot int, b *bounds) (string, error) {
	o := metav1.ListOptions{}
	for {
		room := b.perKind - len(k.slots[slot])
		o.Limit = int64(min(b.page, room))
		items, cont, err := k.list(ctx, ns, o)
		if err != nil {
			return "", err
		}
		more := cont != ""
		if len(items) > room { // a server that ignored the limit
			items, more = items[:room], true
		}
		if left := b.left.Add(-int64(len(items))); left < 0 {
			keep := max(len(items)+int(left), 0)
			k.slots[slot] = append(k.slots[slot], items[:keep]...)
			return fmt.Sprintf("past the %d objects a diagnosis examines, the rest not examined", b.total), nil
		}
		k.slots[slot] = append(k.slots[slot], items...)
		switch {
		case !more:
			return "", nil
		case len(k.slots[slot]) >= b.perKind:
			return fmt.Sprintf("more than %d, the rest not examined", b.perKind), nil
		case b.left.Load() <= 0:
			return fmt.Sprintf("past the %d objects a diagnosis examines, the rest not examined", b.total), nil
		}
		o.Continue = cont
	}
}

func (k *kind[T]) merge() {
	for _, s := range k.slots {
		*k.dst = append(*k.dst, s...)
	}
	k.slots = nil
}

// itemsOf unpacks a list answer.
func itemsOf[L any, T any](l L, err error, get func(L) ([]T, string)) ([]T, string, error) {
	if err != nil {
		return nil, "", err
	}
	items, cont := get(l)
	return items, strings.TrimSpace(cont), nil
}
