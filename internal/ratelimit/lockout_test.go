package ratelimit

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/store/sqlstore"
)

func newLockout(t *testing.T, clk *clock) (*Lockout, store.Store) {
	t.Helper()
	st, err := sqlstore.Open(t.Context(), filepath.Join(t.TempDir(), "hks.db"), discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	l, err := NewLockout(LockoutConfig{Store: st, Logger: discard(), Now: clk.now,
		IP: store.LockoutPolicy{Threshold: 8, Base: time.Minute, Max: time.Hour, Window: 24 * time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	return l, st
}

func TestLockoutBackoff(t *testing.T) {
	clk := newClock()
	l, _ := newLockout(t, clk)
	ctx := t.Context()
	for range 4 {
		l.Failed(ctx, "Alice@Example.com ", "192.0.2.1")
	}
	if w, err := l.Check(ctx, "alice@example.com", "192.0.2.9"); err != nil || w != 0 {
		t.Fatalf("locked after 4 failures: %v %v", w, err)
	}
	l.Failed(ctx, "alice@example.com", "192.0.2.1")
	if w, err := l.Check(ctx, "ALICE@example.com", "192.0.2.9"); err != nil || w != time.Minute {
		t.Fatalf("after 5 failures: wait %v (%v), want 1m from any IP and in any case", w, err)
	}
	clk.add(time.Minute)
	if w, _ := l.Check(ctx, "alice@example.com", "192.0.2.9"); w != 0 {
		t.Fatalf("still locked after the lock ended: %v", w)
	}
	l.Failed(ctx, "alice@example.com", "192.0.2.1")
	if w, _ := l.Check(ctx, "alice@example.com", "192.0.2.9"); w != 2*time.Minute {
		t.Fatalf("the next failure locks for %v, want 2m (doubling)", w)
	}
	// Others are not affected; a success resets.
	if w, _ := l.Check(ctx, "bob@example.com", "192.0.2.9"); w != 0 {
		t.Fatalf("another email locked: %v", w)
	}
	l.Succeeded(ctx, "alice@example.com")
	if w, _ := l.Check(ctx, "alice@example.com", "192.0.2.9"); w != 0 {
		t.Fatalf("locked after a success: %v", w)
	}
	// Many emails from one IP lock the IP (threshold 8 here).
	for i := range 2 {
		l.Failed(ctx, "u"+strconv.Itoa(i)+"@example.com", "192.0.2.1")
	}
	if w, _ := l.Check(ctx, "carol@example.com", "192.0.2.1"); w != time.Minute {
		t.Fatalf("IP with 8 failures: wait %v, want 1m", w)
	}
	if w, _ := l.Check(ctx, "carol@example.com", "192.0.2.2"); w != 0 {
		t.Fatalf("another IP locked: %v", w)
	}
}

func TestLockoutConfig(t *testing.T) {
	clk := newClock()
	_, st := newLockout(t, clk)
	for _, tc := range []struct {
		name string
		cfg  LockoutConfig
		want string
	}{
		{"no store", LockoutConfig{Logger: discard(), Now: clk.now}, "Store is required"},
		{"no logger", LockoutConfig{Store: st, Now: clk.now}, "Logger is required"},
		{"no clock", LockoutConfig{Store: st, Logger: discard()}, "Now is required"},
		{"base above max", LockoutConfig{Store: st, Logger: discard(), Now: clk.now, Email: store.LockoutPolicy{Threshold: 1, Base: time.Hour, Max: time.Minute, Window: time.Hour}}, "Email policy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewLockout(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// fakeLogin is a test double of the password sign-in handler (the real
// one is exercised through the server in internal/server/security_test.go):
// the password "right" succeeds.
func fakeLogin(r *http.Request) (any, error) {
	var req struct{ Email, Password string }
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	if req.Password != "right" {
		return nil, httpapi.Unauthorized("invalid email or password")
	}
	return map[string]string{"ok": "yes"}, nil
}

func TestLoginGuardAndPerIP(t *testing.T) {
	a, _ := twoConns(t)
	clk := newClock()
	lock, _ := newLockout(t, clk)
	lim, err := New(t.Context(), Config{JS: a.JetStream(), Bucket: "test_ip", Rate: 1, Burst: 3, Logger: discard(), Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	api, err := httpapi.New(httpapi.Config{Logger: discard(), Registry: newRegistry(), Auth: noAuth{},
		RouteMiddleware: []httpapi.RouteMiddleware{lock.LoginGuard("POST", "/auth/login")},
		Outer:           []func(http.Handler) http.Handler{PerIP(lim)}})
	if err != nil {
		t.Fatal(err)
	}
	api.Mount(httpapi.Route{Method: "POST", Path: "/auth/login", Public: true, Handle: fakeLogin})
	h := api.Handler()
	login := func(ip, pw string) *httptest.ResponseRecorder {
		b, _ := json.Marshal(map[string]string{"email": "a@example.com", "password": pw})
		r := httptest.NewRequest("POST", "/auth/login", strings.NewReader(string(b)))
		r.RemoteAddr = ip + ":1234"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	// Each attempt comes from its own IP so that the per-IP limit stays
	// out of the way; then the IP limit on its own.
	for i := range 5 {
		if w := login("198.51.100."+strconv.Itoa(i), "wrong"); w.Code != 401 {
			t.Fatalf("failure %d: %d %s", i, w.Code, w.Body)
		}
	}
	w := login("198.51.100.50", "right")
	if w.Code != 429 || w.Header().Get("Retry-After") != "60" {
		t.Fatalf("locked email with the right password: %d Retry-After %q, want 429 and 60", w.Code, w.Header().Get("Retry-After"))
	}
	clk.add(time.Minute)
	if w := login("198.51.100.51", "right"); w.Code != 200 {
		t.Fatalf("after the lock: %d %s", w.Code, w.Body)
	}
	if w := login("198.51.100.52", "wrong"); w.Code != 401 {
		t.Fatalf("success did not reset the counter: %d", w.Code)
	}

	clk.add(time.Hour)
	for i := range 3 {
		if w := login("203.0.113.7", "right"); w.Code != 200 {
			t.Fatalf("request %d within the burst: %d", i, w.Code)
		}
	}
	w = login("203.0.113.7", "right")
	if w.Code != 429 || w.Header().Get("Retry-After") != "1" || !strings.Contains(w.Body.String(), "rate-limited") {
		t.Fatalf("over the per-IP limit: %d Retry-After %q %s", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
}

// guardedLogin serves fakeLogin behind LoginGuard (email threshold 5),
// counting the password checks the handler made.
func guardedLogin(t *testing.T, clk *clock) (http.Handler, *atomic.Int32) {
	t.Helper()
	lock, _ := newLockout(t, clk)
	api, err := httpapi.New(httpapi.Config{Logger: discard(), Registry: newRegistry(), Auth: noAuth{},
		RouteMiddleware: []httpapi.RouteMiddleware{lock.LoginGuard("POST", "/auth/login")}})
	if err != nil {
		t.Fatal(err)
	}
	var checks atomic.Int32
	api.Mount(httpapi.Route{Method: "POST", Path: "/auth/login", Public: true, Handle: func(r *http.Request) (any, error) {
		checks.Add(1)
		time.Sleep(5 * time.Millisecond) // a password hash takes a while
		var req struct{ Email, Password string }
		if err := httpapi.DecodeJSON(r, &req); err != nil {
			return nil, err
		}
		switch req.Password {
		case "mfa": // right password, second factor needed
			return map[string]any{"mfa_required": true, "mfa_token": "t"}, nil
		case "right":
			return map[string]string{"access_token": "a"}, nil
		}
		return nil, httpapi.Unauthorized("invalid email or password")
	}})
	return api.Handler(), &checks
}

func doLogin(h http.Handler, ip, email, pw string) *httptest.ResponseRecorder {
	b, _ := json.Marshal(map[string]string{"email": email, "password": pw})
	r := httptest.NewRequest("POST", "/auth/login", strings.NewReader(string(b)))
	r.RemoteAddr = net.JoinHostPort(ip, "1234")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestLoginGuardConcurrent: concurrent guesses are reserved before the
// password is checked, so no more than the threshold get checked.
func TestLoginGuardConcurrent(t *testing.T) {
	h, checks := guardedLogin(t, newClock())
	const n = 50
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			codes[i] = doLogin(h, "198.51.100."+strconv.Itoa(i), "victim@example.com", "wrong").Code
		})
	}
	wg.Wait()
	count := map[int]int{}
	for _, c := range codes {
		count[c]++
	}
	if count[401] > 5 || int(checks.Load()) > 5 || count[401]+count[429] != n {
		t.Fatalf("%d concurrent guesses with threshold 5: %d password checks, answers %v", n, checks.Load(), count)
	}
}

// TestLoginGuardMFARequired: a right password answered with mfa_required
// neither resets the email's failures nor counts as one.
func TestLoginGuardMFARequired(t *testing.T) {
	h, _ := guardedLogin(t, newClock())
	for i := range 4 {
		if w := doLogin(h, "192.0.2.1", "m@example.com", "wrong"); w.Code != 401 {
			t.Fatalf("failure %d: %d", i, w.Code)
		}
		if w := doLogin(h, "192.0.2.1", "m@example.com", "mfa"); w.Code != 200 {
			t.Fatalf("mfa_required %d: %d %s", i, w.Code, w.Body)
		}
	}
	if w := doLogin(h, "192.0.2.1", "m@example.com", "wrong"); w.Code != 401 {
		t.Fatalf("fifth failure: %d", w.Code)
	}
	if w := doLogin(h, "192.0.2.1", "m@example.com", "mfa"); w.Code != 429 {
		t.Fatalf("after 5 failures with mfa_required answers between them: %d, want 429 (no reset)", w.Code)
	}
}

func TestIPKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7":            "192.0.2.7",
		"::ffff:192.0.2.7":     "192.0.2.7",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1": "2001:db8:1:2::/64",
		"fe80::1%eth0":         "fe80::/64",
		"not-an-ip":            "not-an-ip",
		"2001:db8:1:3::1":      "2001:db8:1:3::/64",
	} {
		t.Run(in, func(t *testing.T) {
			if got := IPKey(in); got != want {
				t.Errorf("IPKey(%q) = %q, want %q", in, got, want)
			}
		})
	}
}

// TestLockoutIPv6Prefix: the addresses of one /64 share an IP lock.
func TestLockoutIPv6Prefix(t *testing.T) {
	clk := newClock()
	l, _ := newLockout(t, clk) // IP threshold 8
	ctx := t.Context()
	for i := range 8 {
		l.Failed(ctx, "u"+strconv.Itoa(i)+"@example.com", "2001:db8:0:1::"+strconv.Itoa(i+1))
	}
	if w, _ := l.Check(ctx, "x@example.com", "2001:db8:0:1:abcd::99"); w != time.Minute {
		t.Fatalf("another address of the /64: wait %v, want 1m", w)
	}
	if w, _ := l.Check(ctx, "x@example.com", "2001:db8:0:2::1"); w != 0 {
		t.Fatalf("another /64 locked: %v", w)
	}
}
