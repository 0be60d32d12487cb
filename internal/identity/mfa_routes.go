package identity

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// The HTTP routes of two-factor authentication (MFARoutes): they decode
// requests, call the domain methods of mfa.go and map their errors.

// loginResponse is the answer of a sign-in: tokens or a challenge.
func loginResponse(res SignInResult) api.LoginResponse {
	if res.MFARequired {
		return api.LoginResponse{MFARequired: true, MFAToken: res.MFAToken, Methods: []string{MethodTOTP, MethodBackupCode}}
	}
	tp := res.Tokens
	return api.LoginResponse{AccessToken: tp.AccessToken, RefreshToken: tp.RefreshToken, TokenType: tp.TokenType, ExpiresIn: tp.ExpiresIn, DeviceToken: res.DeviceToken}
}

// mfaError maps 2FA errors onto client errors; wrongStatus is the status of
// a wrong code (401 at sign-in, 422 on the signed-in endpoints).
func mfaError(err error, field string, wrongStatus int) error {
	var tooMany *TooManyAttemptsError
	switch {
	case errors.As(err, &tooMany):
		what := "wrong second-factor codes"
		if tooMany.Field == "password" {
			what = "failed sign-ins"
		}
		msg := "too many " + what + "; locked"
		if tooMany.Queued {
			msg = QueuedMessage
		}
		e := httpapi.TooManyRequests(tooMany.RetryAfter, lockedFor(msg, tooMany.RetryAfter))
		e.Cause = err
		return e
	case errors.Is(err, ErrMFACodeReplayed):
		return &httpapi.Error{Status: wrongStatus, Type: "invalid-mfa-code", Title: "Invalid second factor",
			Detail: field + ": this code was used already; wait for the next one",
			Fields: []api.FieldError{{Field: field, Message: "was used already"}}, Cause: err}
	case errors.Is(err, ErrInvalidMFACode):
		return &httpapi.Error{Status: wrongStatus, Type: "invalid-mfa-code", Title: "Invalid second factor",
			Detail: field + ": the code is wrong or expired",
			Fields: []api.FieldError{{Field: field, Message: "is wrong or expired"}}, Cause: err}
	case errors.Is(err, ErrInvalidMFAToken):
		e := httpapi.Unauthorized("mfa_token: invalid, expired, used or out of attempts; sign in again")
		e.Fields = []api.FieldError{{Field: "mfa_token", Message: "is invalid, expired, used or out of attempts"}}
		e.Cause = err
		return e
	case errors.Is(err, ErrInvalidCredentials):
		return &httpapi.Error{Status: wrongStatus, Type: "invalid-credentials", Title: "Invalid password",
			Detail: "password: is wrong", Fields: []api.FieldError{{Field: "password", Message: "is wrong"}}, Cause: err}
	case errors.Is(err, ErrMFAEnabled):
		e := httpapi.Conflict("", "two-factor authentication is enabled already; disable it first to enrol again")
		e.Cause = err
		return e
	case errors.Is(err, ErrMFANotEnabled):
		e := httpapi.Conflict("", "two-factor authentication is not enabled")
		e.Cause = err
		return e
	case errors.Is(err, ErrMFANotPending):
		e := httpapi.Conflict("", "no enrolment is pending; start one with POST /auth/2fa/enroll")
		e.Cause = err
		return e
	}
	return err
}

// caller returns the signed-in user.
func (s *Service) caller(r *http.Request) (store.User, error) {
	p, err := httpapi.MustPrincipal(r)
	if err != nil {
		return store.User{}, err
	}
	u, err := s.st.GetUser(r.Context(), p.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, httpapi.Unauthorized("the user of this token no longer exists")
	}
	if err != nil {
		return store.User{}, fmt.Errorf("get user: %w", err)
	}
	return u, nil
}

func decodeCode(r *http.Request) (string, error) {
	var req api.MFACodeRequest
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return "", err
	}
	return req.Code, checkCodeField("code", req.Code)
}

func checkCodeField(field, code string) error {
	switch {
	case strings.TrimSpace(code) == "":
		return httpapi.Invalid(httpapi.Field(field, "is required"))
	case len(code) > maxSecondFactorText:
		return httpapi.Invalid(httpapi.Field(field, "must be a 6-digit code or a backup code"))
	}
	return nil
}

func (s *Service) mfaStatus(r *http.Request) (any, error) {
	u, err := s.caller(r)
	if err != nil {
		return nil, err
	}
	return s.GetMFAStatus(r.Context(), u.ID)
}

func (s *Service) mfaEnroll(r *http.Request) (any, error) {
	u, err := s.caller(r)
	if err != nil {
		return nil, err
	}
	e, err := s.EnrollTOTP(r.Context(), u)
	if err != nil {
		return nil, mfaError(err, "code", http.StatusUnprocessableEntity)
	}
	return &httpapi.Response{Body: e, Header: http.Header{"Cache-Control": {"no-store"}}}, nil
}

func (s *Service) mfaQR(w http.ResponseWriter, r *http.Request) {
	u, err := s.caller(r)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	png, err := s.PendingTOTPQR(r.Context(), u)
	if errors.Is(err, ErrMFANotPending) {
		httpapi.WriteError(w, r, httpapi.NotFound("pending two-factor enrolment"))
		return
	}
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(png)
}

// backupCodesAnswer is a handler that takes the caller's code and
// answers new backup codes (shown once, so not cached).
func (s *Service) backupCodesAnswer(fn func(ctx context.Context, userID, code string) ([]string, error)) httpapi.HandlerFunc {
	return func(r *http.Request) (any, error) {
		u, err := s.caller(r)
		if err != nil {
			return nil, err
		}
		code, err := decodeCode(r)
		if err != nil {
			return nil, err
		}
		codes, err := fn(r.Context(), u.ID, code)
		if err != nil {
			return nil, mfaError(err, "code", http.StatusUnprocessableEntity)
		}
		return &httpapi.Response{Body: api.BackupCodes{BackupCodes: codes}, Header: http.Header{"Cache-Control": {"no-store"}}}, nil
	}
}

func (s *Service) mfaDisable(r *http.Request) (any, error) {
	u, err := s.caller(r)
	if err != nil {
		return nil, err
	}
	var req api.DisableMFARequest
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	switch {
	case (req.Code == "") == (req.Password == ""):
		return nil, httpapi.Invalid(httpapi.Field("code", "give exactly one of code and password"))
	case req.Code != "":
		if err := checkCodeField("code", req.Code); err != nil {
			return nil, err
		}
	}
	field := "code"
	if req.Password != "" {
		field = "password"
	}
	if err := s.DisableMFA(r.Context(), u, req.Code, req.Password, meta(r)); err != nil {
		return nil, mfaError(err, field, http.StatusUnprocessableEntity)
	}
	return nil, nil
}

func (s *Service) loginMFA(r *http.Request) (any, error) {
	var req api.LoginMFARequest
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	var fes []api.FieldError
	if req.MFAToken == "" {
		fes = append(fes, httpapi.Field("mfa_token", "is required"))
	}
	if err := checkCodeField("code", req.Code); err != nil {
		fes = append(fes, err.(*httpapi.Error).Fields...)
	}
	if fe := checkSession(req.Session); fe != nil {
		fes = append(fes, *fe)
	}
	if len(fes) > 0 {
		return nil, httpapi.Invalid(fes...)
	}
	if req.Session == api.SessionCookie {
		if err := httpapi.CheckBrowserSignIn(r); err != nil {
			return nil, err
		}
	}
	m := meta(r)
	if req.DeviceToken != "" {
		m.DeviceTokens = append([]string{req.DeviceToken}, m.DeviceTokens...)
	}
	res, err := s.CompleteMFASignIn(r.Context(), req.MFAToken, req.Code, m)
	if err != nil {
		return nil, mfaError(err, "code", http.StatusUnauthorized)
	}
	return s.signInAnswer(res, req.Session), nil
}

// MFARoutes returns the two-factor routes. s may be a zero Service when
// only the route table is wanted (the OpenAPI document).
func (s *Service) MFARoutes() []httpapi.Route {
	conf := []int{http.StatusConflict}
	return []httpapi.Route{
		{Method: "POST", Path: "/auth/login/mfa", Tag: "auth", Public: true, Summary: "Complete a sign-in with a TOTP or backup code (after mfa_required); answers the tokens and the device token", Request: api.LoginMFARequest{}, Response: api.LoginResponse{}, Errors: []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusUnsupportedMediaType}, Handle: s.loginMFA},
		{Method: "GET", Path: "/auth/2fa", Tag: "2fa", Summary: "Two-factor authentication status of the caller", Response: api.MFAStatus{}, Handle: s.mfaStatus},
		{Method: "POST", Path: "/auth/2fa/enroll", Tag: "2fa", Summary: "Start (or restart) TOTP enrolment: secret, otpauth URI and QR code", Response: api.TOTPEnrollment{}, Errors: conf, Handle: s.mfaEnroll},
		{Method: "GET", Path: "/auth/2fa/qr.png", Tag: "2fa", Summary: "QR code PNG of the pending enrolment's otpauth URI", ContentType: "image/png", Raw: http.HandlerFunc(s.mfaQR)},
		{Method: "POST", Path: "/auth/2fa/verify", Tag: "2fa", Summary: "Confirm the enrolment with a code; answers ten backup codes, shown once", Request: api.MFACodeRequest{}, Response: api.BackupCodes{}, Errors: conf, Handle: s.backupCodesAnswer(s.ConfirmTOTP)},
		{Method: "POST", Path: "/auth/2fa/disable", Tag: "2fa", Summary: "Disable two-factor authentication (needs a current code or the password)", Request: api.DisableMFARequest{}, Status: http.StatusNoContent, Errors: conf, Handle: s.mfaDisable},
		{Method: "POST", Path: "/auth/2fa/backup-codes", Tag: "2fa", Summary: "Replace the backup codes (needs a current code); answers the new ones, shown once", Request: api.MFACodeRequest{}, Response: api.BackupCodes{}, Errors: conf, Handle: s.backupCodesAnswer(s.RegenerateBackupCodes)},
	}
}
