package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/hexabase/hexabase-ai/internal/config"
	"github.com/hexabase/hexabase-ai/internal/events"
	"github.com/hexabase/hexabase-ai/internal/live"
)

// liveMsg is a server message of the live-update WebSocket.
type liveMsg struct {
	Type            string `json:"type"`
	ID              string `json:"id"`
	Seq             string `json:"seq"`
	ResourceVersion string `json:"resource_version"`
	Reason          string `json:"reason"`
	Event           *struct {
		ID         string          `json:"id"`
		Type       string          `json:"type"`
		OrgID      string          `json:"org_id"`
		ResourceID string          `json:"resource_id"`
		Time       time.Time       `json:"time"`
		Data       json.RawMessage `json:"data"`
	} `json:"event"`
	Problem *struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Status int    `json:"status"`
		Detail string `json:"detail"`
		Errors []struct {
			Field   string `json:"field"`
			Message string `json:"message"`
		} `json:"errors"`
	} `json:"problem"`
}

// liveConn is a test client of GET /api/v1/ws.
type liveConn struct {
	t  *testing.T
	ws *websocket.Conn
}

// dialLive opens the WebSocket as the holder of token, with extra
// request headers.
func (ts *testServer) dialLive(token string, header http.Header) (*liveConn, *http.Response, error) {
	ts.t.Helper()
	h := http.Header{}
	for k, v := range header {
		h[k] = v
	}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, strings.Replace(ts.URL(), "http", "ws", 1)+live.Path, &websocket.DialOptions{HTTPHeader: h, HTTPClient: ts.client})
	if err != nil {
		return nil, resp, err
	}
	ws.SetReadLimit(1 << 20)
	c := &liveConn{t: ts.t, ws: ws}
	ts.t.Cleanup(func() { _ = ws.CloseNow() })
	return c, resp, nil
}

func (ts *testServer) mustDialLive(token string) *liveConn {
	ts.t.Helper()
	c, _, err := ts.dialLive(token, nil)
	if err != nil {
		ts.t.Fatalf("dial %s: %v", live.Path, err)
	}
	return c
}

func (c *liveConn) send(v any) {
	c.t.Helper()
	var b []byte
	switch m := v.(type) {
	case string:
		b = []byte(m)
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			c.t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, b); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// readCtx reads the next message within ctx.
func (c *liveConn) readCtx(ctx context.Context) (liveMsg, error) {
	_, b, err := c.ws.Read(ctx)
	if err != nil {
		return liveMsg{}, err
	}
	var m liveMsg
	if err := json.Unmarshal(b, &m); err != nil {
		c.t.Fatalf("message is not JSON: %v: %s", err, b)
	}
	return m, nil
}

// next reads the next message (10 s at most: a safety net, not a timing
// claim).
func (c *liveConn) next() liveMsg {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := c.readCtx(ctx)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return m
}

// expect reads the next message and checks its type and id.
func (c *liveConn) expect(typ, id string) liveMsg {
	c.t.Helper()
	m := c.next()
	if m.Type != typ || m.ID != id {
		c.t.Fatalf("got %+v, want a %s message for %q", m, typ, id)
	}
	return m
}

// closeStatus reads until the connection closes and returns the close
// code and reason.
func (c *liveConn) closeStatus() (websocket.StatusCode, string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		_, _, err := c.ws.Read(ctx)
		if err == nil {
			continue
		}
		var ce websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code, ce.Reason
		}
		c.t.Fatalf("connection ended without a close frame: %v", err)
	}
}

func subscribeOrg(id, org string) map[string]string {
	return map[string]string{"type": "subscribe", "id": id, "topic": "org", "org": org}
}

// publisher publishes into the server's own event stream.
func (ts *testServer) publisher() *events.Publisher {
	ts.t.Helper()
	p, err := events.New(context.Background(), events.Config{JS: ts.nats.JetStream(), Logger: ts.log, Now: time.Now})
	if err != nil {
		ts.t.Fatal(err)
	}
	return p
}

// TestLiveRefusesWhatTheAPIRefuses: a subscription to another
// organization's events, or to a watch in a project the caller cannot
// read, is refused with the problem the matching GET route answers, and
// the subscription does not exist (its id can be used again).
func TestLiveRefusesWhatTheAPIRefuses(t *testing.T) {
	ts := startServer(t, "")
	p, tok := ts.people()
	mine := ts.fixture(p, true, "x@example.com")
	org := "/api/v1/organizations/"
	// The outsider's own organization, workspace and project.
	var other fixture
	other.org = ts.do("POST", "/api/v1/organizations", tok["outsider"], map[string]string{"name": "Other"}).id(t, 201)
	other.ws = ts.do("POST", org+other.org+"/workspaces", tok["outsider"], map[string]string{"name": "ws"}).id(t, 202)
	other.project = ts.do("POST", org+other.org+"/workspaces/"+other.ws+"/projects", tok["outsider"], map[string]string{"name": "frontend"}).id(t, 201)
	tests := []struct {
		name, who string
		msg       map[string]string
		api       string // the GET route of the same thing
	}{
		{"another organization's events", "owner", subscribeOrg("s1", other.org), org + other.org},
		{"an unknown organization", "owner", subscribeOrg("s1", "no-such-org"), org + "no-such-org"},
		{"a project the caller cannot read", "member", map[string]string{"type": "subscribe", "id": "s1", "topic": "watch", "org": mine.org,
			"workspace": mine.ws, "project": mine.project, "kind": "pods"}, org + mine.org + "/workspaces/" + mine.ws + "/projects/" + mine.project},
		{"a project of another organization", "owner", map[string]string{"type": "subscribe", "id": "s1", "topic": "watch", "org": other.org,
			"workspace": other.ws, "project": other.project, "kind": "deployments"}, org + other.org + "/workspaces/" + other.ws + "/projects/" + other.project},
		{"a project by name in a workspace of another organization", "owner", map[string]string{"type": "subscribe", "id": "s1", "topic": "watch", "org": mine.org,
			"workspace": other.ws, "project": "frontend", "kind": "deployments"}, org + mine.org + "/workspaces/" + other.ws + "/projects/frontend"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts.t = t
			want := ts.do("GET", tt.api, tok[tt.who], nil)
			if want.status != http.StatusNotFound {
				t.Fatalf("the API answers %d, want 404: %s", want.status, want.body)
			}
			wp := want.problem(t)
			c := ts.mustDialLive(tok[tt.who])
			c.send(tt.msg)
			m := c.expect("error", "s1")
			if m.Problem == nil || m.Problem.Status != 404 || m.Problem.Type != wp["type"] || m.Problem.Detail != wp["detail"] {
				t.Fatalf("problem %+v, want the API's %v", m.Problem, wp)
			}
			// The refused subscription does not exist: its id is free.
			c.send(subscribeOrg("s1", mine.org))
			c.expect("subscribed", "s1")
		})
	}
}

// TestLiveBurstInOrderAndResume: 1,000 events published in a burst
// arrive in order with none lost; a reconnect with after = the last seq
// seen gets exactly the events missed meanwhile, then new ones; and a
// member who cannot read the workspace gets none of its events.
func TestLiveBurstInOrderAndResume(t *testing.T) {
	ts := startServer(t, "")
	p, tok := ts.people()
	f := ts.fixture(p, true, "x@example.com")
	pub := ts.publisher()
	ctx := context.Background()

	if _, err := pub.Publish(ctx, f.org, events.OrganizationUpdated, f.org, nil); err != nil {
		t.Fatal(err)
	}
	owner := ts.mustDialLive(tok["owner"])
	owner.send(subscribeOrg("acme", f.org))
	start := owner.expect("subscribed", "acme")
	if start.Seq == "" {
		t.Fatal("subscribed carries no seq")
	}
	member := ts.mustDialLive(tok["member"]) // no role in the workspace
	member.send(subscribeOrg("acme", f.org))
	member.expect("subscribed", "acme")

	publish := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			if _, err := pub.Publish(ctx, f.org, events.WorkspaceProgress, f.ws, events.WorkspaceProgressData{Step: strconv.Itoa(i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// receive reads the events from..to-1 in order from c.
	receive := func(c *liveConn, from, to int, after uint64) uint64 {
		t.Helper()
		last := after
		for i := from; i < to; i++ {
			m := c.expect("event", "acme")
			var d events.WorkspaceProgressData
			if err := json.Unmarshal(m.Event.Data, &d); err != nil || m.Event.Type != events.WorkspaceProgress || d.Step != strconv.Itoa(i) {
				t.Fatalf("event %d: got %s %s (%v)", i, m.Event.Type, m.Event.Data, err)
			}
			seq, err := strconv.ParseUint(m.Seq, 10, 64)
			if err != nil || seq <= last {
				t.Fatalf("event %d: seq %q after %d: want increasing", i, m.Seq, last)
			}
			last = seq
		}
		return last
	}
	publish(0, 1000)
	startSeq, _ := strconv.ParseUint(start.Seq, 10, 64)
	last := receive(owner, 0, 1000, startSeq)

	// Disconnected, the owner misses 50 events; resuming with after gets
	// exactly those, then the next live one.
	if err := owner.ws.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Fatal(err)
	}
	publish(1000, 1050)
	again := ts.mustDialLive(tok["owner"])
	again.send(map[string]string{"type": "subscribe", "id": "acme", "topic": "org", "org": f.org, "after": strconv.FormatUint(last, 10)})
	again.expect("subscribed", "acme")
	last = receive(again, 1000, 1050, last)
	publish(1050, 1051)
	receive(again, 1050, 1051, last)

	// The member cannot read the workspace: the first event they get is
	// one about the organization, published after all of those.
	if _, err := pub.Publish(ctx, f.org, events.OrganizationUpdated, f.org, nil); err != nil {
		t.Fatal(err)
	}
	if m := member.expect("event", "acme"); m.Event.Type != events.OrganizationUpdated {
		t.Fatalf("the member got %s about %s, want only %s", m.Event.Type, m.Event.ResourceID, events.OrganizationUpdated)
	}
	// The viewer of the workspace gets its events.
	viewer := ts.mustDialLive(tok["viewer"])
	viewer.send(map[string]string{"type": "subscribe", "id": "acme", "topic": "org", "org": f.org, "after": start.Seq})
	viewer.expect("subscribed", "acme")
	receive(viewer, 0, 3, startSeq)

	// A resume point the stream never handed out is a resync.
	member.send(map[string]string{"type": "subscribe", "id": "old", "topic": "org", "org": f.org, "after": "99999999"})
	if m := member.expect("error", "old"); m.Problem.Status != 410 || !strings.HasSuffix(m.Problem.Type, "/resync-required") {
		t.Fatalf("resume from an unknown seq: %+v, want 410 resync-required", m.Problem)
	}
}

// TestLiveEndsWhenAccessGoes: a subscription to an organization's events
// ends within 5 s of the caller being removed from it.
func TestLiveEndsWhenAccessGoes(t *testing.T) {
	ts := startServer(t, "")
	p, tok := ts.people()
	f := ts.fixture(p, true, "x@example.com")
	c := ts.mustDialLive(tok["member"])
	c.send(subscribeOrg("acme", f.org))
	c.expect("subscribed", "acme")
	if a := ts.do("DELETE", "/api/v1/organizations/"+f.org+"/members/"+p.member.ID, tok["owner"], nil); a.status != 204 {
		t.Fatalf("remove member: %d %s", a.status, a.body)
	}
	// The acceptance: it must end within 5 s.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		m, err := c.readCtx(ctx)
		if err != nil {
			t.Fatalf("the subscription did not end within 5 s of the removal: %v", err)
		}
		if m.Type == "ended" && m.ID == "acme" {
			if !strings.Contains(m.Reason, "no longer a member") {
				t.Fatalf("reason %q", m.Reason)
			}
			break
		}
	}
	// It no longer exists: the id subscribes again, and is refused now.
	c.send(subscribeOrg("acme", f.org))
	if m := c.expect("error", "acme"); m.Problem.Status != 404 {
		t.Fatalf("subscribe after removal: %+v, want 404", m.Problem)
	}
}

// TestLiveClosesWhenSessionEnds: signing out closes the socket with 4401.
func TestLiveClosesWhenSessionEnds(t *testing.T) {
	ts := startServer(t, "")
	_, tok := ts.user("owner@example.com")
	c := ts.mustDialLive(tok)
	c.send(map[string]string{"type": "ping"})
	c.expect("pong", "")
	if a := ts.do("POST", "/auth/logout", tok, nil); a.status/100 != 2 {
		t.Fatalf("logout: %d %s", a.status, a.body)
	}
	if code, reason := c.closeStatus(); code != live.CloseSessionEnded || !strings.Contains(reason, "session ended") {
		t.Fatalf("closed with %d %q, want %d", code, reason, live.CloseSessionEnded)
	}
}

// TestLiveOrigin: a browser may connect from the platform's own origin or
// a configured CORS origin only; any other Origin is refused before the
// upgrade with a 403 problem, and so is an unauthenticated request.
func TestLiveOrigin(t *testing.T) {
	ts := startServerWith(t, func(c *config.Config) { c.CORSAllowedOrigins = []string{"https://console.example.com"} })
	_, tok := ts.user("owner@example.com")
	for _, tc := range []struct {
		origin string
		ok     bool
	}{
		{"", true}, // not a browser
		{ts.URL(), true},
		{"https://console.example.com", true},
		{"https://evil.example.com", false},
		{"null", false},
		{strings.Replace(ts.URL(), "http://", "https://", 1), false},
	} {
		t.Run(tc.origin, func(t *testing.T) {
			ts.t = t
			h := http.Header{}
			if tc.origin != "" {
				h.Set("Origin", tc.origin)
			}
			c, resp, err := ts.dialLive(tok, h)
			if tc.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				c.send(map[string]string{"type": "ping"})
				c.expect("pong", "")
				return
			}
			if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
				t.Fatalf("origin %q: %v %v, want 403", tc.origin, err, resp)
			}
			b, _ := io.ReadAll(resp.Body)
			if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") || !strings.Contains(string(b), "may not open the live-update WebSocket") {
				t.Fatalf("answer %s %s", resp.Header.Get("Content-Type"), b)
			}
		})
	}
}

// TestLiveLimits: subscriptions per connection, connections per user and
// the size of a message are bounded.
func TestLiveLimits(t *testing.T) {
	ts := startServerWith(t, func(c *config.Config) {
		c.LiveConnectionsPerUser = 2
		c.LiveSubscriptionsPerConnection = 2
	})
	p, tok := ts.people()
	f := ts.fixture(p, false, "x@example.com")
	c := ts.mustDialLive(tok["owner"])
	c.send(subscribeOrg("a", f.org))
	c.expect("subscribed", "a")
	c.send(subscribeOrg("b", f.org))
	c.expect("subscribed", "b")
	c.send(subscribeOrg("c", f.org))
	if m := c.expect("error", "c"); m.Problem.Status != 429 || !strings.HasSuffix(m.Problem.Type, "/too-many-subscriptions") {
		t.Fatalf("third subscription: %+v", m.Problem)
	}
	// Unsubscribing frees a place.
	c.send(map[string]string{"type": "unsubscribe", "id": "a"})
	c.send(subscribeOrg("c", f.org))
	c.expect("subscribed", "c")

	// A second connection is fine, a third is closed with 4429.
	ts.mustDialLive(tok["owner"])
	third := ts.mustDialLive(tok["owner"])
	if code, reason := third.closeStatus(); code != live.CloseTooManyConnections || !strings.Contains(reason, "2 live connections") {
		t.Fatalf("third connection closed with %d %q, want %d", code, reason, live.CloseTooManyConnections)
	}
	// Another user is not counted against the owner.
	ts.mustDialLive(tok["member"])

	// A message over 4 KiB closes the connection with 1009.
	c.send(`{"type":"ping","id":"` + strings.Repeat("x", 5000) + `"}`)
	if code, _ := c.closeStatus(); code != websocket.StatusMessageTooBig {
		t.Fatalf("oversized message: closed with %d, want %d", code, websocket.StatusMessageTooBig)
	}
}

// TestLiveBadInput: each kind of bad message is answered with an error
// whose problem names the field, and the connection stays usable.
func TestLiveBadInput(t *testing.T) {
	ts := startServer(t, "")
	p, tok := ts.people()
	f := ts.fixture(p, true, "x@example.com")
	c := ts.mustDialLive(tok["owner"])
	c.send(subscribeOrg("taken", f.org))
	c.expect("subscribed", "taken")
	watch := func(kv ...string) string {
		m := map[string]string{"type": "subscribe", "id": "w", "topic": "watch", "org": f.org, "workspace": f.ws, "project": f.project, "kind": "pods"}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(m, kv[i])
			} else {
				m[kv[i]] = kv[i+1]
			}
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	tests := []struct {
		name, msg string
		id        string // of the error message
		status    int
		field     string
	}{
		{"not JSON", `hello`, "", 400, ""},
		{"truncated JSON", `{"type":"ping"`, "", 400, ""},
		{"an array", `[1]`, "", 400, ""},
		{"no type", `{}`, "", 422, "type"},
		{"unknown type", `{"type":"publish"}`, "", 422, "type"},
		{"unknown field", `{"type":"ping","colour":"red"}`, "", 422, "colour"},
		{"wrong field type", `{"type":"subscribe","id":7}`, "", 422, "id"},
		{"no id", `{"type":"subscribe","topic":"org","org":"x"}`, "", 422, "id"},
		{"bad id", `{"type":"subscribe","id":"a b","topic":"org","org":"x"}`, "", 422, "id"},
		{"over-long id", `{"type":"subscribe","id":"` + strings.Repeat("a", 65) + `","topic":"org","org":"x"}`, "", 422, "id"},
		{"id in use", `{"type":"subscribe","id":"taken","topic":"org","org":"x"}`, "", 409, "id"},
		{"no topic", `{"type":"subscribe","id":"s"}`, "s", 422, "topic"},
		{"unknown topic", `{"type":"subscribe","id":"s","topic":"logs","org":"x"}`, "s", 422, "topic"},
		{"no org", `{"type":"subscribe","id":"s","topic":"org"}`, "s", 422, "org"},
		{"bad after", `{"type":"subscribe","id":"s","topic":"org","org":"x","after":"yesterday"}`, "s", 422, "after"},
		{"zero after", `{"type":"subscribe","id":"s","topic":"org","org":"x","after":"0"}`, "s", 422, "after"},
		{"org with a kind", `{"type":"subscribe","id":"s","topic":"org","org":"x","kind":"pods"}`, "s", 422, "kind"},
		{"watch without workspace", watch("workspace", ""), "w", 422, "workspace"},
		{"watch without project", watch("project", ""), "w", 422, "project"},
		{"watch without kind", watch("kind", ""), "w", 422, "kind"},
		{"watch of an unknown kind", watch("kind", "secrets"), "w", 422, "kind"},
		{"watch with after", watch("after", "5"), "w", 422, "after"},
		{"unsubscribe without id", `{"type":"unsubscribe"}`, "", 422, "id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			c.send(tt.msg)
			m := c.expect("error", tt.id)
			if m.Problem == nil || m.Problem.Status != tt.status {
				t.Fatalf("problem %+v, want status %d", m.Problem, tt.status)
			}
			if tt.field != "" && (len(m.Problem.Errors) != 1 || m.Problem.Errors[0].Field != tt.field) {
				t.Fatalf("problem %+v, want the field %q named", m.Problem, tt.field)
			}
			if strings.Contains(m.Problem.Detail, "json:") || strings.Contains(m.Problem.Detail, "live.") {
				t.Fatalf("internal text in %q", m.Problem.Detail)
			}
		})
	}
	c.t = t
	// A binary frame is refused too.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageBinary, []byte(`{"type":"ping"}`)); err != nil {
		t.Fatal(err)
	}
	if m := c.expect("error", ""); m.Problem.Status != 400 {
		t.Fatalf("binary frame: %+v", m.Problem)
	}
	// Still usable.
	c.send(map[string]string{"type": "ping"})
	c.expect("pong", "")
	// A watch in a workspace without a running cluster (this server runs
	// no control plane) is refused with the API's 409.
	c.send(watch())
	if m := c.expect("error", "w"); m.Problem.Status != 409 {
		t.Fatalf("watch without a cluster: %+v", m.Problem)
	}
}

// TestLiveSameOrigin: a page served by this listener under a name other
// than the external URL's (http://localhost:8080 for an external URL of
// http://127.0.0.1:8080) may connect: its Origin is the request's own.
func TestLiveSameOrigin(t *testing.T) {
	ts := startServerWith(t, func(c *config.Config) { c.ExternalURL = "http://hks.example.com" })
	_, tok := ts.user("owner@example.com")
	c, resp, err := ts.dialLive(tok, http.Header{"Origin": {ts.URL()}})
	if err != nil {
		t.Fatalf("the page's own origin %s was refused: %v %v", ts.URL(), err, resp)
	}
	c.send(map[string]string{"type": "ping"})
	c.expect("pong", "")
	_, resp, err = ts.dialLive(tok, http.Header{"Origin": {"http://evil.example.com"}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("another site: %v %v, want 403", err, resp)
	}
}
