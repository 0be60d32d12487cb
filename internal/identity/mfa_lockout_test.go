package identity

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/httpapi"
)

const wrongBackupCode = "aaaaa-aaaaa" // well-formed, never issued

// TestSecondFactorLockout: wrong codes count per user across mfa_tokens
// (a new token costs only the password) and across the 2FA endpoints;
// ten lock the second factor with a growing backoff, and a right code
// resets the count.
func TestSecondFactorLockout(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	u, secret, codes := e.enrolled(t, "lock@example.com")
	newToken := func() string {
		t.Helper()
		res, err := e.svc.SignIn(ctx, u, testMeta, "password")
		if err != nil || res.MFAToken == "" {
			t.Fatalf("SignIn = %+v, %v", res, err)
		}
		return res.MFAToken
	}
	wantLocked := func(err error, want time.Duration) {
		t.Helper()
		var tm *TooManyAttemptsError
		if !errors.Is(err, ErrTooManyAttempts) || !errors.As(err, &tm) || tm.RetryAfter != want {
			t.Fatalf("error %v, want ErrTooManyAttempts for %v", err, want)
		}
		var he *httpapi.Error
		if !errors.As(mfaError(err, "code", http.StatusUnauthorized), &he) || he.Status != http.StatusTooManyRequests ||
			he.Header.Get("Retry-After") != strconv.Itoa(int(want.Seconds())) {
			t.Fatalf("answer %+v, want 429 with Retry-After", he)
		}
	}
	// Eight wrong codes over two tokens, one at each 2FA endpoint: ten.
	for range 2 {
		tok := newToken()
		for range 4 {
			if _, err := e.svc.CompleteMFA(ctx, tok, wrongBackupCode, testMeta); !errors.Is(err, ErrInvalidMFACode) {
				t.Fatalf("wrong code: %v", err)
			}
		}
	}
	if _, err := e.svc.RegenerateBackupCodes(ctx, u.ID, wrongBackupCode); !errors.Is(err, ErrInvalidMFACode) {
		t.Fatalf("wrong code at backup-codes: %v", err)
	}
	if err := e.svc.DisableMFA(ctx, u, wrongBackupCode, "", testMeta); !errors.Is(err, ErrInvalidMFACode) {
		t.Fatalf("wrong code at disable: %v", err)
	}
	// Locked everywhere, even with right codes.
	_, err := e.svc.CompleteMFA(ctx, newToken(), TOTPCode(secret, e.clock.Now()), testMeta)
	wantLocked(err, 15*time.Minute)
	_, err = e.svc.RegenerateBackupCodes(ctx, u.ID, codes[0])
	wantLocked(err, 15*time.Minute)
	wantLocked(e.svc.DisableMFA(ctx, u, codes[1], "", testMeta), 15*time.Minute)
	// After the lock, one more wrong code doubles it.
	e.clock.Advance(15 * time.Minute)
	if _, err := e.svc.CompleteMFA(ctx, newToken(), wrongBackupCode, testMeta); !errors.Is(err, ErrInvalidMFACode) {
		t.Fatalf("wrong code after the lock: %v", err)
	}
	_, err = e.svc.CompleteMFA(ctx, newToken(), codes[0], testMeta)
	wantLocked(err, 30*time.Minute)
	// A right code after the lock signs in and resets the count.
	e.clock.Advance(30 * time.Minute)
	if _, err := e.svc.CompleteMFA(ctx, newToken(), codes[0], testMeta); err != nil {
		t.Fatalf("right code after the lock: %v", err)
	}
	tok := newToken()
	for i := range 9 {
		if i%5 == 4 {
			tok = newToken()
		}
		if _, err := e.svc.CompleteMFA(ctx, tok, wrongBackupCode, testMeta); !errors.Is(err, ErrInvalidMFACode) {
			t.Fatalf("wrong code %d after a reset: %v", i, err)
		}
	}
	if _, err := e.svc.RegenerateBackupCodes(ctx, u.ID, codes[2]); err != nil {
		t.Fatalf("right code after nine wrong ones: %v", err)
	}
	// Other users are not affected.
	v, vsecret, _ := e.enrolled(t, "other@example.com")
	res, err := e.svc.SignIn(ctx, v, testMeta, "password")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CompleteMFA(ctx, res.MFAToken, TOTPCode(vsecret, e.clock.Now()), testMeta); err != nil {
		t.Fatalf("another user: %v", err)
	}
}

// TestSecondFactorLockoutConcurrent: concurrent guesses over many
// mfa_tokens check no more codes than the threshold.
func TestSecondFactorLockoutConcurrent(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	u, _, _ := e.enrolled(t, "conc@example.com")
	const tokens, per = 12, 5
	toks := make([]string, tokens)
	for i := range toks {
		res, err := e.svc.SignIn(ctx, u, testMeta, "password")
		if err != nil {
			t.Fatal(err)
		}
		toks[i] = res.MFAToken
	}
	errs := make([]error, tokens*per)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() { _, errs[i] = e.svc.CompleteMFA(ctx, toks[i%tokens], wrongBackupCode, testMeta) })
	}
	wg.Wait()
	checked := 0
	for _, err := range errs {
		switch {
		case errors.Is(err, ErrInvalidMFACode):
			checked++
		case errors.Is(err, ErrTooManyAttempts), errors.Is(err, ErrInvalidMFAToken):
		default:
			t.Fatalf("unexpected error %v", err)
		}
	}
	if checked > MFAFailurePolicy.Threshold {
		t.Fatalf("%d concurrent wrong codes checked, want at most %d", checked, MFAFailurePolicy.Threshold)
	}
}

// TestDisableMFAPasswordLockout: the password at /auth/2fa/disable goes
// through the email's sign-in lockout.
func TestDisableMFAPasswordLockout(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	u, _, _ := e.enrolled(t, "pw@example.com")
	for i := range 5 {
		if err := e.svc.DisableMFA(ctx, u, "", "wrong password", testMeta); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("wrong password %d: %v", i, err)
		}
	}
	err := e.svc.DisableMFA(ctx, u, "", "correct horse battery", testMeta)
	var tm *TooManyAttemptsError
	if !errors.As(err, &tm) || tm.Field != "password" || tm.RetryAfter != time.Minute {
		t.Fatalf("right password after 5 wrong ones: %v, want locked for 1m", err)
	}
	var he *httpapi.Error
	if !errors.As(mfaError(err, "password", http.StatusUnprocessableEntity), &he) || he.Status != http.StatusTooManyRequests || he.Header.Get("Retry-After") != "60" {
		t.Fatalf("answer %+v, want 429 with Retry-After 60", he)
	}
	e.clock.Advance(time.Minute)
	if err := e.svc.DisableMFA(ctx, u, "", "correct horse battery", testMeta); err != nil {
		t.Fatalf("right password after the lock: %v", err)
	}
}
