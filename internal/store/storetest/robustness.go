package storetest

import (
	"fmt"
	"testing"

	"github.com/hexabase/hexabase-ai/internal/store" // testNotFound checks every Get/Update/Delete of a missing id.
)

func testNotFound(t *testing.T, f *fixture) {
	id := store.NewID()
	ctx, s, now := f.ctx, f.s, f.now
	for name, call := range map[string]func() error{
		"GetUser":            func() error { _, err := s.GetUser(ctx, id); return err },
		"GetUserByEmail":     func() error { _, err := s.GetUserByEmail(ctx, "nobody@example.com"); return err },
		"UpdateUserPassword": func() error { return s.UpdateUserPassword(ctx, id, "h", now) },
		"GetSession":         func() error { _, err := s.GetSession(ctx, id); return err },
		"RevokeSession":      func() error { return s.RevokeSession(ctx, id, now) },
		"GetRefreshToken":    func() error { _, err := s.GetRefreshToken(ctx, id); return err },
		"RotateRefreshToken": func() error { return s.RotateRefreshToken(ctx, id, store.RefreshToken{TokenHash: "n"}, now) },
		"GetSetting":         func() error { _, err := s.GetSetting(ctx, id); return err },
		"DeleteSettingIf":    func() error { return s.DeleteSettingIf(ctx, id, "v") },
		"GetOrganization":    func() error { _, err := s.GetOrganization(ctx, id); return err },
		"UpdateOrganization": func() error {
			_, err := s.UpdateOrganization(ctx, id, put(store.Organization{ID: id, Slug: id}))
			return err
		},
		"DeleteOrganization":       func() error { return s.DeleteOrganization(ctx, id) },
		"GetOrgMember":             func() error { _, err := s.GetOrgMember(ctx, id, id); return err },
		"UpdateOrgMemberRole":      func() error { return s.UpdateOrgMemberRole(ctx, id, id, store.RoleAdmin) },
		"RemoveOrgMember":          func() error { return s.RemoveOrgMember(ctx, id, id) },
		"GetInvitation":            func() error { _, err := s.GetInvitation(ctx, id); return err },
		"GetInvitationByTokenHash": func() error { _, err := s.GetInvitationByTokenHash(ctx, id); return err },
		"DeleteInvitation":         func() error { return s.DeleteInvitation(ctx, id) },
		"AcceptInvitation":         func() error { return s.AcceptInvitation(ctx, id, store.OrgMember{}, now) },
		"GetWorkspace":             func() error { _, err := s.GetWorkspace(ctx, id); return err },
		"UpdateWorkspace":          func() error { _, err := s.UpdateWorkspace(ctx, id, put(store.Workspace{ID: id})); return err },
		"SetWorkspaceStatus":       func() error { return s.SetWorkspaceStatus(ctx, id, nil, "running", "", now) },
		"SetWorkspaceSleep":        func() error { return s.SetWorkspaceSleep(ctx, id, &now, nil) },
		"DeleteWorkspace":          func() error { return s.DeleteWorkspace(ctx, id) },
		"GetWorkspaceMember":       func() error { _, err := s.GetWorkspaceMember(ctx, id, id); return err },
		"RemoveWorkspaceMember":    func() error { return s.RemoveWorkspaceMember(ctx, id, id) },
		"GetProject":               func() error { _, err := s.GetProject(ctx, id); return err },
		"UpdateProject":            func() error { _, err := s.UpdateProject(ctx, id, put(store.Project{ID: id})); return err },
		"DeleteProject":            func() error { return s.DeleteProject(ctx, id) },
		"GetGroup":                 func() error { _, err := s.GetGroup(ctx, id); return err },
		"UpdateGroup":              func() error { _, err := s.UpdateGroup(ctx, id, put(store.Group{ID: id})); return err },
		"DeleteGroup":              func() error { return s.DeleteGroup(ctx, id) },
		"RemoveGroupMember":        func() error { return s.RemoveGroupMember(ctx, id, id) },
		"GetRoleBinding":           func() error { _, err := s.GetRoleBinding(ctx, id); return err },
		"DeleteRoleBinding":        func() error { return s.DeleteRoleBinding(ctx, id) },
		"GetTask":                  func() error { _, err := s.GetTask(ctx, id); return err },
		"UpdateTask":               func() error { return s.UpdateTask(ctx, store.Task{ID: id}) },
		"GetChat":                  func() error { _, err := s.GetChat(ctx, id); return err },
		"DeleteChat":               func() error { return s.DeleteChat(ctx, id) },
		"AppendMessages": func() error {
			_, err := s.AppendMessages(ctx, id, now, store.ChatMessage{Role: store.MessageUser})
			return err
		},
		"GetPlan":    func() error { _, err := s.GetPlan(ctx, id); return err },
		"DecidePlan": func() error { return s.DecidePlan(ctx, id, store.PlanPending, store.PlanConfirmed, now) },
		"FinishPlan": func() error { return s.FinishPlan(ctx, id, store.PlanDone, "") },
	} {
		t.Run(name, func(t *testing.T) {
			wantErr(t, call(), store.ErrNotFound)
		})
	}
}

// nasty are strings that break naively built SQL or LIKE patterns.
var nasty = []string{
	`O'Brien`,
	`"quoted"`,
	`a; DROP TABLE users; --`,
	`' OR '1'='1`,
	`-- comment`,
	`100%`,
	`under_score`,
	`back\slash`,
	`?$1:name@p1`,
	`日本語 ünïcödé 🚀`,
	"tab\tnew\nline",
}

func testInjection(t *testing.T, f *fixture) {
	_, o := f.acme()
	w := f.workspace(o, "prod")
	for i, v := range nasty {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			u := f.user(v + "@example.com")
			got, err := f.s.GetUserByEmail(f.ctx, v+"@example.com")
			ok(t, err)
			equal(t, got, u)

			org := store.Organization{ID: store.NewID(), Name: v, Slug: fmt.Sprint(v, "-", i), BillingEmail: v, CreatedAt: f.now, UpdatedAt: f.now, Version: 1}
			ok(t, f.s.CreateOrganization(f.ctx, org, store.OrgMember{UserID: u.ID, CreatedAt: f.now}))
			gotOrg, err := f.s.GetOrganization(f.ctx, org.ID)
			ok(t, err)
			equal(t, gotOrg, org)

			ws := f.workspace(o, v)
			gotWs, err := f.s.GetWorkspace(f.ctx, ws.ID)
			ok(t, err)
			equal(t, gotWs.Name, v)

			g := f.group(w, v, "")
			gotG, err := f.s.GetGroup(f.ctx, g.ID)
			ok(t, err)
			equal(t, gotG, g)

			p := store.Project{ID: store.NewID(), WorkspaceID: w.ID, Name: v, Quota: store.Quota{CPU: v, Memory: v, Storage: v}, PodSecurity: v, CreatedAt: f.now, UpdatedAt: f.now, Version: 1}
			ok(t, f.s.CreateProject(f.ctx, p))
			gotP, err := f.s.GetProject(f.ctx, p.ID)
			ok(t, err)
			equal(t, gotP, p)

			ok(t, f.s.PutSetting(f.ctx, v, v))
			val, err := f.s.GetSetting(f.ctx, v)
			ok(t, err)
			equal(t, val, v)

			// The assistant's text fields and the ledger's.
			c := store.Chat{ID: store.NewID(), OrgID: o.ID, WorkspaceID: w.ID, UserID: u.ID, Title: v, CreatedAt: f.now, UpdatedAt: f.now}
			ok(t, f.s.CreateChat(f.ctx, c))
			stored(t, f, f.s.GetChat, c.ID, c)
			m := store.ChatMessage{ID: store.NewID(), ChatID: c.ID, Seq: 1, Role: v, Content: v, ToolCalls: v, ToolCallID: v, ToolName: v, ToolArgs: v, PlanID: v, Model: v, CreatedAt: f.now}
			_, err = f.s.AppendMessages(f.ctx, c.ID, f.now, m)
			ok(t, err)
			ms, err := f.s.ListMessages(f.ctx, c.ID)
			ok(t, err)
			equal(t, ms, []store.ChatMessage{m})
			pl := store.Plan{ID: store.NewID(), OrgID: o.ID, WorkspaceID: w.ID, UserID: u.ID, ChatID: c.ID, Tool: v, Args: v, Summary: v,
				Target: v, Method: v, Path: v, Body: v, Hash: v, GuardPath: v, GuardResourceVersion: v, Before: v, After: v, Diff: v, Status: v, Result: v,
				CreatedAt: f.now, ExpiresAt: f.now}
			ok(t, f.s.CreatePlan(f.ctx, pl))
			stored(t, f, f.s.GetPlan, pl.ID, pl)
			ok(t, f.s.DecidePlan(f.ctx, pl.ID, v, store.PlanConfirmed, f.now))
			ok(t, f.s.FinishPlan(f.ctx, pl.ID, store.PlanDone, v))
			ur := store.UsageRecord{ID: store.NewID(), OrgID: v, WorkspaceID: v, UserID: v, Meter: v, Subject: v, Quantity: 1, RecordedAt: f.now}
			ok(t, f.s.RecordUsage(f.ctx, ur))
			sum, err := f.s.SumUsage(f.ctx, store.UsageFilter{OrgID: v, WorkspaceID: v, UserID: v, Meters: []string{v, "' OR '1'='1"}})
			ok(t, err)
			equal(t, sum, []store.UsageTotal{{Meter: v, WorkspaceID: v, UserID: v, Subject: v, Quantity: 1}})

			// Injected text used as an id or a key matches nothing.
			_, err = f.s.GetChat(f.ctx, v)
			wantErr(t, err, store.ErrNotFound)
			wantErr(t, f.s.DeleteChat(f.ctx, v), store.ErrNotFound)
			wantErr(t, f.s.DecidePlan(f.ctx, v, v, v, f.now), store.ErrNotFound)
			chats, _, err := f.s.ListChats(f.ctx, v, v, store.Page{})
			ok(t, err)
			equal(t, chats, []store.Chat{})
			_, err = f.s.GetUser(f.ctx, v)
			wantErr(t, err, store.ErrNotFound)
			wantErr(t, f.s.DeleteOrganization(f.ctx, v), store.ErrNotFound)
			wantErr(t, f.s.DeleteSettingIf(f.ctx, v, "other"), store.ErrNotFound)
		})
	}
	// Wildcards match literally only.
	_, err := f.s.GetUserByEmail(f.ctx, "%@example.com")
	wantErr(t, err, store.ErrNotFound)
	_, err = f.s.GetUserByEmail(f.ctx, "under-score@example.com")
	wantErr(t, err, store.ErrNotFound)
	_, err = f.s.GetSetting(f.ctx, "%")
	wantErr(t, err, store.ErrNotFound)

	// Everything is still there and intact.
	n, err := f.s.CountUsers(f.ctx)
	ok(t, err)
	equal(t, n, len(nasty)+1)
	ws, _, err := f.s.ListWorkspaces(f.ctx, o.ID, store.Page{})
	ok(t, err)
	equal(t, len(ws), len(nasty)+1)
	sum, err := f.s.SumUsage(f.ctx, store.UsageFilter{})
	ok(t, err)
	equal(t, len(sum), len(nasty))
}

func testPing(t *testing.T, f *fixture) {
	ok(t, f.s.Ping(f.ctx))
}
