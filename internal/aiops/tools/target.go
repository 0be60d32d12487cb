package tools

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/kube"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/tenancy"
)

// Target is who a tool acts as and where.
type Target struct {
	// Client is the caller's own client of the workspace cluster (from
	// their workspace token through the gateway, or kube.ClientFor:
	// never a platform credential), with its Warnings collector.
	Client *kube.Client
	// Scope is the caller (Principal), the organization, the workspace,
	// the caller's access and the workspace's projects.
	Scope tenancy.WorkspaceScope
	// Project is the chat's project name ("" = the whole workspace): the
	// default of the tools' project argument.
	Project string
	// Runs answers the platform's run history of a CronJob (nil: the
	// cronjob_runs tool is not available).
	Runs func(ctx context.Context, namespace, cronJob string) ([]store.CronJobRun, error)
	// Diagnose runs the analyzers (package analyze) over namespaces as
	// the caller (nil: the diagnose tool is not available).
	Diagnose func(ctx context.Context, t *Target, namespaces []string) (api.Diagnosis, error)
	// Platform is the platform's own API (its whole handler, reached in
	// process) for the tools of Target TargetPlatform (functions): each
	// request carries Scope.Principal as its caller (httpapi.AsCaller),
	// so the API authorizes it as an HTTP call of theirs. Nil: those
	// tools are not available.
	Platform http.Handler
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Discovery, if not nil, shares the workspace cluster's discovery
	// between Targets of the same workspace (keyed by Scope.Workspace.ID):
	// the kinds the tools resolve, never a credential (see DiscoveryCache).
	// Nil: each Target asks for discovery on its first use of a kind.
	Discovery *DiscoveryCache

	mu     sync.Mutex
	mapper meta.RESTMapper
}

func (t *Target) check() error {
	if t == nil || t.Client == nil || t.Client.Kube == nil || t.Client.Dynamic == nil || t.Client.Config == nil || t.Client.Warnings == nil {
		return errors.New("tools: the target needs a client of the workspace cluster (Kube, Dynamic, Config and Warnings)")
	}
	return nil
}

func (t *Target) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

// Namespace resolves a tool's project argument ("" is t.Project) to its
// namespace (the project's name), only among the projects the caller may
// see: any other is an *ArgError "project X not found". "" (no project
// argument and no chat project) means the whole workspace.
func (t *Target) Namespace(project string) (string, error) {
	if project == "" {
		project = t.Project
	}
	if project == "" {
		return "", nil
	}
	if _, ok := t.project(project); !ok {
		return "", &ArgError{Field: "project", Message: fmt.Sprintf("project %s not found (list_projects names those you can see)", project)}
	}
	return project, nil
}

// project answers the visible project named name.
func (t *Target) project(name string) (store.Project, bool) {
	for _, p := range t.Scope.VisibleProjects() {
		if p.Name == name {
			return p, true
		}
	}
	return store.Project{}, false
}

// namespaces are the namespaces a read covers: the project's, or those
// of every visible project for the whole workspace.
func (t *Target) namespaces(project string) ([]string, error) {
	ns, err := t.Namespace(project)
	if err != nil {
		return nil, err
	}
	if ns != "" {
		return []string{ns}, nil
	}
	var out []string
	for _, p := range t.Scope.VisibleProjects() {
		out = append(out, p.Name)
	}
	slices.Sort(out)
	return out, nil
}

// restMapper answers the caller's REST mapper (discovery as the caller,
// or the workspace's from t.Discovery), made once per Target.
func (t *Target) restMapper() meta.RESTMapper {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mapper == nil {
		var dc discovery.CachedDiscoveryInterface = memory.NewMemCacheClient(t.Client.Kube.Discovery())
		if t.Discovery != nil && t.Scope.Workspace.ID != "" {
			dc = &sharedDiscovery{CachedDiscoveryInterface: dc, cache: t.Discovery, key: t.Scope.Workspace.ID}
		}
		t.mapper = restmapper.NewShortcutExpander(restmapper.NewDeferredDiscoveryRESTMapper(dc), dc, func(string) {})
	}
	return t.mapper
}

// mapping resolves a kind as kubectl does: a resource (plural, singular
// or short name, optionally resource.group or resource.version.group) or
// a Kind (optionally Kind.group). field names the argument in errors.
func (t *Target) mapping(field, kind string) (*meta.RESTMapping, error) {
	kind = strings.TrimSpace(kind)
	if kind == "" {
		return nil, &ArgError{Field: field, Message: "is required"}
	}
	if len(kind) > 253 || strings.ContainsAny(kind, "/ \t\n?#") {
		return nil, &ArgError{Field: field, Message: "not a kind: say a resource (deployments, deploy, pod) or a Kind (Deployment)"}
	}
	m := t.restMapper()
	gvr, gr := schema.ParseResourceArg(strings.ToLower(kind))
	var gvk schema.GroupVersionKind
	if gvr != nil {
		gvk, _ = m.KindFor(*gvr)
	}
	if gvk.Empty() {
		gvk, _ = m.KindFor(gr.WithVersion(""))
	}
	if !gvk.Empty() {
		if mp, err := m.RESTMapping(gvk.GroupKind(), gvk.Version); err == nil {
			return mp, nil
		}
	}
	fgvk, gk := schema.ParseKindArg(kind)
	if fgvk != nil {
		if mp, err := m.RESTMapping(fgvk.GroupKind(), fgvk.Version); err == nil {
			return mp, nil
		}
	}
	if mp, err := m.RESTMapping(gk); err == nil {
		return mp, nil
	}
	return nil, &ArgError{Field: field, Message: fmt.Sprintf("the workspace cluster has no kind %q", kind)}
}

// objectPath is the API path of a resource's collection (name "") or
// object.
func objectPath(gvr schema.GroupVersionResource, namespace, name string) string {
	p := "/apis/" + gvr.Group + "/" + gvr.Version
	if gvr.Group == "" {
		p = "/api/" + gvr.Version
	}
	if namespace != "" {
		p += "/namespaces/" + url.PathEscape(namespace)
	}
	p += "/" + gvr.Resource
	if name != "" {
		p += "/" + url.PathEscape(name)
	}
	return p
}

// rest is the caller's REST client for requests by path.
func (t *Target) rest() (rest.Interface, error) {
	rc := t.Client.Kube.CoreV1().RESTClient()
	if rc == nil {
		return nil, errors.New("tools: the target's client cannot make requests by path")
	}
	if r, ok := rc.(*rest.RESTClient); ok && r == nil {
		return nil, errors.New("tools: the target's client cannot make requests by path")
	}
	return rc, nil
}

// do sends method to path (an absolute API path with its query) with
// body (JSON) as the caller and answers the JSON answer, or the cluster's
// refusal as a *ClusterError (other failures as they are).
func (t *Target) do(ctx context.Context, method, path string, body []byte, extra url.Values) ([]byte, error) {
	return t.doAccept(ctx, method, path, body, extra, "application/json")
}

// doAccept is do with an Accept header (a Table, a log's text).
func (t *Target) doAccept(ctx context.Context, method, path string, body []byte, extra url.Values, accept string) ([]byte, error) {
	rc, err := t.rest()
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(path)
	if err != nil || !apiPath(u.Path) {
		return nil, fmt.Errorf("tools: %q is not an API path", path)
	}
	req := rc.Verb(method).AbsPath(u.Path).SetHeader("Accept", accept)
	q := u.Query()
	for k, vs := range extra {
		q[k] = vs
	}
	for k, vs := range q {
		for _, v := range vs {
			req = req.Param(k, v)
		}
	}
	if body != nil {
		req = req.SetHeader("Content-Type", "application/json").Body(body)
	}
	// Result.Error (not Raw's error, nor DoRaw's) reads the API server's
	// Status of a refusal, with its reason and message.
	res := req.Do(ctx)
	if err := res.Error(); err != nil {
		return nil, clusterError(err)
	}
	return res.Raw()
}

func apiPath(p string) bool {
	return (strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/apis/")) && !strings.Contains(p, "..")
}

// clusterError turns a refusal of the API server into a *ClusterError
// (message scrubbed); other errors stay as they are.
func clusterError(err error) error {
	if err == nil {
		return nil
	}
	var st apierrors.APIStatus
	if !errors.As(err, &st) {
		return err
	}
	s := st.Status()
	code := int(s.Code)
	if code == 0 {
		code = http.StatusInternalServerError
	}
	if code == http.StatusUnauthorized {
		return fmt.Errorf("the workspace cluster refused the caller's credentials: %w", err)
	}
	msg := s.Message
	if s.Details != nil {
		for _, c := range s.Details.Causes {
			if c.Field != "" && !strings.Contains(msg, c.Message) {
				msg += "; " + c.Field + ": " + c.Message
			}
		}
	}
	reason := string(s.Reason)
	if reason == "" || s.Reason == metav1.StatusReasonUnknown {
		reason = http.StatusText(code)
	}
	return &ClusterError{Status: code, Reason: reason, Message: Cap(Scrub(msg), 2048)}
}
