package server

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/hexabase/hexabase-ai/internal/config"
	"github.com/hexabase/hexabase-ai/internal/events"
	"github.com/hexabase/hexabase-ai/internal/live"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/testutil"
)

// startServerLive starts a server whose live WebSocket limits limits edits.
func startServerLive(t *testing.T, edit func(*config.Config), limits func(*live.Limits)) *testServer {
	t.Helper()
	if edit == nil {
		edit = func(*config.Config) {}
	}
	return startServerOpts(t, edit, func(o *Options) { o.liveLimits = limits })
}

// consumers is how many consumers the EVENTS stream has.
func (ts *testServer) consumers() int {
	ts.t.Helper()
	st, err := ts.nats.JetStream().Stream(context.Background(), events.StreamName)
	if err != nil {
		ts.t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		ts.t.Fatal(err)
	}
	return info.State.Consumers
}

// TestLiveSubscribeChurnLeavesNoConsumers: thousands of subscribe and
// unsubscribe messages (with and without after) leave the EVENTS
// stream's consumer count small, and another organization's subscription
// and a workspace's SSE stream still work. (Each subscription used to be
// a JetStream consumer that outlived it for 5 minutes: the churn filled
// the stream's 1,000 consumers and everyone else got a 500.)
func TestLiveSubscribeChurnLeavesNoConsumers(t *testing.T) {
	ts := startServerLive(t, nil, func(l *live.Limits) { l.SubscribeRate, l.SubscribeBurst = 1e6, 1e6 })
	p, tok := ts.people()
	f := ts.fixture(p, true, "x@example.com")
	if _, err := ts.publisher().Publish(context.Background(), f.org, events.OrganizationUpdated, f.org, nil); err != nil {
		t.Fatal(err)
	}
	c := ts.mustDialLive(tok["member"])
	c.send(subscribeOrg("first", f.org))
	start := c.expect("subscribed", "first").Seq
	before := ts.consumers()
	const churn = 3000
	for i := range churn {
		m := subscribeOrg("c", f.org)
		if i%2 == 1 {
			m["after"] = start // a resume: a short-lived replay
		}
		c.send(m)
		for {
			got := c.next()
			if got.Type == "subscribed" && got.ID == "c" {
				break
			}
			if got.Type == "error" {
				t.Fatalf("subscribe %d: %+v", i, got.Problem)
			}
		}
		c.send(map[string]string{"type": "unsubscribe", "id": "c"})
	}
	if n := ts.consumers(); n > before+2 {
		t.Fatalf("after %d subscriptions the EVENTS stream has %d consumers (%d before): subscriptions must not each hold one", churn, n, before)
	}
	// Another organization's subscription and the workspace's SSE work.
	other := ts.do("POST", "/api/v1/organizations", tok["outsider"], map[string]string{"name": "Other"}).id(t, 201)
	oc := ts.mustDialLive(tok["outsider"])
	oc.send(subscribeOrg("o", other))
	oc.expect("subscribed", "o")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", ts.URL()+"/api/v1/organizations/"+f.org+"/workspaces/"+f.ws+"/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok["owner"])
	resp, err := ts.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("the workspace's SSE stream: %d", resp.StatusCode)
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line == "" {
		t.Fatalf("the workspace's SSE stream: %q %v", line, err)
	}
}

// TestLiveSubscribeRateLimited: subscribe messages beyond a connection's
// burst are refused with a 429 problem naming the subscription.
func TestLiveSubscribeRateLimited(t *testing.T) {
	ts := startServerLive(t, nil, func(l *live.Limits) { l.SubscribeRate, l.SubscribeBurst = 0.001, 3 })
	p, tok := ts.people()
	f := ts.fixture(p, false, "x@example.com")
	c := ts.mustDialLive(tok["owner"])
	for i := range 3 {
		id := "s" + strconv.Itoa(i)
		c.send(subscribeOrg(id, f.org))
		c.expect("subscribed", id)
		c.send(map[string]string{"type": "unsubscribe", "id": id})
	}
	c.send(subscribeOrg("s3", f.org))
	m := c.expect("error", "s3")
	if m.Problem.Status != 429 || !strings.Contains(m.Problem.Detail, "subscribe") {
		t.Fatalf("the fourth subscribe: %+v, want 429", m.Problem)
	}
	c.send(map[string]string{"type": "ping"})
	c.expect("pong", "")
}

// TestLiveSlowClientClosed: a client that stops reading is closed with
// 4008 once its outbound queue, capped by bytes, stays full; the queue
// never held more than the cap.
func TestLiveSlowClientClosed(t *testing.T) {
	const queueCap = 64 << 10
	ts := startServerLive(t, nil, func(l *live.Limits) {
		l.OutboundBytes, l.SlowClientTimeout = queueCap, 200*time.Millisecond
	})
	p, tok := ts.people()
	f := ts.fixture(p, false, "x@example.com")
	c := ts.mustDialLive(tok["owner"])
	c.send(subscribeOrg("acme", f.org))
	c.expect("subscribed", "acme")
	// The client reads no more; 1,000 events of 20 KB (20 MB, more than
	// the sockets' buffers hold) are published.
	pub := ts.publisher()
	data := json.RawMessage(strconv.Quote(strings.Repeat("x", 20<<10)))
	for i := 0; i < 1000 && ts.live.TooSlow() == 0; i++ {
		if _, err := pub.Publish(context.Background(), f.org, events.OrganizationUpdated, f.org, data); err != nil {
			t.Fatal(err)
		}
	}
	testutil.WaitFor(t, 30*time.Second, "the server to give up on the slow client", func() bool { return ts.live.TooSlow() > 0 })
	if q := ts.live.MaxQueued(); q > queueCap {
		t.Fatalf("a connection's queue held %d bytes, over its cap of %d", q, queueCap)
	}
	// Reading again, the client gets what was written, then the close.
	if code, reason := c.closeStatus(); code != live.CloseTooSlow || !strings.Contains(reason, "did not read") {
		t.Fatalf("closed with %d %q, want %d", code, reason, live.CloseTooSlow)
	}
}

// TestLiveWatchesCountAgainstStreamCaps: a watch counts against the
// per-user cap on long-lived requests the gateway and followed logs
// share: with it reached, a watch is refused with a 429 problem.
func TestLiveWatchesCountAgainstStreamCaps(t *testing.T) {
	ts := startServerWith(t, func(c *config.Config) { c.StreamsPerUser = 1 })
	p, tok := ts.people()
	f := ts.fixture(p, true, "x@example.com")
	watch := map[string]string{"type": "subscribe", "id": "w", "topic": "watch", "org": f.org, "workspace": f.ws, "project": f.project, "kind": "pods"}
	// The owner's one long-lived request is open elsewhere (a gateway
	// watch, a followed log).
	release, ok := ts.userStreams.Acquire(p.owner.ID)
	if !ok {
		t.Fatal("acquire")
	}
	c := ts.mustDialLive(tok["owner"])
	c.send(watch)
	if m := c.expect("error", "w"); m.Problem.Status != 429 || !strings.Contains(m.Problem.Detail, "at most 1") {
		t.Fatalf("a watch beyond the user's stream cap: %+v, want 429", m.Problem)
	}
	release()
	// Within the cap it goes on (to the cluster, which this server does
	// not run: 409).
	c.send(watch)
	if m := c.expect("error", "w"); m.Problem.Status != 409 {
		t.Fatalf("a watch within the cap: %+v, want 409", m.Problem)
	}
}

// TestLiveResumeNotBeforeMembership: a member who resumes with an after
// from before they joined does not get the organization's earlier events.
func TestLiveResumeNotBeforeMembership(t *testing.T) {
	ts := startServer(t, "")
	p, tok := ts.people()
	f := ts.fixture(p, false, "x@example.com")
	pub := ts.publisher()
	ctx := context.Background()
	if _, err := pub.Publish(ctx, f.org, events.OrganizationUpdated, f.org, nil); err != nil {
		t.Fatal(err)
	}
	owner := ts.mustDialLive(tok["owner"])
	owner.send(subscribeOrg("acme", f.org))
	start := owner.expect("subscribed", "acme").Seq
	// Before the newcomer joins: an event about another member.
	if _, err := pub.Publish(ctx, f.org, events.MemberAdded, p.admin.ID, map[string]string{"user_id": p.admin.ID, "role": "admin"}); err != nil {
		t.Fatal(err)
	}
	late, lateTok := ts.user("late@example.com")
	if err := ts.st.AddOrgMember(ctx, store.OrgMember{OrgID: f.org, UserID: late.ID, Role: store.RoleMember, CreatedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	if _, err := pub.Publish(ctx, f.org, events.OrganizationUpdated, f.org, nil); err != nil {
		t.Fatal(err)
	}
	c := ts.mustDialLive(lateTok)
	c.send(map[string]string{"type": "subscribe", "id": "acme", "topic": "org", "org": f.org, "after": start})
	c.expect("subscribed", "acme")
	if m := c.expect("event", "acme"); m.Event.Type != events.OrganizationUpdated {
		t.Fatalf("the newcomer got %s about %s from before they joined", m.Event.Type, m.Event.ResourceID)
	}
}

// TestLiveResumesOfOneTenantDoNotHoldOthers: a tenant that resumes many
// subscriptions over a long history of its own organization and never
// reads what it is sent cannot keep another organization's resume
// waiting: the stored events are read into memory and the process's
// replay slot freed before they are sent, and a user's resumes replay a
// few at a time (the rest get a 429 to retry). Before, the slot was held
// while the slow client was sent its events, and the other tenant's
// resume waited for as long as the attacker kept it up (32 s and more).
func TestLiveResumesOfOneTenantDoNotHoldOthers(t *testing.T) {
	ts := startServer(t, "")
	p, tok := ts.people()
	f := ts.fixture(p, false, "x@example.com")
	pub := ts.publisher()
	ctx := context.Background()
	evil := ts.do("POST", "/api/v1/organizations", tok["outsider"], map[string]string{"name": "Evil"}).id(t, 201)
	probe := ts.mustDialLive(tok["outsider"])
	probe.send(subscribeOrg("probe", evil))
	aStart := probe.expect("subscribed", "probe").Seq
	_ = probe.ws.CloseNow()
	v := ts.mustDialLive(tok["owner"])
	v.send(subscribeOrg("v", f.org))
	vStart := v.expect("subscribed", "v").Seq
	_ = v.ws.CloseNow()
	data := json.RawMessage(strconv.Quote(strings.Repeat("x", 200)))
	for range 3000 {
		if _, err := pub.Publish(ctx, evil, events.OrganizationUpdated, evil, data); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pub.Publish(ctx, f.org, events.OrganizationUpdated, f.org, nil); err != nil {
		t.Fatal(err)
	}
	// The attacker: 4 connections, 32 resumes each, reading nothing.
	for range 4 {
		c := ts.mustDialLive(tok["outsider"])
		for i := range 32 {
			b, _ := json.Marshal(map[string]string{"type": "subscribe", "id": "r" + strconv.Itoa(i), "topic": "org", "org": evil, "after": aStart})
			if err := c.ws.Write(ctx, websocket.MessageText, b); err != nil {
				t.Fatal(err)
			}
		}
	}
	// While they are open, the victim's resume replays what it missed.
	v2 := ts.mustDialLive(tok["owner"])
	v2.send(map[string]string{"type": "subscribe", "id": "v", "topic": "org", "org": f.org, "after": vStart})
	v2.expect("subscribed", "v")
	rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	m, err := v2.readCtx(rctx)
	if err != nil || m.Type != "event" {
		t.Fatalf("the other organization's resume got %+v, %v while the attacker's resumes were open", m, err)
	}
}
