package issuer

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/authz"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// BenchmarkWorkspaceToken measures issuing one workspace token for an org
// owner on SQLite (store reads, groups mapping, RS256 signature).
func BenchmarkWorkspaceToken(b *testing.B) {
	ctx := context.Background()
	e := newEnvTB(b)
	now := time.Now().UTC().Truncate(time.Microsecond)
	u, err := e.id.CreateUser(ctx, "bench@example.com", "correct horse battery", false)
	if err != nil {
		b.Fatal(err)
	}
	org, ws := store.NewID(), store.NewID()
	if err := e.st.CreateOrganization(ctx, store.Organization{ID: org, Name: "B", Slug: "b", CreatedAt: now, UpdatedAt: now},
		store.OrgMember{OrgID: org, UserID: u.ID, Role: store.RoleOwner, CreatedAt: now}); err != nil {
		b.Fatal(err)
	}
	if err := e.st.CreateWorkspace(ctx, store.Workspace{ID: ws, OrgID: org, Name: "w", Plan: store.PlanShared, Status: store.WorkspaceRunning, CreatedBy: u.ID, CreatedAt: now, UpdatedAt: now}); err != nil {
		b.Fatal(err)
	}
	az, _ := authz.New(e.st)
	s, err := New(Config{Identity: e.id, Access: az, Store: e.st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now})
	if err != nil {
		b.Fatal(err)
	}
	sub := Subject{UserID: u.ID, Email: u.Email}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.WorkspaceToken(ctx, sub, org, ws); err != nil {
			b.Fatal(err)
		}
	}
}
