package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hexabase/hexabase-ai/internal/store"
)

// Users.

const userCols = "id, email, password_hash, platform_admin, created_at, updated_at"

func scanUser(r rowScanner) (store.User, error) {
	var u store.User
	err := r.Scan(&u.ID, &u.Email, &u.PasswordHash, &u.PlatformAdmin, timeScan{&u.CreatedAt}, timeScan{&u.UpdatedAt})
	return u, err
}

func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	return s.write(ctx, "create user", `INSERT INTO users (id, email, email_lower, password_hash, platform_admin, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.Email, strings.ToLower(u.Email), u.PasswordHash, u.PlatformAdmin, u.CreatedAt, u.UpdatedAt)
}

func (s *Store) GetUser(ctx context.Context, id string) (store.User, error) {
	return get(ctx, s, "get user", scanUser, "SELECT "+userCols+" FROM users WHERE id = ?", id)
}

func (s *Store) GetUserByEmail(ctx context.Context, email string) (store.User, error) {
	return get(ctx, s, "get user by email", scanUser, "SELECT "+userCols+" FROM users WHERE email_lower = ?", strings.ToLower(email))
}

func (s *Store) UpdateUserPassword(ctx context.Context, id, passwordHash string, now time.Time) error {
	return s.writeOne(ctx, "update user password", "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?", passwordHash, now, id)
}

func (s *Store) CountUsers(ctx context.Context) (int, error) {
	return s.count(ctx, "count users", "SELECT COUNT(*) FROM users")
}

// Sessions.

const sessionCols = "id, user_id, user_agent, ip, fingerprint, created_at, expires_at, revoked_at"

func scanSession(r rowScanner) (store.Session, error) {
	var x store.Session
	err := r.Scan(&x.ID, &x.UserID, &x.UserAgent, &x.IP, &x.Fingerprint,
		timeScan{&x.CreatedAt}, timeScan{&x.ExpiresAt}, nullTimeScan{&x.RevokedAt})
	return x, err
}

func (s *Store) CreateSession(ctx context.Context, x store.Session) error {
	return s.write(ctx, "create session", "INSERT INTO sessions ("+sessionCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		x.ID, x.UserID, x.UserAgent, x.IP, x.Fingerprint, x.CreatedAt, x.ExpiresAt, x.RevokedAt)
}

func (s *Store) GetSession(ctx context.Context, id string) (store.Session, error) {
	return get(ctx, s, "get session", scanSession, "SELECT "+sessionCols+" FROM sessions WHERE id = ?", id)
}

func (s *Store) RevokeSession(ctx context.Context, id string, now time.Time) error {
	// COALESCE keeps the first revocation time; the row still counts as
	// affected, so only a missing session is ErrNotFound.
	return s.writeOne(ctx, "revoke session", "UPDATE sessions SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?", now, id)
}

func (s *Store) ListUserSessions(ctx context.Context, userID string) ([]store.Session, error) {
	return all(ctx, s, "list user sessions", scanSession, "SELECT "+sessionCols+" FROM sessions WHERE user_id = ? ORDER BY id", userID)
}

// Refresh tokens.

const refreshCols = "token_hash, session_id, user_id, created_at, expires_at, used_at"

func scanRefresh(r rowScanner) (store.RefreshToken, error) {
	var t store.RefreshToken
	err := r.Scan(&t.TokenHash, &t.SessionID, &t.UserID, timeScan{&t.CreatedAt}, timeScan{&t.ExpiresAt}, nullTimeScan{&t.UsedAt})
	return t, err
}

func (s *Store) insertRefresh(ctx context.Context, q querier, t store.RefreshToken) error {
	_, err := s.exec(ctx, q, "INSERT INTO refresh_tokens ("+refreshCols+") VALUES (?, ?, ?, ?, ?, ?)",
		t.TokenHash, t.SessionID, t.UserID, t.CreatedAt, t.ExpiresAt, t.UsedAt)
	return err
}

func (s *Store) CreateRefreshToken(ctx context.Context, t store.RefreshToken) error {
	if err := s.insertRefresh(ctx, s.db, t); err != nil {
		return fmt.Errorf("create refresh token: %w", err)
	}
	return nil
}

func (s *Store) GetRefreshToken(ctx context.Context, tokenHash string) (store.RefreshToken, error) {
	return get(ctx, s, "get refresh token", scanRefresh, "SELECT "+refreshCols+" FROM refresh_tokens WHERE token_hash = ?", tokenHash)
}

func (s *Store) RotateRefreshToken(ctx context.Context, oldHash string, next store.RefreshToken, now time.Time) error {
	return s.inTxAs(ctx, "rotate refresh token", func(tx *sql.Tx) error {
		err := s.execOne(ctx, tx, "UPDATE refresh_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL", now, oldHash)
		if errors.Is(err, store.ErrNotFound) {
			found, xerr := s.exists(ctx, tx, "SELECT 1 FROM refresh_tokens WHERE token_hash = ?", oldHash)
			if xerr != nil {
				return xerr
			}
			if found {
				return fmt.Errorf("token already used: %w", store.ErrConflict)
			}
		}
		if err != nil {
			return err
		}
		return s.insertRefresh(ctx, tx, next)
	})
}

// Signing keys.

const signingKeyCols = "id, algorithm, private_key, public_key, created_at, retired_at"

func scanSigningKey(r rowScanner) (store.SigningKey, error) {
	var k store.SigningKey
	err := r.Scan(&k.ID, &k.Algorithm, bytesScan{&k.PrivateKey}, bytesScan{&k.PublicKey}, timeScan{&k.CreatedAt}, nullTimeScan{&k.RetiredAt})
	return k, err
}

func (s *Store) CreateSigningKey(ctx context.Context, k store.SigningKey) error {
	return s.write(ctx, "create signing key", "INSERT INTO signing_keys ("+signingKeyCols+") VALUES (?, ?, ?, ?, ?, ?)",
		k.ID, k.Algorithm, blob(k.PrivateKey), blob(k.PublicKey), k.CreatedAt, k.RetiredAt)
}

func (s *Store) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	return all(ctx, s, "list signing keys", scanSigningKey, "SELECT "+signingKeyCols+" FROM signing_keys ORDER BY created_at DESC, id DESC")
}

// Settings.

func (s *Store) GetSetting(ctx context.Context, key string) (string, error) {
	v, err := getOne(ctx, s, s.db, func(r rowScanner) (string, error) {
		var v string
		return v, r.Scan(&v)
	}, "SELECT value FROM settings WHERE name = ?", key)
	if err != nil {
		return "", fmt.Errorf("get setting: %w", err)
	}
	return v, nil
}

func (s *Store) PutSetting(ctx context.Context, key, value string) error {
	return s.write(ctx, "put setting", "INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value", key, value)
}

func (s *Store) DeleteSettingIf(ctx context.Context, key, value string) error {
	return s.writeOne(ctx, "delete setting", "DELETE FROM settings WHERE name = ? AND value = ?", key, value)
}
