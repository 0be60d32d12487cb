package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/hexabase/hexabase-ai/internal/store"
)

// Federated identities.

const fedCols = "provider, subject, user_id, email, created_at, last_login_at"

func scanFederated(r rowScanner) (store.FederatedIdentity, error) {
	var x store.FederatedIdentity
	err := r.Scan(&x.Provider, &x.Subject, &x.UserID, &x.Email, timeScan{&x.CreatedAt}, timeScan{&x.LastLoginAt})
	return x, err
}

func (s *Store) insertFederated(ctx context.Context, q querier, fi store.FederatedIdentity) error {
	_, err := s.exec(ctx, q, "INSERT INTO federated_identities ("+fedCols+") VALUES (?, ?, ?, ?, ?, ?)",
		fi.Provider, fi.Subject, fi.UserID, fi.Email, fi.CreatedAt, fi.LastLoginAt)
	return err
}

func (s *Store) CreateFederatedIdentity(ctx context.Context, fi store.FederatedIdentity) error {
	if err := s.insertFederated(ctx, s.db, fi); err != nil {
		return fmt.Errorf("create federated identity: %w", err)
	}
	return nil
}

func (s *Store) CreateUserWithFederatedIdentity(ctx context.Context, u store.User, fi store.FederatedIdentity) error {
	return s.inTxAs(ctx, "create user with federated identity", func(tx *sql.Tx) error {
		if _, err := s.exec(ctx, tx, `INSERT INTO users (id, email, email_lower, password_hash, platform_admin, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?)`,
			u.ID, u.Email, strings.ToLower(u.Email), u.PasswordHash, u.PlatformAdmin, u.CreatedAt, u.UpdatedAt); err != nil {
			return err
		}
		fi.UserID = u.ID
		return s.insertFederated(ctx, tx, fi)
	})
}

func (s *Store) GetFederatedIdentity(ctx context.Context, provider, subject string) (store.FederatedIdentity, error) {
	return get(ctx, s, "get federated identity", scanFederated, "SELECT "+fedCols+" FROM federated_identities WHERE provider = ? AND subject = ?", provider, subject)
}

func (s *Store) TouchFederatedIdentity(ctx context.Context, provider, subject, email string, now time.Time) error {
	return s.writeOne(ctx, "touch federated identity", "UPDATE federated_identities SET email = ?, last_login_at = ? WHERE provider = ? AND subject = ?",
		email, now, provider, subject)
}

func (s *Store) ListUserFederatedIdentities(ctx context.Context, userID string) ([]store.FederatedIdentity, error) {
	return all(ctx, s, "list federated identities", scanFederated, "SELECT "+fedCols+" FROM federated_identities WHERE user_id = ? ORDER BY provider, subject", userID)
}
