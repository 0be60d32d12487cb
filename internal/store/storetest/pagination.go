package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/hexabase/hexabase-ai/internal/store" // lister lists one page and returns the keys of its items.
)

type lister func(p store.Page) ([]string, string, error)

func keys[T any](items []T, next string, err error, key func(T) string) ([]string, string, error) {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = key(it)
	}
	return out, next, err
}

// listCases builds n records for every paginated list and returns a lister
// and the expected keys in order for each.
func listCases(f *fixture, n int) map[string]struct {
	list lister
	want []string
} {
	t := f.t
	owner, o := f.acme()
	w := f.workspace(o, "ws-0")
	g := f.group(w, "g-0", "")
	cases := map[string]struct {
		list lister
		want []string
	}{}
	var orgIDs, memberIDs, wsIDs, wsMemberIDs, projectIDs, groupIDs, groupMemberIDs, bindingIDs, invIDs, taskIDs []string
	orgIDs = append(orgIDs, o.ID)
	memberIDs = append(memberIDs, owner.ID)
	wsIDs = append(wsIDs, w.ID)
	groupIDs = append(groupIDs, g.ID)
	for i := range n {
		u := f.user(fmt.Sprintf("user-%d@example.com", i))
		memberIDs = append(memberIDs, u.ID)
		f.member(o, u, store.RoleMember)
		f.wsMember(w, u)
		wsMemberIDs = append(wsMemberIDs, u.ID)
		f.groupMember(g, u)
		groupMemberIDs = append(groupMemberIDs, u.ID)
		if i > 0 {
			orgIDs = append(orgIDs, f.org(owner, fmt.Sprintf("org-%d", i)).ID)
			wsIDs = append(wsIDs, f.workspace(o, fmt.Sprintf("ws-%d", i)).ID)
			groupIDs = append(groupIDs, f.group(w, fmt.Sprintf("g-%d", i), "").ID)
		}
		projectIDs = append(projectIDs, f.project(w, fmt.Sprintf("p-%d", i), "").ID)
		bindingIDs = append(bindingIDs, f.binding(g, store.RoleDeveloper, projectIDs[i]).ID)
		at := f.tick()
		inv := store.Invitation{ID: store.NewID(), OrgID: o.ID, Email: fmt.Sprintf("inv-%d@example.com", i), Role: store.RoleMember,
			TokenHash: fmt.Sprint("tok-", i), CreatedAt: at, ExpiresAt: at}
		ok(t, f.s.CreateInvitation(f.ctx, inv))
		invIDs = append(invIDs, inv.ID)
		taskIDs = append(taskIDs, f.task(o.ID, store.TaskQueued).ID)
	}
	sorted := func(ids []string) []string { ids = slices.Clone(ids); slices.Sort(ids); return ids }
	ctx, s := f.ctx, f.s
	cases["ListUserOrganizations"] = struct {
		list lister
		want []string
	}{func(p store.Page) ([]string, string, error) {
		v, c, err := s.ListUserOrganizations(ctx, owner.ID, p)
		return keys(v, c, err, func(x store.Organization) string { return x.ID })
	}, sorted(orgIDs)}
	cases["ListOrgMembers"] = struct {
		list lister
		want []string
	}{func(p store.Page) ([]string, string, error) {
		v, c, err := s.ListOrgMembers(ctx, o.ID, p)
		return keys(v, c, err, func(x store.OrgMember) string { return x.UserID })
	}, sorted(memberIDs)}
	cases["ListInvitations"] = struct {
		list lister
		want []string
	}{func(p store.Page) ([]string, string, error) {
		v, c, err := s.ListInvitations(ctx, o.ID, p)
		return keys(v, c, err, func(x store.Invitation) string { return x.ID })
	}, sorted(invIDs)}
	cases["ListWorkspaces"] = struct {
		list lister
		want []string
	}{func(p store.Page) ([]string, string, error) {
		v, c, err := s.ListWorkspaces(ctx, o.ID, p)
		return keys(v, c, err, func(x store.Workspace) string { return x.ID })
	}, sorted(wsIDs)}
	cases["ListWorkspaceMembers"] = struct {
		list lister
		want []string
	}{func(p store.Page) ([]string, string, error) {
		v, c, err := s.ListWorkspaceMembers(ctx, w.ID, p)
		return keys(v, c, err, func(x store.WorkspaceMember) string { return x.UserID })
	}, sorted(wsMemberIDs)}
	cases["ListProjects"] = struct {
		list lister
		want []string
	}{func(p store.Page) ([]string, string, error) {
		v, c, err := s.ListProjects(ctx, w.ID, p)
		return keys(v, c, err, func(x store.Project) string { return x.ID })
	}, sorted(projectIDs)}
	cases["ListGroups"] = struct {
		list lister
		want []string
	}{func(p store.Page) ([]string, string, error) {
		v, c, err := s.ListGroups(ctx, w.ID, p)
		return keys(v, c, err, func(x store.Group) string { return x.ID })
	}, sorted(groupIDs)}
	cases["ListGroupMembers"] = struct {
		list lister
		want []string
	}{func(p store.Page) ([]string, string, error) {
		v, c, err := s.ListGroupMembers(ctx, g.ID, p)
		return keys(v, c, err, func(x store.GroupMember) string { return x.UserID })
	}, sorted(groupMemberIDs)}
	cases["ListRoleBindings"] = struct {
		list lister
		want []string
	}{func(p store.Page) ([]string, string, error) {
		v, c, err := s.ListRoleBindings(ctx, w.ID, p)
		return keys(v, c, err, func(x store.RoleBinding) string { return x.ID })
	}, sorted(bindingIDs)}
	cases["ListOrgTasks"] = struct {
		list lister
		want []string
	}{func(p store.Page) ([]string, string, error) {
		v, c, err := s.ListOrgTasks(ctx, o.ID, p)
		return keys(v, c, err, func(x store.Task) string { return x.ID })
	}, sorted(taskIDs)}
	return cases
}

func testPagination(t *testing.T, f *fixture) {
	cases := listCases(f, 7)
	for _, name := range slices.Sorted(mapKeys(cases)) {
		tc := cases[name]
		t.Run(name, func(t *testing.T) {
			for _, limit := range []int{1, 3, len(tc.want), len(tc.want) + 1} {
				var got []string
				var pages int
				cursor := ""
				for {
					page, next, err := tc.list(store.Page{After: cursor, Limit: limit})
					ok(t, err)
					pages++
					if len(page) > limit {
						t.Fatalf("limit %d: page has %d items", limit, len(page))
					}
					got = append(got, page...)
					if next == "" {
						break
					}
					if len(page) != limit {
						t.Fatalf("limit %d: short page of %d with a next cursor", limit, len(page))
					}
					if pages > len(tc.want)+1 {
						t.Fatalf("limit %d: pagination does not end", limit)
					}
					cursor = next
				}
				equal(t, got, tc.want)
				wantPages := (len(tc.want) + limit - 1) / limit
				if pages != wantPages {
					t.Fatalf("limit %d: %d pages, want %d", limit, pages, wantPages)
				}
			}
			// No limit: default page holds them all.
			all, next, err := tc.list(store.Page{})
			ok(t, err)
			equal(t, all, tc.want)
			equal(t, next, "")
		})
	}
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func testPaginationLimits(t *testing.T, f *fixture) {
	_, o := f.acme()
	total := store.MaxLimit + 1
	for range total {
		f.task(o.ID, store.TaskQueued)
	}
	for _, tc := range []struct {
		name     string
		limit    int
		want     int
		wantNext bool
	}{
		{"zero means default", 0, store.DefaultLimit, true},
		{"negative means default", -5, store.DefaultLimit, true},
		{"capped at max", store.MaxLimit * 10, store.MaxLimit, true},
		{"exactly max", store.MaxLimit, store.MaxLimit, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page, next, err := f.s.ListOrgTasks(f.ctx, o.ID, store.Page{Limit: tc.limit})
			ok(t, err)
			equal(t, len(page), tc.want)
			equal(t, next != "", tc.wantNext)
		})
	}
	page, next, err := f.s.ListOrgTasks(f.ctx, o.ID, store.Page{Limit: store.MaxLimit})
	ok(t, err)
	rest, next2, err := f.s.ListOrgTasks(f.ctx, o.ID, store.Page{After: next, Limit: store.MaxLimit})
	ok(t, err)
	equal(t, len(page)+len(rest), total)
	equal(t, next2, "")
}

func testInvalidCursor(t *testing.T, f *fixture) {
	owner, o := f.acme()
	w := f.workspace(o, "prod")
	g := f.group(w, "g", "")
	for _, cursor := range []string{
		"garbage!",
		"%%%",
		"' OR 1=1 --",
		"YWJj",  // base64 of "abc": decodes, but not a cursor
		"YWJj=", // padded
		store.EncodeCursor("x") + "!",
	} {
		p := store.Page{After: cursor}
		for name, call := range map[string]func() error{
			"ListUserOrganizations": func() error { _, _, err := f.s.ListUserOrganizations(f.ctx, owner.ID, p); return err },
			"ListOrgMembers":        func() error { _, _, err := f.s.ListOrgMembers(f.ctx, o.ID, p); return err },
			"ListInvitations":       func() error { _, _, err := f.s.ListInvitations(f.ctx, o.ID, p); return err },
			"ListWorkspaces":        func() error { _, _, err := f.s.ListWorkspaces(f.ctx, o.ID, p); return err },
			"ListWorkspaceMembers":  func() error { _, _, err := f.s.ListWorkspaceMembers(f.ctx, w.ID, p); return err },
			"ListProjects":          func() error { _, _, err := f.s.ListProjects(f.ctx, w.ID, p); return err },
			"ListGroups":            func() error { _, _, err := f.s.ListGroups(f.ctx, w.ID, p); return err },
			"ListGroupMembers":      func() error { _, _, err := f.s.ListGroupMembers(f.ctx, g.ID, p); return err },
			"ListRoleBindings":      func() error { _, _, err := f.s.ListRoleBindings(f.ctx, w.ID, p); return err },
			"ListOrgTasks":          func() error { _, _, err := f.s.ListOrgTasks(f.ctx, o.ID, p); return err },
		} {
			if err := call(); !errors.Is(err, store.ErrInvalidCursor) {
				t.Errorf("%s(After: %q): error = %v, want ErrInvalidCursor", name, cursor, err)
			}
		}
	}
}
