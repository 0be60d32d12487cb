package store

import (
	"context"
	"time"
)

// FederationStore holds links between users and federated identities.
type FederationStore interface {
	// CreateFederatedIdentity links an existing user to (Provider,
	// Subject). ErrConflict if that identity is linked already or the user
	// does not exist.
	CreateFederatedIdentity(ctx context.Context, fi FederatedIdentity) error
	// CreateUserWithFederatedIdentity creates u (normally without a
	// password) and links it to fi in one transaction: either both exist
	// afterwards or neither. ErrConflict on a duplicate email or identity.
	CreateUserWithFederatedIdentity(ctx context.Context, u User, fi FederatedIdentity) error
	// GetFederatedIdentity returns the link of (provider, subject);
	// ErrNotFound if there is none.
	GetFederatedIdentity(ctx context.Context, provider, subject string) (FederatedIdentity, error)
	// TouchFederatedIdentity records a sign-in: it sets Email and
	// LastLoginAt. ErrNotFound if the link does not exist.
	TouchFederatedIdentity(ctx context.Context, provider, subject, email string, now time.Time) error
	// ListUserFederatedIdentities lists a user's links ordered by provider
	// then subject (never nil).
	ListUserFederatedIdentities(ctx context.Context, userID string) ([]FederatedIdentity, error)
}

// FederatedIdentity links a user to an identity at a federated provider.
type FederatedIdentity struct {
	Provider    string // configured provider id ("google", "github")
	Subject     string // the provider's stable user id (sub)
	UserID      string
	Email       string // as the provider last reported it
	CreatedAt   time.Time
	LastLoginAt time.Time
}
