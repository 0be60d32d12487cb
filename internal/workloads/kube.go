package workloads

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"syscall"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/controlplane"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/tenancy"
)

// Clusters gives client configurations that act as a platform user in a
// workspace cluster (*controlplane.Service implements it).
type Clusters interface {
	ConfigAs(ctx context.Context, workspaceID, email string, groups []string) (*rest.Config, error)
}

// Scopes resolves the path of a request for its caller
// (*tenancy.Service implements it).
type Scopes interface {
	ResolveWorkspace(r *http.Request) (tenancy.WorkspaceScope, error)
	ResolveProject(r *http.Request) (tenancy.ProjectScope, error)
}

var (
	_ Clusters = (*controlplane.Service)(nil)
	_ Scopes   = (*tenancy.Service)(nil)
)

// Client is a workspace cluster as the caller.
type Client struct {
	Kube    kubernetes.Interface
	Dynamic dynamic.Interface
	Config  *rest.Config
}

// ClientFor connects to the scope's workspace cluster as its caller. A
// workspace without a running control plane is a 409 that says so.
func ClientFor(ctx context.Context, c Clusters, sc tenancy.WorkspaceScope) (*Client, error) {
	cfg, err := c.ConfigAs(ctx, sc.Workspace.ID, sc.Principal.Email, sc.Groups)
	if errors.Is(err, controlplane.ErrNotFound) {
		return nil, httpapi.Conflict("", fmt.Sprintf("the workspace is %s: its cluster is not running", sc.Workspace.Status))
	}
	if err != nil {
		return nil, fmt.Errorf("workspace client config: %w", err)
	}
	kc, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("workspace client: %w", err)
	}
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("workspace dynamic client: %w", err)
	}
	return &Client{Kube: kc, Dynamic: dc, Config: cfg}, nil
}

// KubeError turns an error of the workspace API server into the API's
// answer: its refusals (403, 404, 409, 422, 400) keep the cluster's own
// reason, which names the user, verb and resource, so a person can act on
// it; a cluster that cannot be reached is a 503; anything else is an
// internal error (logged, not shown).
func KubeError(err error) error {
	if err == nil {
		return nil
	}
	var st apierrors.APIStatus
	if !errors.As(err, &st) {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return &httpapi.Error{Status: http.StatusServiceUnavailable, Type: "cluster-unavailable", Title: "Cluster unavailable",
				Detail: "the workspace cluster did not answer in time", Cause: err}
		}
		if isConnErr(err) {
			return &httpapi.Error{Status: http.StatusServiceUnavailable, Type: "cluster-unavailable", Title: "Cluster unavailable",
				Detail: "the workspace cluster cannot be reached; it may be restarting", Cause: err}
		}
		return err
	}
	s := st.Status()
	msg := s.Message
	switch s.Reason {
	case metav1.StatusReasonForbidden:
		e := httpapi.Forbidden("the workspace cluster refused: " + msg)
		e.Cause = err
		return e
	case metav1.StatusReasonNotFound:
		e := &httpapi.Error{Status: http.StatusNotFound, Type: "not-found", Title: "Not found", Detail: msg, Cause: err}
		return e
	case metav1.StatusReasonAlreadyExists, metav1.StatusReasonConflict:
		e := httpapi.Conflict("", msg)
		e.Cause = err
		return e
	case metav1.StatusReasonInvalid:
		var fields []api.FieldError
		if s.Details != nil {
			for _, c := range s.Details.Causes {
				fields = append(fields, httpapi.Field(c.Field, c.Message))
			}
		}
		e := httpapi.Invalid(fields...)
		e.Detail = msg
		e.Cause = err
		return e
	case metav1.StatusReasonBadRequest:
		e := httpapi.BadRequest(msg)
		e.Cause = err
		return e
	case metav1.StatusReasonUnauthorized:
		// The platform's own client was refused: not the caller's fault.
		return fmt.Errorf("workspace cluster refused the platform's credentials: %w", err)
	case metav1.StatusReasonTimeout, metav1.StatusReasonServerTimeout, metav1.StatusReasonServiceUnavailable, metav1.StatusReasonTooManyRequests:
		return &httpapi.Error{Status: http.StatusServiceUnavailable, Type: "cluster-unavailable", Title: "Cluster unavailable",
			Detail: "the workspace cluster is busy: " + msg, Header: http.Header{"Retry-After": {"1"}}, Cause: err}
	}
	if s.Code >= 400 && s.Code < 500 && s.Code != http.StatusUnauthorized {
		return &httpapi.Error{Status: int(s.Code), Type: "cluster-refused", Title: "Refused by the workspace cluster", Detail: msg, Cause: err}
	}
	return err
}

// isConnErr reports whether err is a failure to reach the API server (a
// dial, a reset, a connection closed mid-answer) rather than its answer.
func isConnErr(err error) bool {
	var opErr *net.OpError
	return errors.As(err, &opErr) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// pageOf is one page of items, which are sorted by key (unique,
// ascending): those after the page's cursor, at most its limit, and the
// cursor of the next page ("" on the last). For lists the platform puts
// together itself rather than pages the cluster hands out.
func pageOf[T any](items []T, page store.Page, key func(T) string) ([]T, string, error) {
	after, err := store.DecodeCursor(page.After)
	if err != nil {
		e := httpapi.Invalid(httpapi.Field("cursor", "not a cursor returned by this list"))
		e.Status = http.StatusBadRequest
		return nil, "", e
	}
	start := 0
	if after != "" {
		start, _ = slices.BinarySearchFunc(items, after, func(it T, k string) int { return strings.Compare(key(it), k) })
		if start < len(items) && key(items[start]) == after {
			start++
		}
	}
	end := min(len(items), start+page.EffectiveLimit())
	next := ""
	if end < len(items) {
		next = store.EncodeCursor(key(items[end-1]))
	}
	return items[start:end], next, nil
}
