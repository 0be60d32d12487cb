package storetest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/hexabase/hexabase-ai/internal/store"
)

func testFederation(t *testing.T, f *fixture) {
	t.Helper()
	alice := f.user("alice@example.com")
	link := store.FederatedIdentity{Provider: "corp", Subject: "sub-1", UserID: alice.ID, Email: "alice@corp.example", CreatedAt: f.tick()}
	link.LastLoginAt = link.CreatedAt
	ok(t, f.s.CreateFederatedIdentity(f.ctx, link))
	got, err := f.s.GetFederatedIdentity(f.ctx, "corp", "sub-1")
	ok(t, err)
	equal(t, got, link)

	t.Run("not found", func(t *testing.T) {
		for _, k := range [][2]string{{"corp", "sub-2"}, {"other", "sub-1"}, {"CORP", "sub-1"}, {"corp", "SUB-1"}} {
			_, err := f.s.GetFederatedIdentity(f.ctx, k[0], k[1])
			wantErr(t, err, store.ErrNotFound)
		}
		wantErr(t, f.s.TouchFederatedIdentity(f.ctx, "corp", "nobody", "x@example.com", f.now), store.ErrNotFound)
	})

	t.Run("conflicts", func(t *testing.T) {
		bob := f.user("bob@example.com")
		dup := link
		dup.UserID = bob.ID
		wantErr(t, f.s.CreateFederatedIdentity(f.ctx, dup), store.ErrConflict)
		orphan := store.FederatedIdentity{Provider: "corp", Subject: "sub-9", UserID: store.NewID(), CreatedAt: f.now, LastLoginAt: f.now}
		wantErr(t, f.s.CreateFederatedIdentity(f.ctx, orphan), store.ErrConflict)
		// The same subject at another provider is another identity.
		other := store.FederatedIdentity{Provider: "github", Subject: "sub-1", UserID: bob.ID, CreatedAt: f.now, LastLoginAt: f.now}
		ok(t, f.s.CreateFederatedIdentity(f.ctx, other))
	})

	t.Run("touch", func(t *testing.T) {
		later := f.tick()
		ok(t, f.s.TouchFederatedIdentity(f.ctx, "corp", "sub-1", "alice@new.example", later))
		got, err := f.s.GetFederatedIdentity(f.ctx, "corp", "sub-1")
		ok(t, err)
		want := link
		want.Email, want.LastLoginAt = "alice@new.example", later
		equal(t, got, want)
	})

	t.Run("list", func(t *testing.T) {
		carol := f.user("carol@example.com")
		xs, err := f.s.ListUserFederatedIdentities(f.ctx, carol.ID)
		ok(t, err)
		if xs == nil || len(xs) != 0 {
			t.Fatalf("links of a user without any = %#v, want empty non-nil", xs)
		}
		for _, k := range [][2]string{{"zeta", "1"}, {"alpha", "2"}, {"alpha", "1"}} {
			ok(t, f.s.CreateFederatedIdentity(f.ctx, store.FederatedIdentity{Provider: k[0], Subject: k[1], UserID: carol.ID, CreatedAt: f.now, LastLoginAt: f.now}))
		}
		xs, err = f.s.ListUserFederatedIdentities(f.ctx, carol.ID)
		ok(t, err)
		var keys []string
		for _, x := range xs {
			keys = append(keys, x.Provider+"/"+x.Subject)
		}
		equal(t, keys, []string{"alpha/1", "alpha/2", "zeta/1"})
	})

	t.Run("create user with identity", func(t *testing.T) {
		u := store.User{ID: store.NewID(), Email: "Dora@Example.com", CreatedAt: f.tick()}
		u.UpdatedAt = u.CreatedAt
		fi := store.FederatedIdentity{Provider: "corp", Subject: "dora", Email: "dora@example.com", CreatedAt: u.CreatedAt, LastLoginAt: u.CreatedAt}
		ok(t, f.s.CreateUserWithFederatedIdentity(f.ctx, u, fi))
		gotU, err := f.s.GetUser(f.ctx, u.ID)
		ok(t, err)
		equal(t, gotU, u)
		if gotU.PasswordHash != "" {
			t.Fatalf("a federated user got a password hash %q", gotU.PasswordHash)
		}
		gotFI, err := f.s.GetFederatedIdentity(f.ctx, "corp", "dora")
		ok(t, err)
		fi.UserID = u.ID
		equal(t, gotFI, fi)

		// Atomic: a clash on either insert leaves nothing behind.
		clashEmail := store.User{ID: store.NewID(), Email: "dora@EXAMPLE.com", CreatedAt: f.now, UpdatedAt: f.now}
		wantErr(t, f.s.CreateUserWithFederatedIdentity(f.ctx, clashEmail, store.FederatedIdentity{Provider: "corp", Subject: "dora-2", CreatedAt: f.now, LastLoginAt: f.now}), store.ErrConflict)
		_, err = f.s.GetFederatedIdentity(f.ctx, "corp", "dora-2")
		wantErr(t, err, store.ErrNotFound)

		clashLink := store.User{ID: store.NewID(), Email: "eve@example.com", CreatedAt: f.now, UpdatedAt: f.now}
		wantErr(t, f.s.CreateUserWithFederatedIdentity(f.ctx, clashLink, fi), store.ErrConflict)
		_, err = f.s.GetUser(f.ctx, clashLink.ID)
		wantErr(t, err, store.ErrNotFound)
		_, err = f.s.GetUserByEmail(f.ctx, "eve@example.com")
		wantErr(t, err, store.ErrNotFound)
	})

	t.Run("concurrent first sign-ins", func(t *testing.T) {
		// Two callbacks for the same new identity race: exactly one
		// creates the user.
		const n = 4
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				u := store.User{ID: store.NewID(), Email: fmt.Sprintf("race-%d@example.com", i), CreatedAt: f.now, UpdatedAt: f.now}
				errs[i] = f.s.CreateUserWithFederatedIdentity(f.ctx, u, store.FederatedIdentity{Provider: "corp", Subject: "racer", CreatedAt: f.now, LastLoginAt: f.now})
			})
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			if err == nil {
				won++
			} else {
				wantErr(t, err, store.ErrConflict)
			}
		}
		if won != 1 {
			t.Fatalf("%d of %d racing creations succeeded, want 1", won, n)
		}
	})

	t.Run("injection", func(t *testing.T) {
		gone := f.user("nasty@example.com")
		for _, v := range nasty {
			fi := store.FederatedIdentity{Provider: v, Subject: v, UserID: gone.ID, Email: v, CreatedAt: f.now, LastLoginAt: f.now}
			ok(t, f.s.CreateFederatedIdentity(f.ctx, fi))
			got, err := f.s.GetFederatedIdentity(f.ctx, v, v)
			ok(t, err)
			equal(t, got, fi)
		}
	})
}
