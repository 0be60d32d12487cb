package aiops

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/aiops/llm"
	"github.com/hexabase/hexabase-ai/internal/aiops/tools"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/store/sqlstore"
	"github.com/hexabase/hexabase-ai/internal/tenancy"
	"github.com/hexabase/hexabase-ai/internal/testutil/scriptedmodel"
)

type noAudit struct{}

func (noAudit) Append(context.Context, store.AuditRecord) {}

// chatWorld is a real SQLite store with an organization, a workspace, a
// user and a chat, and a Service over it (no cluster: the turns here call
// no tool).
func chatWorld(t *testing.T) (*Service, *sqlstore.Store, store.Chat, *tools.Target) {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "hks.db"), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Now().UTC().Truncate(time.Microsecond)
	u := store.User{ID: store.NewID(), Email: "ann@example.com", CreatedAt: now, UpdatedAt: now}
	o := store.Organization{ID: store.NewID(), Name: "Acme", Slug: "acme", CreatedAt: now, UpdatedAt: now}
	ws := store.Workspace{ID: store.NewID(), OrgID: o.ID, Name: "prod", Plan: store.PlanShared, Status: store.WorkspaceRunning, CreatedBy: u.ID, CreatedAt: now, UpdatedAt: now}
	chat := store.Chat{ID: store.NewID(), OrgID: o.ID, WorkspaceID: ws.ID, UserID: u.ID, CreatedAt: now, UpdatedAt: now}
	for _, err := range []error{st.CreateUser(ctx, u), st.CreateOrganization(ctx, o, store.OrgMember{OrgID: o.ID, UserID: u.ID, Role: store.RoleOwner, CreatedAt: now}),
		st.CreateWorkspace(ctx, ws), st.CreateChat(ctx, chat)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	reg, err := tools.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	s := &Service{cfg: Config{Store: st, Tools: reg, Audit: noAudit{}, Logger: log, Now: time.Now, MaxToolCalls: 8, TurnTimeout: time.Minute, ToolOutputBytes: 16 << 10},
		turns: map[string]bool{}, running: map[string]int{}}
	tgt := &tools.Target{Scope: tenancy.WorkspaceScope{Org: o, Workspace: ws}}
	tgt.Scope.Principal.UserID = u.ID
	return s, st, chat, tgt
}

type cancelOnDelta struct {
	cancel func()
	seen   chan struct{}
}

func (c *cancelOnDelta) delta(string) {
	select {
	case <-c.seen:
	default:
		close(c.seen)
		c.cancel()
	}
}
func (c *cancelOnDelta) event(string, any) {}

// TestUsageIsMeteredWhenTheClientLeaves: a client that reads the streamed
// answer and goes away before its end still has the model's tokens
// metered (the review found the usage, sent in the last chunk, lost, so
// the budget could be bypassed).
func TestUsageIsMeteredWhenTheClientLeaves(t *testing.T) {
	s, st, chat, tgt := chatWorld(t)
	gate := make(chan struct{})
	model := scriptedmodel.Start(t, scriptedmodel.Turn{Content: "a long answer in many words that streams for a while", Gate: gate,
		Usage: &scriptedmodel.Usage{PromptTokens: 50000, CompletionTokens: 700, TotalTokens: 50700}})
	m, err := llm.New(llm.Provider{Name: "scripted", BaseURL: model.URL(), Model: "scripted-1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := &cancelOnDelta{cancel: cancel, seen: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = s.Turn(ctx, tgt, chat, "hello", m, out)
	}()
	<-out.seen // the client saw the first words and left
	close(gate)
	<-done
	ts, err := st.SumUsage(context.Background(), store.UsageFilter{OrgID: chat.OrgID})
	if err != nil {
		t.Fatal(err)
	}
	var prompt int64
	for _, u := range ts {
		if u.Meter == store.MeterAIPromptTokens {
			prompt += u.Quantity
		}
	}
	if prompt != 50000 {
		t.Fatalf("prompt tokens metered: %d, want 50000 (%+v)", prompt, ts)
	}
}

// TestTurnsRunAtMostSoManyAtOnce: a user's third turn at once, in another
// chat, is refused (the review found concurrent turns all passing the
// budget check).
func TestTurnsRunAtMostSoManyAtOnce(t *testing.T) {
	s, _, chat, _ := chatWorld(t)
	var ends []func()
	for i := 0; i < maxTurnsPerUser; i++ {
		c := chat
		c.ID = store.NewID()
		end, err := s.begin(c)
		if err != nil {
			t.Fatal(err)
		}
		ends = append(ends, end)
	}
	c := chat
	c.ID = store.NewID()
	if _, err := s.begin(c); err == nil {
		t.Fatal("a third turn at once was let in")
	}
	for _, end := range ends {
		end()
	}
	end, err := s.begin(c)
	if err != nil {
		t.Fatal(err)
	}
	end()
	if len(s.running) != 0 {
		t.Fatalf("running: %v", s.running)
	}
}

func TestUsageEstimateWhenTheProviderSendsNone(t *testing.T) {
	req := llm.Request{Messages: []llm.Message{{Role: "user", Content: "0123456789abcdef"}}}
	got := usageOrEstimate(req, llm.Response{Content: "01234567"})
	if got.PromptTokens != 5 || got.CompletionTokens != 3 {
		t.Fatalf("%+v", got)
	}
	if got := usageOrEstimate(req, llm.Response{Usage: llm.Usage{PromptTokens: 9, CompletionTokens: 1}}); got.PromptTokens != 9 {
		t.Fatalf("%+v", got)
	}
}
