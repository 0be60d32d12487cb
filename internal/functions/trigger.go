package functions

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hexabase/hexabase-ai/internal/authz"
	"github.com/hexabase/hexabase-ai/internal/functions/engine"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/store"
)

const (
	// MaxRequestBytes caps a request to the HTTP trigger.
	MaxRequestBytes = 1 << 20
	// MaxResponseBytes caps a function's answer through it.
	MaxResponseBytes = 6 << 20
)

// hopByHop are the headers of one connection, never passed on (RFC 9110
// 7.6.1), with Set-Cookie: a function answers on the platform's domain,
// where its cookies would reach the console's.
var hopByHop = map[string]bool{"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Proxy-Authenticate": true, "Proxy-Authorization": true,
	"Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true, "Set-Cookie": true, "Content-Length": true}

// platformOnly are headers of a function's answer that would act on the
// platform's origin (its pages, storage and workers) rather than the
// function's own answer: the trigger sets or drops them itself.
var platformOnly = map[string]bool{"Content-Security-Policy": true, "Content-Security-Policy-Report-Only": true, "Clear-Site-Data": true,
	"Service-Worker-Allowed": true, "Strict-Transport-Security": true}

// FunctionContentSecurityPolicy is every function answer's policy: a
// page a function serves runs its scripts in an opaque origin of its
// own, never as the platform's (whose console shares the host).
const FunctionContentSecurityPolicy = "sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads; frame-ancestors 'none'"

// Trigger serves the HTTP trigger under TriggerPrefix:
// /fn/{org}/{workspace}/{project}/{function}[/{alias}]/rest... (names;
// the segment after the function is an alias when the function has an
// alias of that name). A private function needs a platform bearer token
// of a user with at least the developer role in the project; a public one
// anyone. The caller's Authorization and Cookie headers, and any X-Hks-*
// header (the platform's own), never reach the function.
func (s *Service) Trigger() http.Handler { return http.HandlerFunc(s.trigger) }

func (s *Service) trigger(w http.ResponseWriter, r *http.Request) {
	if err := s.serveTrigger(w, r); err != nil {
		httpapi.WriteError(w, r, err)
	}
}

func (s *Service) serveTrigger(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	segs := strings.Split(strings.TrimPrefix(r.URL.Path, TriggerPrefix), "/")
	notFound := httpapi.NotFound("function")
	var principal *httpapi.Principal
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
			return httpapi.Unauthorized("the Authorization header must be \"Bearer <token>\"")
		}
		p, err := s.cfg.Auth.Authenticate(ctx, strings.TrimSpace(tok))
		if err != nil {
			e := httpapi.Unauthorized("the access token is invalid, expired or revoked")
			e.Cause = err
			return e
		}
		principal = &p
	}
	// An anonymous caller learns nothing of what is not public.
	hidden := func() error {
		if principal == nil {
			return httpapi.Unauthorized("authentication required: this function is private (or does not exist); send a platform access token as \"Authorization: Bearer <token>\"")
		}
		return notFound
	}
	if len(segs) < 4 || segs[0] == "" || segs[1] == "" || segs[2] == "" || segs[3] == "" {
		return hidden()
	}
	org, err := s.cfg.Store.GetOrganizationBySlug(ctx, segs[0])
	if err != nil {
		return notFoundOr(err, hidden)
	}
	ws, err := s.cfg.Store.GetWorkspaceByName(ctx, org.ID, segs[1])
	if err != nil {
		return notFoundOr(err, hidden)
	}
	project, err := s.cfg.Store.GetProjectByName(ctx, ws.ID, segs[2])
	if err != nil {
		return notFoundOr(err, hidden)
	}
	fn, err := s.cfg.Store.GetFunctionByName(ctx, project.ID, segs[3])
	if err != nil {
		return notFoundOr(err, hidden)
	}
	if fn.Access != store.FunctionPublic {
		if principal == nil {
			return hidden()
		}
		ps, err := s.cfg.Tenancy.ResolveProjectRefs(ctx, *principal, org.ID, ws.ID, project.ID)
		if err != nil {
			// Whichever of the organization, workspace or project the
			// caller cannot see, the answer is the one a missing
			// function gets: nothing tells a private function exists.
			var he *httpapi.Error
			if errors.Is(err, store.ErrNotFound) || errors.As(err, &he) && he.Status == http.StatusNotFound {
				return notFound
			}
			return err
		}
		if ps.Level < authz.Develop {
			return httpapi.Forbidden(fmt.Sprintf("calling private function %s needs the developer role in project %s (you have %s)", fn.Name, project.Name, ps.Level))
		}
	}
	alias, rest := "", segs[4:]
	if len(rest) > 0 {
		if _, ok := fn.Alias(rest[0]); ok {
			alias, rest = rest[0], rest[1:]
		}
	}
	// The body must arrive within the read timeout (the subtree's
	// requests have no read deadline of the server's).
	if err := http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.cfg.TriggerReadTimeout)); err != nil {
		s.cfg.Logger.Warn("set the HTTP trigger's read deadline", "error", err)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRequestBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &httpapi.Error{Status: http.StatusRequestEntityTooLarge, Type: "body-too-large", Title: "Request body too large",
				Detail: fmt.Sprintf("a function's request body is at most %d MiB", MaxRequestBytes>>20)}
		}
		return httpapi.BadRequest("the request body could not be read")
	}
	headers := map[string][]string{}
	for k, vs := range r.Header {
		// X-Hks-* are the platform's to set (an event's topic and id):
		// a caller cannot forge them.
		if k == "Authorization" || k == "Cookie" || hopByHop[k] || strings.HasPrefix(http.CanonicalHeaderKey(k), "X-Hks-") {
			continue
		}
		headers[k] = vs
	}
	req := engine.Request{Method: r.Method, Path: "/" + strings.Join(rest, "/"), Query: r.URL.Query(), Headers: headers, Body: body}
	inv, res, err := s.invokeNow(ctx, fn, alias, 0, TriggerHTTP, store.NewID(), req)
	if err != nil {
		return busyError(err)
	}
	w.Header().Set("X-Hks-Invocation-Id", inv.ID)
	if res.ExitReason != "" {
		return &httpapi.Error{Status: http.StatusBadGateway, Type: "function-failed", Title: "The function failed",
			Detail: fmt.Sprintf("invocation %s ended without an answer: exit_reason %s", inv.ID, res.ExitReason)}
	}
	if len(res.Response.Body) > MaxResponseBytes {
		return &httpapi.Error{Status: http.StatusBadGateway, Type: "function-response-too-large", Title: "The function's answer is too large",
			Detail: fmt.Sprintf("invocation %s answered more than %d MiB", inv.ID, MaxResponseBytes>>20)}
	}
	for k, vs := range res.Response.Headers {
		k = http.CanonicalHeaderKey(k)
		if hopByHop[k] || platformOnly[k] {
			continue
		}
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	status := res.Response.Status
	if status == 0 {
		status = http.StatusOK
	}
	if status < 100 || status > 999 {
		status = http.StatusBadGateway
	}
	w.Header().Set("Content-Security-Policy", FunctionContentSecurityPolicy)
	w.Header().Set("Content-Length", strconv.Itoa(len(res.Response.Body)))
	w.WriteHeader(status)
	_, _ = w.Write(res.Response.Body)
	return nil
}

func notFoundOr(err error, hidden func() error) error {
	if errors.Is(err, store.ErrNotFound) {
		return hidden()
	}
	return err
}
