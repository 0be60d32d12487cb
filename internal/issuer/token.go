package issuer

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"time"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/identity"
)

// Grant types and token types (RFC 8693).
const (
	GrantTokenExchange   = "urn:ietf:params:oauth:grant-type:token-exchange"
	TokenTypeAccessToken = "urn:ietf:params:oauth:token-type:access_token"
	TokenTypeIDToken     = "urn:ietf:params:oauth:token-type:id_token"
	TokenTypeJWT         = "urn:ietf:params:oauth:token-type:jwt"
)

// Grant handles one grant_type of the token endpoint. form holds the
// request parameters (from an application/x-www-form-urlencoded or a JSON
// object body). It returns the JSON answer, or an *OAuthError (any other
// error is a 500).
type Grant func(r *http.Request, form url.Values) (any, error)

// RegisterGrant adds a grant to the token endpoint. Registering a grant
// type twice, or an empty one, is an error.
func (s *Service) RegisterGrant(grantType string, g Grant) error {
	if grantType == "" || g == nil {
		return errors.New("issuer: a grant needs a type and a handler")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.grants[grantType]; dup {
		return fmt.Errorf("issuer: grant %q is registered already", grantType)
	}
	s.grants[grantType] = g
	return nil
}

// OAuthError is an RFC 6749 §5.2 error of the token endpoint. Its answer
// carries error and error_description, as OAuth clients expect, and names
// the offending parameter in errors like every other problem of this API.
type OAuthError struct {
	Status      int    // 400 unless set
	Code        string // invalid_request, invalid_grant, unsupported_grant_type, invalid_target …
	Description string // safe to show
	Field       string // the offending parameter, if any
	Cause       error  // logged, never sent
}

func (e *OAuthError) Error() string {
	msg := e.Code + ": " + e.Description
	if e.Cause != nil {
		msg += ": " + e.Cause.Error()
	}
	return msg
}

func (e *OAuthError) Unwrap() error { return e.Cause }

// TokenError is the body of a token endpoint refusal.
type TokenError struct {
	Error            string           `json:"error"`
	ErrorDescription string           `json:"error_description"`
	Errors           []api.FieldError `json:"errors,omitempty"`
}

const maxParamLen = 8 << 10

func noStore() http.Header {
	return http.Header{"Cache-Control": {"no-store"}, "Pragma": {"no-cache"}}
}

// token is the token endpoint: it reads the parameters and dispatches on
// grant_type.
func (s *Service) token(r *http.Request) (any, error) {
	form, err := readForm(r)
	if err == nil {
		var v any
		v, err = s.dispatch(r, form)
		if err == nil {
			return &httpapi.Response{Header: noStore(), Body: v}, nil
		}
	}
	var oe *OAuthError
	if !errors.As(err, &oe) {
		return nil, err
	}
	if oe.Cause != nil {
		httpapi.Logger(r.Context()).Debug("token request refused", "error", oe)
	}
	status := oe.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	body := TokenError{Error: oe.Code, ErrorDescription: oe.Description}
	if oe.Field != "" {
		body.Errors = []api.FieldError{httpapi.Field(oe.Field, oe.Description)}
	}
	return &httpapi.Response{Status: status, Header: noStore(), Body: body}, nil
}

func (s *Service) dispatch(r *http.Request, form url.Values) (any, error) {
	gt := form.Get("grant_type")
	if gt == "" {
		return nil, &OAuthError{Code: "invalid_request", Description: "grant_type is required", Field: "grant_type"}
	}
	s.mu.RLock()
	g := s.grants[gt]
	s.mu.RUnlock()
	if g == nil {
		return nil, &OAuthError{Code: "unsupported_grant_type", Description: "grant_type is not supported by this server", Field: "grant_type"}
	}
	return g(r, form)
}

// readForm reads the parameters of a token request: a form body (RFC 6749)
// or a JSON object of strings. Repeated parameters are refused.
func readForm(r *http.Request) (url.Values, error) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var form url.Values
	switch mt {
	case "application/x-www-form-urlencoded":
		if err := r.ParseForm(); err != nil {
			return nil, &OAuthError{Code: "invalid_request", Description: "the body is not a valid form", Cause: err}
		}
		form = r.PostForm
	case "application/json":
		var m map[string]string
		if err := httpapi.DecodeJSON(r, &m); err != nil {
			return nil, &OAuthError{Code: "invalid_request", Description: "the body must be a JSON object of string parameters", Cause: err}
		}
		form = url.Values{}
		for k, v := range m {
			form.Set(k, v)
		}
	default:
		return nil, &OAuthError{Status: http.StatusUnsupportedMediaType, Code: "invalid_request", Description: "the body must be application/x-www-form-urlencoded"}
	}
	for k, vs := range form {
		if len(vs) > 1 {
			return nil, &OAuthError{Code: "invalid_request", Description: k + " is repeated", Field: k}
		}
		if len(vs[0]) > maxParamLen {
			return nil, &OAuthError{Code: "invalid_request", Description: k + " is too long", Field: k}
		}
	}
	return form, nil
}

// tokenExchange is the RFC 8693 grant: the caller's access token
// (subject_token) for a workspace ID token (audience = the workspace id).
func (s *Service) tokenExchange(r *http.Request, form url.Values) (any, error) {
	subject := form.Get("subject_token")
	switch {
	case subject == "":
		return nil, &OAuthError{Code: "invalid_request", Description: "subject_token is required", Field: "subject_token"}
	case form.Get("subject_token_type") != TokenTypeAccessToken:
		return nil, &OAuthError{Code: "invalid_request", Description: "subject_token_type must be " + TokenTypeAccessToken, Field: "subject_token_type"}
	case form.Get("audience") == "":
		return nil, &OAuthError{Code: "invalid_request", Description: "audience is required: the workspace id", Field: "audience"}
	}
	switch form.Get("requested_token_type") {
	case "", TokenTypeIDToken, TokenTypeJWT:
	default:
		return nil, &OAuthError{Code: "invalid_request", Description: "requested_token_type must be " + TokenTypeIDToken, Field: "requested_token_type"}
	}
	if form.Has("resource") || form.Has("actor_token") {
		return nil, &OAuthError{Code: "invalid_request", Description: "resource and actor_token are not supported", Field: "resource"}
	}
	c, err := s.id.Verify(r.Context(), subject)
	if errors.Is(err, identity.ErrInvalidToken) {
		return nil, &OAuthError{Code: "invalid_grant", Description: "subject_token is invalid, expired or revoked", Field: "subject_token", Cause: err}
	}
	if err != nil {
		return nil, err
	}
	wt, err := s.WorkspaceToken(r.Context(), Subject{UserID: c.UserID, Email: c.Email, SessionID: c.SessionID}, "", form.Get("audience"))
	if errors.Is(err, ErrNotFound) {
		return nil, &OAuthError{Code: "invalid_target", Description: "audience is not a workspace you can see", Field: "audience"}
	}
	if errors.Is(err, ErrMFARequired) {
		return nil, &OAuthError{Code: "invalid_target", Description: "the workspace's organization requires two-factor authentication, which you have not enabled", Field: "audience"}
	}
	if err != nil {
		return nil, err
	}
	return api.ExchangeResponse{AccessToken: wt.Token, IssuedTokenType: TokenTypeIDToken, TokenType: "N_A",
		ExpiresIn: int(wt.ExpiresAt.Sub(s.now()).Round(time.Second) / time.Second), IDToken: wt.Token, ExpiresAt: wt.ExpiresAt}, nil
}
