package workloads

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/kube"
	"github.com/hexabase/hexabase-ai/internal/ratelimit"
)

// Config carries the service's dependencies.
type Config struct {
	Scopes   kube.Scopes
	Clusters kube.Clusters
	Logger   *slog.Logger
	Now      func() time.Time
	// UserStreams caps the followed logs (?follow=true) open at once per
	// user (keyed by user id: the gateway's per-user limiter can be
	// shared, so that both count against one cap); beyond it, 429. nil:
	// DefaultStreamsPerUser, counted by this service alone.
	UserStreams *ratelimit.Concurrency
}

// DefaultStreamsPerUser is Config.UserStreams' cap when it is nil (the
// gateway's default per user).
const DefaultStreamsPerUser = 64

// Service serves the applications and usage API.
type Service struct {
	cfg     Config
	apps    kube.Objects
	streams *ratelimit.Concurrency
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Scopes == nil || cfg.Clusters == nil || cfg.Logger == nil {
		return nil, errors.New("workloads: Scopes, Clusters and Logger are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	streams := cfg.UserStreams
	if streams == nil {
		var err error
		if streams, err = ratelimit.NewConcurrency(DefaultStreamsPerUser); err != nil {
			return nil, err
		}
	}
	return &Service{cfg: cfg, streams: streams, apps: kube.Objects{Scopes: cfg.Scopes, Clusters: cfg.Clusters, Param: "app", What: "application", Valid: validAppName}}, nil
}

// Path prefixes of the routes.
const (
	WorkspacePath = "/api/v1/organizations/{org}/workspaces/{workspace}"
	ProjectPath   = WorkspacePath + "/projects/{project}"
	appsPath      = ProjectPath + "/applications"
	appPath       = appsPath + "/{app}"
)

// Routes returns the applications and usage routes.
func (s *Service) Routes() []httpapi.Route {
	pq := httpapi.PageQuery
	kubeErrs := []int{http.StatusForbidden, http.StatusConflict, http.StatusServiceUnavailable}
	return []httpapi.Route{
		{Method: "POST", Path: appsPath, Tag: "applications", Summary: "Create an application from a simple spec (a Deployment, and a Service when it has ports) or from a manifest (checked by a server-side dry run first); as the caller, so the cluster's RBAC decides",
			Request: api.CreateApplicationRequest{}, Response: api.Application{}, Status: http.StatusCreated, AlsoStatus: http.StatusOK, Errors: kubeErrs, Action: "application.create", Handle: s.createApp,
			Query: []httpapi.Param{{Name: "dry_run", Description: "true: every object passes the cluster's server-side dry run (dryRun=All, as the caller) and nothing is created; the answer is 200 with the application as it would be"}}},
		{Method: "GET", Path: appsPath, Tag: "applications", Summary: "List the project's applications (Deployments) with their status", Response: api.List[api.Application]{}, Query: pq, Errors: kubeErrs, Handle: s.listApps},
		{Method: "GET", Path: appPath, Tag: "applications", Summary: "Get an application with its live status and pods", Response: api.Application{}, Errors: kubeErrs, Handle: s.getAppHandler},
		{Method: "PUT", Path: appPath, Tag: "applications", Summary: "Replace what the simple spec describes of an application (other containers, volumes, … stay) or apply a manifest (a rolling update); If-Match or resource_version make it conditional (412 when stale)", Request: api.UpdateApplicationRequest{}, Response: api.Application{}, Errors: append(kubeErrs, http.StatusPreconditionFailed), Action: "application.update", Handle: s.updateApp},
		{Method: "PATCH", Path: appPath, Tag: "applications", Summary: "Change some fields of an application's simple spec: a JSON merge patch (RFC 7396) applied to the live application, so fields the patch does not name (and other containers, volumes, …) stay; If-Match or resource_version make it conditional (412 when stale)",
			Request: api.PatchApplicationRequest{}, Response: api.Application{}, Errors: append(kubeErrs, http.StatusPreconditionFailed), Action: "application.update", Handle: s.patchApp},
		{Method: "DELETE", Path: appPath, Tag: "applications", Summary: "Delete an application, its Service and its pods", Status: http.StatusNoContent, Errors: kubeErrs, Action: "application.delete", Handle: s.deleteApp},
		{Method: "POST", Path: appPath + "/scale", Tag: "applications", Summary: "Set an application's replicas", Request: api.ScaleRequest{}, Response: api.Application{}, Errors: kubeErrs, Action: "application.scale", Handle: s.scaleApp},
		{Method: "POST", Path: appPath + "/restart", Tag: "applications", Summary: "Restart every pod of an application (a rolling restart)", Response: api.Application{}, Status: http.StatusAccepted, Errors: kubeErrs, Action: "application.restart", Handle: s.restartApp},
		{Method: "GET", Path: appPath + "/pods", Tag: "applications", Summary: "List an application's pods, by name", Response: api.List[api.Pod]{}, Query: pq, Errors: kubeErrs, Handle: s.listPods},
		{Method: "GET", Path: appPath + "/events", Tag: "applications", Summary: "List the events of an application, its ReplicaSets and pods, oldest first", Response: api.List[api.Event]{}, Query: pq, Errors: kubeErrs, Handle: s.listEvents},
		{Method: "GET", Path: appPath + "/logs", Tag: "applications", Summary: "A pod's log as text; with follow=true it streams until the pod ends or the client goes away (a user may hold only so many streams open at once: 429 beyond)",
			ContentType: "text/plain", Stream: true, Errors: append(kubeErrs, http.StatusTooManyRequests), Raw: http.HandlerFunc(s.logs),
			Query: []httpapi.Param{{Name: "pod", Description: "a pod of the application (default: the first)"}, {Name: "container"},
				{Name: "follow", Description: "true: keep streaming"}, {Name: "tail_lines", Type: "integer"}, {Name: "since_seconds", Type: "integer"}, {Name: "timestamps"}}},
		{Method: "GET", Path: ProjectPath + "/access", Tag: "applications", Summary: "What the caller may do in the project's namespace (create, update, delete deployments, cronjobs, jobs; read pods and logs; …), as the workspace cluster's RBAC decides for the caller's own identity (a SelfSubjectRulesReview as the caller)",
			Response: api.ProjectAccess{}, Errors: kubeErrs, Handle: s.access},
		{Method: "GET", Path: ProjectPath + "/usage", Tag: "usage", Summary: "A project's quota use (used against hard) and counts of its workloads", Response: api.Usage{}, Errors: kubeErrs, Handle: s.projectUsage},
		{Method: "GET", Path: WorkspacePath + "/usage", Tag: "usage", Summary: "The sum of the usage of the workspace's projects the caller may see, and each of them", Response: api.Usage{}, Errors: kubeErrs, Handle: s.workspaceUsage},
	}
}
