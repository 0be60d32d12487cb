package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/store"
)

// testLastOwner: an organization always keeps an owner, also when two
// owners demote each other at the same moment.
func testLastOwner(t *testing.T, f *fixture) {
	a, b, c := f.user("a@example.com"), f.user("b@example.com"), f.user("c@example.com")
	o := f.org(a, "owners")
	f.member(o, c, store.RoleMember)
	if err := f.s.UpdateOrgMemberRole(f.ctx, o.ID, a.ID, store.RoleAdmin); !errors.Is(err, store.ErrLastOwner) {
		t.Fatalf("demoting the only owner: %v, want ErrLastOwner", err)
	}
	if err := f.s.RemoveOrgMember(f.ctx, o.ID, a.ID); !errors.Is(err, store.ErrLastOwner) {
		t.Fatalf("removing the only owner: %v, want ErrLastOwner", err)
	}
	ok(t, f.s.UpdateOrgMemberRole(f.ctx, o.ID, c.ID, store.RoleAdmin)) // non-owners change freely
	ok(t, f.s.RemoveOrgMember(f.ctx, o.ID, c.ID))

	for i := range 6 {
		// Two owners demote (or remove) each other at once: exactly one wins.
		o := f.org(a, fmt.Sprintf("race-%d", i))
		f.member(o, b, store.RoleOwner)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for j, u := range []store.User{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if i%2 == 0 {
					errs[j] = f.s.UpdateOrgMemberRole(f.ctx, o.ID, u.ID, store.RoleMember)
				} else {
					errs[j] = f.s.RemoveOrgMember(f.ctx, o.ID, u.ID)
				}
			}()
		}
		wg.Wait()
		if n, err := f.s.CountOrgMembersWithRole(f.ctx, o.ID, store.RoleOwner); err != nil || n != 1 {
			t.Fatalf("round %d: %d owners (%v), errors %v", i, n, err, errs)
		}
		lost := 0
		for _, err := range errs {
			if errors.Is(err, store.ErrLastOwner) {
				lost++
			} else if err != nil {
				t.Fatalf("round %d: %v", i, err)
			}
		}
		if lost != 1 {
			t.Fatalf("round %d: %d refusals, want exactly 1", i, lost)
		}
	}
}

// testReinviteAfterExpiry: an expired, unaccepted invitation does not
// block a new one for the same address; a live one does.
func testReinviteAfterExpiry(t *testing.T, f *fixture) {
	a := f.user("owner@example.com")
	o := f.org(a, "reinvite")
	t0 := f.tick()
	inv := func(id string, created time.Time) store.Invitation {
		return store.Invitation{ID: id, OrgID: o.ID, Email: "New@Example.com", Role: store.RoleMember, TokenHash: "h" + id,
			InvitedBy: a.ID, CreatedAt: created, ExpiresAt: created.Add(time.Hour)}
	}
	first := inv(store.NewID(), t0)
	ok(t, f.s.CreateInvitation(f.ctx, first))
	if err := f.s.CreateInvitation(f.ctx, inv(store.NewID(), t0.Add(30*time.Minute))); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second live invitation: %v, want ErrConflict", err)
	}
	again := inv(store.NewID(), t0.Add(2*time.Hour))
	again.Email = "new@example.com"
	ok(t, f.s.CreateInvitation(f.ctx, again))
	if _, err := f.s.GetInvitation(f.ctx, first.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the expired invitation is still there: %v", err)
	}
}
