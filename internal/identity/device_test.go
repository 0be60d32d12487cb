package identity

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// deviceToken signs email in from ip and returns the device token the
// answer carries (in the body and as the hks_device cookie).
func deviceToken(t *testing.T, h http.Handler, ip, email string) string {
	t.Helper()
	w := doLogin(h, ip, email, "correct horse battery")
	if w.Code != 200 {
		t.Fatalf("sign-in: %d %s", w.Code, w.Body)
	}
	var body struct {
		DeviceToken string `json:"device_token"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if body.DeviceToken == "" {
		t.Fatalf("no device_token in %s", w.Body)
	}
	var c *http.Cookie
	for _, k := range w.Result().Cookies() {
		if k.Name == DeviceCookie {
			c = k
		}
	}
	if c == nil || c.Value != body.DeviceToken || c.Path != "/auth" || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.MaxAge != int(DefaultDeviceTokenTTL/time.Second) {
		t.Fatalf("device cookie %+v, want the token, Path=/auth, HttpOnly, SameSite=Strict, 30 days", c)
	}
	return body.DeviceToken
}

// throttleByStrangers makes the account email slow down clients without a
// device token: the account-wide throttle (threshold 10 here) reached
// from many sources. A new client with the right password still signs
// in, after a delay.
func throttleByStrangers(t *testing.T, e *env, h http.Handler, email string) {
	t.Helper()
	for i := range 10 {
		if w := doLogin(h, "203.0.113."+strconv.Itoa(i), email, "wrong"); w.Code != 401 {
			t.Fatalf("stranger %d: %d %s", i, w.Code, w.Body)
		}
	}
	e.delays.take()
	if w := doLogin(h, "198.51.100.99", email, "correct horse battery"); w.Code != 200 {
		t.Fatalf("a new client after the strangers' failures: %d %s, want 200 after a delay", w.Code, w.Body)
	}
	if d := e.delays.take(); len(d) != 1 {
		t.Fatalf("a new client after the strangers' failures: delays %v, want one", d)
	}
}

func deviceEnv(t *testing.T) (*env, http.Handler) {
	t.Helper()
	e := newEnv(t, func(c *Config) {
		c.AccountThrottle = store.LockoutPolicy{Threshold: 10, Base: time.Second, Max: 4 * time.Second, Window: 24 * time.Hour}
	})
	e.user(t, "alice@example.com")
	e.user(t, "mallory@example.com")
	return e, loginHandler(t, e.svc)
}

// TestDeviceTokenExemptsFromAccountThrottle: a client that signed in
// before signs in without the throttle's delay while strangers slow the
// account down, with its device token in the body (CLI) or the cookie
// (browser).
func TestDeviceTokenExemptsFromAccountThrottle(t *testing.T) {
	e, h := deviceEnv(t)
	tok := deviceToken(t, h, "198.51.100.1", "alice@example.com")
	throttleByStrangers(t, e, h, "alice@example.com")
	w := doLoginDevice(h, "198.51.100.1", "alice@example.com", "correct horse battery", tok)
	if w.Code != 200 {
		t.Fatalf("device-token holder while the account is throttled: %d %s, want 200", w.Code, w.Body)
	}
	if d := e.delays.take(); len(d) != 0 {
		t.Fatalf("device-token holder delayed %v", d)
	}
	// The cookie works as the body field does, from any source.
	b := `{"email":"alice@example.com","password":"correct horse battery"}`
	r := httptest.NewRequest("POST", "/auth/login", strings.NewReader(b))
	r.RemoteAddr = "192.0.2.200:1234"
	r.AddCookie(&http.Cookie{Name: DeviceCookie, Value: tok})
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 200 {
		t.Fatalf("device cookie while the account is throttled: %d %s", w.Code, w.Body)
	}
	if d := e.delays.take(); len(d) != 0 {
		t.Fatalf("device cookie holder delayed %v", d)
	}
}

// TestDeviceTokenOfOtherAccountOrForged: a device token of another account,
// or a forged one, gives no exemption (each is tried from a source alice
// never signed in from, which would exempt it).
func TestDeviceTokenOfOtherAccountOrForged(t *testing.T) {
	e, h := deviceEnv(t)
	mallorys := deviceToken(t, h, "198.51.100.5", "mallory@example.com")
	throttleByStrangers(t, e, h, "alice@example.com")
	n := 0
	for name, tok := range map[string]string{
		"another account's": mallorys,
		"forged":            "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"tampered":          mallorys[:len(mallorys)-2] + "AA",
	} {
		n++
		if w := doLoginDevice(h, "192.0.2."+strconv.Itoa(n), "alice@example.com", "correct horse battery", tok); w.Code != 200 {
			t.Fatalf("%s device token for a throttled account: %d %s, want 200", name, w.Code, w.Body)
		}
		if d := e.delays.take(); len(d) != 1 {
			t.Fatalf("%s device token for a throttled account: delays %v, want one", name, d)
		}
	}
}

// TestDeviceTokenFailuresLockTheToken: wrong passwords with a device token
// count against the token (not the account) and lock it, whatever the
// source; the account's owner on other clients is not locked by them.
func TestDeviceTokenFailuresLockTheToken(t *testing.T) {
	e, h := deviceEnv(t)
	tok := deviceToken(t, h, "198.51.100.1", "alice@example.com")
	for i := range 5 {
		if w := doLoginDevice(h, "198.51.100."+strconv.Itoa(10+i), "alice@example.com", "wrong", tok); w.Code != 401 {
			t.Fatalf("wrong password %d with the device token: %d %s", i, w.Code, w.Body)
		}
	}
	w := doLoginDevice(h, "198.51.100.20", "alice@example.com", "correct horse battery", tok)
	if w.Code != 429 || w.Header().Get("Retry-After") != "60" {
		t.Fatalf("right password with a token that had 5 failures: %d Retry-After %q, want 429 and 60", w.Code, w.Header().Get("Retry-After"))
	}
	if w := doLogin(h, "198.51.100.21", "alice@example.com", "correct horse battery"); w.Code != 200 {
		t.Fatalf("the account without the locked token: %d %s, want 200", w.Code, w.Body)
	}
	// The lock ends; a right password with the token forgets its failures.
	e.clock.Advance(time.Minute)
	if w := doLoginDevice(h, "198.51.100.20", "alice@example.com", "correct horse battery", tok); w.Code != 200 {
		t.Fatalf("after the token's lock: %d %s", w.Code, w.Body)
	}
	for i := range 4 {
		if w := doLoginDevice(h, "198.51.100.20", "alice@example.com", "wrong", tok); w.Code != 401 {
			t.Fatalf("failure %d after the reset: %d", i, w.Code)
		}
	}
}

// TestDeviceTokenExpires: an expired device token gives no exemption
// (tried from a source alice never signed in from).
func TestDeviceTokenExpires(t *testing.T) {
	e, h := deviceEnv(t)
	tok := deviceToken(t, h, "198.51.100.1", "alice@example.com")
	e.clock.Advance(DefaultDeviceTokenTTL)
	throttleByStrangers(t, e, h, "alice@example.com")
	if w := doLoginDevice(h, "192.0.2.1", "alice@example.com", "correct horse battery", tok); w.Code != 200 {
		t.Fatalf("expired device token: %d %s, want 200", w.Code, w.Body)
	}
	if d := e.delays.take(); len(d) != 1 {
		t.Fatalf("expired device token: delays %v, want one (no exemption)", d)
	}
}

// TestDeviceTokenHolderNotRefusedBySourceLock: a stranger behind the same
// NAT or /64 locks the source with wrong passwords for made-up emails;
// the owner with a valid device token still signs in from it. Her own
// failures still count for the source and lock her device token after 5.
func TestDeviceTokenHolderNotRefusedBySourceLock(t *testing.T) {
	e, h := deviceEnv(t)
	tok := deviceToken(t, h, "2001:db8:1:1::10", "alice@example.com")
	for i := range 50 {
		if w := doLogin(h, "2001:db8:1:1::99", fmt.Sprintf("nobody%d@example.com", i), "guess"); w.Code != 401 {
			t.Fatalf("stranger %d: %d %s", i, w.Code, w.Body)
		}
	}
	if w := doLogin(h, "2001:db8:1:1::10", "alice@example.com", "correct horse battery"); w.Code != 429 {
		t.Fatalf("the locked source without a device token: %d %s, want 429", w.Code, w.Body)
	}
	w := doLoginDevice(h, "2001:db8:1:1::10", "alice@example.com", "correct horse battery", tok)
	if w.Code != 200 {
		t.Fatalf("device-token holder behind a source a stranger locked: %d Retry-After %q %s, want 200", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	before, err := e.st.GetLoginThrottle(t.Context(), ipKey("2001:db8:1:1::10"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if w := doLoginDevice(h, "2001:db8:1:1::10", "alice@example.com", "wrong", tok); w.Code != 401 {
			t.Fatalf("wrong password %d with the device token: %d %s", i, w.Code, w.Body)
		}
	}
	after, err := e.st.GetLoginThrottle(t.Context(), ipKey("2001:db8:1:1::10"))
	if err != nil {
		t.Fatal(err)
	}
	if after.Failures != before.Failures+5 {
		t.Fatalf("source failures %d → %d, want the device holder's 5 counted", before.Failures, after.Failures)
	}
	if w := doLoginDevice(h, "2001:db8:1:1::10", "alice@example.com", "correct horse battery", tok); w.Code != 429 {
		t.Fatalf("device token after its own 5 failures: %d, want 429", w.Code)
	}
}

// TestDeviceCookieShadowedBySibling: a browser may send several hks_device
// cookies (a sibling subdomain can set one for the parent domain, sent
// first); every one is tried and the first valid one for the account
// exempts the client.
func TestDeviceCookieShadowedBySibling(t *testing.T) {
	e, h := deviceEnv(t)
	tok := deviceToken(t, h, "198.51.100.1", "alice@example.com")
	mallorys := deviceToken(t, h, "198.51.100.2", "mallory@example.com")
	throttleByStrangers(t, e, h, "alice@example.com")
	r := httptest.NewRequest("POST", "/auth/login", strings.NewReader(`{"email":"alice@example.com","password":"correct horse battery"}`))
	r.RemoteAddr = "192.0.2.200:1234"
	r.Header.Add("Cookie", DeviceCookie+"=shadow-set-by-a-sibling; "+DeviceCookie+"="+mallorys+"; "+DeviceCookie+"="+tok)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 200 {
		t.Fatalf("sign-in with a shadowed device cookie: %d %s", w.Code, w.Body)
	}
	if d := e.delays.take(); len(d) != 0 {
		t.Fatalf("the valid device cookie behind a shadowing one was not used: delays %v", d)
	}
}

// TestDeviceTokenOnlyAfterSecondFactor: for an account with 2FA, the
// password step answers no device token (body or cookie); the completed
// sign-in (POST /auth/login/mfa) does, and it exempts the client.
func TestDeviceTokenOnlyAfterSecondFactor(t *testing.T) {
	e, _ := deviceEnv(t)
	u, secret, _ := e.enrolled(t, "two@example.com")
	a, err := httpapi.New(httpapi.Config{Logger: testLogger(t), Registry: prometheus.NewRegistry(), Auth: noAuth{}})
	if err != nil {
		t.Fatal(err)
	}
	a.Mount(e.svc.Routes()...)
	a.Mount(e.svc.MFARoutes()...)
	h := a.Handler()
	w := doLogin(h, "198.51.100.1", u.Email, "correct horse battery")
	var lr api.LoginResponse
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &lr) != nil || !lr.MFARequired {
		t.Fatalf("password step: %d %s", w.Code, w.Body)
	}
	if lr.DeviceToken != "" || strings.Contains(strings.Join(w.Header().Values("Set-Cookie"), ";"), DeviceCookie) {
		t.Fatalf("the password step of a 2FA account gave a device token: %s %q", w.Body, w.Header().Values("Set-Cookie"))
	}
	b, _ := json.Marshal(api.LoginMFARequest{MFAToken: lr.MFAToken, Code: TOTPCode(secret, e.clock.Now())})
	r := httptest.NewRequest("POST", "/auth/login/mfa", bytes.NewReader(b))
	r.RemoteAddr = "198.51.100.1:1234"
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	lr = api.LoginResponse{}
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &lr) != nil || lr.AccessToken == "" || lr.DeviceToken == "" {
		t.Fatalf("second factor: %d %s, want tokens and a device token", w.Code, w.Body)
	}
	if !strings.Contains(strings.Join(w.Header().Values("Set-Cookie"), ";"), DeviceCookie+"="+lr.DeviceToken) {
		t.Fatalf("second factor: no device cookie in %q", w.Header().Values("Set-Cookie"))
	}
	for i := range 10 { // strangers throttle the account
		doLogin(h, "203.0.113."+strconv.Itoa(i), u.Email, "wrong")
	}
	e.delays.take()
	if w := doLoginDevice(h, "192.0.2.9", u.Email, "correct horse battery", lr.DeviceToken); w.Code != 200 {
		t.Fatalf("with the device token of the completed sign-in: %d %s", w.Code, w.Body)
	}
	if d := e.delays.take(); len(d) != 0 {
		t.Fatalf("the device token of the completed sign-in gave no exemption: delays %v", d)
	}
}

// TestDeviceTokenVoidAfterPasswordChange: a device token is bound to the
// password it was issued under; after a password change it exempts no
// one (a stolen token does not outlive the reset).
func TestDeviceTokenVoidAfterPasswordChange(t *testing.T) {
	e, h := deviceEnv(t)
	tok := deviceToken(t, h, "198.51.100.1", "alice@example.com")
	u, err := e.st.GetUserByEmail(t.Context(), "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	hash, err := HashPassword("a brand new passphrase", testArgon2)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.UpdateUserPassword(t.Context(), u.ID, hash, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		doLogin(h, "203.0.113."+strconv.Itoa(i), "alice@example.com", "wrong")
	}
	e.delays.take()
	if w := doLoginDevice(h, "192.0.2.1", "alice@example.com", "a brand new passphrase", tok); w.Code != 200 {
		t.Fatalf("new password with the old device token: %d %s", w.Code, w.Body)
	}
	if d := e.delays.take(); len(d) != 1 {
		t.Fatalf("a device token of the old password still exempts: delays %v, want one", d)
	}
}
