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
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/workqueue"

	"github.com/hexabase/hexabase-ai/internal/events"
	"github.com/hexabase/hexabase-ai/internal/required"
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
	if err := required.Fields("reconciler", cfg, "Store", "Provider", "Logger"); err != nil {
		return nil, err
	}
	switch {
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
	projects, err := store.AllProjects(ctx, r.cfg.Store, ws.ID)
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
	// The watches start even if the reconcile fails: a workspace-admin
	// who makes every reconcile fail must not also leave the cluster
	// unwatched (after a restart of hks) until the periodic resync.
	return errors.Join(r.reconcile(ctx, ws), r.watch(ctx, id))
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
	for _, k := range kinds {
		go r.watchKind(wctx, id, k.watch(cs), managedSelector, k.digest, nil)
	}
	// Every namespace, for the labels none may carry (scrubNamespaces).
	go r.watchKind(wctx, id, cs.CoreV1().Namespaces().Watch, "", nil, func(o any) bool {
		n, ok := o.(*corev1.Namespace)
		return ok && len(disallowedLabels(n.Labels)) > 0
	})
	r.log.DebugContext(ctx, "watching workspace cluster", "workspace", id)
	return nil
}

type watchFunc func(context.Context, metav1.ListOptions) (watch.Interface, error)

// watchKind follows one kind of object (those sel selects) until ctx
// ends and triggers a reconcile when an object is deleted or what the
// platform manages of it changes (not the status a controller keeps,
// such as a quota's usage). With dirty set, it triggers instead whenever
// an object is added or modified that dirty reports, whatever its
// history. It rewatches after the server ends a watch, and then triggers
// once for what it may have missed.
func (r *Reconciler) watchKind(ctx context.Context, id string, w watchFunc, sel string, digest func(any) string, dirty func(any) bool) {
	seen := map[string]string{} // object key → digest
	for first := true; ctx.Err() == nil; first = false {
		if !first {
			r.Trigger(id)
		}
		wi, err := w(ctx, metav1.ListOptions{LabelSelector: sel})
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
			if dirty != nil {
				if ev.Type != watch.Deleted && dirty(ev.Object) {
					r.Trigger(id)
				}
				continue
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
		sub, err := r.cfg.Events.Subscribe(ctx, events.Filter{AllOrgs: true, Types: []string{"project.>", events.WorkspaceStatus}})
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
	case ev.Type == events.WorkspaceStatus && data.Status == store.WorkspaceRunning:
		r.Trigger(ev.ResourceID)
	case ev.Type == events.WorkspaceStatus && (data.Status == store.WorkspaceDeleting || data.Status == store.WorkspaceDeleted):
		r.Forget(ev.ResourceID)
	}
}

// Changes lists what Apply changed, as "kind namespace/name" or "kind
// name", sorted.
type Changes struct {
	Applied []string
	Pruned  []string
}

// Apply brings the platform-managed objects of a cluster to desired and
// deletes the objects labelled LabelManagedBy=ManagedByValue that desired
// does not hold. Missing objects are created with server-side apply
// (field manager FieldManager, forced); an object that does not match is
// replaced whole by an update (its managed parts and labels; others'
// labels stay, platformLabels that desired does not set go), so no field
// another manager added survives. Objects that already match are not
// written. Objects without the label are never pruned or replaced, with
// two exceptions: a binding of a desired name whose role differs is
// deleted and created anew (a role cannot be updated), and every
// namespace loses its disallowedLabels (scrubNamespaces, reported as
// "namespace name" in Applied). It runs one generic step per entry of
// kinds, in order, then scrubNamespaces, carries on past failures and
// returns them joined.
func Apply(ctx context.Context, cs kubernetes.Interface, desired State) (Changes, error) {
	a := applier{ctx: ctx, cs: cs, sel: metav1.ListOptions{LabelSelector: managedSelector}, gone: map[string]bool{}}
	for _, k := range kinds {
		k.run(&a, desired)
	}
	a.scrubNamespaces()
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

func key(ns, name string) string {
	if ns == "" {
		return name
	}
	return ns + "/" + name
}

// scrubNamespaces removes the disallowedLabels of every namespace,
// managed or not, with a merge patch that nulls them: such a label can
// land on any namespace while a workspace-admin has the admission
// policies deleted, and the policies let it stay only while the
// namespace is being deleted.
func (a *applier) scrubNamespaces() {
	// Page by page: a workspace-admin may create any number of namespaces,
	// and the platform, which every tenant shares, must not hold them all.
	opts := metav1.ListOptions{Limit: scrubPageSize}
	for {
		l, err := a.cs.CoreV1().Namespaces().List(a.ctx, opts)
		if err != nil {
			a.fail("list all namespaces", err)
			return
		}
		for _, n := range l.Items {
			a.scrubNamespace(n.Name, n.Labels)
		}
		if opts.Continue = l.Continue; opts.Continue == "" {
			return
		}
	}
}

// scrubPageSize is how many namespaces scrubNamespaces reads at a time
// (a variable for the test that reads them one by one).
var scrubPageSize int64 = 200

// scrubNamespace removes the labels of namespace name that no namespace
// may carry.
func (a *applier) scrubNamespace(name string, labels map[string]string) {
	bad := disallowedLabels(labels)
	if len(bad) == 0 {
		return
	}
	null := make(map[string]any, len(bad))
	for _, k := range bad {
		null[k] = nil
	}
	b, err := json.Marshal(map[string]any{"metadata": map[string]any{"labels": null}})
	if err == nil {
		_, err = a.cs.CoreV1().Namespaces().Patch(a.ctx, name, types.MergePatchType, b, metav1.PatchOptions{FieldManager: FieldManager})
	}
	if err != nil && !apierrors.IsNotFound(err) {
		a.fail("remove labels "+strings.Join(bad, ", ")+" of namespace "+name, err)
		return
	}
	a.ch.Applied = append(a.ch.Applied, "namespace "+name)
}

// hasLabels: every label of want is on have with the same value, and
// have holds no platformLabel that want does not.
func hasLabels(have, want map[string]string) bool {
	for k, v := range want {
		if hv, ok := have[k]; !ok || hv != v {
			return false
		}
	}
	for k := range have {
		if _, ok := want[k]; !ok && platformLabel(k) {
			return false
		}
	}
	return true
}

// mergedLabels are have's labels without the platformLabels want does not
// hold, and with want's: the labels of a replaced object (others' labels
// are kept).
func mergedLabels(have, want map[string]string) map[string]string {
	out := make(map[string]string, len(have)+len(want))
	for k, v := range have {
		if !platformLabel(k) {
			out[k] = v
		}
	}
	for k, v := range want {
		out[k] = v
	}
	return out
}

// managedKind is one entry of the table of kinds, whatever its object type.
type managedKind interface {
	// run brings the kind's managed objects to desired.
	run(a *applier, desired State)
	// watch is the watch of the kind's objects.
	watch(cs kubernetes.Interface) watchFunc
	// digest is what the platform manages of an object of the kind, as a
	// string ("" for another kind).
	digest(obj any) string
}

// kind tells the generic step how to reconcile one kind of object: where
// its desired objects are, how to list, watch, apply and delete them, and
// what of them the platform manages.
type kind[T metav1.Object] struct {
	name string // as in Changes, lower case
	// namespaces marks the kind of namespaces: those it prunes or finds
	// terminating are gone for the kinds after it, and one that is
	// terminating is not applied again until it is gone.
	namespaces bool
	desired    func(State) []T
	list       func(context.Context, kubernetes.Interface, metav1.ListOptions) ([]T, error)
	watchFn    func(kubernetes.Interface) watchFunc
	// managed is what the platform manages of an object besides its
	// labels, compared semantically with the desired object.
	managed func(T) any
	// set copies the managed parts of src onto dst.
	set func(dst, src T)
	// immutable reports a difference an update cannot make (the role of
	// a binding): the object is deleted, then applied anew. get reads
	// the object of want's name, for an object without the managed label
	// that the apply cannot change for that reason.
	immutable func(have, want T) bool
	get       func(ctx context.Context, cs kubernetes.Interface, want T) (T, error)
	// apply creates an object (server-side apply).
	apply func(context.Context, kubernetes.Interface, T) error
	// update replaces an object that does not match (an update carrying
	// the live object's resourceVersion). A server-side apply would keep
	// the fields another field manager owns: a match condition added to
	// a policy, a selector added to a binding, a scope added to a quota.
	update func(context.Context, kubernetes.Interface, T) error
	delete func(context.Context, kubernetes.Interface, T) error
}

func (k kind[T]) watch(cs kubernetes.Interface) watchFunc { return k.watchFn(cs) }

func (k kind[T]) digest(obj any) string {
	o, ok := obj.(T)
	if !ok {
		return ""
	}
	b, _ := json.Marshal([]any{o.GetLabels(), o.GetDeletionTimestamp() != nil, k.managed(o)})
	return string(b)
}

// matches: want's labels are on have and the managed parts are equal.
func (k kind[T]) matches(have, want T) bool {
	return hasLabels(have.GetLabels(), want.GetLabels()) && equality.Semantic.DeepEqual(k.managed(have), k.managed(want))
}

// replacement is have with want's managed parts and labels (mergedLabels):
// what update writes.
func (k kind[T]) replacement(have, want T) T {
	out := any(have).(runtime.Object).DeepCopyObject().(T)
	k.set(out, want)
	out.SetLabels(mergedLabels(have.GetLabels(), want.GetLabels()))
	return out
}

// run is the generic create-or-update-and-prune step.
func (k kind[T]) run(a *applier, desired State) {
	list, err := k.list(a.ctx, a.cs, a.sel)
	if err != nil {
		a.fail("list "+k.name+"s", err)
		return
	}
	have := map[string]T{}
	for _, h := range list {
		have[key(h.GetNamespace(), h.GetName())] = h
		if k.namespaces && h.GetDeletionTimestamp() != nil {
			a.gone[h.GetName()] = true
		}
	}
	wanted := map[string]bool{}
	for _, o := range k.desired(desired) {
		id := key(o.GetNamespace(), o.GetName())
		what := k.name + " " + id
		wanted[id] = true
		if a.gone[o.GetNamespace()] {
			continue
		}
		h, found := have[id]
		switch {
		case found && k.namespaces && h.GetDeletionTimestamp() != nil:
			a.fail(what, errors.New("still terminating"))
			continue
		case found && k.matches(h, o):
			continue
		case found && k.immutable != nil && k.immutable(h, o):
			if err := k.delete(a.ctx, a.cs, h); err != nil && !apierrors.IsNotFound(err) {
				a.fail("replace "+what, err)
				continue
			}
		case found:
			if err := k.update(a.ctx, a.cs, k.replacement(h, o)); err != nil {
				a.fail("replace "+what, err)
				continue
			}
			a.ch.Applied = append(a.ch.Applied, what)
			continue
		}
		err := k.apply(a.ctx, a.cs, o)
		if k.immutable != nil && apierrors.IsInvalid(err) {
			// An object of the name but without the managed label (so
			// not listed) whose immutable part differs: replaced too.
			if h, gerr := k.get(a.ctx, a.cs, o); gerr == nil && k.immutable(h, o) {
				if err = k.delete(a.ctx, a.cs, h); err == nil || apierrors.IsNotFound(err) {
					err = k.apply(a.ctx, a.cs, o)
				}
			}
		}
		if err != nil {
			a.fail("apply "+what, err)
			continue
		}
		a.ch.Applied = append(a.ch.Applied, what)
	}
	for id, h := range have {
		if wanted[id] || a.gone[h.GetNamespace()] {
			continue
		}
		if k.namespaces {
			a.gone[h.GetName()] = true
		}
		if h.GetDeletionTimestamp() != nil {
			continue
		}
		if err := k.delete(a.ctx, a.cs, h); err != nil && !apierrors.IsNotFound(err) {
			a.fail("delete "+k.name+" "+id, err)
			continue
		}
		a.ch.Pruned = append(a.ch.Pruned, k.name+" "+id)
	}
}
