package oauthserver

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/issuer"
	"github.com/hexabase/hexabase-ai/internal/ratelimit"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// DevicePath is the verification page of the device grant.
const DevicePath = "/auth/device"

// pollSlack is how much sooner than the interval a device token poll may
// come without slow_down (network and timer jitter).
const pollSlack = time.Second

// userCodeAlphabet has no vowels (no words) and no look-alikes (0/O, 1/I).
const userCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"

// NewUserCode returns a random user code such as "WDJB-MJHT".
func NewUserCode() (string, error) {
	var b strings.Builder
	for i := range 8 {
		if i == 4 {
			b.WriteByte('-')
		}
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(userCodeAlphabet))))
		if err != nil {
			return "", err
		}
		b.WriteByte(userCodeAlphabet[n.Int64()])
	}
	return b.String(), nil
}

// NormalizeUserCode uppercases a user code and drops dashes and spaces; it
// reports false unless the result is 8 characters of the alphabet.
func NormalizeUserCode(s string) (string, bool) {
	if len(s) > 16 {
		return "", false
	}
	var b strings.Builder
	for _, c := range strings.ToUpper(s) {
		switch {
		case c == '-' || c == ' ':
		case c < 128 && strings.ContainsRune(userCodeAlphabet, c):
			b.WriteRune(c)
		default:
			return "", false
		}
	}
	if b.Len() != 8 {
		return "", false
	}
	return b.String(), true
}

func formatUserCode(n string) string { return n[:4] + "-" + n[4:] }

func deviceError(status int, code, desc, fieldName string) *httpapi.Response {
	body := issuer.TokenError{Error: code, ErrorDescription: desc}
	if fieldName != "" {
		body.Errors = []api.FieldError{httpapi.Field(fieldName, desc)}
	}
	return &httpapi.Response{Status: status, Header: http.Header{"Cache-Control": {"no-store"}}, Body: body}
}

// deviceCode is POST /auth/device/code.
func (s *Service) deviceCode(r *http.Request) (any, error) {
	form := url.Values{}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/x-www-form-urlencoded":
		if err := parsePostForm(r); err != nil {
			return deviceError(http.StatusBadRequest, "invalid_request", "the body must be a form with each field once", ""), nil
		}
		form = r.PostForm
	case "application/json":
		var m map[string]string
		if err := httpapi.DecodeJSON(r, &m); err != nil {
			return deviceError(http.StatusBadRequest, "invalid_request", "the body must be a JSON object of string parameters", ""), nil
		}
		for k, v := range m {
			form.Set(k, v)
		}
	default:
		return deviceError(http.StatusUnsupportedMediaType, "invalid_request", "the body must be application/x-www-form-urlencoded", ""), nil
	}
	if err := checkClient(form, false); err != nil {
		var oe *issuer.OAuthError
		errors.As(err, &oe)
		st := oe.Status
		if st == 0 {
			st = http.StatusBadRequest
		}
		return deviceError(st, oe.Code, oe.Description, oe.Field), nil
	}
	if len(form.Get("scope")) > maxScopeLen {
		return deviceError(http.StatusBadRequest, "invalid_scope", "scope is too long", "scope"), nil
	}
	scope, err := parseScope(form.Get("scope"))
	if err != nil {
		return deviceError(http.StatusBadRequest, "invalid_scope", err.Error(), "scope"), nil
	}
	now := s.clock()
	for range 3 {
		dc, err := newSecret()
		if err != nil {
			return nil, err
		}
		uc, err := NewUserCode()
		if err != nil {
			return nil, err
		}
		norm, _ := NormalizeUserCode(uc)
		d := store.DeviceCode{DeviceCodeHash: hashSecret("device", dc), UserCodeHash: hashSecret("user", norm), ClientID: CLIClientID,
			Scope: scope, Status: store.DevicePending, Interval: DeviceInterval, CreatedAt: now, ExpiresAt: now.Add(DeviceCodeTTL)}
		err = s.st.CreateDeviceCode(r.Context(), d)
		if errors.Is(err, store.ErrConflict) {
			continue // a user code in use: draw again
		}
		if err != nil {
			return nil, fmt.Errorf("create device code: %w", err)
		}
		verify := s.id.Issuer() + DevicePath
		return &httpapi.Response{Header: http.Header{"Cache-Control": {"no-store"}}, Body: api.DeviceAuthorization{
			DeviceCode: dc, UserCode: uc, VerificationURI: verify, VerificationURIComplete: verify + "?user_code=" + url.QueryEscape(uc),
			ExpiresIn: int(DeviceCodeTTL / time.Second), Interval: DeviceInterval}}, nil
	}
	return nil, errors.New("create device code: no free user code after 3 draws")
}

// DeviceTokenPath polls for the tokens of a device code like the token
// endpoint with grant_type device_code (the grant_type may be omitted).
const DeviceTokenPath = "/auth/device/token"

// deviceToken is POST /auth/device/token.
func (s *Service) deviceToken(r *http.Request) (any, error) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		return deviceError(http.StatusUnsupportedMediaType, "invalid_request", "the body must be application/x-www-form-urlencoded", ""), nil
	}
	if err := parsePostForm(r); err != nil {
		return deviceError(http.StatusBadRequest, "invalid_request", "the body must be a form with each field once", ""), nil
	}
	if gt := r.PostForm.Get("grant_type"); gt != "" && gt != GrantDeviceCode {
		return deviceError(http.StatusBadRequest, "unsupported_grant_type", "grant_type must be "+GrantDeviceCode, "grant_type"), nil
	}
	v, err := s.deviceCodeGrant(r, r.PostForm)
	var oe *issuer.OAuthError
	if errors.As(err, &oe) {
		st := oe.Status
		if st == 0 {
			st = http.StatusBadRequest
		}
		return deviceError(st, oe.Code, oe.Description, oe.Field), nil
	}
	if err != nil {
		return nil, err
	}
	return &httpapi.Response{Header: http.Header{"Cache-Control": {"no-store"}, "Pragma": {"no-cache"}}, Body: v}, nil
}

// deviceCodeGrant is the device token poll (RFC 8628 §3.4, §3.5).
func (s *Service) deviceCodeGrant(r *http.Request, form url.Values) (any, error) {
	if err := checkClient(form, false); err != nil {
		return nil, err
	}
	dc := form.Get("device_code")
	if dc == "" {
		return nil, oauthErr("invalid_request", "device_code is required", "device_code")
	}
	now := s.clock()
	prev, err := s.st.PollDeviceCode(r.Context(), hashSecret("device", dc), now, pollSlack)
	if errors.Is(err, store.ErrNotFound) {
		return nil, oauthErr("invalid_grant", "the device code is invalid", "device_code")
	}
	if err != nil {
		return nil, err
	}
	switch {
	case !now.Before(prev.ExpiresAt):
		return nil, oauthErr("expired_token", "the device code has expired; start again", "device_code")
	case prev.ClientID != form.Get("client_id"):
		return nil, oauthErr("invalid_grant", "the device code was issued to another client", "client_id")
	case prev.LastPolledAt != nil && now.Sub(*prev.LastPolledAt) < time.Duration(prev.Interval)*time.Second-pollSlack:
		return nil, oauthErr("slow_down", fmt.Sprintf("poll at most every %d seconds", prev.Interval+5), "")
	}
	switch prev.Status {
	case store.DevicePending:
		return nil, oauthErr("authorization_pending", "the user has not approved the device yet", "")
	case store.DeviceDenied:
		return nil, oauthErr("access_denied", "the user denied the device", "")
	case store.DeviceApproved:
		tp, _, err := s.startSession(r.Context(), r, prev.UserID)
		if err != nil {
			return nil, err
		}
		return tp, nil
	}
	return nil, oauthErr("invalid_grant", "the device code was used already", "device_code")
}

// tooManyTries reports whether ip has used up its wrong user codes. An
// IPv6 address counts as its /64 (ratelimit.IPKey).
func (s *Service) tooManyTries(ip string) bool {
	ip = ratelimit.IPKey(ip)
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tries[ip]
	if t == nil || s.now().Sub(t.start) >= userCodeWindow {
		return false
	}
	return t.n >= MaxUserCodeTry
}

// failedTry counts a wrong user code of ip (of its /64 for IPv6).
func (s *Service) failedTry(ip string) {
	ip = ratelimit.IPKey(ip)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if len(s.tries) > 10_000 { // forget old windows
		for k, t := range s.tries {
			if now.Sub(t.start) >= userCodeWindow {
				delete(s.tries, k)
			}
		}
	}
	t := s.tries[ip]
	if t == nil || now.Sub(t.start) >= userCodeWindow {
		t = &tryCount{start: now}
		s.tries[ip] = t
	}
	t.n++
}

// lookupUserCode finds the pending device authorization of a user code,
// counting failures against the client IP.
func (s *Service) lookupUserCode(r *http.Request, code string) (store.DeviceCode, string, bool, error) {
	ip := httpapi.ClientIP(r.Context())
	norm, ok := NormalizeUserCode(code)
	if !ok {
		s.failedTry(ip)
		return store.DeviceCode{}, "", false, nil
	}
	d, err := s.st.GetDeviceCodeByUserCode(r.Context(), hashSecret("user", norm))
	if errors.Is(err, store.ErrNotFound) || (err == nil && (d.Status != store.DevicePending || !s.clock().Before(d.ExpiresAt))) {
		s.failedTry(ip)
		return store.DeviceCode{}, "", false, nil
	}
	if err != nil {
		return store.DeviceCode{}, "", false, err
	}
	return d, norm, true, nil
}

const (
	deviceTitle   = "Sign in a device"
	badCodeText   = "That code is unknown, expired or used already. Check the code your device shows."
	tooManyText   = "Too many wrong codes. Wait a few minutes and try again."
	deviceWrongCT = "The form could not be read. Start again."
)

func (s *Service) enterCodePage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s.render(w, r, status, "enter_code", page{Title: deviceTitle, Error: msg, Action: DevicePath,
		Info: "Enter the code that hks login --device shows."})
}

// devicePage is GET /auth/device.
func (s *Service) devicePage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if len(q["user_code"]) > 1 {
		s.enterCodePage(w, r, http.StatusBadRequest, badCodeText)
		return
	}
	code := q.Get("user_code")
	if code == "" {
		s.enterCodePage(w, r, http.StatusOK, "")
		return
	}
	if _, norm, ok := s.findUserCode(w, r, code); ok {
		s.deviceForm(w, r, http.StatusOK, norm, "", "", "")
	}
}

// findUserCode looks up the user code a page was given, within the
// client's tries; when it is refused (too many tries, a wrong code, an
// error) the page has been answered and ok is false.
func (s *Service) findUserCode(w http.ResponseWriter, r *http.Request, code string) (store.DeviceCode, string, bool) {
	if s.tooManyTries(httpapi.ClientIP(r.Context())) {
		s.enterCodePage(w, r, http.StatusTooManyRequests, tooManyText)
		return store.DeviceCode{}, "", false
	}
	d, norm, ok, err := s.lookupUserCode(r, code)
	if err != nil {
		s.internalError(w, r, err)
		return store.DeviceCode{}, "", false
	}
	if !ok {
		s.enterCodePage(w, r, http.StatusBadRequest, badCodeText)
		return store.DeviceCode{}, "", false
	}
	return d, norm, true
}

// deviceForm shows the approval form of a user code: sign in (unless the
// browser is signed in) and approve or deny.
func (s *Service) deviceForm(w http.ResponseWriter, r *http.Request, status int, norm, msg, email, mfaToken string) {
	tok, err := s.formToken(w, r)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	uc := formatUserCode(norm)
	p := page{Title: deviceTitle, Error: msg, Action: DevicePath, CSRF: tok, Hidden: []field{{"user_code", uc}},
		UserCode: uc, Email: email, MFAToken: mfaToken}
	if c, ok := s.signedIn(r); ok && mfaToken == "" {
		p.SignedInAs = c.Email
	} else if mfaToken == "" {
		p.Providers = s.providerLinks(DevicePath + "?user_code=" + url.QueryEscape(uc))
	}
	s.render(w, r, status, "form", p)
}

// devicePost is the approval form of the verification page.
func (s *Service) devicePost(w http.ResponseWriter, r *http.Request) {
	if err := parsePostForm(r); err != nil {
		s.enterCodePage(w, r, http.StatusBadRequest, deviceWrongCT)
		return
	}
	if !s.checkForm(r) {
		s.errorPage(w, r, http.StatusForbidden, "Form expired", "The form is too old or was not sent from this site. Enter the code again.")
		return
	}
	d, norm, ok := s.findUserCode(w, r, r.PostForm.Get("user_code"))
	if !ok {
		return
	}
	var approve bool
	switch r.PostForm.Get("decision") {
	case "approve":
		approve = true
	case "deny":
	default:
		s.deviceForm(w, r, http.StatusBadRequest, norm, "Choose Approve or Deny.", "", "")
		return
	}
	userID := ""
	if c, ok := s.signedIn(r); ok {
		userID = c.UserID
	} else if approve { // denying needs no sign-in: whoever sees the code may refuse it
		res, email, msg := s.signInForm(r.Context(), w, r)
		switch {
		case res.err != nil:
			s.internalError(w, r, res.err)
			return
		case res.mfaToken != "":
			s.deviceForm(w, r, http.StatusOK, norm, msg, email, res.mfaToken)
			return
		case res.userID == "":
			s.deviceForm(w, r, res.refusedStatus(), norm, msg, email, "")
			return
		}
		userID = res.userID
	}
	err := s.st.DecideDeviceCode(r.Context(), d.UserCodeHash, approve, userID, s.clock())
	if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
		s.enterCodePage(w, r, http.StatusBadRequest, badCodeText)
		return
	}
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	if approve {
		s.log.InfoContext(r.Context(), "device approved", "user_id", userID)
		s.render(w, r, http.StatusOK, "message", page{Title: "Device approved", Info: "You are signed in on your device. You can close this window."})
		return
	}
	s.log.InfoContext(r.Context(), "device denied", "user_id", userID)
	s.render(w, r, http.StatusOK, "message", page{Title: "Device denied", Info: "The device was not signed in. You can close this window."})
}
