package identity

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/testutil"
)

// enrolled returns a user with TOTP enabled, its secret and backup codes.
func (e *env) enrolled(t *testing.T, email string) (store.User, []byte, []string) {
	t.Helper()
	ctx := context.Background()
	u := e.user(t, email)
	en, err := e.svc.EnrollTOTP(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	m, err := e.st.GetMFA(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := e.sealer.Open(m.Secret, totpAD(u.ID))
	if err != nil {
		t.Fatal(err)
	}
	if totpSecretText(secret) != en.Secret {
		t.Fatal("enrolment answer and stored secret differ")
	}
	codes, err := e.svc.ConfirmTOTP(ctx, u.ID, TOTPCode(secret, e.clock.Now()))
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(TOTPPeriod)
	return u, secret, codes
}

func TestSignInAsksForSecondFactor(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	u, secret, _ := e.enrolled(t, "fed@example.com")
	// Any first factor (here as a federated provider would call it).
	res, err := e.svc.SignIn(ctx, u, testMeta, "oidc:corp")
	if err != nil || !res.MFARequired || res.MFAToken == "" || res.Tokens != nil {
		t.Fatalf("SignIn = %+v, %v", res, err)
	}
	tp, err := e.svc.CompleteMFA(ctx, res.MFAToken, TOTPCode(secret, e.clock.Now()), testMeta)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Verify(ctx, tp.AccessToken); err != nil {
		t.Fatal(err)
	}
	// A user without 2FA gets tokens at once.
	plain := e.user(t, "plain@example.com")
	if res, err := e.svc.SignIn(ctx, plain, testMeta, "github"); err != nil || res.MFARequired || res.Tokens == nil {
		t.Fatalf("SignIn without 2FA = %+v, %v", res, err)
	}
}

// TestCompleteMFARace: the same TOTP code presented concurrently with two
// challenges signs in once; one challenge answered concurrently with two
// different backup codes signs in once.
func TestCompleteMFARace(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	u, secret, codes := e.enrolled(t, "race@example.com")
	const n = 6
	run := func(fn func(i int) error) (wins int, errs []error) {
		errs = make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { errs[i] = fn(i) })
		}
		wg.Wait()
		for _, err := range errs {
			if err == nil {
				wins++
			}
		}
		return wins, errs
	}
	tokens := make([]string, n)
	for i := range tokens {
		res, err := e.svc.SignIn(ctx, u, testMeta, "password")
		if err != nil {
			t.Fatal(err)
		}
		tokens[i] = res.MFAToken
	}
	code := TOTPCode(secret, e.clock.Now())
	wins, errs := run(func(i int) error {
		_, err := e.svc.CompleteMFA(ctx, tokens[i], code, testMeta)
		return err
	})
	if wins != 1 {
		t.Fatalf("%d sign-ins with one code: %v", wins, errs)
	}
	for _, err := range errs {
		if err != nil && !errors.Is(err, ErrMFACodeReplayed) {
			t.Fatalf("loser error %v, want ErrMFACodeReplayed", err)
		}
	}

	res, err := e.svc.SignIn(ctx, u, testMeta, "password")
	if err != nil {
		t.Fatal(err)
	}
	wins, errs = run(func(i int) error {
		_, err := e.svc.CompleteMFA(ctx, res.MFAToken, codes[i], testMeta)
		return err
	})
	if wins != 1 {
		t.Fatalf("%d sign-ins with one mfa token: %v", wins, errs)
	}
}

// TestTOTPSecretBoundToUser: a sealed secret copied onto another user's
// enrolment does not open.
func TestTOTPSecretBoundToUser(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a, _, _ := e.enrolled(t, "a@example.com")
	b := e.user(t, "b@example.com")
	ma, err := e.st.GetMFA(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	now := e.clock.Now()
	if err := e.st.PutPendingMFA(ctx, store.MFA{UserID: b.ID, Secret: ma.Secret, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ConfirmTOTP(ctx, b.ID, "123456"); err == nil || errors.Is(err, ErrInvalidMFACode) {
		t.Fatalf("a secret sealed for another user opened: %v", err)
	}
}

func TestBackupCodes(t *testing.T) {
	codes, hashes, err := newBackupCodes("u1")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i, c := range codes {
		norm, ok := normalizeBackupCode(c)
		if !ok || seen[norm] || hashBackupCode("u1", norm) != hashes[i] || hashBackupCode("u2", norm) == hashes[i] {
			t.Fatalf("code %q (%q, %v)", c, norm, ok)
		}
		seen[norm] = true
		if up, ok := normalizeBackupCode(" " + strings.ToUpper(strings.ReplaceAll(c, "-", " ")) + " "); !ok || up != norm {
			t.Fatalf("normalization of %q: %q, %v", c, up, ok)
		}
	}
	for _, bad := range []string{"", "abcde-fghi", "abcde-fghij1", "abcde_fghij", "0bcde-fghij", "abcdé-fghij"} {
		t.Run("bad "+testutil.CaseName(bad), func(t *testing.T) {
			if _, ok := normalizeBackupCode(bad); ok {
				t.Errorf("normalizeBackupCode(%q) accepted", bad)
			}
		})
	}
}
