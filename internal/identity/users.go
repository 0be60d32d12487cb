package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/hexabase/hexabase-ai/internal/store"
)

// SettingSetupTokenHash is the settings key holding the hex SHA-256 of the
// first-run setup token while setup is pending.
const SettingSetupTokenHash = "setup_token_hash"

// hashPassword and verifyPassword run argon2 under the concurrency limit.
func (s *Service) hashPassword(ctx context.Context, password string) (string, error) {
	if err := s.acquireHash(ctx); err != nil {
		return "", err
	}
	defer func() { <-s.hashSem }()
	return HashPassword(password, s.argon2)
}

func (s *Service) verifyPassword(ctx context.Context, password, encoded string) (bool, error) {
	if err := s.acquireHash(ctx); err != nil {
		return false, err
	}
	defer func() { <-s.hashSem }()
	if s.onVerify != nil {
		s.onVerify()
	}
	return VerifyPassword(password, encoded)
}

func (s *Service) acquireHash(ctx context.Context) error {
	select {
	case s.hashSem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for password hashing: %w", context.Cause(ctx))
	}
}

// CreateUser validates email and password, hashes the password and creates
// the user. Validation failures are *FieldError; a duplicate email
// (case-insensitive) is store.ErrConflict, wrapped.
func (s *Service) CreateUser(ctx context.Context, email, password string, platformAdmin bool) (store.User, error) {
	u, err := s.newUser(ctx, email, password, platformAdmin)
	if err != nil {
		return store.User{}, err
	}
	if err := s.st.CreateUser(ctx, u); err != nil {
		return store.User{}, fmt.Errorf("create user: %w", err)
	}
	s.log.InfoContext(ctx, "user created", "user_id", u.ID, "platform_admin", platformAdmin)
	return u, nil
}

func (s *Service) newUser(ctx context.Context, email, password string, platformAdmin bool) (store.User, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return store.User{}, err
	}
	if err := ValidatePassword(password); err != nil {
		return store.User{}, err
	}
	hash, err := s.hashPassword(ctx, password)
	if err != nil {
		return store.User{}, fmt.Errorf("create user: %w", err)
	}
	now := s.clock()
	return store.User{ID: store.NewID(), Email: email, PasswordHash: hash, PlatformAdmin: platformAdmin, CreatedAt: now, UpdatedAt: now}, nil
}

// GetUser returns a user by id (store.ErrNotFound, wrapped, if absent).
func (s *Service) GetUser(ctx context.Context, id string) (store.User, error) {
	u, err := s.st.GetUser(ctx, id)
	if err != nil {
		return store.User{}, fmt.Errorf("get user: %w", err)
	}
	return u, nil
}

// EnsureSetupToken prepares first-run setup. If no user exists and no setup
// token is pending, it generates one, stores its SHA-256 and returns it with
// created == true: the caller shows it once (it cannot be recovered; see
// ResetSetupToken). Otherwise it returns "", false.
//
// The store offers no insert-if-absent for settings, so two processes
// starting on an empty database at the same instant may both create a token;
// the later write wins and the check below makes the earlier one notice in
// most cases. Start one process first, or use ResetSetupToken.
func (s *Service) EnsureSetupToken(ctx context.Context) (token string, created bool, err error) {
	n, err := s.st.CountUsers(ctx)
	if err != nil {
		return "", false, fmt.Errorf("setup token: %w", err)
	}
	if n > 0 {
		return "", false, nil
	}
	if _, err := s.st.GetSetting(ctx, SettingSetupTokenHash); err == nil {
		return "", false, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return "", false, fmt.Errorf("setup token: %w", err)
	}
	return s.putSetupToken(ctx)
}

// ResetSetupToken replaces a pending setup token (one that was lost) with a
// new one and returns it. It is ErrSetupDone once a user exists.
func (s *Service) ResetSetupToken(ctx context.Context) (string, error) {
	n, err := s.st.CountUsers(ctx)
	if err != nil {
		return "", fmt.Errorf("setup token: %w", err)
	}
	if n > 0 {
		return "", ErrSetupDone
	}
	tok, _, err := s.putSetupToken(ctx)
	return tok, err
}

func (s *Service) putSetupToken(ctx context.Context) (string, bool, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", false, fmt.Errorf("setup token: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	hash := hashSetupToken(token)
	if err := s.st.PutSetting(ctx, SettingSetupTokenHash, hash); err != nil {
		return "", false, fmt.Errorf("setup token: %w", err)
	}
	if got, err := s.st.GetSetting(ctx, SettingSetupTokenHash); err != nil || got != hash {
		// Another process wrote its token meanwhile; that one is valid.
		return "", false, nil
	}
	s.log.InfoContext(ctx, "setup token created")
	return token, true, nil
}

// Setup completes first-run setup: it checks token against the pending setup
// token (constant time), validates email and password (*FieldError),
// consumes the token so that of two racing calls exactly one proceeds, and
// creates the first user as platform admin. It is ErrSetupDone if a user
// exists or the token was already consumed, ErrInvalidSetupToken if the
// token does not match.
func (s *Service) Setup(ctx context.Context, token, email, password string) (store.User, error) {
	if n, err := s.st.CountUsers(ctx); err != nil {
		return store.User{}, fmt.Errorf("setup: %w", err)
	} else if n > 0 {
		return store.User{}, ErrSetupDone
	}
	stored, err := s.st.GetSetting(ctx, SettingSetupTokenHash)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, ErrSetupDone
	}
	if err != nil {
		return store.User{}, fmt.Errorf("setup: %w", err)
	}
	given := hashSetupToken(token)
	if subtle.ConstantTimeCompare([]byte(given), []byte(stored)) != 1 {
		return store.User{}, ErrInvalidSetupToken
	}
	// Validate and hash before consuming the token, so a typo does not
	// spend it and the window between consuming and creating is short.
	u, err := s.newUser(ctx, email, password, true)
	if err != nil {
		return store.User{}, err
	}
	if err := s.st.DeleteSettingIf(ctx, SettingSetupTokenHash, stored); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return store.User{}, ErrSetupDone // a concurrent Setup won
		}
		return store.User{}, fmt.Errorf("setup: consume token: %w", err)
	}
	if err := s.setupCreate(ctx, u); err != nil {
		// Put the token back so that setup can be retried.
		if perr := s.st.PutSetting(context.WithoutCancel(ctx), SettingSetupTokenHash, stored); perr != nil {
			s.log.ErrorContext(ctx, "restore setup token after failed setup", "err", perr)
		}
		return store.User{}, err
	}
	s.log.InfoContext(ctx, "setup complete: first platform admin created", "user_id", u.ID)
	return u, nil
}

func (s *Service) setupCreate(ctx context.Context, u store.User) error {
	if n, err := s.st.CountUsers(ctx); err != nil {
		return fmt.Errorf("setup: %w", err)
	} else if n > 0 {
		return ErrSetupDone
	}
	if err := s.st.CreateUser(ctx, u); err != nil {
		return fmt.Errorf("setup: create user: %w", err)
	}
	return nil
}

func hashSetupToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
