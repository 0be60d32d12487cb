package identity

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/hexabase/hexabase-ai/internal/store"
)

func TestSetup(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)

	tok, created, err := e.svc.EnsureSetupToken(ctx)
	if err != nil || !created || len(tok) < 40 {
		t.Fatalf("EnsureSetupToken = %q, %v, %v", tok, created, err)
	}
	if again, created, err := e.svc.EnsureSetupToken(ctx); err != nil || created || again != "" {
		t.Fatalf("second EnsureSetupToken = %q, %v, %v; want nothing", again, created, err)
	}
	stored, err := e.st.GetSetting(ctx, SettingSetupTokenHash)
	if err != nil || stored == tok || len(stored) != 64 {
		t.Fatalf("stored setting %q, %v: want the hex SHA-256, not the token", stored, err)
	}

	if _, err := e.svc.Setup(ctx, "wrong", "admin@example.com", "correct horse battery"); !errors.Is(err, ErrInvalidSetupToken) {
		t.Fatalf("wrong token: %v", err)
	}
	if _, err := e.svc.Setup(ctx, "", "admin@example.com", "correct horse battery"); !errors.Is(err, ErrInvalidSetupToken) {
		t.Fatalf("empty token: %v", err)
	}
	for _, tt := range []struct{ name, email, pw, field string }{
		{"bad email", "not-an-email", "correct horse battery", "email"},
		{"short password", "admin@example.com", "short", "password"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.Setup(ctx, tok, tt.email, tt.pw)
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Fatalf("Setup(%q, %q) = %v, want a FieldError for %s", tt.email, tt.pw, err, tt.field)
			}
		})
	}
	// Validation failures do not consume the token.
	u, err := e.svc.Setup(ctx, tok, " admin@example.com ", "correct horse battery")
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	if !u.PlatformAdmin || u.Email != "admin@example.com" {
		t.Fatalf("first user %+v", u)
	}
	if _, err := e.svc.Setup(ctx, tok, "second@example.com", "correct horse battery"); !errors.Is(err, ErrSetupDone) {
		t.Fatalf("token reused: %v", err)
	}
	if _, err := e.st.GetSetting(ctx, SettingSetupTokenHash); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("setup token left behind: %v", err)
	}
	if tok, created, err := e.svc.EnsureSetupToken(ctx); err != nil || created || tok != "" {
		t.Fatalf("EnsureSetupToken with users = %q, %v, %v", tok, created, err)
	}
	if _, err := e.svc.ResetSetupToken(ctx); !errors.Is(err, ErrSetupDone) {
		t.Fatalf("ResetSetupToken with users: %v", err)
	}
	if _, err := e.svc.Login(ctx, "ADMIN@example.com", "correct horse battery", testMeta); err != nil {
		t.Fatalf("admin login: %v", err)
	}
}

func TestSetupRefusedWhenUsersExist(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	tok, _, err := e.svc.EnsureSetupToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.user(t, "someone@example.com") // e.g. created by another path
	if _, err := e.svc.Setup(ctx, tok, "admin@example.com", "correct horse battery"); !errors.Is(err, ErrSetupDone) {
		t.Fatalf("Setup with a user present: %v", err)
	}
}

func TestResetSetupToken(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	old, _, err := e.svc.EnsureSetupToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := e.svc.ResetSetupToken(ctx)
	if err != nil || tok == "" || tok == old {
		t.Fatalf("ResetSetupToken = %q, %v", tok, err)
	}
	if _, err := e.svc.Setup(ctx, old, "admin@example.com", "correct horse battery"); !errors.Is(err, ErrInvalidSetupToken) {
		t.Fatalf("replaced token: %v", err)
	}
	if _, err := e.svc.Setup(ctx, tok, "admin@example.com", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
}

func TestSetupRace(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	tok, _, err := e.svc.EnsureSetupToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	other := e.service(t, e.sealer) // a second process
	const n = 8
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		wins int
	)
	for i := range n {
		s := e.svc
		if i%2 == 1 {
			s = other
		}
		wg.Go(func() {
			_, err := s.Setup(ctx, tok, fmt.Sprintf("admin%d@example.com", i), "correct horse battery")
			switch {
			case err == nil:
				mu.Lock()
				wins++
				mu.Unlock()
			case !errors.Is(err, ErrSetupDone):
				t.Errorf("losing Setup: %v, want ErrSetupDone", err)
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d racing Setup calls succeeded, want exactly 1", wins)
	}
	if n, err := e.st.CountUsers(ctx); err != nil || n != 1 {
		t.Fatalf("CountUsers = %d, %v; want 1", n, err)
	}
}

func TestCreateUser(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	u, err := e.svc.CreateUser(ctx, "Bob@Example.com", "correct horse battery", false)
	if err != nil {
		t.Fatal(err)
	}
	if u.ID == "" || u.PlatformAdmin || u.PasswordHash == "" || u.CreatedAt.IsZero() {
		t.Fatalf("user %+v", u)
	}
	if ok, err := VerifyPassword("correct horse battery", u.PasswordHash); !ok || err != nil {
		t.Fatalf("stored hash does not verify: %v", err)
	}
	if _, err := e.svc.CreateUser(ctx, "bob@example.COM", "another password", false); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate email: %v, want store.ErrConflict", err)
	}
	var fe *FieldError
	if _, err := e.svc.CreateUser(ctx, "carol@example.com", "1234567", false); !errors.As(err, &fe) || fe.Field != "password" {
		t.Fatalf("short password: %v", err)
	}
	if _, err := e.svc.CreateUser(ctx, "Carol <carol@example.com>", "correct horse battery", false); !errors.As(err, &fe) || fe.Field != "email" {
		t.Fatalf("bad email: %v", err)
	}
}
