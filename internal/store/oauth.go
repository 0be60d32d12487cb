package store

import (
	"context"
	"time"
)

// OAuthStore holds authorization codes and device codes of the platform's own OAuth endpoints, session-wide revocation and key retirement.
type OAuthStore interface {
	// RevokeUserSessions revokes every unrevoked session of userID except
	// exceptSessionID ("" for none) in one statement and returns the ids
	// it revoked (sorted). Revoking none is not an error.
	RevokeUserSessions(ctx context.Context, userID, exceptSessionID string, now time.Time) ([]string, error)
	// TouchSession records that a session was used from ip at now (its
	// last activity); ErrNotFound if the session does not exist.
	TouchSession(ctx context.Context, sessionID, ip string, now time.Time) error
	// ListSessionActivity returns the last activity of userID's sessions,
	// by session id; sessions never touched are absent.
	ListSessionActivity(ctx context.Context, userID string) (map[string]SessionActivity, error)
	// RetireSigningKey marks a key as no longer signing. The first
	// retirement time is kept (retiring twice is not an error);
	// ErrNotFound if the key does not exist.
	RetireSigningKey(ctx context.Context, kid string, now time.Time) error

	OAuthCodeStore
}

// SessionActivity is the last use of a session.
type SessionActivity struct {
	LastIP     string
	LastSeenAt time.Time
}

// OAuthCodeStore holds the single-use codes of the platform's own OAuth
// authorization server (authorization codes and device codes); every code
// is stored as a hash. It is part of OAuthStore.
type OAuthCodeStore interface {
	// CreateAuthCode stores an authorization code; ErrConflict if its hash
	// exists.
	CreateAuthCode(ctx context.Context, c AuthCode) error
	// UseAuthCode spends a code: it sets UsedAt to now and returns the code
	// as it was. A code spent before is returned (with UsedAt and
	// IssuedSessionID) together with ErrConflict; an unknown one is
	// ErrNotFound. Expiry is the caller's to check.
	UseAuthCode(ctx context.Context, codeHash string, now time.Time) (AuthCode, error)
	// SetAuthCodeSession records the session that the exchange of a code
	// started (revoked if the code is replayed); ErrNotFound if unknown.
	SetAuthCodeSession(ctx context.Context, codeHash, sessionID string) error
	// DeleteExpiredOAuthCodes deletes authorization and device codes that
	// expired before before, and returns how many.
	DeleteExpiredOAuthCodes(ctx context.Context, before time.Time) (int, error)

	// CreateDeviceCode stores a device authorization; ErrConflict if its
	// device or user code hash exists.
	CreateDeviceCode(ctx context.Context, d DeviceCode) error
	// GetDeviceCodeByUserCode finds a device authorization by the hash of
	// its normalized user code; ErrNotFound if none.
	GetDeviceCodeByUserCode(ctx context.Context, userCodeHash string) (DeviceCode, error)
	// DecideDeviceCode approves (for userID) or denies a pending device
	// authorization at now. ErrConflict if it is not pending any more,
	// ErrNotFound if unknown.
	DecideDeviceCode(ctx context.Context, userCodeHash string, approve bool, userID string, now time.Time) error
	// PollDeviceCode records a poll of the device code at now and returns
	// the device authorization as it was before, atomically. When the
	// previous poll was less than Interval seconds (minus slack, for the
	// jitter of networks and timers) before now, Interval
	// grows by 5 seconds (RFC 8628 slow_down) and nothing else changes;
	// otherwise an approved authorization becomes consumed, so that one
	// poll alone sees it approved. ErrNotFound if unknown.
	PollDeviceCode(ctx context.Context, deviceCodeHash string, now time.Time, slack time.Duration) (DeviceCode, error)
}

// AuthCode is an authorization code (RFC 6749 §4.1) of a public client
// with PKCE, stored by hash.
type AuthCode struct {
	CodeHash      string
	ClientID      string
	RedirectURI   string
	CodeChallenge string // S256
	Scope         string
	UserID        string
	// SessionID is the browser session that approved the code ("" when
	// the browser signed in on the authorization page itself).
	SessionID string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
	// IssuedSessionID is the session the exchange started.
	IssuedSessionID string
}

// Device authorization states.
const (
	DevicePending  = "pending"
	DeviceApproved = "approved"
	DeviceDenied   = "denied"
	DeviceConsumed = "consumed"
)

// DeviceCode is a device authorization (RFC 8628), stored by the hashes of
// its device code and of its normalized user code.
type DeviceCode struct {
	DeviceCodeHash string
	UserCodeHash   string
	ClientID       string
	Scope          string
	Status         string // DevicePending, DeviceApproved, DeviceDenied, DeviceConsumed
	UserID         string // who approved or denied
	Interval       int    // seconds between polls
	CreatedAt      time.Time
	ExpiresAt      time.Time
	DecidedAt      *time.Time
	LastPolledAt   *time.Time
}
