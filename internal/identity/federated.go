package identity

import (
	"context"
	"fmt"
	"time"

	"github.com/hexabase/hexabase-ai/internal/store"
)

// CreateFederatedUser creates a user without a local password (one who signs
// in through a federated provider) linked to the identity link, in one
// transaction. The email is validated like any other (*FieldError for
// "email"); a duplicate email or identity is store.ErrConflict, wrapped.
// Such a user cannot sign in with a password: Login refuses users whose
// password hash is empty.
func (s *Service) CreateFederatedUser(ctx context.Context, email string, link store.FederatedIdentity) (store.User, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return store.User{}, err
	}
	now := s.clock()
	u := store.User{ID: store.NewID(), Email: email, CreatedAt: now, UpdatedAt: now}
	link.UserID = u.ID
	if link.CreatedAt.IsZero() {
		link.CreatedAt = now
	}
	if link.LastLoginAt.IsZero() {
		link.LastLoginAt = now
	}
	if err := s.st.CreateUserWithFederatedIdentity(ctx, u, link); err != nil {
		return store.User{}, fmt.Errorf("create federated user: %w", err)
	}
	s.log.InfoContext(ctx, "federated user created", "user_id", u.ID, "provider", link.Provider)
	return u, nil
}

// RefreshTTL is the lifetime of refresh tokens (browser refresh cookies
// live as long).
func (s *Service) RefreshTTL() time.Duration { return s.refreshTTL }

// StateSealer is the Sealer of secrets at rest, for components that bind
// short-lived state to a browser (the federated sign-in cookie). Callers
// must pass associated data naming their purpose so that values sealed for
// one purpose never open for another.
func (s *Service) StateSealer() Sealer { return s.sealer }
