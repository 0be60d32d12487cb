package store

import (
	"context"
	"time"
)

// MFAStore holds TOTP enrolments, backup codes and the second-factor
// challenges of sign-ins in progress.
type MFAStore interface {
	// GetMFA returns userID's TOTP enrolment; ErrNotFound if none.
	GetMFA(ctx context.Context, userID string) (MFA, error)
	// PutPendingMFA creates or replaces userID's pending (not yet enabled)
	// enrolment with m.Secret; ErrConflict if an enabled one exists.
	// EnabledAt and LastStep of m are ignored (stored as NULL and 0).
	PutPendingMFA(ctx context.Context, m MFA) error
	// EnableMFA confirms a pending enrolment in one transaction: it sets
	// EnabledAt and LastStep (step, the time step of the code that
	// confirmed it) only if the enrolment is pending, and replaces the
	// user's backup codes with codeHashes. ErrNotFound if there is no
	// enrolment, ErrConflict if it is enabled already.
	EnableMFA(ctx context.Context, userID string, step int64, codeHashes []string, now time.Time) error
	// UseMFAStep is the replay guard of TOTP codes: a compare-and-swap
	// that sets LastStep to step only if step is greater than the stored
	// LastStep. ErrConflict if it is not (the code's step was used),
	// ErrNotFound if there is no enrolment.
	UseMFAStep(ctx context.Context, userID string, step int64) error
	// DeleteMFA removes userID's enrolment and backup codes; ErrNotFound
	// if there is no enrolment.
	DeleteMFA(ctx context.Context, userID string) error

	// ReplaceBackupCodes replaces every backup code of userID.
	ReplaceBackupCodes(ctx context.Context, userID string, codeHashes []string, now time.Time) error
	// UseBackupCode marks one unused backup code spent (compare-and-swap
	// on UsedAt); ErrNotFound if userID has no unused code with that hash.
	UseBackupCode(ctx context.Context, userID, codeHash string, now time.Time) error
	// CountBackupCodes returns how many unused backup codes userID has.
	CountBackupCodes(ctx context.Context, userID string) (int, error)

	// CreateMFAChallenge stores the challenge of a sign-in waiting for its
	// second factor; ErrConflict if the hash exists.
	CreateMFAChallenge(ctx context.Context, c MFAChallenge) error
	// TakeMFAChallengeAttempt counts one attempt at answering the
	// challenge, atomically: it increments Attempts only if the challenge
	// is unused, unexpired at now and has fewer than max attempts, and
	// returns it as updated. ErrNotFound if no such challenge exists,
	// ErrConflict if it exists but is used, expired or out of attempts.
	TakeMFAChallengeAttempt(ctx context.Context, tokenHash string, max int, now time.Time) (MFAChallenge, error)
	// ConsumeMFAChallenge marks the challenge used (compare-and-swap on
	// UsedAt); ErrConflict if it was used, ErrNotFound if absent.
	ConsumeMFAChallenge(ctx context.Context, tokenHash string, now time.Time) error
	// DeleteExpiredMFAChallenges removes challenges that expired before
	// now and returns how many.
	DeleteExpiredMFAChallenges(ctx context.Context, now time.Time) (int, error)
}

// MFA is a user's TOTP enrolment.
type MFA struct {
	UserID string
	// Secret is the TOTP key, sealed by the caller; never stored in clear.
	Secret    []byte
	EnabledAt *time.Time // nil while the enrolment is pending
	// LastStep is the RFC 6238 time step of the last code accepted; a
	// code of this step or an earlier one is refused (replay).
	LastStep  int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// MFAChallenge is a sign-in whose first factor succeeded and that waits for
// its second. The client holds the token; the store only its hash.
type MFAChallenge struct {
	TokenHash   string // hex sha256 of the mfa_token; primary key
	UserID      string
	Method      string // the first factor: "password", "oidc:<id>", "github"
	Fingerprint string // device fingerprint of the client that passed the first factor
	Attempts    int
	CreatedAt   time.Time
	ExpiresAt   time.Time
	UsedAt      *time.Time
}
