package issuer

import (
	"errors"
	"net/http"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
)

func (s *Service) discovery(*http.Request) (any, error) {
	return &httpapi.Response{Header: http.Header{"Cache-Control": {"public, max-age=300"}}, Body: s.Discovery()}, nil
}

func (s *Service) workspaceToken(r *http.Request) (any, error) {
	p, err := httpapi.MustPrincipal(r)
	if err != nil {
		return nil, err
	}
	wt, err := s.WorkspaceToken(r.Context(), Subject{UserID: p.UserID, Email: p.Email, SessionID: p.SessionID}, r.PathValue("org"), r.PathValue("workspace"))
	if errors.Is(err, ErrNotFound) {
		return nil, httpapi.NotFound("workspace")
	}
	if errors.Is(err, ErrMFARequired) {
		return nil, &httpapi.Error{Status: http.StatusForbidden, Type: "mfa-required", Title: "Two-factor authentication required",
			Detail: "this organization requires two-factor authentication: enable it with POST /auth/2fa/enroll and /auth/2fa/verify"}
	}
	if err != nil {
		return nil, err
	}
	return &httpapi.Response{Header: noStore(), Body: wt}, nil
}

// Routes returns the issuer's routes. s may be a zero Service when only
// the route table is wanted (the OpenAPI document).
func (s *Service) Routes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: DiscoveryPath, Tag: "auth", Public: true, Summary: "OpenID Connect discovery document of the platform as issuer", Response: api.Discovery{}, Handle: s.discovery},
		{Method: "POST", Path: TokenPath, Tag: "auth", Public: true, Summary: "OAuth 2.0 token endpoint (token exchange for workspace ID tokens; errors as RFC 6749 §5.2)",
			Request: api.TokenRequest{}, Response: api.ExchangeResponse{}, Errors: []int{http.StatusUnsupportedMediaType}, Handle: s.token},
		{Method: "POST", Path: "/api/v1/organizations/{org}/workspaces/{workspace}/token", Tag: "workspaces", Summary: "A short-lived workspace ID token for kubectl (aud = the workspace)",
			Response: api.WorkspaceToken{}, Handle: s.workspaceToken},
	}
}
