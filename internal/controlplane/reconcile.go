package controlplane

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	rbacv1ac "k8s.io/client-go/applyconfigurations/rbac/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/workqueue"

	"github.com/hexabase/hexabase-ai/internal/events"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// FieldManager is the server-side-apply field manager of the platform.
const FieldManager = "hks"

const (
	defaultResync    = 30 * time.Second
	reconcileTimeout = 2 * time.Minute
	workers          = 4
)

// managedSelector selects the objects the platform manages.
var managedSelector = LabelManagedBy + "=" + ManagedByValue

// ReconcilerConfig carries the reconciler's dependencies.
type ReconcilerConfig struct {
	Store    store.Store
	Provider Provider
	// Events, if set, triggers reconciles on project.* and
	// workspace.status events of every organization; without it only the
	// periodic resync and the cluster watches do.
	Events *events.Publisher
	Logger *slog.Logger
	// Resync is how often every running workspace is reconciled anyway
	// (default 30s).
	Resync time.Duration
	// OnReconcile, if set, is called after each reconcile of a workspace
	// with its duration and outcome (a hook for metrics).
	OnReconcile func(workspaceID string, took time.Duration, err error)
}

// Reconciler keeps the clusters of running workspaces in the state
// Desired computes from the store: on events, on drift seen by watches
// of the managed objects, and on a periodic resync.
type Reconciler struct {
	cfg   ReconcilerConfig
	log   *slog.Logger
	queue workqueue.TypedRateLimitingInterface[string]

	mu      sync.Mutex
	locks   map[string]*sync.Mutex        // serializes reconciles of one workspace
	watches map[string]context.CancelFunc // running cluster watches
}

// NewReconciler checks cfg and returns a Reconciler; Run starts it.
func NewReconciler(cfg ReconcilerConfig) (*Reconciler, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("reconciler: Store is required")
	case cfg.Provider == nil:
		return nil, errors.New("reconciler: Provider is required")
	case cfg.Logger == nil:
		return nil, errors.New("reconciler: Logger is required")
	case cfg.Resync < 0:
		return nil, errors.New("reconciler: Resync must not be negative")
	}
	if cfg.Resync == 0 {
		cfg.Resync = defaultResync
	}
	q := workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.NewTypedItemExponentialFailureRateLimiter[string](250*time.Millisecond, 30*time.Second),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "hks-reconciler"})
	return &Reconciler{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "reconciler"),
		queue:   q,
		locks:   map[string]*sync.Mutex{},
		watches: map[string]context.CancelFunc{},
	}, nil
}

// Trigger queues a reconcile of the workspace; triggers that arrive while
// one is queued are coalesced. Only running workspaces are reconciled.
func (r *Reconciler) Trigger(workspaceID string) {
	if workspaceID != "" {
		r.queue.Add(workspaceID)
	}
}

// Forget stops watching a workspace's cluster (deleted or no longer
// running) and drops its retry backoff.
func (r *Reconciler) Forget(workspaceID string) {
	r.mu.Lock()
	cancel := r.watches[workspaceID]
	delete(r.watches, workspaceID)
	delete(r.locks, workspaceID)
	r.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	r.queue.Forget(workspaceID)
}

// ReconcileNow loads the workspace's tenancy from the store and applies
// Desired to its cluster, synchronously. The provisioning task calls it
// before it marks a workspace running; it refuses workspaces that are
// being deleted.
func (r *Reconciler) ReconcileNow(ctx context.Context, workspaceID string) error {
	ws, err := r.cfg.Store.GetWorkspace(ctx, workspaceID)
	if err != nil {
		return fmt.Errorf("get workspace: %w", err)
	}
	if ws.Status == store.WorkspaceDeleting || ws.Status == store.WorkspaceDeleted {
		return fmt.Errorf("reconcile workspace %s: status is %s", ws.ID, ws.Status)
	}
	return r.reconcile(ctx, ws)
}

func (r *Reconciler) lock(workspaceID string) func() {
	r.mu.Lock()
	l := r.locks[workspaceID]
	if l == nil {
		l = &sync.Mutex{}
		r.locks[workspaceID] = l
	}
	r.mu.Unlock()
	l.Lock()
	return l.Unlock
}

func (r *Reconciler) reconcile(ctx context.Context, ws store.Workspace) (err error) {
	start := time.Now()
	defer func() {
		if r.cfg.OnReconcile != nil {
			r.cfg.OnReconcile(ws.ID, time.Since(start), err)
		}
	}()
	defer r.lock(ws.ID)()
	ctx, cancel := context.WithTimeout(ctx, reconcileTimeout)
	defer cancel()
	projects, err := r.allProjects(ctx, ws.ID)
	if err != nil {
		return err
	}
	desired, err := Desired(Tenancy{Workspace: ws, Projects: projects})
	if err != nil {
		return fmt.Errorf("desired state: %w", err)
	}
	cs, err := r.client(ctx, ws.ID, false)
	if err != nil {
		return err
	}
	ch, err := Apply(ctx, cs, desired)
	if len(ch.Applied)+len(ch.Pruned) > 0 {
		r.log.InfoContext(ctx, "workspace cluster reconciled", "org", ws.OrgID, "workspace", ws.ID,
			"applied", ch.Applied, "pruned", ch.Pruned)
	}
	if err != nil {
		return fmt.Errorf("reconcile workspace %s: %w", ws.ID, err)
	}
	return nil
}

func (r *Reconciler) allProjects(ctx context.Context, workspaceID string) ([]store.Project, error) {
	var out []store.Project
	page := store.Page{Limit: store.MaxLimit}
	for {
		ps, next, err := r.cfg.Store.ListProjects(ctx, workspaceID, page)
		if err != nil {
			return nil, fmt.Errorf("list projects: %w", err)
		}
		out = append(out, ps...)
		if next == "" {
			return out, nil
		}
		page.After = next
	}
}

// client builds a clientset on the provider's admin access; watch
// clients get no request timeout.
func (r *Reconciler) client(ctx context.Context, workspaceID string, watch bool) (*kubernetes.Clientset, error) {
	rc, err := r.cfg.Provider.AdminConfig(ctx, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("admin config: %w", err)
	}
	rc = rest.CopyConfig(rc)
	rc.QPS, rc.Burst = 50, 100
	rc.UserAgent = "hks-reconciler"
	if watch {
		rc.Timeout = 0
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return cs, nil
}

// Run reconciles running workspaces until ctx ends: all of them at start
// and every Resync, and each one when an event or a watch of its managed
// objects triggers it. Run may be called once.
func (r *Reconciler) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	defer r.queue.ShutDown()
	defer r.stopWatches()
	for range workers {
		wg.Go(func() { r.work(ctx) })
	}
	if r.cfg.Events != nil {
		wg.Go(func() { r.follow(ctx) })
	}
	t := time.NewTicker(r.cfg.Resync)
	defer t.Stop()
	for {
		r.resync(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (r *Reconciler) resync(ctx context.Context) {
	running, err := r.cfg.Store.ListWorkspacesByStatus(ctx, store.WorkspaceRunning)
	if err != nil {
		if ctx.Err() == nil {
			r.log.WarnContext(ctx, "list running workspaces failed", "err", err)
		}
		return
	}
	ids := make(map[string]bool, len(running))
	for _, ws := range running {
		ids[ws.ID] = true
		r.Trigger(ws.ID)
	}
	r.mu.Lock()
	var stale []string
	for id := range r.watches {
		if !ids[id] {
			stale = append(stale, id)
		}
	}
	r.mu.Unlock()
	for _, id := range stale {
		r.Forget(id)
	}
}

func (r *Reconciler) work(ctx context.Context) {
	for {
		id, quit := r.queue.Get()
		if quit {
			return
		}
		err := r.reconcileRunning(ctx, id)
		switch {
		case err == nil:
			r.queue.Forget(id)
		case ctx.Err() != nil:
		default:
			r.log.WarnContext(ctx, "reconcile failed; retrying", "workspace", id, "err", err)
			r.queue.AddRateLimited(id)
		}
		r.queue.Done(id)
	}
}

// reconcileRunning reconciles a workspace if it is running and then makes
// sure its managed objects are watched.
func (r *Reconciler) reconcileRunning(ctx context.Context, id string) error {
	ws, err := r.cfg.Store.GetWorkspace(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && ws.Status != store.WorkspaceRunning) {
		r.Forget(id)
		return nil
	}
	if err != nil {
		return fmt.Errorf("get workspace: %w", err)
	}
	if err := r.reconcile(ctx, ws); err != nil {
		return err
	}
	return r.watch(ctx, id)
}

// watch starts watches of the managed objects of a workspace's cluster
// that trigger a reconcile when one of them changes or goes away.
func (r *Reconciler) watch(ctx context.Context, id string) error {
	r.mu.Lock()
	_, ok := r.watches[id]
	r.mu.Unlock()
	if ok {
		return nil
	}
	cs, err := r.client(ctx, id, true)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithCancel(ctx)
	r.mu.Lock()
	if _, ok := r.watches[id]; ok {
		r.mu.Unlock()
		cancel()
		return nil
	}
	r.watches[id] = cancel
	r.mu.Unlock()
	for _, w := range []watchFunc{
		cs.CoreV1().Namespaces().Watch,
		cs.CoreV1().ResourceQuotas("").Watch,
		cs.CoreV1().LimitRanges("").Watch,
		cs.RbacV1().RoleBindings("").Watch,
		cs.RbacV1().ClusterRoleBindings().Watch,
		cs.RbacV1().ClusterRoles().Watch,
	} {
		go r.watchKind(wctx, id, w)
	}
	r.log.DebugContext(ctx, "watching workspace cluster", "workspace", id)
	return nil
}

type watchFunc func(context.Context, metav1.ListOptions) (watch.Interface, error)

// watchKind follows one kind of managed object until ctx ends and
// triggers a reconcile when an object is deleted or what the platform
// manages of it changes (not the status a controller keeps, such as a
// quota's usage). It rewatches after the server ends a watch, and then
// triggers once for what it may have missed.
func (r *Reconciler) watchKind(ctx context.Context, id string, w watchFunc) {
	seen := map[string]string{} // object key → digest
	for first := true; ctx.Err() == nil; first = false {
		if !first {
			r.Trigger(id)
		}
		wi, err := w(ctx, metav1.ListOptions{LabelSelector: managedSelector})
		if err != nil {
			if ctx.Err() == nil {
				r.log.DebugContext(ctx, "watch failed; retrying", "workspace", id, "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(2 * time.Second):
			}
			continue
		}
		clear(seen)
		for ev := range wi.ResultChan() {
			obj, ok := ev.Object.(metav1.Object)
			if !ok {
				break // an error status: rewatch
			}
			k := key(obj.GetNamespace(), obj.GetName())
			d := digest(ev.Object)
			switch ev.Type {
			case watch.Added:
				seen[k] = d
			case watch.Modified:
				if old, ok := seen[k]; !ok || old != d {
					r.Trigger(id)
				}
				seen[k] = d
			case watch.Deleted:
				delete(seen, k)
				r.Trigger(id)
			}
		}
		wi.Stop()
	}
}

// digest is what the platform manages of an object, as a string.
func digest(obj any) string {
	var v any
	switch o := obj.(type) {
	case *corev1.Namespace:
		v = []any{o.Labels, o.DeletionTimestamp != nil}
	case *corev1.ResourceQuota:
		v = []any{o.Labels, o.Spec}
	case *corev1.LimitRange:
		v = []any{o.Labels, o.Spec}
	case *rbacv1.RoleBinding:
		v = []any{o.Labels, o.RoleRef, o.Subjects}
	case *rbacv1.ClusterRoleBinding:
		v = []any{o.Labels, o.RoleRef, o.Subjects}
	case *rbacv1.ClusterRole:
		v = []any{o.Labels, o.Rules}
	default:
		return ""
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func (r *Reconciler) stopWatches() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, cancel := range r.watches {
		cancel()
		delete(r.watches, id)
	}
}

// follow triggers reconciles from events until ctx ends, resubscribing
// after failures (the periodic resync covers what is missed meanwhile).
func (r *Reconciler) follow(ctx context.Context) {
	for ctx.Err() == nil {
		sub, err := r.cfg.Events.Subscribe(ctx, events.Filter{AllOrgs: true, Types: []string{"project.>", "workspace.status"}})
		if err == nil {
			for ev := range sub.Events() {
				r.handle(ev)
			}
			err = sub.Err()
		}
		if ctx.Err() != nil {
			return
		}
		r.log.WarnContext(ctx, "following events failed; retrying", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
		}
	}
}

func (r *Reconciler) handle(ev events.Event) {
	var data struct {
		WorkspaceID string `json:"workspace_id"`
		Status      string `json:"status"`
	}
	if len(ev.Data) > 0 {
		if err := json.Unmarshal(ev.Data, &data); err != nil {
			r.log.Warn("undecodable event data", "type", ev.Type, "id", ev.ID, "err", err)
			return
		}
	}
	switch {
	case strings.HasPrefix(ev.Type, "project."):
		r.Trigger(data.WorkspaceID)
	case ev.Type == "workspace.status" && data.Status == store.WorkspaceRunning:
		r.Trigger(ev.ResourceID)
	case ev.Type == "workspace.status" && (data.Status == store.WorkspaceDeleting || data.Status == store.WorkspaceDeleted):
		r.Forget(ev.ResourceID)
	}
}

// Changes lists what Apply changed, as "kind namespace/name" or "kind
// name", sorted.
type Changes struct {
	Applied []string
	Pruned  []string
}

// Apply brings the platform-managed objects of a cluster to desired with
// server-side apply (field manager FieldManager, forced) and deletes the
// objects labelled LabelManagedBy=ManagedByValue that desired does not
// hold. Objects that already match are not written; objects without the
// label are never touched. It carries on past failures and returns them
// joined.
func Apply(ctx context.Context, cs kubernetes.Interface, desired State) (Changes, error) {
	a := applier{ctx: ctx, cs: cs, sel: metav1.ListOptions{LabelSelector: managedSelector}}
	a.namespaces(desired.Namespaces)
	a.quotas(desired.ResourceQuotas)
	a.limitRanges(desired.LimitRanges)
	a.roleBindings(desired.RoleBindings)
	a.clusterRoles(desired.ClusterRoles)
	a.clusterRoleBindings(desired.ClusterRoleBindings)
	slices.Sort(a.ch.Applied)
	slices.Sort(a.ch.Pruned)
	return a.ch, errors.Join(a.errs...)
}

type applier struct {
	ctx  context.Context
	cs   kubernetes.Interface
	sel  metav1.ListOptions
	ch   Changes
	errs []error
	// gone holds the managed namespaces that are pruned or terminating;
	// objects inside them are left to the namespace's deletion.
	gone map[string]bool
}

var applyOpts = metav1.ApplyOptions{FieldManager: FieldManager, Force: true}

func (a *applier) fail(what string, err error) {
	a.errs = append(a.errs, fmt.Errorf("%s: %w", what, err))
}

// apply runs fn unless skip, recording the change or the failure.
func (a *applier) apply(what string, fn func() error) {
	if err := fn(); err != nil {
		a.fail("apply "+what, err)
		return
	}
	a.ch.Applied = append(a.ch.Applied, what)
}

func (a *applier) prune(what string, fn func() error) {
	if err := fn(); err != nil && !apierrors.IsNotFound(err) {
		a.fail("delete "+what, err)
		return
	}
	a.ch.Pruned = append(a.ch.Pruned, what)
}

func key(ns, name string) string {
	if ns == "" {
		return name
	}
	return ns + "/" + name
}

// hasLabels: every label of want is on have with the same value.
func hasLabels(have, want map[string]string) bool {
	for k, v := range want {
		if hv, ok := have[k]; !ok || hv != v {
			return false
		}
	}
	return true
}

func (a *applier) namespaces(want []*corev1.Namespace) {
	a.gone = map[string]bool{}
	list, err := a.cs.CoreV1().Namespaces().List(a.ctx, a.sel)
	if err != nil {
		a.fail("list namespaces", err)
		return
	}
	have := map[string]*corev1.Namespace{}
	for i := range list.Items {
		n := &list.Items[i]
		have[n.Name] = n
		if n.DeletionTimestamp != nil {
			a.gone[n.Name] = true
		}
	}
	wanted := map[string]bool{}
	for _, n := range want {
		wanted[n.Name] = true
		h := have[n.Name]
		switch {
		case h != nil && h.DeletionTimestamp != nil:
			a.fail("namespace "+n.Name, errors.New("still terminating"))
			continue
		case h != nil && hasLabels(h.Labels, n.Labels):
			continue
		}
		a.apply("namespace "+n.Name, func() error {
			_, err := a.cs.CoreV1().Namespaces().Apply(a.ctx, corev1ac.Namespace(n.Name).WithLabels(n.Labels), applyOpts)
			return err
		})
	}
	for name, h := range have {
		if wanted[name] {
			continue
		}
		a.gone[name] = true
		if h.DeletionTimestamp != nil {
			continue
		}
		a.prune("namespace "+name, func() error {
			return a.cs.CoreV1().Namespaces().Delete(a.ctx, name, metav1.DeleteOptions{})
		})
	}
}

func (a *applier) quotas(want []*corev1.ResourceQuota) {
	list, err := a.cs.CoreV1().ResourceQuotas("").List(a.ctx, a.sel)
	if err != nil {
		a.fail("list resourcequotas", err)
		return
	}
	have := map[string]*corev1.ResourceQuota{}
	for i := range list.Items {
		o := &list.Items[i]
		have[key(o.Namespace, o.Name)] = o
	}
	wanted := map[string]bool{}
	for _, o := range want {
		k := key(o.Namespace, o.Name)
		wanted[k] = true
		if a.gone[o.Namespace] {
			continue
		}
		if h := have[k]; h != nil && hasLabels(h.Labels, o.Labels) && equality.Semantic.DeepEqual(h.Spec, o.Spec) {
			continue
		}
		a.apply("resourcequota "+k, func() error {
			ac := corev1ac.ResourceQuota(o.Name, o.Namespace).WithLabels(o.Labels).
				WithSpec(corev1ac.ResourceQuotaSpec().WithHard(o.Spec.Hard))
			_, err := a.cs.CoreV1().ResourceQuotas(o.Namespace).Apply(a.ctx, ac, applyOpts)
			return err
		})
	}
	for k, h := range have {
		if wanted[k] || a.gone[h.Namespace] {
			continue
		}
		a.prune("resourcequota "+k, func() error {
			return a.cs.CoreV1().ResourceQuotas(h.Namespace).Delete(a.ctx, h.Name, metav1.DeleteOptions{})
		})
	}
}

func (a *applier) limitRanges(want []*corev1.LimitRange) {
	list, err := a.cs.CoreV1().LimitRanges("").List(a.ctx, a.sel)
	if err != nil {
		a.fail("list limitranges", err)
		return
	}
	have := map[string]*corev1.LimitRange{}
	for i := range list.Items {
		o := &list.Items[i]
		have[key(o.Namespace, o.Name)] = o
	}
	wanted := map[string]bool{}
	for _, o := range want {
		k := key(o.Namespace, o.Name)
		wanted[k] = true
		if a.gone[o.Namespace] {
			continue
		}
		if h := have[k]; h != nil && hasLabels(h.Labels, o.Labels) && equality.Semantic.DeepEqual(h.Spec, o.Spec) {
			continue
		}
		a.apply("limitrange "+k, func() error {
			spec := corev1ac.LimitRangeSpec()
			for _, l := range o.Spec.Limits {
				item := corev1ac.LimitRangeItem().WithType(l.Type)
				if len(l.Default) > 0 {
					item.WithDefault(l.Default)
				}
				if len(l.DefaultRequest) > 0 {
					item.WithDefaultRequest(l.DefaultRequest)
				}
				spec.WithLimits(item)
			}
			ac := corev1ac.LimitRange(o.Name, o.Namespace).WithLabels(o.Labels).WithSpec(spec)
			_, err := a.cs.CoreV1().LimitRanges(o.Namespace).Apply(a.ctx, ac, applyOpts)
			return err
		})
	}
	for k, h := range have {
		if wanted[k] || a.gone[h.Namespace] {
			continue
		}
		a.prune("limitrange "+k, func() error {
			return a.cs.CoreV1().LimitRanges(h.Namespace).Delete(a.ctx, h.Name, metav1.DeleteOptions{})
		})
	}
}

func roleRefAC(r rbacv1.RoleRef) *rbacv1ac.RoleRefApplyConfiguration {
	return rbacv1ac.RoleRef().WithAPIGroup(r.APIGroup).WithKind(r.Kind).WithName(r.Name)
}

func subjectsAC(ss []rbacv1.Subject) []*rbacv1ac.SubjectApplyConfiguration {
	out := make([]*rbacv1ac.SubjectApplyConfiguration, 0, len(ss))
	for _, s := range ss {
		ac := rbacv1ac.Subject().WithKind(s.Kind).WithName(s.Name)
		if s.APIGroup != "" {
			ac.WithAPIGroup(s.APIGroup)
		}
		if s.Namespace != "" {
			ac.WithNamespace(s.Namespace)
		}
		out = append(out, ac)
	}
	return out
}

func (a *applier) roleBindings(want []*rbacv1.RoleBinding) {
	list, err := a.cs.RbacV1().RoleBindings("").List(a.ctx, a.sel)
	if err != nil {
		a.fail("list rolebindings", err)
		return
	}
	have := map[string]*rbacv1.RoleBinding{}
	for i := range list.Items {
		o := &list.Items[i]
		have[key(o.Namespace, o.Name)] = o
	}
	wanted := map[string]bool{}
	for _, o := range want {
		k := key(o.Namespace, o.Name)
		wanted[k] = true
		if a.gone[o.Namespace] {
			continue
		}
		if h := have[k]; h != nil && hasLabels(h.Labels, o.Labels) && h.RoleRef == o.RoleRef && equality.Semantic.DeepEqual(h.Subjects, o.Subjects) {
			continue
		}
		// The role of a binding cannot change: replace one that binds
		// another role.
		if h := have[k]; h != nil && h.RoleRef != o.RoleRef {
			if err := a.cs.RbacV1().RoleBindings(h.Namespace).Delete(a.ctx, h.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				a.fail("replace rolebinding "+k, err)
				continue
			}
		}
		a.apply("rolebinding "+k, func() error {
			ac := rbacv1ac.RoleBinding(o.Name, o.Namespace).WithLabels(o.Labels).
				WithRoleRef(roleRefAC(o.RoleRef)).WithSubjects(subjectsAC(o.Subjects)...)
			_, err := a.cs.RbacV1().RoleBindings(o.Namespace).Apply(a.ctx, ac, applyOpts)
			return err
		})
	}
	for k, h := range have {
		if wanted[k] || a.gone[h.Namespace] {
			continue
		}
		a.prune("rolebinding "+k, func() error {
			return a.cs.RbacV1().RoleBindings(h.Namespace).Delete(a.ctx, h.Name, metav1.DeleteOptions{})
		})
	}
}

func (a *applier) clusterRoles(want []*rbacv1.ClusterRole) {
	list, err := a.cs.RbacV1().ClusterRoles().List(a.ctx, a.sel)
	if err != nil {
		a.fail("list clusterroles", err)
		return
	}
	have := map[string]*rbacv1.ClusterRole{}
	for i := range list.Items {
		have[list.Items[i].Name] = &list.Items[i]
	}
	wanted := map[string]bool{}
	for _, o := range want {
		wanted[o.Name] = true
		if h := have[o.Name]; h != nil && hasLabels(h.Labels, o.Labels) && equality.Semantic.DeepEqual(h.Rules, o.Rules) {
			continue
		}
		a.apply("clusterrole "+o.Name, func() error {
			ac := rbacv1ac.ClusterRole(o.Name).WithLabels(o.Labels)
			for _, rule := range o.Rules {
				ac.WithRules(rbacv1ac.PolicyRule().WithAPIGroups(rule.APIGroups...).WithResources(rule.Resources...).
					WithResourceNames(rule.ResourceNames...).WithNonResourceURLs(rule.NonResourceURLs...).WithVerbs(rule.Verbs...))
			}
			_, err := a.cs.RbacV1().ClusterRoles().Apply(a.ctx, ac, applyOpts)
			return err
		})
	}
	for name := range have {
		if wanted[name] {
			continue
		}
		a.prune("clusterrole "+name, func() error {
			return a.cs.RbacV1().ClusterRoles().Delete(a.ctx, name, metav1.DeleteOptions{})
		})
	}
}

func (a *applier) clusterRoleBindings(want []*rbacv1.ClusterRoleBinding) {
	list, err := a.cs.RbacV1().ClusterRoleBindings().List(a.ctx, a.sel)
	if err != nil {
		a.fail("list clusterrolebindings", err)
		return
	}
	have := map[string]*rbacv1.ClusterRoleBinding{}
	for i := range list.Items {
		have[list.Items[i].Name] = &list.Items[i]
	}
	wanted := map[string]bool{}
	for _, o := range want {
		wanted[o.Name] = true
		h := have[o.Name]
		if h != nil && hasLabels(h.Labels, o.Labels) && h.RoleRef == o.RoleRef && equality.Semantic.DeepEqual(h.Subjects, o.Subjects) {
			continue
		}
		if h != nil && h.RoleRef != o.RoleRef {
			if err := a.cs.RbacV1().ClusterRoleBindings().Delete(a.ctx, h.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				a.fail("replace clusterrolebinding "+o.Name, err)
				continue
			}
		}
		a.apply("clusterrolebinding "+o.Name, func() error {
			ac := rbacv1ac.ClusterRoleBinding(o.Name).WithLabels(o.Labels).
				WithRoleRef(roleRefAC(o.RoleRef)).WithSubjects(subjectsAC(o.Subjects)...)
			_, err := a.cs.RbacV1().ClusterRoleBindings().Apply(a.ctx, ac, applyOpts)
			return err
		})
	}
	for name := range have {
		if wanted[name] {
			continue
		}
		a.prune("clusterrolebinding "+name, func() error {
			return a.cs.RbacV1().ClusterRoleBindings().Delete(a.ctx, name, metav1.DeleteOptions{})
		})
	}
}
