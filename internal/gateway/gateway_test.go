package gateway

import (
	"bufio"
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hexabase/hexabase-ai/internal/identity"
	"github.com/hexabase/hexabase-ai/internal/issuer"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// The gateway's own relay is what these tests check, against a real TLS
// upstream; the token verifier and the workspace records are stand-ins
// (internal/server and test/e2e run the gateway with the real ones).

// tokens accepts "token-for-<workspace id>" as a workspace token.
type tokens struct{}

func (tokens) VerifyWorkspaceToken(_ context.Context, tok string) (issuer.WorkspaceClaims, error) {
	ws, ok := strings.CutPrefix(tok, "token-for-")
	if !ok {
		return issuer.WorkspaceClaims{}, identity.ErrInvalidToken
	}
	return issuer.WorkspaceClaims{RegisteredClaims: jwt.RegisteredClaims{Subject: "user-1", Audience: jwt.ClaimStrings{ws}},
		Email: "dev@example.com", SessionID: "session-1"}, nil
}

// running holds running workspaces by id.
type running map[string]bool

func (r running) GetWorkspace(_ context.Context, id string) (store.Workspace, error) {
	if !r[id] {
		return store.Workspace{}, store.ErrNotFound
	}
	return store.Workspace{ID: id, Status: store.WorkspaceRunning}, nil
}

// oneUpstream sends every workspace to the same API server.
type oneUpstream struct{ srv *httptest.Server }

func (u oneUpstream) Endpoint(context.Context, string) (string, []byte, error) {
	return u.srv.URL, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: u.srv.Certificate().Raw}), nil
}

type world struct {
	g        *Gateway
	reg      *prometheus.Registry
	gw       *httptest.Server // the gateway, plain http
	upstream *httptest.Server // the "API server", https
}

// newWorld serves the gateway for workspaces ws-a and ws-b in front of
// the upstream handler api.
func newWorld(t *testing.T, api http.Handler) *world {
	t.Helper()
	return newWorldWith(t, api, nil)
}

// newWorldWith is newWorld with changes to the gateway's Config.
func newWorldWith(t *testing.T, api http.Handler, change func(*Config)) *world {
	t.Helper()
	w := &world{reg: prometheus.NewRegistry(), upstream: httptest.NewTLSServer(api)}
	t.Cleanup(w.upstream.Close)
	cfg := Config{Verifier: tokens{}, Workspaces: running{"ws-a": true, "ws-b": true}, Upstreams: oneUpstream{w.upstream},
		Registry: w.reg, Logger: slog.New(slog.DiscardHandler), Now: time.Now}
	if change != nil {
		change(&cfg)
	}
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w.g = g
	w.gw = httptest.NewServer(g)
	t.Cleanup(w.gw.Close)
	return w
}

// count is hks_gateway_requests_total for the labels, -1 without such a
// series; series counts the series (of either metric) labelled with ws.
func (w *world) count(t *testing.T, ws, verb, code string) (count float64, series int) {
	t.Helper()
	mfs, err := w.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	count = -1
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			if l["workspace"] != ws {
				continue
			}
			series++
			if mf.GetName() == "hks_gateway_requests_total" && l["verb"] == verb && l["code"] == code {
				count = m.GetCounter().GetValue()
			}
		}
	}
	return count, series
}

// within fails the test when ch yields nothing before the guard: the
// stream is stuck (a guard against a hang, not a timing check).
func within[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(30 * time.Second):
		t.Fatalf("no %s", what)
		panic("unreachable")
	}
}

// TestGatewayRelaysUpgradedConnections: an upgrade (exec, attach,
// port-forward) is answered 101 by the API server and then relayed both
// ways through the gateway: the upstream's unprompted bytes reach the
// client, and each client line comes back as the upstream's answer. The
// bearer token reached the upstream unchanged, and the request is counted
// as verb "upgrade", code 101.
func TestGatewayRelaysUpgradedConnections(t *testing.T) {
	gotAuth := make(chan string, 1)
	w := newWorld(t, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/namespaces/web/pods/p/exec" || r.Header.Get("Upgrade") != "SPDY/3.1" {
			http.Error(rw, "not an upgrade of exec: "+r.URL.Path, http.StatusBadRequest)
			return
		}
		gotAuth <- r.Header.Get("Authorization")
		conn, brw, err := http.NewResponseController(rw).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\r\n")
		brw.WriteString("hello from the workspace\n")
		brw.Flush()
		for {
			line, err := brw.ReadString('\n')
			if err != nil {
				return
			}
			brw.WriteString("echo " + strings.ToUpper(line))
			brw.Flush()
		}
	}))
	conn, err := net.Dial("tcp", w.gw.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /k8s/ws-a/api/v1/namespaces/web/pods/p/exec?command=sh HTTP/1.1\r\nHost: hks\r\n"+
		"Authorization: Bearer token-for-ws-a\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nContent-Length: 0\r\n\r\n")
	br := bufio.NewReader(conn)
	lines := make(chan string)
	errs := make(chan error, 1)
	go func() {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			errs <- err
			return
		}
		if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Upgrade") != "SPDY/3.1" {
			errs <- fmt.Errorf("answer %s, Upgrade %q: want 101 SPDY/3.1", resp.Status, resp.Header.Get("Upgrade"))
			return
		}
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				close(lines)
				return
			}
			lines <- l
		}
	}()
	select {
	case err := <-errs:
		t.Fatal(err)
	case l := <-lines:
		if l != "hello from the workspace\n" {
			t.Fatalf("first bytes %q", l)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("nothing from the upgraded connection")
	}
	if a := within(t, gotAuth, "request upstream"); a != "Bearer token-for-ws-a" {
		t.Errorf("upstream got Authorization %q, want the caller's unchanged", a)
	}
	for _, msg := range []string{"ping\n", "second\n"} {
		if _, err := io.WriteString(conn, msg); err != nil {
			t.Fatal(err)
		}
		if got, want := within(t, lines, "echo of "+msg), "echo "+strings.ToUpper(msg); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	if n, _ := w.count(t, "ws-a", "upgrade", "101"); n != 1 {
		t.Errorf("hks_gateway_requests_total{workspace=ws-a,verb=upgrade,code=101} = %v, want 1", n)
	}
}

// TestGatewayStreamsBeforeTheUpstreamFinishes: a streamed answer (logs -f,
// a watch) reaches the client chunk by chunk: the first chunk arrives
// while the upstream still holds the rest back, so nothing waits for, or
// holds, the whole body.
func TestGatewayStreamsBeforeTheUpstreamFinishes(t *testing.T) {
	release, stop := make(chan struct{}), make(chan struct{})
	w := newWorld(t, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "text/plain")
		io.WriteString(rw, "first line\n")
		http.NewResponseController(rw).Flush()
		select {
		case <-release:
		case <-stop: // the test failed: let the servers close
			return
		}
		io.WriteString(rw, "second line\n")
	}))
	t.Cleanup(func() { close(stop) }) // runs before the servers close
	req, err := http.NewRequestWithContext(t.Context(), "GET", w.gw.URL+"/k8s/ws-a/api/v1/namespaces/web/pods/p/log?follow=true", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer token-for-ws-a")
	var br *bufio.Reader
	first := make(chan string, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			first <- err.Error()
			return
		}
		t.Cleanup(func() { resp.Body.Close() })
		br = bufio.NewReader(resp.Body)
		l, _ := br.ReadString('\n')
		first <- resp.Status + ": " + l
	}()
	if l := within(t, first, "answer and first chunk while the upstream holds the rest back"); l != "200 OK: first line\n" {
		t.Fatalf("first chunk %q", l)
	}
	close(release)
	rest, err := io.ReadAll(br)
	if err != nil || string(rest) != "second line\n" {
		t.Fatalf("rest %q, %v", rest, err)
	}
}

// TestGatewayForgetDropsAWorkspace: Forget removes every metric series of
// the workspace and its cached upstream, and nothing of another
// workspace.
func TestGatewayForgetDropsAWorkspace(t *testing.T) {
	w := newWorld(t, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { io.WriteString(rw, "{}") }))
	for _, ws := range []string{"ws-a", "ws-b"} {
		req, _ := http.NewRequest("GET", w.gw.URL+"/k8s/"+ws+"/api", nil)
		req.Header.Set("Authorization", "Bearer token-for-"+ws)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if n, _ := w.count(t, ws, "get", "200"); n != 1 {
			t.Fatalf("%s: get 200 counted %v times", ws, n)
		}
	}
	w.g.Forget("ws-a")
	if _, series := w.count(t, "ws-a", "", ""); series != 0 {
		t.Errorf("%d series of the forgotten workspace remain", series)
	}
	if n, series := w.count(t, "ws-b", "get", "200"); n != 1 || series != 2 {
		t.Errorf("the other workspace: count %v, %d series; want 1 and 2 (requests, latency)", n, series)
	}
	w.g.mu.Lock()
	_, a := w.g.upstreams["ws-a"]
	_, b := w.g.upstreams["ws-b"]
	w.g.mu.Unlock()
	if a || !b {
		t.Errorf("cached upstreams: ws-a %v (want gone), ws-b %v (want kept)", a, b)
	}
	w.g.Forget("") // the refusals' series are not a workspace's
	w.g.Forget("never-seen")
}
