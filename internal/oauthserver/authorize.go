package oauthserver

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/audit"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/identity"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// authorizeFields are the parameters an authorization form carries along.
var authorizeFields = []string{"response_type", "client_id", "redirect_uri", "code_challenge", "code_challenge_method", "state", "scope"}

// authorize is GET /auth/authorize.
func (s *Service) authorize(w http.ResponseWriter, r *http.Request) {
	req, ok := s.authorizeRequest(w, r, r.URL.Query())
	if !ok {
		return
	}
	if c, ok := s.signedIn(r); ok {
		// Never a code without the user's say: any page may send a
		// signed-in browser here with its own loopback port and PKCE
		// challenge (RFC 8252 §8.6), so the user must allow it.
		s.consentPage(w, r, http.StatusOK, req, c, "")
		return
	}
	s.signInPage(w, r, http.StatusOK, req, "", "", "")
}

// consentPage asks a signed-in browser's user to allow or deny the
// sign-in of the command-line tool, with a form protected like the
// sign-in form and bound to c's session and to req (sealConsent).
func (s *Service) consentPage(w http.ResponseWriter, r *http.Request, status int, req AuthorizeRequest, c identity.Claims, msg string) {
	tok, err := s.formToken(w, r)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	consent, err := s.sealConsent(req, c)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	s.render(w, r, status, "consent", page{Title: "Sign in the hks command-line tool as " + c.Email + "?",
		Info:  "Allow only if you have just run hks login on your computer. Deny if you did not: another site may be trying to get access to your account.",
		Error: msg, Action: "/auth/authorize", CSRF: tok, Hidden: append(authorizeHidden(req), field{consentField, consent}), SignedInAs: c.Email})
}

// consentDecision handles the Allow / Deny of the consent page. The form
// must carry back the consent it was shown with, for the same request;
// either answer spends it. Deny redirects with access_denied; Allow
// issues the consent's code for the browser's session, which must be the
// one the form was shown to (and still valid).
func (s *Service) consentDecision(w http.ResponseWriter, r *http.Request, req AuthorizeRequest, decision string) {
	st, ok := s.openConsent(r.PostForm.Get(consentField))
	switch {
	case !ok:
		s.errorPage(w, r, http.StatusForbidden, "Sign-in form expired", "The form is too old or was not shown by this site. Start again from the hks command line.")
		return
	case st.Request != req:
		s.errorPage(w, r, http.StatusBadRequest, "Sign-in request refused", "The form was changed after it was shown. Start again from the hks command line.")
		return
	}
	if decision == "deny" { // denying needs no sign-in: whoever sees the page may refuse
		if !s.spendConsent(w, r, st) {
			return
		}
		s.log.InfoContext(r.Context(), "authorization denied", "client_id", req.ClientID)
		v := url.Values{"error": {"access_denied"}, "error_description": {"the user denied the sign-in"}}
		if req.State != "" {
			v.Set("state", req.State)
		}
		redirectTo(w, req.RedirectURI, v)
		return
	}
	c, ok := s.signedIn(r)
	if !ok {
		s.signInPage(w, r, http.StatusUnauthorized, req, "Your session has ended. Sign in again.", "", "")
		return
	}
	if c.SessionID != st.SessionID {
		s.errorPage(w, r, http.StatusForbidden, "Sign-in form expired", "The form was shown to another sign-in. Start again from the hks command line.")
		return
	}
	audit.SetActor(r.Context(), c.UserID, c.Email)
	s.issueCode(w, r, req, c.UserID, c.SessionID, st.Code)
}

// authorizeRequest validates the parameters; on a refusal it answers (an
// error page, or a redirect with the error) and returns false.
func (s *Service) authorizeRequest(w http.ResponseWriter, r *http.Request, q url.Values) (AuthorizeRequest, bool) {
	req, err := ParseAuthorizeRequest(q)
	if err == nil {
		return req, true
	}
	var ae *AuthorizeError
	if !errors.As(err, &ae) || !ae.Redirect {
		desc := err.Error()
		if ae != nil {
			desc = ae.Description
		}
		s.errorPage(w, r, http.StatusBadRequest, "Sign-in request refused", "This sign-in link is invalid: "+desc+". Start again from the hks command line.")
		return req, false
	}
	v := url.Values{"error": {ae.Code}, "error_description": {ae.Description}}
	if req.State != "" {
		v.Set("state", req.State)
	}
	redirectTo(w, req.RedirectURI, v)
	return req, false
}

func redirectTo(w http.ResponseWriter, redirectURI string, v url.Values) {
	w.Header().Set("Location", redirectURI+"?"+v.Encode())
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusFound)
}

func (s *Service) providerLinks(returnTo string) []providerLink {
	out := make([]providerLink, 0, len(s.providers))
	for _, p := range s.providers {
		name := p.Name
		if name == "" {
			name = p.ID
		}
		out = append(out, providerLink{Name: name, URL: "/auth/login/" + url.PathEscape(p.ID) + "?return_to=" + url.QueryEscape(returnTo)})
	}
	return out
}

func authorizeHidden(req AuthorizeRequest) []field {
	return []field{
		{"response_type", "code"}, {"client_id", req.ClientID}, {"redirect_uri", req.RedirectURI},
		{"code_challenge", req.CodeChallenge}, {"code_challenge_method", "S256"}, {"state", req.State}, {"scope", req.Scope},
	}
}

// signInPage shows the sign-in form (or, with mfaToken, the second-factor
// form) of an authorization request.
func (s *Service) signInPage(w http.ResponseWriter, r *http.Request, status int, req AuthorizeRequest, msg, email, mfaToken string) {
	tok, err := s.formToken(w, r)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	v := url.Values{}
	for _, f := range authorizeHidden(req) {
		v.Set(f.Name, f.Value)
	}
	returnTo := "/auth/authorize?" + v.Encode()
	p := page{Title: "Sign in to Hexabase AI", Info: "The hks command line asks to sign in as you.", Error: msg,
		Action: "/auth/authorize", CSRF: tok, Hidden: authorizeHidden(req), Email: email, MFAToken: mfaToken}
	if mfaToken != "" {
		p.Title = "Two-factor authentication"
	} else {
		p.Providers = s.providerLinks(returnTo)
	}
	s.render(w, r, status, "form", p)
}

func (s *Service) internalError(w http.ResponseWriter, r *http.Request, err error) {
	s.log.ErrorContext(r.Context(), "authorization server", "err", err)
	s.errorPage(w, r, http.StatusInternalServerError, "Something went wrong", "An internal error occurred. Try again.")
}

// parsePostForm reads a form body; every field at most once.
func parsePostForm(r *http.Request) error {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" {
		return errors.New("the body must be a form")
	}
	if err := r.ParseForm(); err != nil {
		return err
	}
	for _, vs := range r.PostForm {
		if len(vs) > 1 {
			return errors.New("a field is repeated")
		}
	}
	return nil
}

// authorizePost is the sign-in form of the authorization page.
func (s *Service) authorizePost(w http.ResponseWriter, r *http.Request) {
	if err := parsePostForm(r); err != nil {
		s.errorPage(w, r, http.StatusBadRequest, "Sign-in request refused", "The form could not be read. Start again from the hks command line.")
		return
	}
	q := url.Values{}
	for _, k := range authorizeFields {
		if r.PostForm.Has(k) {
			q[k] = r.PostForm[k]
		}
	}
	req, ok := s.authorizeRequest(w, r, q)
	if !ok {
		return
	}
	if !s.checkForm(r) {
		s.errorPage(w, r, http.StatusForbidden, "Sign-in form expired", "The form is too old or was not sent from this site. Start again from the hks command line.")
		return
	}
	switch d := r.PostForm.Get("decision"); d {
	case "allow", "deny":
		s.consentDecision(w, r, req, d)
		return
	case "":
	default:
		s.errorPage(w, r, http.StatusBadRequest, "Sign-in request refused", "Choose Allow or Deny. Start again from the hks command line.")
		return
	}
	res, email, msg := s.signInForm(r.Context(), w, r)
	switch {
	case res.err != nil:
		s.internalError(w, r, res.err)
	case res.mfaToken != "":
		s.signInPage(w, r, http.StatusOK, req, msg, email, res.mfaToken)
	case res.userID == "":
		if res.locked {
			w.Header().Set("Retry-After", strconv.Itoa(httpapi.RetryAfterSeconds(res.retryAfter)))
		}
		s.signInPage(w, r, res.refusedStatus(), req, msg, email, "")
	default:
		s.issueCode(w, r, req, res.userID, "", "")
	}
}

// signInResult is the outcome of a sign-in form: a user, a second-factor
// challenge, a refusal (none of them; the message says why) or an
// internal error.
type signInResult struct {
	userID   string
	mfaToken string
	locked   bool // too many failed sign-ins
	// retryAfter: how long a locked sign-in stays locked.
	retryAfter time.Duration
	err        error
}

func (res signInResult) refusedStatus() int {
	if res.locked {
		return http.StatusTooManyRequests
	}
	return http.StatusUnauthorized
}

// signInForm signs in with the form's email and password, or answers its
// second-factor challenge (mfa_token and code). The session the sign-in
// starts is only the proof of it: it is ended at once (the client gets a
// session of its own when it trades the code). A completed sign-in (the
// password, and the second factor if the account has one) sets the
// browser's device token cookie on w.
func (s *Service) signInForm(ctx context.Context, w http.ResponseWriter, r *http.Request) (res signInResult, email, msg string) {
	f := r.PostForm
	m := meta(r)
	var tp api.TokenPair
	if mfa := f.Get("mfa_token"); mfa != "" {
		code := f.Get("code")
		if code == "" || len(code) > 64 || len(mfa) > 256 {
			return signInResult{}, "", "Enter the code of your authenticator app, or a backup code."
		}
		sr, err := s.id.CompleteMFASignIn(ctx, mfa, code, m)
		if err == nil && sr.DeviceToken != "" {
			http.SetCookie(w, s.id.DeviceTokenCookie(sr.DeviceToken))
		}
		switch {
		case errors.Is(err, identity.ErrInvalidMFAToken):
			return signInResult{}, "", "The sign-in took too long or had too many wrong codes. Sign in again."
		case errors.Is(err, identity.ErrInvalidMFACode):
			return signInResult{mfaToken: mfa}, "", "Wrong or used code. Try again."
		case errors.Is(err, identity.ErrTooManyAttempts):
			var tm *identity.TooManyAttemptsError
			wait := time.Minute
			if errors.As(err, &tm) {
				wait = tm.RetryAfter
			}
			return signInResult{locked: true, retryAfter: wait}, "", fmt.Sprintf("Too many wrong codes. Sign in again in %s.", wait.Round(time.Second))
		case err != nil:
			return signInResult{err: fmt.Errorf("complete mfa: %w", err)}, "", ""
		}
		tp = *sr.Tokens
	} else {
		email = f.Get("email")
		pw := f.Get("password")
		if email == "" || pw == "" {
			return signInResult{}, email, "Enter your email and password."
		}
		audit.SetActor(ctx, "", email)
		// The sign-in lockout of PasswordSignIn is the one of POST
		// /auth/login.
		sr, err := s.id.PasswordSignIn(ctx, email, pw, m)
		if err == nil && sr.DeviceToken != "" {
			http.SetCookie(w, s.id.DeviceTokenCookie(sr.DeviceToken))
		}
		var tm *identity.TooManyAttemptsError
		switch {
		case errors.As(err, &tm):
			msg := "Too many failed sign-ins."
			if tm.Queued {
				msg = "Many failed sign-ins for this account from many addresses: sign-ins from a new device and network wait their turn, and the queue is full."
			}
			return signInResult{locked: true, retryAfter: tm.RetryAfter}, email, fmt.Sprintf("%s Try again in %s.", msg, tm.RetryAfter.Round(time.Second))
		case errors.Is(err, identity.ErrInvalidCredentials):
			return signInResult{}, email, "Invalid email or password."
		case err != nil:
			return signInResult{err: fmt.Errorf("sign in: %w", err)}, email, ""
		case sr.MFARequired:
			return signInResult{mfaToken: sr.MFAToken}, email, ""
		}
		tp = *sr.Tokens
	}
	c, err := s.id.Verify(ctx, tp.AccessToken)
	if err != nil {
		return signInResult{err: fmt.Errorf("verify new session: %w", err)}, email, ""
	}
	if err := s.id.Logout(ctx, c.SessionID); err != nil {
		return signInResult{err: fmt.Errorf("end sign-in session: %w", err)}, email, ""
	}
	audit.SetActor(ctx, c.UserID, c.Email)
	return signInResult{userID: c.UserID}, email, ""
}

// issueCode stores an authorization code for userID and redirects the
// browser to the client with it: raw, the code of a consent form, or a
// new one when raw is "". A consent's code stored before (its form was
// answered already) issues nothing.
func (s *Service) issueCode(w http.ResponseWriter, r *http.Request, req AuthorizeRequest, userID, sessionID, raw string) {
	if raw == "" {
		var err error
		if raw, err = newSecret(); err != nil {
			s.internalError(w, r, err)
			return
		}
	}
	now := s.clock()
	c := store.AuthCode{CodeHash: hashSecret("code", raw), ClientID: req.ClientID, RedirectURI: req.RedirectURI, CodeChallenge: req.CodeChallenge,
		Scope: req.Scope, UserID: userID, SessionID: sessionID, CreatedAt: now, ExpiresAt: now.Add(CodeTTL)}
	if !s.storeCode(w, r, c) {
		return
	}
	s.log.InfoContext(r.Context(), "authorization code issued", "user_id", userID, "client_id", req.ClientID)
	redirectTo(w, req.RedirectURI, url.Values{"code": {raw}, "state": {req.State}})
}

// storeCode stores c; false when it answered instead: a code stored
// before is a consent form answered twice.
func (s *Service) storeCode(w http.ResponseWriter, r *http.Request, c store.AuthCode) bool {
	err := s.st.CreateAuthCode(r.Context(), c)
	switch {
	case errors.Is(err, store.ErrConflict):
		s.log.WarnContext(r.Context(), "consent form answered twice", "user_id", c.UserID, "client_id", c.ClientID)
		s.errorPage(w, r, http.StatusConflict, "Sign-in form used", "This form was answered already. Start again from the hks command line.")
		return false
	case err != nil:
		s.internalError(w, r, fmt.Errorf("create auth code: %w", err))
		return false
	}
	return true
}

// spendConsent stores the consent's code as expired, so that a form
// answered with Deny cannot be answered again; false when it answered
// instead.
func (s *Service) spendConsent(w http.ResponseWriter, r *http.Request, st consentState) bool {
	now := s.clock()
	q := st.Request
	return s.storeCode(w, r, store.AuthCode{CodeHash: hashSecret("code", st.Code), ClientID: q.ClientID, RedirectURI: q.RedirectURI,
		CodeChallenge: q.CodeChallenge, Scope: q.Scope, UserID: st.UserID, SessionID: st.SessionID, CreatedAt: now, ExpiresAt: now})
}
