package identity

import (
	"context"
	"errors"
	"testing"

	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/testutil"
)

func TestCreateFederatedUser(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	link := store.FederatedIdentity{Provider: "corp", Subject: "s-1", Email: "fed@example.com"}
	u, err := e.svc.CreateFederatedUser(ctx, "  fed@example.com ", link)
	if err != nil {
		t.Fatal(err)
	}
	if u.Email != "fed@example.com" || u.PasswordHash != "" || u.PlatformAdmin || u.CreatedAt != e.clock.Now().UTC() {
		t.Fatalf("user %+v", u)
	}
	fi, err := e.st.GetFederatedIdentity(ctx, "corp", "s-1")
	if err != nil || fi.UserID != u.ID || fi.CreatedAt.IsZero() || fi.LastLoginAt.IsZero() {
		t.Fatalf("link %+v %v", fi, err)
	}
	// No local password: no password sign-in, whatever is tried.
	for _, pw := range []string{"", "hks-dummy-password-for-unknown-users"} {
		t.Run(testutil.CaseName(pw), func(t *testing.T) {
			if _, err := e.svc.Login(ctx, "fed@example.com", pw, testMeta); !errors.Is(err, ErrInvalidCredentials) {
				t.Fatalf("password sign-in of a federated user with %q: %v", pw, err)
			}
		})
	}
	// But SignIn, after a federated first factor, starts a session.
	res, err := e.svc.SignIn(ctx, u, testMeta, "oidc:corp")
	if err != nil || res.Tokens == nil {
		t.Fatalf("SignIn: %+v %v", res, err)
	}

	var fe *FieldError
	if _, err := e.svc.CreateFederatedUser(ctx, "not an email", store.FederatedIdentity{Provider: "corp", Subject: "s-2"}); !errors.As(err, &fe) || fe.Field != "email" {
		t.Fatalf("bad email: %v", err)
	}
	if _, err := e.svc.CreateFederatedUser(ctx, "FED@example.com", store.FederatedIdentity{Provider: "corp", Subject: "s-3"}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate email: %v", err)
	}
	if _, err := e.svc.CreateFederatedUser(ctx, "other@example.com", link); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate identity: %v", err)
	}
	if _, err := e.st.GetUserByEmail(ctx, "other@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a failed creation left a user behind: %v", err)
	}
}
