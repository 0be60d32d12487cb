package ratelimit

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/httpapi"
)

// TestPerIP: requests from one address beyond the burst are refused with
// 429 rate-limited and Retry-After; another address is not affected.
func TestPerIP(t *testing.T) {
	a, _ := twoConns(t)
	clk := newClock()
	lim, err := New(t.Context(), Config{JS: a.JetStream(), Bucket: "test_ip", Rate: 1, Burst: 3, Logger: discard(), Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	api, err := httpapi.New(httpapi.Config{Logger: discard(), Registry: newRegistry(), Auth: noAuth{},
		Outer: []func(http.Handler) http.Handler{PerIP(lim)}})
	if err != nil {
		t.Fatal(err)
	}
	api.Mount(httpapi.Route{Method: "GET", Path: "/ping", Public: true, Handle: func(*http.Request) (any, error) {
		return map[string]string{"ok": "yes"}, nil
	}})
	h := api.Handler()
	get := func(ip string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/ping", nil)
		r.RemoteAddr = ip + ":1234"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for i := range 3 {
		if w := get("203.0.113.7"); w.Code != 200 {
			t.Fatalf("request %d within the burst: %d", i, w.Code)
		}
	}
	w := get("203.0.113.7")
	if w.Code != 429 || w.Header().Get("Retry-After") != "1" || !strings.Contains(w.Body.String(), "rate-limited") {
		t.Fatalf("over the per-IP limit: %d Retry-After %q %s", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	if w := get("203.0.113.8"); w.Code != 200 {
		t.Fatalf("another address: %d", w.Code)
	}
	clk.add(time.Second)
	if w := get("203.0.113.7"); w.Code != 200 {
		t.Fatalf("after a second's refill: %d", w.Code)
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
