package federation

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/config"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/identity"
	"github.com/hexabase/hexabase-ai/internal/seal"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/store/sqlstore"
)

// staleStore plays a store in which users were deleted while their
// federated links remain (or were read just before the deletion).
type staleStore struct {
	Store
	deleted map[string]bool                    // user ids GetUser no longer finds
	phantom map[string]store.FederatedIdentity // subject: a link read once, already gone from the store
	reads   map[string]int                     // subject: GetFederatedIdentity calls
}

func (s *staleStore) GetUser(ctx context.Context, id string) (store.User, error) {
	if s.deleted[id] {
		return store.User{}, store.ErrNotFound
	}
	return s.Store.GetUser(ctx, id)
}

func (s *staleStore) GetFederatedIdentity(ctx context.Context, provider, subject string) (store.FederatedIdentity, error) {
	s.reads[subject]++
	if fi, ok := s.phantom[subject]; ok && s.reads[subject] == 1 {
		return fi, nil
	}
	return s.Store.GetFederatedIdentity(ctx, provider, subject)
}

// TestLinkToDeletedUser: a federated identity whose linked user no longer
// exists is never a 500: a link that is gone by now (the user was deleted
// during the sign-in) is a first sign-in; a link that remains is refused
// with a clear 409.
func TestLinkToDeletedUser(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "hks.db"), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	key := make([]byte, seal.KeySize)
	_, _ = rand.Read(key)
	sealer, err := seal.New(key)
	if err != nil {
		t.Fatal(err)
	}
	id, err := identity.New(identity.Config{Store: st, Sealer: sealer, Logger: log, Now: time.Now, Issuer: "http://127.0.0.1:1", Audience: "hks",
		Argon2: identity.Argon2Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Providers = []config.Provider{{ID: "corp", Issuer: "http://127.0.0.1:1", ClientID: "x", ClientSecret: "y"}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ss := &staleStore{Store: st, deleted: map[string]bool{}, phantom: map[string]store.FederatedIdentity{}, reads: map[string]int{}}
	s, err := New(Config{Store: ss, Identity: id, Sealer: sealer, Logger: log, Now: time.Now, BaseURL: "http://127.0.0.1:1", Providers: cfg.Providers})
	if err != nil {
		t.Fatal(err)
	}
	p := s.provider["corp"]

	t.Run("link gone by now: first sign-in", func(t *testing.T) {
		now := time.Now().UTC()
		ss.phantom["sub-gone"] = store.FederatedIdentity{Provider: "corp", Subject: "sub-gone", UserID: "deleted-user", CreatedAt: now, LastLoginAt: now}
		ss.deleted["deleted-user"] = true
		u, err := s.link(ctx, p, external{Subject: "sub-gone", Email: "gone@example.com", EmailVerified: true})
		if err != nil || u.ID == "" || u.ID == "deleted-user" || u.Email != "gone@example.com" {
			t.Fatalf("link = %+v, %v; want a new user", u, err)
		}
		fi, err := st.GetFederatedIdentity(ctx, "corp", "sub-gone")
		if err != nil || fi.UserID != u.ID {
			t.Fatalf("new link %+v, %v", fi, err)
		}
	})

	t.Run("link remains: 409", func(t *testing.T) {
		u, err := id.CreateFederatedUser(ctx, "stale@example.com", store.FederatedIdentity{Provider: "corp", Subject: "sub-stale",
			Email: "stale@example.com", CreatedAt: time.Now().UTC(), LastLoginAt: time.Now().UTC()})
		if err != nil {
			t.Fatal(err)
		}
		ss.deleted[u.ID] = true
		_, err = s.link(ctx, p, external{Subject: "sub-stale", Email: "stale@example.com", EmailVerified: true})
		var he *httpapi.Error
		if !errors.As(err, &he) || he.Status != http.StatusConflict || he.Type != "federation-stale-link" || !errors.Is(err, errStaleLink) {
			t.Fatalf("err = %#v, want a 409 federation-stale-link problem", err)
		}
	})
}
