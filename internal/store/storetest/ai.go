package storetest

import (
	"database/sql"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/store"
)

// chat creates a chat of u in w (in project p unless "").
func (f *fixture) chat(w store.Workspace, u store.User, p string) store.Chat {
	f.t.Helper()
	c := store.Chat{ID: store.NewID(), OrgID: w.OrgID, WorkspaceID: w.ID, ProjectID: p, UserID: u.ID, Title: "why is web down", CreatedAt: f.tick()}
	c.UpdatedAt = c.CreatedAt
	ok(f.t, f.s.CreateChat(f.ctx, c))
	return c
}

// planIn returns a pending plan of c's user in c's workspace and chat,
// not yet stored.
func (f *fixture) planIn(c store.Chat) store.Plan {
	at := f.tick()
	return store.Plan{
		ID: store.NewID(), OrgID: c.OrgID, WorkspaceID: c.WorkspaceID, ProjectID: c.ProjectID, UserID: c.UserID, ChatID: c.ID,
		Tool: "scale", Args: `{"kind":"Deployment","name":"web","replicas":5}`, Summary: "scale deployment web in shop from 2 to 5 replicas",
		Target: store.PlanTargetWorkspace, Method: "PATCH", Path: "/apis/apps/v1/namespaces/p-shop/deployments/web?dryRun=All", Body: `{"spec":{"replicas":5}}`,
		Hash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", GuardPath: "/apis/apps/v1/namespaces/p-shop/deployments/web",
		GuardResourceVersion: "4711", Before: "spec:\n  replicas: 2\n", After: "spec:\n  replicas: 5\n",
		Diff: "-  replicas: 2\n+  replicas: 5\n", Status: store.PlanPending, CreatedAt: at, ExpiresAt: at.Add(10 * time.Minute),
	}
}

func (f *fixture) plan(c store.Chat) store.Plan {
	f.t.Helper()
	p := f.planIn(c)
	ok(f.t, f.s.CreatePlan(f.ctx, p))
	return p
}

func (f *fixture) messages(c store.Chat, n int) []store.ChatMessage {
	f.t.Helper()
	ms := make([]store.ChatMessage, n)
	for i := range ms {
		ms[i] = store.ChatMessage{ID: store.NewID(), Role: store.MessageUser, Content: fmt.Sprint("message ", i)}
	}
	out, err := f.s.AppendMessages(f.ctx, c.ID, f.tick(), ms...)
	ok(f.t, err)
	return out
}

func testAIChats(t *testing.T, f *fixture) {
	owner, o := f.acme()
	bob := f.user("bob@example.com")
	w, w2 := f.workspace(o, "prod"), f.workspace(o, "dev")
	p := f.project(w, "shop", "")
	p2 := f.project(w2, "shop", "")
	other := f.org(owner, "globex")
	ow := f.workspace(other, "prod")

	var mine []store.Chat
	for i := range 5 {
		proj := ""
		if i%2 == 1 {
			proj = p.ID
		}
		mine = append(mine, f.chat(w, owner, proj))
	}
	f.chat(w, bob, "")    // another user's, same workspace
	f.chat(w2, owner, "") // same user, another workspace

	stored(t, f, f.s.GetChat, mine[1].ID, mine[1])
	wantErr(t, f.s.CreateChat(f.ctx, mine[0]), store.ErrConflict)
	_, err := f.s.GetChat(f.ctx, store.NewID())
	wantErr(t, err, store.ErrNotFound)

	t.Run("missing references", func(t *testing.T) {
		for name, mod := range map[string]func(*store.Chat){
			"org":                      func(c *store.Chat) { c.OrgID = store.NewID() },
			"workspace":                func(c *store.Chat) { c.WorkspaceID = store.NewID() },
			"workspace of another org": func(c *store.Chat) { c.WorkspaceID = ow.ID },
			"project":                  func(c *store.Chat) { c.ProjectID = store.NewID() },
			"project of another ws":    func(c *store.Chat) { c.ProjectID = p2.ID },
			"user":                     func(c *store.Chat) { c.UserID = store.NewID() },
		} {
			t.Run(name, func(t *testing.T) {
				c := store.Chat{ID: store.NewID(), OrgID: o.ID, WorkspaceID: w.ID, UserID: owner.ID, CreatedAt: f.now, UpdatedAt: f.now}
				mod(&c)
				wantErr(t, f.s.CreateChat(f.ctx, c), store.ErrConflict)
				_, err := f.s.GetChat(f.ctx, c.ID)
				wantErr(t, err, store.ErrNotFound)
			})
		}
	})

	t.Run("list: the user's chats in the workspace, newest first, in pages", func(t *testing.T) {
		page, next, err := f.s.ListChats(f.ctx, owner.ID, w.ID, store.Page{Limit: 2})
		ok(t, err)
		equal(t, page, []store.Chat{mine[4], mine[3]})
		page, next, err = f.s.ListChats(f.ctx, owner.ID, w.ID, store.Page{Limit: 2, After: next})
		ok(t, err)
		equal(t, page, []store.Chat{mine[2], mine[1]})
		page, next, err = f.s.ListChats(f.ctx, owner.ID, w.ID, store.Page{Limit: 2, After: next})
		ok(t, err)
		equal(t, page, []store.Chat{mine[0]})
		equal(t, next, "")
		page, _, err = f.s.ListChats(f.ctx, owner.ID, ow.ID, store.Page{})
		ok(t, err)
		equal(t, page, []store.Chat{})
		_, _, err = f.s.ListChats(f.ctx, owner.ID, w.ID, store.Page{After: "garbage"})
		wantErr(t, err, store.ErrInvalidCursor)
	})

	t.Run("messages", func(t *testing.T) {
		c := mine[0]
		now := f.tick()
		in := []store.ChatMessage{
			{ID: store.NewID(), ChatID: "ignored", Seq: 42, Role: store.MessageUser, Content: "scale web to 5", CreatedAt: now.Add(-time.Second)},
			{ID: store.NewID(), Role: store.MessageAssistant, ToolCalls: `[{"id":"call_1","name":"scale","arguments":"{\"replicas\":5}"}]`, Model: "gpt-4.1-mini"},
			{ID: store.NewID(), Role: store.MessageTool, Content: "plan made", ToolCallID: "call_1", ToolName: "scale", ToolArgs: `{"replicas":5}`,
				IsError: true, PlanID: store.NewID()},
		}
		got, err := f.s.AppendMessages(f.ctx, c.ID, now, in...)
		ok(t, err)
		want := slices.Clone(in)
		for i := range want {
			want[i].ChatID, want[i].Seq = c.ID, int64(i+1)
			if want[i].CreatedAt.IsZero() {
				want[i].CreatedAt = now
			}
		}
		equal(t, got, want)
		more, err := f.s.AppendMessages(f.ctx, c.ID, f.tick(), store.ChatMessage{Role: store.MessageUser, Content: "thanks"})
		ok(t, err)
		equal(t, more[0].Seq, int64(4))
		if more[0].ID == "" {
			t.Fatal("a message without an ID got none")
		}
		list, err := f.s.ListMessages(f.ctx, c.ID)
		ok(t, err)
		equal(t, list, append(want, more...))

		// The chat's UpdatedAt is the last append.
		cc, err := f.s.GetChat(f.ctx, c.ID)
		ok(t, err)
		equal(t, cc.UpdatedAt, more[0].CreatedAt)
		equal(t, cc.CreatedAt, c.CreatedAt)

		// A duplicate ID fails the whole batch and uses no Seq.
		_, err = f.s.AppendMessages(f.ctx, c.ID, f.tick(), store.ChatMessage{ID: store.NewID(), Role: store.MessageUser}, in[0])
		wantErr(t, err, store.ErrConflict)
		list, err = f.s.ListMessages(f.ctx, c.ID)
		ok(t, err)
		equal(t, len(list), 4)
		next, err := f.s.AppendMessages(f.ctx, c.ID, f.tick(), store.ChatMessage{Role: store.MessageUser})
		ok(t, err)
		equal(t, next[0].Seq, int64(5))

		// No messages: the chat must still exist.
		none, err := f.s.AppendMessages(f.ctx, c.ID, f.tick())
		ok(t, err)
		equal(t, len(none), 0)
		_, err = f.s.AppendMessages(f.ctx, store.NewID(), f.tick(), store.ChatMessage{Role: store.MessageUser})
		wantErr(t, err, store.ErrNotFound)
		_, err = f.s.AppendMessages(f.ctx, store.NewID(), f.tick())
		wantErr(t, err, store.ErrNotFound)
		empty, err := f.s.ListMessages(f.ctx, mine[1].ID)
		ok(t, err)
		equal(t, empty, []store.ChatMessage{})
	})

	t.Run("plan result", func(t *testing.T) {
		pl := f.plan(mine[1])
		ok(t, f.s.SetPlanResult(f.ctx, pl.ID, "replaced by plan x"))
		got, err := f.s.GetPlan(f.ctx, pl.ID)
		ok(t, err)
		equal(t, got.Result, "replaced by plan x")
		wantErr(t, f.s.SetPlanResult(f.ctx, store.NewID(), "x"), store.ErrNotFound)
	})

	t.Run("title", func(t *testing.T) {
		c := mine[1]
		ok(t, f.s.SetChatTitle(f.ctx, c.ID, "why is web down?"))
		got, err := f.s.GetChat(f.ctx, c.ID)
		ok(t, err)
		equal(t, got.Title, "why is web down?")
		wantErr(t, f.s.SetChatTitle(f.ctx, store.NewID(), "x"), store.ErrNotFound)
	})

	t.Run("delete removes messages and plans", func(t *testing.T) {
		c := mine[2]
		f.messages(c, 3)
		pl := f.plan(c)
		deleteOnce(t, f.ctx, f.s.DeleteChat, f.s.GetChat, c.ID)
		list, err := f.s.ListMessages(f.ctx, c.ID)
		ok(t, err)
		equal(t, list, []store.ChatMessage{})
		_, err = f.s.GetPlan(f.ctx, pl.ID)
		wantErr(t, err, store.ErrNotFound)
		// The others are untouched.
		_, err = f.s.GetChat(f.ctx, mine[3].ID)
		ok(t, err)
	})
}

// testAIMessagesConcurrentAppend appends batches to one chat from many
// goroutines at once: every message gets a distinct Seq, the Seqs are
// 1..n without a gap, and each batch's are consecutive in its order.
func testAIMessagesConcurrentAppend(t *testing.T, f *fixture) {
	owner, o := f.acme()
	c := f.chat(f.workspace(o, "prod"), owner, "")
	const n, batch = 12, 3
	results := make([][]store.ChatMessage, n)
	errs := race(n, func(i int) error {
		ms := make([]store.ChatMessage, batch)
		for j := range ms {
			ms[j] = store.ChatMessage{ID: store.NewID(), Role: store.MessageUser, Content: fmt.Sprintf("%d/%d", i, j)}
		}
		var err error
		results[i], err = f.s.AppendMessages(f.ctx, c.ID, f.now, ms...)
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("goroutine %d: %v", i, err)
		}
	}
	bySeq := map[int64]store.ChatMessage{}
	for i, ms := range results {
		for j, m := range ms {
			if j > 0 && m.Seq != ms[0].Seq+int64(j) {
				t.Fatalf("goroutine %d: batch Seqs not consecutive: %d after %d", i, m.Seq, ms[0].Seq)
			}
			bySeq[m.Seq] = m
		}
	}
	list, err := f.s.ListMessages(f.ctx, c.ID)
	ok(t, err)
	equal(t, len(list), n*batch)
	for i, m := range list {
		equal(t, m.Seq, int64(i+1))
		equal(t, m, bySeq[m.Seq])
	}
}

func testAIPlans(t *testing.T, f *fixture) {
	owner, o := f.acme()
	w := f.workspace(o, "prod")
	p := f.project(w, "shop", "")
	c := f.chat(w, owner, p.ID)
	other := f.workspace(f.org(owner, "globex"), "prod")

	a := f.plan(c)
	b := f.planIn(c)
	b.ProjectID, b.Body, b.Before, b.Method = "", "", "", "DELETE" // a workspace-wide object; a delete
	ok(t, f.s.CreatePlan(f.ctx, b))
	mcp := f.planIn(c)
	mcp.ChatID = ""
	ok(t, f.s.CreatePlan(f.ctx, mcp))
	stored(t, f, f.s.GetPlan, a.ID, a)
	stored(t, f, f.s.GetPlan, b.ID, b)
	stored(t, f, f.s.GetPlan, mcp.ID, mcp)
	wantErr(t, f.s.CreatePlan(f.ctx, a), store.ErrConflict)

	t.Run("target", func(t *testing.T) {
		// A platform plan keeps its target; a plan stored without one
		// (as before targets existed) is the workspace cluster's.
		c2 := f.chat(w, owner, p.ID)
		pf := f.planIn(c2)
		pf.Target, pf.Method, pf.Path = store.PlanTargetPlatform, "PUT", "/api/v1/organizations/acme/workspaces/prod/projects/shop/functions/hello"
		ok(t, f.s.CreatePlan(f.ctx, pf))
		stored(t, f, f.s.GetPlan, pf.ID, pf)
		old := f.planIn(c2)
		old.Target = ""
		ok(t, f.s.CreatePlan(f.ctx, old))
		want := old
		want.Target = store.PlanTargetWorkspace
		stored(t, f, f.s.GetPlan, old.ID, want)
		list, err := f.s.ListPlans(f.ctx, c2.ID)
		ok(t, err)
		equal(t, list, []store.Plan{pf, want})
	})

	for name, mod := range map[string]func(*store.Plan){
		"org":                      func(p *store.Plan) { p.OrgID = store.NewID() },
		"workspace":                func(p *store.Plan) { p.WorkspaceID = store.NewID() },
		"workspace of another org": func(p *store.Plan) { p.WorkspaceID = other.ID },
		"project":                  func(p *store.Plan) { p.ProjectID = store.NewID() },
		"user":                     func(p *store.Plan) { p.UserID = store.NewID() },
		"chat":                     func(p *store.Plan) { p.ChatID = store.NewID() },
	} {
		t.Run("missing "+name, func(t *testing.T) {
			bad := f.planIn(c)
			mod(&bad)
			wantErr(t, f.s.CreatePlan(f.ctx, bad), store.ErrConflict)
		})
	}

	list, err := f.s.ListPlans(f.ctx, c.ID)
	ok(t, err)
	equal(t, list, []store.Plan{a, b})
	list, err = f.s.ListPlans(f.ctx, store.NewID())
	ok(t, err)
	equal(t, list, []store.Plan{})

	t.Run("decide and finish", func(t *testing.T) {
		at := f.tick()
		ok(t, f.s.DecidePlan(f.ctx, a.ID, store.PlanPending, store.PlanConfirmed, at))
		want := a
		want.Status, want.DecidedAt = store.PlanConfirmed, at
		stored(t, f, f.s.GetPlan, a.ID, want)
		// Confirmed once only.
		wantErr(t, f.s.DecidePlan(f.ctx, a.ID, store.PlanPending, store.PlanConfirmed, f.tick()), store.ErrConflict)
		wantErr(t, f.s.DecidePlan(f.ctx, store.NewID(), store.PlanPending, store.PlanConfirmed, f.tick()), store.ErrNotFound)
		stored(t, f, f.s.GetPlan, a.ID, want)

		// Only a confirmed plan is finished, once, with an outcome.
		wantErr(t, f.s.FinishPlan(f.ctx, b.ID, store.PlanDone, "{}"), store.ErrConflict)
		wantErr(t, f.s.FinishPlan(f.ctx, store.NewID(), store.PlanDone, "{}"), store.ErrNotFound)
		for _, bad := range []string{store.PlanRejected, store.PlanPending, "", "' OR 1=1 --"} {
			if err := f.s.FinishPlan(f.ctx, a.ID, bad, "x"); err == nil {
				t.Fatalf("FinishPlan(%q) succeeded", bad)
			}
		}
		ok(t, f.s.FinishPlan(f.ctx, a.ID, store.PlanFailed, `{"code":403,"message":"forbidden"}`))
		want.Status, want.Result = store.PlanFailed, `{"code":403,"message":"forbidden"}`
		stored(t, f, f.s.GetPlan, a.ID, want)
		wantErr(t, f.s.FinishPlan(f.ctx, a.ID, store.PlanDone, "{}"), store.ErrConflict)
		stored(t, f, f.s.GetPlan, a.ID, want)

		// Rejecting and expiring are decisions too.
		ok(t, f.s.DecidePlan(f.ctx, b.ID, store.PlanPending, store.PlanRejected, at))
		wantErr(t, f.s.DecidePlan(f.ctx, b.ID, store.PlanPending, store.PlanConfirmed, at), store.ErrConflict)
		ok(t, f.s.DecidePlan(f.ctx, mcp.ID, store.PlanPending, store.PlanExpired, at))
		got, err := f.s.GetPlan(f.ctx, mcp.ID)
		ok(t, err)
		equal(t, got.Status, store.PlanExpired)
	})

	t.Run("deleting the project removes its plans", func(t *testing.T) {
		q := f.project(w, "tmp", "")
		pq := f.planIn(c)
		pq.ChatID, pq.ProjectID = "", q.ID
		ok(t, f.s.CreatePlan(f.ctx, pq))
		ok(t, f.s.DeleteProject(f.ctx, q.ID))
		_, err := f.s.GetPlan(f.ctx, pq.ID)
		wantErr(t, err, store.ErrNotFound)
	})
}

// testAIPlanConfirmOnceRace confirms each plan from many goroutines at
// once: exactly one wins, the others get ErrConflict.
func testAIPlanConfirmOnceRace(t *testing.T, f *fixture) {
	owner, o := f.acme()
	c := f.chat(f.workspace(o, "prod"), owner, "")
	const n = 12
	for range 5 {
		p := f.plan(c)
		at := f.tick()
		errs := race(n, func(int) error { return f.s.DecidePlan(f.ctx, p.ID, store.PlanPending, store.PlanConfirmed, at) })
		exactlyOneWins(t, errs, store.ErrConflict)
		got, err := f.s.GetPlan(f.ctx, p.ID)
		ok(t, err)
		equal(t, got.Status, store.PlanConfirmed)
		equal(t, got.DecidedAt, at)
	}
}

func testAISettings(t *testing.T, f *fixture) {
	_, o := f.acme()
	def, err := f.s.GetAISettings(f.ctx, o.ID)
	ok(t, err)
	equal(t, def, store.AISettings{OrgID: o.ID, Enabled: true})

	v1 := store.AISettings{OrgID: o.ID, Enabled: false, MonthlyTokenBudget: 2_000_000, UpdatedAt: f.tick().In(time.FixedZone("JST", 9*3600))}
	got, err := f.s.PutAISettings(f.ctx, v1)
	ok(t, err)
	v1.Version, v1.UpdatedAt = 1, v1.UpdatedAt.UTC()
	equal(t, got, v1)
	stored(t, f, f.s.GetAISettings, o.ID, v1)

	// A second first put and a stale or future version lose.
	for _, version := range []int64{0, 2, 7} {
		_, err = f.s.PutAISettings(f.ctx, store.AISettings{OrgID: o.ID, Enabled: true, UpdatedAt: f.tick(), Version: version})
		wantErr(t, err, store.ErrConflict)
	}
	stored(t, f, f.s.GetAISettings, o.ID, v1)

	v2 := store.AISettings{OrgID: o.ID, Enabled: true, MonthlyTokenBudget: 0, UpdatedAt: f.tick(), Version: 1}
	got, err = f.s.PutAISettings(f.ctx, v2)
	ok(t, err)
	v2.Version = 2
	equal(t, got, v2)
	stored(t, f, f.s.GetAISettings, o.ID, v2)

	// Concurrent puts at one version: one wins.
	errs := race(8, func(i int) error {
		_, err := f.s.PutAISettings(f.ctx, store.AISettings{OrgID: o.ID, MonthlyTokenBudget: int64(i), UpdatedAt: f.now, Version: 2})
		return err
	})
	w := exactlyOneWins(t, errs, store.ErrConflict)
	got, err = f.s.GetAISettings(f.ctx, o.ID)
	ok(t, err)
	equal(t, got.MonthlyTokenBudget, int64(w))
	equal(t, got.Version, int64(3))

	// An unknown organization: defaults to read, nothing to write.
	missing := store.NewID()
	def, err = f.s.GetAISettings(f.ctx, missing)
	ok(t, err)
	equal(t, def, store.AISettings{OrgID: missing, Enabled: true})
	for _, version := range []int64{0, 1} {
		_, err = f.s.PutAISettings(f.ctx, store.AISettings{OrgID: missing, Enabled: true, UpdatedAt: f.now, Version: version})
		wantErr(t, err, store.ErrConflict)
	}

	// They go with the organization.
	ok(t, f.s.DeleteOrganization(f.ctx, o.ID))
	def, err = f.s.GetAISettings(f.ctx, o.ID)
	ok(t, err)
	equal(t, def, store.AISettings{OrgID: o.ID, Enabled: true})
}

func testUsageLedger(t *testing.T, f *fixture) {
	owner, o := f.acme()
	w, w2 := f.workspace(o, "prod"), f.workspace(o, "dev")
	bob := f.user("bob@example.com")
	other := f.org(owner, "globex")
	const model, mini = "gpt-4.1", "gpt-4.1-mini"
	var recs []store.UsageRecord
	rec := func(org, ws, user, meter, subject string, q int64) store.UsageRecord {
		r := store.UsageRecord{ID: store.NewID(), OrgID: org, WorkspaceID: ws, UserID: user, Meter: meter, Subject: subject, Quantity: q, RecordedAt: f.tick()}
		recs = append(recs, r)
		return r
	}
	batch := []store.UsageRecord{
		rec(o.ID, w.ID, owner.ID, store.MeterAIPromptTokens, model, 100),     // 0
		rec(o.ID, w.ID, owner.ID, store.MeterAICompletionTokens, model, 20),  // 1
		rec(o.ID, w.ID, owner.ID, store.MeterAIPromptTokens, model, 300),     // 2
		rec(o.ID, w.ID, bob.ID, store.MeterAIPromptTokens, mini, 7),          // 3
		rec(o.ID, w2.ID, owner.ID, store.MeterAIPromptTokens, model, 1000),   // 4
		rec(o.ID, "", "", "other.meter", "", 5),                              // 5
		rec(other.ID, w.ID, owner.ID, store.MeterAIPromptTokens, model, 9e9), // 6: another organization (ids as text only)
	}
	ok(t, f.s.RecordUsage(f.ctx, batch[:4]...))
	// A retry of the first entries with the rest: recorded once.
	retry := slices.Clone(batch)
	retry[0].Quantity = 1_000_000
	ok(t, f.s.RecordUsage(f.ctx, retry...))
	ok(t, f.s.RecordUsage(f.ctx, retry...))
	ok(t, f.s.RecordUsage(f.ctx))

	ai := []string{store.MeterAIPromptTokens, store.MeterAICompletionTokens}
	total := func(meter, ws, user, subject string, q int64) store.UsageTotal {
		return store.UsageTotal{Meter: meter, WorkspaceID: ws, UserID: user, Subject: subject, Quantity: q}
	}
	// Expected totals sorted by meter, workspace, user, subject.
	sorted := func(ts ...store.UsageTotal) []store.UsageTotal {
		slices.SortFunc(ts, func(a, b store.UsageTotal) int {
			for _, c := range [][2]string{{a.Meter, b.Meter}, {a.WorkspaceID, b.WorkspaceID}, {a.UserID, b.UserID}, {a.Subject, b.Subject}} {
				if c[0] != c[1] {
					if c[0] < c[1] {
						return -1
					}
					return 1
				}
			}
			return 0
		})
		return ts
	}
	for _, tc := range []struct {
		name string
		f    store.UsageFilter
		want []store.UsageTotal
	}{
		{"org", store.UsageFilter{OrgID: o.ID}, sorted(
			total(store.MeterAICompletionTokens, w.ID, owner.ID, model, 20),
			total(store.MeterAIPromptTokens, w.ID, owner.ID, model, 400),
			total(store.MeterAIPromptTokens, w.ID, bob.ID, mini, 7),
			total(store.MeterAIPromptTokens, w2.ID, owner.ID, model, 1000),
			total("other.meter", "", "", "", 5),
		)},
		{"org, AI meters", store.UsageFilter{OrgID: o.ID, Meters: ai}, sorted(
			total(store.MeterAICompletionTokens, w.ID, owner.ID, model, 20),
			total(store.MeterAIPromptTokens, w.ID, owner.ID, model, 400),
			total(store.MeterAIPromptTokens, w.ID, bob.ID, mini, 7),
			total(store.MeterAIPromptTokens, w2.ID, owner.ID, model, 1000),
		)},
		{"workspace across orgs", store.UsageFilter{WorkspaceID: w.ID, Meters: []string{store.MeterAIPromptTokens}}, sorted(
			total(store.MeterAIPromptTokens, w.ID, owner.ID, model, 400+9e9),
			total(store.MeterAIPromptTokens, w.ID, bob.ID, mini, 7),
		)},
		{"user", store.UsageFilter{OrgID: o.ID, UserID: bob.ID}, []store.UsageTotal{total(store.MeterAIPromptTokens, w.ID, bob.ID, mini, 7)}},
		{"since inclusive", store.UsageFilter{OrgID: o.ID, Since: recs[4].RecordedAt}, sorted(
			total(store.MeterAIPromptTokens, w2.ID, owner.ID, model, 1000),
			total("other.meter", "", "", "", 5),
		)},
		{"until exclusive", store.UsageFilter{OrgID: o.ID, Until: recs[2].RecordedAt}, sorted(
			total(store.MeterAICompletionTokens, w.ID, owner.ID, model, 20),
			total(store.MeterAIPromptTokens, w.ID, owner.ID, model, 100),
		)},
		{"window", store.UsageFilter{OrgID: o.ID, Since: recs[1].RecordedAt, Until: recs[3].RecordedAt, Meters: []string{store.MeterAIPromptTokens}},
			[]store.UsageTotal{total(store.MeterAIPromptTokens, w.ID, owner.ID, model, 300)}},
		{"unknown meter", store.UsageFilter{OrgID: o.ID, Meters: []string{"nope"}}, []store.UsageTotal{}},
		{"unknown org", store.UsageFilter{OrgID: store.NewID()}, []store.UsageTotal{}},
		{"everything", store.UsageFilter{}, sorted(
			total(store.MeterAICompletionTokens, w.ID, owner.ID, model, 20),
			total(store.MeterAIPromptTokens, w.ID, owner.ID, model, 400+9e9),
			total(store.MeterAIPromptTokens, w.ID, bob.ID, mini, 7),
			total(store.MeterAIPromptTokens, w2.ID, owner.ID, model, 1000),
			total("other.meter", "", "", "", 5),
		)},
		{"injection is a value", store.UsageFilter{OrgID: "' OR 1=1 --", Meters: []string{"x') OR ('1'='1"}}, []store.UsageTotal{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := f.s.SumUsage(f.ctx, tc.f)
			ok(t, err)
			equal(t, got, tc.want)
		})
	}

	t.Run("entries outlive what they name", func(t *testing.T) {
		ok(t, f.s.DeleteWorkspace(f.ctx, w2.ID))
		ok(t, f.s.DeleteOrganization(f.ctx, o.ID))
		got, err := f.s.SumUsage(f.ctx, store.UsageFilter{OrgID: o.ID, WorkspaceID: w2.ID})
		ok(t, err)
		equal(t, got, []store.UsageTotal{total(store.MeterAIPromptTokens, w2.ID, owner.ID, model, 1000)})
	})
}

// aiRecords creates, in w, a chat of u with messages and a plan, an MCP
// plan (no chat) of u, and a usage entry (subject: the chat's ID), for
// the cascade tests.
type aiRecords struct {
	chat      store.Chat
	plan, mcp store.Plan
	usage     store.UsageRecord
}

func (f *fixture) aiRecords(w store.Workspace, u store.User, project string) aiRecords {
	f.t.Helper()
	r := aiRecords{chat: f.chat(w, u, project)}
	ms := f.messages(r.chat, 2)
	r.chat.UpdatedAt = ms[0].CreatedAt
	r.plan = f.plan(r.chat)
	r.mcp = f.planIn(r.chat)
	r.mcp.ChatID = ""
	ok(f.t, f.s.CreatePlan(f.ctx, r.mcp))
	r.usage = store.UsageRecord{ID: store.NewID(), OrgID: w.OrgID, WorkspaceID: w.ID, UserID: u.ID, Meter: store.MeterAIPromptTokens, Subject: r.chat.ID, Quantity: 3, RecordedAt: f.tick()}
	ok(f.t, f.s.RecordUsage(f.ctx, r.usage))
	return r
}

// gone checks that r's chat, messages and plans no longer exist and its
// usage entry does.
func (r aiRecords) gone(t *testing.T, f *fixture) {
	t.Helper()
	_, err := f.s.GetChat(f.ctx, r.chat.ID)
	wantErr(t, err, store.ErrNotFound)
	ms, err := f.s.ListMessages(f.ctx, r.chat.ID)
	ok(t, err)
	equal(t, ms, []store.ChatMessage{})
	for _, p := range []store.Plan{r.plan, r.mcp} {
		_, err = f.s.GetPlan(f.ctx, p.ID)
		wantErr(t, err, store.ErrNotFound)
	}
	got, err := f.s.SumUsage(f.ctx, store.UsageFilter{OrgID: r.usage.OrgID, WorkspaceID: r.usage.WorkspaceID, UserID: r.usage.UserID})
	ok(t, err)
	want := store.UsageTotal{Meter: r.usage.Meter, WorkspaceID: r.usage.WorkspaceID, UserID: r.usage.UserID, Subject: r.usage.Subject, Quantity: r.usage.Quantity}
	if !slices.Contains(got, want) {
		t.Fatalf("usage %+v is gone: %+v", want, got)
	}
}

// kept checks that r's chat, messages and plans still exist.
func (r aiRecords) kept(t *testing.T, f *fixture) {
	t.Helper()
	stored(t, f, f.s.GetChat, r.chat.ID, r.chat)
	ms, err := f.s.ListMessages(f.ctx, r.chat.ID)
	ok(t, err)
	equal(t, len(ms), 2)
	stored(t, f, f.s.GetPlan, r.plan.ID, r.plan)
	stored(t, f, f.s.GetPlan, r.mcp.ID, r.mcp)
}

func testAIDeleteWorkspaceCascade(t *testing.T, f *fixture) {
	owner, o := f.acme()
	w, keep := f.workspace(o, "prod"), f.workspace(o, "dev")
	p := f.project(w, "shop", "")
	whole, inProject, other := f.aiRecords(w, owner, ""), f.aiRecords(w, owner, p.ID), f.aiRecords(keep, owner, "")
	ok(t, f.s.DeleteWorkspace(f.ctx, w.ID))
	whole.gone(t, f)
	inProject.gone(t, f)
	other.kept(t, f)
}

func testAIDeleteProjectCascade(t *testing.T, f *fixture) {
	owner, o := f.acme()
	w := f.workspace(o, "prod")
	p, keep := f.project(w, "shop", ""), f.project(w, "blog", "")
	inProject, whole, other := f.aiRecords(w, owner, p.ID), f.aiRecords(w, owner, ""), f.aiRecords(w, owner, keep.ID)
	ok(t, f.s.DeleteProject(f.ctx, p.ID))
	inProject.gone(t, f)
	whole.kept(t, f)
	other.kept(t, f)
}

func testAIDeleteOrganizationCascade(t *testing.T, f *fixture) {
	owner, o, keep := f.twoOrgs()
	r := f.aiRecords(f.workspace(o, "prod"), owner, "")
	other := f.aiRecords(f.workspace(keep, "prod"), owner, "")
	ok(t, f.s.DeleteOrganization(f.ctx, o.ID))
	r.gone(t, f)
	other.kept(t, f)
}

// testAIDeleteUserCascade deletes a user at the database (the store has
// no DeleteUser): their chats, messages and plans go, others' stay.
func testAIDeleteUserCascade(t *testing.T, f *fixture) {
	dbs, isSQL := f.s.(interface{ DB() *sql.DB })
	if !isSQL {
		t.Skip("backend has no SQL database")
	}
	owner, o := f.acme()
	bob := f.user("bob@example.com")
	f.member(o, bob, store.RoleMember)
	w := f.workspace(o, "prod")
	bobs, owners := f.aiRecords(w, bob, ""), f.aiRecords(w, owner, "")
	// $1 is a positional parameter on both SQLite and PostgreSQL.
	if _, err := dbs.DB().ExecContext(f.ctx, "DELETE FROM users WHERE id = $1", bob.ID); err != nil {
		t.Fatalf("delete user: %v", err)
	}
	bobs.gone(t, f)
	owners.kept(t, f)
}
