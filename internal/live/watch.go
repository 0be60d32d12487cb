package live

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/events"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/kube"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/tenancy"
)

// kinds are what a watch may follow in a project's namespace.
var kinds = map[string]schema.GroupVersionResource{
	"deployments": {Group: "apps", Version: "v1", Resource: "deployments"},
	"pods":        {Version: "v1", Resource: "pods"},
	"jobs":        {Group: "batch", Version: "v1", Resource: "jobs"},
	"cronjobs":    {Group: "batch", Version: "v1", Resource: "cronjobs"},
	"events":      {Version: "v1", Resource: "events"},
}

// listPage is the page size of a watch's first list: one page at a time
// per connection is held in memory (conn.listing).
const listPage = 100

// minRestart spaces the restarts of a watch the cluster keeps closing.
const minRestart = time.Second

// subscribeWatch follows a Kubernetes watch in the project's namespace as
// the caller.
func (c *conn) subscribeWatch(m api.LiveClientMessage) {
	c.start(m.ID, func(ctx context.Context, s *sub) { c.runWatch(ctx, s, m) })
}

// watchScope resolves the watch's project for the caller, as the
// project's GET routes do (404 unless they see it), and refuses a
// sleeping workspace: a subscription does not wake it.
func (c *conn) watchScope(ctx context.Context, m api.LiveClientMessage) (tenancy.ProjectScope, error) {
	actx, cancel := c.authorizeCtx(ctx)
	defer cancel()
	sc, err := c.s.cfg.Tenancy.ResolveProjectRefs(actx, c.p, m.Org, m.Workspace, m.Project)
	if err != nil {
		return sc, err
	}
	if err := c.s.cfg.Sessions.RequireOrgMFAOf(actx, c.p.UserID, sc.Org.ID); err != nil {
		return sc, err
	}
	if sc.Workspace.Status == store.WorkspaceSleeping {
		return sc, &httpapi.Error{Status: http.StatusConflict, Type: "workspace-asleep", Title: "Workspace asleep",
			Detail: "the workspace is sleeping: a watch does not wake it; wake it (POST …/workspaces/{workspace}/wake) and subscribe again"}
	}
	return sc, nil
}

func (c *conn) runWatch(ctx context.Context, s *sub, m api.LiveClientMessage) {
	gvr := kinds[m.Kind]
	sc, err := c.watchScope(ctx, m)
	if err != nil {
		c.refuse(ctx, s.id, err)
		return
	}
	// A watch is a long-lived request to the workspace's cluster, counted
	// against the caps the gateway's watches and followed logs share.
	releaseUser, ok := c.s.cfg.UserStreams.Acquire(c.p.UserID)
	if !ok {
		c.refuse(ctx, s.id, c.s.cfg.UserStreams.TooManyOpen(c.p.UserID, "long-lived requests (watches, logs -f, exec, attach, port-forward, live watches) of this user"))
		return
	}
	defer releaseUser()
	releaseWS, ok := c.s.cfg.WorkspaceStreams.Acquire(sc.Workspace.ID)
	if !ok {
		c.refuse(ctx, s.id, c.s.cfg.WorkspaceStreams.TooManyOpen(sc.Workspace.ID, "long-lived requests (watches, logs -f, exec, attach, port-forward, live watches) to this workspace"))
		return
	}
	defer releaseWS()
	// Changes of memberships and bindings check the caller's access at
	// once (the periodic check is the backstop).
	// From the process's hub: a watch costs no consumer of its own.
	trig, _, err := c.s.hub.register(ctx, sc.Org.ID, func(ev events.Event) {
		if accessEvent(ev.Type) || ev.Type == events.WorkspaceStatus {
			s.poke()
		}
	})
	if err != nil {
		c.refuse(ctx, s.id, err)
		return
	}
	defer c.s.hub.unregister(trig)
	rv := m.ResourceVersion
	subscribed := false
	var last time.Time
	for {
		if subscribed {
			// A restart: the caller's access and the workspace's state
			// again, then the cluster authorizes the new watch.
			if !time.Now().After(last.Add(minRestart)) {
				select {
				case <-ctx.Done():
					return
				case <-time.After(minRestart):
				}
			}
			nsc, ok := c.recheckWatch(ctx, s, m, sc)
			if !ok {
				return
			}
			sc = nsc
		}
		last = time.Now()
		cl, err := kube.ClientFor(ctx, c.s.cfg.Clusters, sc.WorkspaceScope)
		if err != nil {
			c.refuse(ctx, s.id, err)
			return
		}
		ri := cl.Dynamic.Resource(gvr).Namespace(sc.Namespace())
		if !subscribed {
			if !c.send(api.LiveServerMessage{Type: "subscribed", ID: s.id}) {
				return
			}
			subscribed = true
		}
		if rv == "" {
			if rv, err = c.list(ctx, s, ri); err != nil {
				c.refuse(ctx, s.id, kube.Error(err))
				return
			}
		}
		w, err := ri.Watch(ctx, metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: true})
		if err != nil {
			c.refuse(ctx, s.id, watchError(err, rv))
			return
		}
		restart := c.follow(ctx, s, m, &sc, w, &rv)
		w.Stop()
		if !restart {
			return
		}
	}
}

// watchError is the problem of a failed watch: resync-required when the
// cluster no longer has the resource version (410 Gone).
func watchError(err error, rv string) error {
	if apierrors.IsGone(err) || apierrors.IsResourceExpired(err) {
		return resyncRequired(fmt.Sprintf("the cluster no longer has resource version %q: subscribe again without resource_version to list afresh", rv))
	}
	return kube.Error(err)
}

// list sends the current objects as ADDED, then synced with the list's
// resource version, which it returns.
func (c *conn) list(ctx context.Context, s *sub, ri dynamic.ResourceInterface) (string, error) {
	select {
	case c.listing <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-c.listing }()
	var rv, cont string
	for {
		l, err := ri.List(ctx, metav1.ListOptions{Limit: listPage, Continue: cont})
		if err != nil {
			return "", err
		}
		if rv == "" {
			rv = l.GetResourceVersion()
		}
		for i := range l.Items {
			if !c.send(watchMessage(s.id, watch.Added, &l.Items[i])) {
				return "", ctx.Err()
			}
		}
		if cont = l.GetContinue(); cont == "" {
			break
		}
	}
	if !c.send(api.LiveServerMessage{Type: "synced", ID: s.id, ResourceVersion: rv}) {
		return "", ctx.Err()
	}
	return rv, nil
}

func watchMessage(id string, typ watch.EventType, u *unstructured.Unstructured) api.LiveServerMessage {
	return api.LiveServerMessage{Type: "watch", ID: id, Event: &api.LiveEvent{Type: string(typ), Object: u.Object}}
}

// follow relays the watch's events until the subscription ends (false)
// or the watch must start again (true): the cluster closed it, or the
// caller's groups changed, so that the cluster authorizes their new
// identity.
func (c *conn) follow(ctx context.Context, s *sub, m api.LiveClientMessage, sc *tenancy.ProjectScope, w watch.Interface,
	rv *string) bool {
	for {
		select {
		case <-ctx.Done():
			return false
		case <-s.recheck:
			nsc, ok := c.recheckWatch(ctx, s, m, *sc)
			if !ok {
				return false
			}
			if !slices.Equal(nsc.Groups, sc.Groups) {
				*sc = nsc
				return true
			}
		case e, ok := <-w.ResultChan():
			if !ok {
				return ctx.Err() == nil
			}
			switch e.Type {
			case watch.Added, watch.Modified, watch.Deleted:
				u, isU := e.Object.(*unstructured.Unstructured)
				if !isU {
					continue
				}
				*rv = u.GetResourceVersion()
				if !c.send(watchMessage(s.id, e.Type, u)) {
					return false
				}
			case watch.Bookmark:
				if u, isU := e.Object.(*unstructured.Unstructured); isU {
					*rv = u.GetResourceVersion()
				}
			case watch.Error:
				c.refuse(ctx, s.id, watchError(apierrors.FromObject(e.Object), *rv))
				return false
			}
		}
	}
}

// recheckWatch resolves the watch's project again for the caller: when
// they may no longer see it, or it is another project now (deleted and
// made again), or the workspace went to sleep, it ends the subscription
// and returns false. A store failure keeps the watch (the next check
// asks again).
func (c *conn) recheckWatch(ctx context.Context, s *sub, m api.LiveClientMessage, sc tenancy.ProjectScope) (tenancy.ProjectScope, bool) {
	nsc, err := c.watchScope(ctx, m)
	if ctx.Err() != nil {
		return sc, false
	}
	if err != nil {
		p := httpapi.ProblemFor(c.r, err)
		switch {
		case p.Status == http.StatusNotFound:
			c.ended(s.id, "access to the project was revoked, or it was deleted")
		case p.Type == httpapi.ProblemTypeBase+"workspace-asleep":
			c.ended(s.id, "the workspace went to sleep")
		case p.Status == http.StatusForbidden:
			c.ended(s.id, "access to the organization was withdrawn: "+p.Detail)
		default:
			return sc, true
		}
		return sc, false
	}
	switch {
	case nsc.Workspace.ID != sc.Workspace.ID || nsc.Project.ID != sc.Project.ID:
		c.ended(s.id, "the project was deleted")
		return sc, false
	case nsc.Workspace.Status == store.WorkspaceDeleting || nsc.Workspace.Status == store.WorkspaceDeleted:
		c.ended(s.id, "the workspace is being deleted")
		return sc, false
	}
	return nsc, true
}
