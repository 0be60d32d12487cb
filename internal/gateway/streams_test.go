package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/hexabase/hexabase-ai/internal/identity"
	"github.com/hexabase/hexabase-ai/internal/issuer"
	"github.com/hexabase/hexabase-ai/internal/ratelimit"
	"github.com/hexabase/hexabase-ai/internal/testutil"
)

// userTokens accepts "<user>:<workspace id>" as a workspace token of that
// user for that workspace.
type userTokens struct{}

func (userTokens) VerifyWorkspaceToken(_ context.Context, tok string) (issuer.WorkspaceClaims, error) {
	user, ws, ok := strings.Cut(tok, ":")
	if !ok {
		return issuer.WorkspaceClaims{}, identity.ErrInvalidToken
	}
	return issuer.WorkspaceClaims{RegisteredClaims: jwt.RegisteredClaims{Subject: user, Audience: jwt.ClaimStrings{ws}},
		Email: user + "@example.com", SessionID: "session-" + user}, nil
}

// streamingAPI is an API server whose answers stay open: an upgrade is
// switched and then held until the gateway closes it; any other request
// but GET /api gets a first line and then is held until its client goes.
// Everything held ends when stop is closed.
func streamingAPI(stop <-chan struct{}) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if up := r.Header.Get("Upgrade"); up != "" {
			conn, brw, err := http.NewResponseController(rw).Hijack()
			if err != nil {
				return
			}
			defer conn.Close()
			brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + up + "\r\n\r\nfirst line\n")
			brw.Flush()
			go func() { <-stop; conn.Close() }()
			io.Copy(io.Discard, brw) // until the gateway closes the connection
			return
		}
		if r.URL.Path == "/api" {
			io.WriteString(rw, "{}")
			return
		}
		rw.Header().Set("Content-Type", "text/plain")
		io.WriteString(rw, "first line\n")
		http.NewResponseController(rw).Flush()
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	})
}

// send writes a GET of target (the path under the workspace) as user to
// the gateway on a connection of its own, an upgrade to proto unless
// proto is "", and reads the answer's head. The connection is closed at
// the end of the test at the latest.
func (w *world) send(t *testing.T, user, ws, target, proto string) (net.Conn, *http.Response, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", w.gw.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(30 * time.Second)) // a guard against a hang, not a timing check
	up := ""
	if proto != "" {
		up = "Connection: Upgrade\r\nUpgrade: " + proto + "\r\n"
	}
	fmt.Fprintf(conn, "GET /k8s/%s%s HTTP/1.1\r\nHost: hks\r\nAuthorization: Bearer %s:%s\r\n%s\r\n", ws, target, user, ws, up)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("%s %s: %v", user, target, err)
	}
	return conn, resp, br
}

// stream opens a long-lived request that must be admitted: the answer is
// 200 (101 for an upgrade) and its first line came through.
func (w *world) stream(t *testing.T, user, ws, target, proto string) net.Conn {
	t.Helper()
	conn, resp, br := w.send(t, user, ws, target, proto)
	want, body := http.StatusOK, bufio.NewReader(resp.Body)
	if proto != "" {
		want, body = http.StatusSwitchingProtocols, br
	}
	if resp.StatusCode != want {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s %s: %s %s, want %d", user, target, resp.Status, b, want)
	}
	if l, err := body.ReadString('\n'); l != "first line\n" {
		t.Fatalf("%s %s: first line %q, %v", user, target, l, err)
	}
	return conn
}

// refused sends a long-lived request that must be refused with 429
// problem+json and Retry-After, and returns the problem's detail.
func (w *world) refused(t *testing.T, user, ws, target, proto string) string {
	t.Helper()
	conn, resp, _ := w.send(t, user, ws, target, proto)
	defer conn.Close()
	var b []byte
	if resp.StatusCode == http.StatusTooManyRequests { // an admitted stream's body would not end
		b, _ = io.ReadAll(io.LimitReader(resp.Body, 4096))
	}
	var p struct{ Type, Detail string }
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Content-Type") != "application/problem+json" ||
		resp.Header.Get("Retry-After") == "" || json.Unmarshal(b, &p) != nil || !strings.HasSuffix(p.Type, "/rate-limited") {
		t.Errorf("%s %s (%q): %s Retry-After %q %s, want 429 rate-limited problem+json with Retry-After",
			user, target, proto, resp.Status, resp.Header.Get("Retry-After"), b)
	}
	return p.Detail
}

func (wk *wakerDouble) wakes() int {
	wk.mu.Lock()
	defer wk.mu.Unlock()
	return len(wk.woken)
}

func caps(t *testing.T, perUser, perWorkspace int) (users, workspaces *ratelimit.Concurrency) {
	t.Helper()
	users, err := ratelimit.NewConcurrency(perUser)
	if err != nil {
		t.Fatal(err)
	}
	workspaces, err = ratelimit.NewConcurrency(perWorkspace)
	if err != nil {
		t.Fatal(err)
	}
	return users, workspaces
}

// TestGatewayCapsOpenStreamsPerUserBeforeWaking: with a cap of 2 per
// user, a user who holds a logs -f and an attach open is refused a third
// long-lived request of every kind (a follow, however spelt; a watch by
// parameter or by path; attach over SPDY and port-forward over
// WebSocket) with 429 problem+json, Retry-After and a detail naming how
// many are open and the cap, and none of them reaches the waker (a
// refused request never wakes a workspace); a short request of the same
// user and another user's stream are still served. Once the attach is
// closed (a hijacked connection) a new upgrade is admitted, and once the
// follow is closed, a new follow.
func TestGatewayCapsOpenStreamsPerUserBeforeWaking(t *testing.T) {
	stop := make(chan struct{})
	wk := &wakerDouble{}
	users, workspaces := caps(t, 2, 100)
	w := newWorldWith(t, streamingAPI(stop), func(c *Config) {
		c.Verifier, c.Waker, c.UserStreams, c.WorkspaceStreams = userTokens{}, wk, users, workspaces
	})
	t.Cleanup(func() { close(stop) }) // runs before the servers close
	const logs, attach = "/api/v1/namespaces/web/pods/p/log?follow=true", "/api/v1/namespaces/web/pods/p/attach?stdout=true"
	follow := w.stream(t, "u1", "ws-a", logs, "")
	attached := w.stream(t, "u1", "ws-a", attach, "SPDY/3.1")
	if n := wk.wakes(); n != 2 {
		t.Fatalf("the admitted streams asked the waker %d times, want 2", n)
	}
	for _, tc := range []struct{ target, proto string }{
		{logs, ""},
		{"/api/v1/namespaces/web/pods/p/log?follow=", ""}, // the API server takes any value but 0 and false as true
		{"/api/v1/namespaces/web/pods/p/log?follow=True", ""},
		{"/api/v1/namespaces/web/pods?watch=1", ""},
		{"/api/v1/watch/namespaces/web/pods", ""},
		{attach, "SPDY/3.1"},
		{"/api/v1/namespaces/web/pods/p/portforward?ports=80", "websocket"},
	} {
		d := w.refused(t, "u1", "ws-a", tc.target, tc.proto)
		if !strings.Contains(d, "2 long-lived requests") || !strings.Contains(d, "at most 2") || !strings.Contains(d, "this user") {
			t.Errorf("%s: detail %q, want how many of this user are open (2) and the cap (2)", tc.target, d)
		}
	}
	if n := wk.wakes(); n != 2 {
		t.Fatalf("refused streams reached the waker: %d wakes, want 2", n)
	}
	if n, _ := w.count(t, "ws-a", "upgrade", "429"); n != 2 {
		t.Errorf("hks_gateway_requests_total{workspace=ws-a,verb=upgrade,code=429} = %v, want 2", n)
	}
	// A short request of the same user, another user's stream: served.
	_, resp, _ := w.send(t, "u1", "ws-a", "/api", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("a short request of the capped user: %s, want 200", resp.Status)
	}
	w.stream(t, "u2", "ws-a", logs, "")

	attached.Close()
	testutil.WaitFor(t, 30*time.Second, "the closed attach to be released", func() bool { return users.Open("u1") == 1 })
	w.stream(t, "u1", "ws-a", attach, "SPDY/3.1")
	w.refused(t, "u1", "ws-a", logs, "")
	follow.Close()
	testutil.WaitFor(t, 30*time.Second, "the closed follow to be released", func() bool { return users.Open("u1") == 1 })
	w.stream(t, "u1", "ws-a", logs, "")
}

// TestGatewayCapsOpenStreamsPerWorkspace: with a cap of 2 per workspace,
// two users' streams to ws-a fill it: a third user's stream to ws-a is
// 429 naming the workspace's streams, and does not count against that
// user, whose stream to ws-b is served.
func TestGatewayCapsOpenStreamsPerWorkspace(t *testing.T) {
	stop := make(chan struct{})
	users, workspaces := caps(t, 10, 2)
	w := newWorldWith(t, streamingAPI(stop), func(c *Config) {
		c.Verifier, c.UserStreams, c.WorkspaceStreams = userTokens{}, users, workspaces
	})
	t.Cleanup(func() { close(stop) })
	const watch = "/api/v1/namespaces/web/pods?watch=true"
	w.stream(t, "u1", "ws-a", watch, "")
	w.stream(t, "u2", "ws-a", watch, "")
	if d := w.refused(t, "u3", "ws-a", watch, ""); !strings.Contains(d, "2 long-lived requests") || !strings.Contains(d, "this workspace") {
		t.Errorf("detail %q, want how many to this workspace are open", d)
	}
	if n := users.Open("u3"); n != 0 {
		t.Fatalf("a request refused for the workspace's cap still counts %d against its user", n)
	}
	w.stream(t, "u3", "ws-b", watch, "")
}
