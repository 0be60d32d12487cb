package oauthserver

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"net/http"
	"time"

	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/identity"
)

//go:embed templates/*.html
var templateFS embed.FS

var pages = template.Must(template.ParseFS(templateFS, "templates/*.html"))

// pageStyle is the only style of the pages, allowed by its hash in the CSP.
const pageStyle = `body{font-family:system-ui,sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem;color:#1b1b1b}` +
	`label{display:block;margin:.8rem 0}input{display:block;width:100%;padding:.45rem;box-sizing:border-box;margin-top:.2rem}` +
	`button{padding:.5rem 1rem;margin:.8rem .4rem 0 0}.err{color:#b00020}.code{font-family:monospace;font-size:1.4rem;letter-spacing:.15rem}`

// pageCSP is the Content-Security-Policy of the pages: nothing but their
// own style, forms posting to this site, and redirects (after a form) to a
// loopback redirect URI.
var pageCSP = "default-src 'none'; style-src 'sha256-" + styleHash() + "'; img-src 'self'; " +
	"form-action 'self' http://127.0.0.1:* http://localhost:* http://[::1]:*; frame-ancestors 'none'; base-uri 'none'"

func styleHash() string {
	sum := sha256.Sum256([]byte(pageStyle))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// field is a hidden form field.
type field struct{ Name, Value string }

type providerLink struct{ Name, URL string }

// page is the data of every template.
type page struct {
	Title, Error, Info string
	Style              template.CSS
	Action             string
	CSRF               string
	PlatformCSRF       string // the platform's double-submit token, for browsers with session cookies
	Hidden             []field
	Email              string
	SignedInAs         string
	MFAToken           string
	UserCode           string
	Providers          []providerLink
}

// render writes a page with the pages' security headers.
func (s *Service) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	p.Style = template.CSS(pageStyle)
	if c, err := r.Cookie(identity.CSRFCookie); err == nil && len(c.Value) <= 256 {
		p.PlatformCSRF = c.Value
	}
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, p); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (s *Service) errorPage(w http.ResponseWriter, r *http.Request, status int, title, msg string) {
	s.render(w, r, status, "message", page{Title: title, Error: msg})
}

// The CSRF protection of the forms: a random token sealed (encrypted and
// authenticated) with its expiry into a short-lived HttpOnly cookie, and
// echoed in the form's csrf field.
const (
	formCookie = "hks_oauth_form"
	formAD     = "hks oauth form v1"
)

type formState struct {
	Token   string `json:"t"`
	Expires int64  `json:"e"`
}

func (s *Service) readFormCookie(r *http.Request) (formState, bool) {
	c, err := r.Cookie(formCookie)
	if err != nil || c.Value == "" || len(c.Value) > 1024 {
		return formState{}, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil {
		return formState{}, false
	}
	plain, err := s.sealer.Open(raw, []byte(formAD))
	if err != nil {
		return formState{}, false
	}
	var st formState
	if json.Unmarshal(plain, &st) != nil || st.Token == "" || s.now().Unix() >= st.Expires {
		return formState{}, false
	}
	return st, true
}

// formToken returns the CSRF token of the browser's form cookie, setting
// a fresh cookie when it has none (or an expired one).
func (s *Service) formToken(w http.ResponseWriter, r *http.Request) (string, error) {
	if st, ok := s.readFormCookie(r); ok && st.Expires-s.now().Unix() > int64(FormTTL/time.Second)/2 {
		return st.Token, nil
	}
	tok, err := newSecret()
	if err != nil {
		return "", err
	}
	plain, _ := json.Marshal(formState{Token: tok, Expires: s.now().Add(FormTTL).Unix()})
	sealed, err := s.sealer.Seal(plain, []byte(formAD))
	if err != nil {
		return "", err
	}
	http.SetCookie(w, &http.Cookie{Name: formCookie, Value: base64.RawURLEncoding.EncodeToString(sealed), Path: "/auth",
		MaxAge: int(FormTTL / time.Second), HttpOnly: true, Secure: httpapi.SecureRequest(r, s.secure), SameSite: http.SameSiteLaxMode})
	return tok, nil
}

// checkForm verifies the csrf field of a POST against the form cookie.
func (s *Service) checkForm(r *http.Request) bool {
	st, ok := s.readFormCookie(r)
	if !ok {
		return false
	}
	got := r.PostForm.Get("csrf")
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(st.Token)) == 1
}

// The consent form is bound to what it was shown for: the page seals
// (encrypts and authenticates) the authorization request, the session it
// was shown to, an expiry and the code an Allow will issue into its
// consent field. The POST must carry it back unchanged with the same
// request, an Allow from the same session; the code is then stored by its
// hash, which the store takes once, so a form answered once (Allow or
// Deny, which stores the code spent) issues no second code. Sweep keeps
// spent codes for ConsentTTL after they expire, longer than any consent
// form that could carry them lives.
const (
	consentField = "consent"
	consentAD    = "hks oauth consent v1"
	// ConsentTTL is how long a consent page may be answered.
	ConsentTTL = FormTTL
)

type consentState struct {
	Code      string           `json:"c"`
	Request   AuthorizeRequest `json:"r"`
	SessionID string           `json:"s"`
	UserID    string           `json:"u"`
	Expires   int64            `json:"e"`
}

// sealConsent makes the consent field of a form asking c's user about req.
func (s *Service) sealConsent(req AuthorizeRequest, c identity.Claims) (string, error) {
	code, err := newSecret()
	if err != nil {
		return "", err
	}
	plain, err := json.Marshal(consentState{Code: code, Request: req, SessionID: c.SessionID, UserID: c.UserID, Expires: s.now().Add(ConsentTTL).Unix()})
	if err != nil {
		return "", err
	}
	sealed, err := s.sealer.Seal(plain, []byte(consentAD))
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(sealed), nil
}

// openConsent opens a consent field sealConsent made; false if it is
// not one or has expired.
func (s *Service) openConsent(v string) (consentState, bool) {
	// The longest request (redirect_uri and state of 512 characters,
	// each escaped to 6 in JSON) seals to about 9 KiB.
	if v == "" || len(v) > 16<<10 {
		return consentState{}, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return consentState{}, false
	}
	plain, err := s.sealer.Open(raw, []byte(consentAD))
	if err != nil {
		return consentState{}, false
	}
	var st consentState
	if json.Unmarshal(plain, &st) != nil || st.Code == "" || st.SessionID == "" || s.now().Unix() >= st.Expires {
		return consentState{}, false
	}
	return st, true
}
