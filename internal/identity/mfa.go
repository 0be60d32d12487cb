package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"rsc.io/qr"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/every"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// Two-factor authentication: TOTP (RFC 6238) with single-use backup codes.
//
// A user enrols (a pending secret, sealed at rest), confirms with a code
// (which enables 2FA and yields ten backup codes, stored as hashes), and
// from then on SignIn answers a first factor with a challenge (an
// mfa_token) instead of tokens; CompleteMFA trades the challenge and a TOTP
// or backup code for tokens. Each TOTP step is accepted once (a store
// compare-and-swap on the last used step), each backup code once.

// MFA settings.
const (
	MFAChallengeTTL     = 5 * time.Minute
	MaxMFAAttempts      = 5 // wrong codes after which an mfa_token is dead
	BackupCodeCount     = 10
	backupCodeLen       = 10                                 // characters, shown as xxxxx-xxxxx
	backupCodeAlphabet  = "abcdefghijklmnopqrstuvwxyz234567" // RFC 4648 base32, lowercase
	MethodTOTP          = "totp"
	MethodBackupCode    = "backup_code"
	maxSecondFactorText = 64
)

var (
	// ErrMFAEnabled: enrolment refused because 2FA is enabled already.
	ErrMFAEnabled = errors.New("two-factor authentication is enabled already")
	// ErrMFANotEnabled: the user has no enabled second factor.
	ErrMFANotEnabled = errors.New("two-factor authentication is not enabled")
	// ErrMFANotPending: no enrolment waits for confirmation.
	ErrMFANotPending = errors.New("no two-factor enrolment is pending")
	// ErrInvalidMFACode: a TOTP or backup code is wrong, expired or
	// spent; a replayed TOTP code also matches ErrMFACodeReplayed.
	ErrInvalidMFACode  = errors.New("invalid second-factor code")
	ErrMFACodeReplayed = errors.New("second-factor code already used")
	// ErrInvalidMFAToken: an mfa_token is unknown, expired, used, out of
	// attempts, or presented by another client.
	ErrInvalidMFAToken = errors.New("invalid mfa token")
	// ErrMFARequired: Login's answer for a user with 2FA enabled (use
	// PasswordSignIn, which returns the challenge).
	ErrMFARequired = errors.New("second factor required")
	// ErrTooManyAttempts: a second factor (or the password at
	// /auth/2fa/disable) was refused unchecked because of too many
	// failures; errors.As gives the *TooManyAttemptsError.
	ErrTooManyAttempts = errors.New("too many failed attempts")
)

// MFAFailurePolicy locks a user's second factor after ten wrong codes,
// counted per user across mfa_tokens, sign-in pages and the 2FA
// endpoints (a new mfa_token costs only the password): 15 minutes,
// doubling with each further wrong code up to a day. A right code resets
// the count.
var MFAFailurePolicy = store.LockoutPolicy{Threshold: 10, Base: 15 * time.Minute, Max: 24 * time.Hour, Window: 48 * time.Hour}

// TooManyAttemptsError is ErrTooManyAttempts with the time left.
type TooManyAttemptsError struct {
	Field      string // "code" or "password"
	RetryAfter time.Duration
	// Queued: refused only because the account's turns (many failed
	// sign-ins for it from everywhere) are taken for longer than an
	// attempt may wait; nothing is locked.
	Queued bool
}

// QueuedMessage tells a client refused because the account's turns are
// taken (TooManyAttemptsError.Queued) what happened and what helps.
const QueuedMessage = "many failed sign-ins for this account from many addresses: sign-ins from a new device and network wait their turn, and the queue is full; a device or network you signed in from before is not queued"

func (e *TooManyAttemptsError) Error() string {
	if e.Queued {
		return fmt.Sprintf("%s: the account's sign-in queue is full; retry in %s", e.Field, e.RetryAfter.Round(time.Second))
	}
	return fmt.Sprintf("%s: too many failed attempts; locked for %s", e.Field, e.RetryAfter.Round(time.Second))
}

func (e *TooManyAttemptsError) Is(target error) bool { return target == ErrTooManyAttempts }

// mfaThrottleKey is the throttle row of userID's wrong second factors.
func mfaThrottleKey(userID string) string { return "mfa:" + userID }

// totpAD binds a sealed TOTP secret to its user.
func totpAD(userID string) []byte { return []byte("hks:totp:" + userID) }

// MFAEnabled reports whether userID has two-factor authentication enabled.
func (s *Service) MFAEnabled(ctx context.Context, userID string) (bool, error) {
	m, err := s.st.GetMFA(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("mfa enabled: %w", err)
	}
	return m.EnabledAt != nil, nil
}

// GetMFAStatus returns userID's two-factor state.
func (s *Service) GetMFAStatus(ctx context.Context, userID string) (api.MFAStatus, error) {
	st := api.MFAStatus{Methods: []string{}}
	m, err := s.st.GetMFA(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("mfa status: %w", err)
	}
	st.Enabled, st.Pending, st.EnabledAt = m.EnabledAt != nil, m.EnabledAt == nil, m.EnabledAt
	if st.Enabled {
		st.Methods = []string{MethodTOTP, MethodBackupCode}
		if st.BackupCodesLeft, err = s.st.CountBackupCodes(ctx, userID); err != nil {
			return st, fmt.Errorf("mfa status: %w", err)
		}
	}
	return st, nil
}

// EnrollTOTP starts (or restarts) a pending enrolment of u with a new
// secret. ErrMFAEnabled if 2FA is enabled.
func (s *Service) EnrollTOTP(ctx context.Context, u store.User) (api.TOTPEnrollment, error) {
	secret := make([]byte, TOTPSecretLen)
	if _, err := rand.Read(secret); err != nil {
		return api.TOTPEnrollment{}, fmt.Errorf("totp secret: %w", err)
	}
	sealed, err := s.sealer.Seal(secret, totpAD(u.ID))
	if err != nil {
		return api.TOTPEnrollment{}, fmt.Errorf("seal totp secret: %w", err)
	}
	now := s.clock()
	if err := s.st.PutPendingMFA(ctx, store.MFA{UserID: u.ID, Secret: sealed, CreatedAt: now, UpdatedAt: now}); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return api.TOTPEnrollment{}, ErrMFAEnabled
		}
		return api.TOTPEnrollment{}, fmt.Errorf("enroll totp: %w", err)
	}
	uri := TOTPURI(secret, u.Email)
	png, err := qrPNG(uri)
	if err != nil {
		return api.TOTPEnrollment{}, err
	}
	s.log.InfoContext(ctx, "totp enrolment started", "user_id", u.ID)
	return api.TOTPEnrollment{Secret: totpSecretText(secret), OTPAuthURI: uri, QRPNG: base64.StdEncoding.EncodeToString(png)}, nil
}

// PendingTOTPQR returns the QR code PNG of u's pending enrolment;
// ErrMFANotPending if none is pending.
func (s *Service) PendingTOTPQR(ctx context.Context, u store.User) ([]byte, error) {
	m, err := s.st.GetMFA(ctx, u.ID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && m.EnabledAt != nil) {
		return nil, ErrMFANotPending
	}
	if err != nil {
		return nil, fmt.Errorf("totp qr: %w", err)
	}
	secret, err := s.sealer.Open(m.Secret, totpAD(u.ID))
	if err != nil {
		return nil, fmt.Errorf("open totp secret: %w", err)
	}
	return qrPNG(TOTPURI(secret, u.Email))
}

func qrPNG(text string) ([]byte, error) {
	c, err := qr.Encode(text, qr.M)
	if err != nil {
		return nil, fmt.Errorf("qr code: %w", err)
	}
	c.Scale = 6
	return c.PNG(), nil
}

// ConfirmTOTP enables a pending enrolment of userID with a current code
// and returns ten new backup codes (shown once). ErrMFANotPending if no
// enrolment is pending, ErrMFAEnabled if 2FA is enabled, ErrInvalidMFACode
// if the code is wrong.
func (s *Service) ConfirmTOTP(ctx context.Context, userID, code string) ([]string, error) {
	m, err := s.st.GetMFA(ctx, userID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, ErrMFANotPending
	case err != nil:
		return nil, fmt.Errorf("confirm totp: %w", err)
	case m.EnabledAt != nil:
		return nil, ErrMFAEnabled
	}
	secret, err := s.sealer.Open(m.Secret, totpAD(userID))
	if err != nil {
		return nil, fmt.Errorf("open totp secret: %w", err)
	}
	step, ok := matchTOTP(secret, strings.TrimSpace(code), s.now(), m.LastStep)
	if !ok {
		return nil, ErrInvalidMFACode
	}
	codes, hashes, err := newBackupCodes(userID)
	if err != nil {
		return nil, err
	}
	if err := s.st.EnableMFA(ctx, userID, step, hashes, s.clock()); err != nil {
		switch {
		case errors.Is(err, store.ErrConflict):
			return nil, ErrMFAEnabled
		case errors.Is(err, store.ErrNotFound):
			return nil, ErrMFANotPending
		}
		return nil, fmt.Errorf("confirm totp: %w", err)
	}
	s.log.InfoContext(ctx, "two-factor authentication enabled", "user_id", userID)
	return codes, nil
}

// DisableMFA turns 2FA off for u. It needs a current TOTP code, an unused
// backup code, or u's password. ErrMFANotEnabled if there is nothing to
// disable (a pending enrolment is discarded too), ErrInvalidMFACode or
// ErrInvalidCredentials for a wrong proof.
func (s *Service) DisableMFA(ctx context.Context, u store.User, code, password string, meta ClientMeta) error {
	m, err := s.st.GetMFA(ctx, u.ID)
	if errors.Is(err, store.ErrNotFound) {
		return ErrMFANotEnabled
	}
	if err != nil {
		return fmt.Errorf("disable mfa: %w", err)
	}
	if m.EnabledAt != nil {
		if code != "" {
			if err := s.verifySecondFactor(ctx, m, code); err != nil {
				return err
			}
		} else if err := s.verifyPasswordLimited(ctx, u, password, meta); err != nil {
			return err
		}
	}
	if err := s.st.DeleteMFA(ctx, u.ID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return ErrMFANotEnabled
		}
		return fmt.Errorf("disable mfa: %w", err)
	}
	if m.EnabledAt == nil {
		return ErrMFANotEnabled // only a pending enrolment was discarded
	}
	s.log.InfoContext(ctx, "two-factor authentication disabled", "user_id", u.ID)
	return nil
}

// RegenerateBackupCodes replaces userID's backup codes after checking a
// current code (TOTP or backup), and returns the new ones.
func (s *Service) RegenerateBackupCodes(ctx context.Context, userID, code string) ([]string, error) {
	m, err := s.enabledMFA(ctx, userID)
	if err != nil {
		return nil, err
	}
	if err := s.verifySecondFactor(ctx, m, code); err != nil {
		return nil, err
	}
	codes, hashes, err := newBackupCodes(userID)
	if err != nil {
		return nil, err
	}
	if err := s.st.ReplaceBackupCodes(ctx, userID, hashes, s.clock()); err != nil {
		return nil, fmt.Errorf("regenerate backup codes: %w", err)
	}
	s.log.InfoContext(ctx, "backup codes regenerated", "user_id", userID)
	return codes, nil
}

func (s *Service) enabledMFA(ctx context.Context, userID string) (store.MFA, error) {
	m, err := s.st.GetMFA(ctx, userID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && m.EnabledAt == nil) {
		return store.MFA{}, ErrMFANotEnabled
	}
	if err != nil {
		return store.MFA{}, fmt.Errorf("get mfa: %w", err)
	}
	return m, nil
}

// verifySecondFactor is checkSecondFactor under the per-user lockout of
// MFAFailurePolicy: every check of a user's TOTP or backup codes goes
// through it.
func (s *Service) verifySecondFactor(ctx context.Context, m store.MFA, code string) error {
	key := mfaThrottleKey(m.UserID)
	keys := []store.ThrottleKey{{Key: key, Policy: MFAFailurePolicy}}
	a, err := s.lockout.reserve(ctx, "code", keys, keys, []string{key})
	if err != nil {
		return err
	}
	err = s.checkSecondFactor(ctx, m, code)
	switch {
	case errors.Is(err, ErrInvalidMFACode):
		a.failed(ctx)
	case err == nil:
		a.succeeded(ctx)
	default:
		a.refund(ctx)
	}
	return err
}

// verifyPasswordLimited checks u's password, given by the client meta,
// under the sign-in lockout PasswordSignIn uses: a wrong password counts
// as a failed sign-in, a right one counts nothing and forgets nothing.
func (s *Service) verifyPasswordLimited(ctx context.Context, u store.User, password string, meta ClientMeta) (err error) {
	a, err := s.lockout.begin(ctx, u.ID, u.Email, meta.IP, s.deviceID(meta.DeviceTokens, u))
	if err != nil {
		return err
	}
	defer func() { a.settle(ctx, err, false) }()
	if len(password) > 4*MaxPasswordLen || u.PasswordHash == "" {
		return ErrInvalidCredentials
	}
	ok, err := s.verifyPassword(ctx, password, u.PasswordHash)
	if err != nil && !errors.Is(err, ErrMalformedHash) {
		return fmt.Errorf("disable mfa: %w", err)
	}
	if !ok {
		return ErrInvalidCredentials
	}
	return nil
}

// checkSecondFactor verifies code against m, as a TOTP code (six digits) or
// a backup code, and spends it. Wrong, expired and spent codes are
// ErrInvalidMFACode; a TOTP code whose step was used also matches
// ErrMFACodeReplayed.
func (s *Service) checkSecondFactor(ctx context.Context, m store.MFA, code string) error {
	code = strings.TrimSpace(code)
	if code == "" || len(code) > maxSecondFactorText {
		return ErrInvalidMFACode
	}
	if validTOTPCode(code) {
		secret, err := s.sealer.Open(m.Secret, totpAD(m.UserID))
		if err != nil {
			return fmt.Errorf("open totp secret: %w", err)
		}
		now := s.now()
		step, ok := matchTOTP(secret, code, now, m.LastStep)
		if !ok {
			if matchTOTPAny(secret, code, now) {
				return fmt.Errorf("%w: %w", ErrInvalidMFACode, ErrMFACodeReplayed)
			}
			return ErrInvalidMFACode
		}
		if err := s.st.UseMFAStep(ctx, m.UserID, step); err != nil {
			if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("%w: %w", ErrInvalidMFACode, ErrMFACodeReplayed)
			}
			return fmt.Errorf("use totp step: %w", err)
		}
		return nil
	}
	norm, ok := normalizeBackupCode(code)
	if !ok {
		return ErrInvalidMFACode
	}
	if err := s.st.UseBackupCode(ctx, m.UserID, hashBackupCode(m.UserID, norm), s.clock()); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return ErrInvalidMFACode
		}
		return fmt.Errorf("use backup code: %w", err)
	}
	s.log.InfoContext(ctx, "backup code used", "user_id", m.UserID)
	return nil
}

// challenge starts the second-factor step of a sign-in of u.
func (s *Service) challenge(ctx context.Context, u store.User, meta ClientMeta, method string) (SignInResult, error) {
	raw, hash, err := newRefreshToken() // same shape: 32 random bytes, sha256 stored
	if err != nil {
		return SignInResult{}, err
	}
	now := s.clock()
	c := store.MFAChallenge{TokenHash: hash, UserID: u.ID, Method: method, Fingerprint: fingerprint(meta), CreatedAt: now, ExpiresAt: now.Add(MFAChallengeTTL)}
	if err := s.st.CreateMFAChallenge(ctx, c); err != nil {
		return SignInResult{}, fmt.Errorf("create mfa challenge: %w", err)
	}
	s.log.InfoContext(ctx, "second factor required", "user_id", u.ID, "method", method)
	return SignInResult{MFARequired: true, MFAToken: raw}, nil
}

// CompleteMFA finishes a sign-in that SignIn answered with a challenge:
// mfaToken must be unexpired, unused, presented by the same client (device
// fingerprint) and have attempts left; code a TOTP or backup code of its
// user. Every attempt counts, and MaxMFAAttempts kill the token; wrong
// codes also count per user (MFAFailurePolicy), across tokens. Errors:
// ErrInvalidMFAToken, ErrInvalidMFACode, ErrTooManyAttempts.
func (s *Service) CompleteMFA(ctx context.Context, mfaToken, code string, meta ClientMeta) (api.TokenPair, error) {
	res, err := s.CompleteMFASignIn(ctx, mfaToken, code, meta)
	if err != nil {
		return api.TokenPair{}, err
	}
	return *res.Tokens, nil
}

// CompleteMFASignIn is CompleteMFA that also answers the client's device
// token (issued only now that the sign-in is complete, renewing the one of
// meta.DeviceTokens that was valid).
func (s *Service) CompleteMFASignIn(ctx context.Context, mfaToken, code string, meta ClientMeta) (SignInResult, error) {
	tp, device, u, err := s.completeMFA(ctx, mfaToken, code, meta)
	if err != nil {
		return SignInResult{}, err
	}
	res := SignInResult{Tokens: &tp}
	if res.DeviceToken, err = s.newDeviceToken(u, device); err != nil {
		return SignInResult{}, fmt.Errorf("complete mfa: device token: %w", err)
	}
	return res, nil
}

func (s *Service) completeMFA(ctx context.Context, mfaToken, code string, meta ClientMeta) (api.TokenPair, string, store.User, error) {
	tp, u, err := s.completeMFASession(ctx, mfaToken, code, meta)
	if err != nil {
		return api.TokenPair{}, "", store.User{}, err
	}
	// Tokens are issued only now, so only now the failed passwords of
	// the email are forgotten (the mfa_required answer keeps them).
	device := s.deviceID(meta.DeviceTokens, u)
	s.lockout.succeeded(ctx, u.ID, u.Email, meta.IP, device)
	return tp, device, u, nil
}

func (s *Service) completeMFASession(ctx context.Context, mfaToken, code string, meta ClientMeta) (api.TokenPair, store.User, error) {
	hash, ok := hashRefreshToken(mfaToken)
	if !ok {
		return api.TokenPair{}, store.User{}, fmt.Errorf("%w: malformed", ErrInvalidMFAToken)
	}
	c, err := s.st.TakeMFAChallengeAttempt(ctx, hash, MaxMFAAttempts, s.clock())
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) {
		return api.TokenPair{}, store.User{}, fmt.Errorf("%w: %w", ErrInvalidMFAToken, err)
	}
	if err != nil {
		return api.TokenPair{}, store.User{}, fmt.Errorf("complete mfa: %w", err)
	}
	if c.Fingerprint != fingerprint(meta) {
		s.log.WarnContext(ctx, "mfa token presented by another client", "user_id", c.UserID, "ip", meta.IP)
		return api.TokenPair{}, store.User{}, fmt.Errorf("%w: client fingerprint changed", ErrInvalidMFAToken)
	}
	m, err := s.enabledMFA(ctx, c.UserID)
	if errors.Is(err, ErrMFANotEnabled) {
		return api.TokenPair{}, store.User{}, fmt.Errorf("%w: 2fa was disabled", ErrInvalidMFAToken)
	}
	if err != nil {
		return api.TokenPair{}, store.User{}, err
	}
	if err := s.verifySecondFactor(ctx, m, code); err != nil {
		if errors.Is(err, ErrInvalidMFACode) {
			s.log.WarnContext(ctx, "wrong second factor", "user_id", c.UserID, "attempt", c.Attempts)
		}
		return api.TokenPair{}, store.User{}, err
	}
	if err := s.st.ConsumeMFAChallenge(ctx, hash, s.clock()); err != nil {
		if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
			return api.TokenPair{}, store.User{}, fmt.Errorf("%w: %w", ErrInvalidMFAToken, err)
		}
		return api.TokenPair{}, store.User{}, fmt.Errorf("complete mfa: %w", err)
	}
	u, err := s.st.GetUser(ctx, c.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return api.TokenPair{}, store.User{}, fmt.Errorf("%w: user no longer exists", ErrInvalidMFAToken)
	}
	if err != nil {
		return api.TokenPair{}, store.User{}, fmt.Errorf("complete mfa: %w", err)
	}
	tp, err := s.startSession(ctx, u, meta)
	if err != nil {
		return api.TokenPair{}, store.User{}, err
	}
	return tp, u, nil
}

// sweepMFAChallenges deletes expired challenges; run it periodically.
func (s *Service) sweepMFAChallenges(ctx context.Context) (int, error) {
	return s.st.DeleteExpiredMFAChallenges(ctx, s.clock().Add(-time.Minute))
}

// RunMFASweeper sweeps expired challenges every interval until ctx ends.
func (s *Service) RunMFASweeper(ctx context.Context, interval time.Duration) error {
	return every.Do(ctx, interval, func(ctx context.Context) {
		if n, err := s.sweepMFAChallenges(ctx); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "sweep mfa challenges", "error", err)
		} else if n > 0 {
			s.log.DebugContext(ctx, "swept mfa challenges", "count", n)
		}
	})
}

// RunLockoutSweeper deletes the sign-in lockout's state of no use any
// more (keys without a failure in the window and not locked, expired
// slots) every interval until ctx ends.
func (s *Service) RunLockoutSweeper(ctx context.Context, interval time.Duration) error {
	return every.Do(ctx, interval, func(ctx context.Context) {
		if n, err := s.lockout.sweep(ctx); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "sweep sign-in lockout", "error", err)
		} else if n > 0 {
			s.log.DebugContext(ctx, "swept sign-in lockout", "count", n)
		}
	})
}

// newBackupCodes returns BackupCodeCount fresh codes (xxxxx-xxxxx, 50
// random bits each) and their stored hashes.
func newBackupCodes(userID string) (codes, hashes []string, err error) {
	buf := make([]byte, backupCodeLen)
	for range BackupCodeCount {
		if _, err := rand.Read(buf); err != nil {
			return nil, nil, fmt.Errorf("backup code: %w", err)
		}
		code := make([]byte, backupCodeLen)
		for i, x := range buf {
			code[i] = backupCodeAlphabet[x&31] // 32 symbols: no bias
		}
		codes = append(codes, string(code[:backupCodeLen/2])+"-"+string(code[backupCodeLen/2:]))
		hashes = append(hashes, hashBackupCode(userID, string(code)))
	}
	return codes, hashes, nil
}

// normalizeBackupCode lowercases code and drops dashes and spaces; false
// if what remains is not a backup code.
func normalizeBackupCode(code string) (string, bool) {
	var b strings.Builder
	for _, r := range strings.ToLower(code) {
		switch {
		case r == '-' || r == ' ':
		case r < 128 && strings.IndexByte(backupCodeAlphabet, byte(r)) >= 0:
			b.WriteRune(r)
		default:
			return "", false
		}
	}
	if b.Len() != backupCodeLen {
		return "", false
	}
	return b.String(), true
}

// hashBackupCode is the stored form of a normalized backup code. The codes
// carry 50 random bits and guesses are limited, so a fast hash salted with
// the user id suffices (no password hashing needed).
func hashBackupCode(userID, code string) string {
	sum := sha256.Sum256([]byte("hks:backup-code:" + userID + ":" + code))
	return hex.EncodeToString(sum[:])
}
