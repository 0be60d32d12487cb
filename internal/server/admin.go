package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/hexabase/hexabase-ai/internal/identity"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// AdminOptions locate a platform's data for the admin commands.
type AdminOptions struct {
	DataDir     string
	DatabaseURL string
	MasterKey   string
}

// CreateUser creates a local user directly in the platform's database. It
// works while the server runs (SQLite in WAL mode takes concurrent writers
// from several processes; PostgreSQL anyway).
func CreateUser(ctx context.Context, o AdminOptions, email, password string, platformAdmin bool) (store.User, error) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := openStore(ctx, o.DataDir, o.DatabaseURL, log)
	if err != nil {
		return store.User{}, err
	}
	defer st.Close()
	id, err := newIdentity(o.DataDir, o.MasterKey, identity.Config{Store: st, Logger: log, Now: time.Now, Issuer: "http://127.0.0.1", Audience: Audience})
	if err != nil {
		return store.User{}, err
	}
	u, err := id.CreateUser(ctx, email, password, platformAdmin)
	var fe *identity.FieldError
	switch {
	case errors.As(err, &fe) && fe.Field == "email":
		return u, fmt.Errorf("--email: %s (got %q)", fe.Message, email)
	case errors.As(err, &fe):
		return u, fmt.Errorf("--%s: %s", fe.Field, fe.Message)
	case errors.Is(err, store.ErrConflict):
		return u, fmt.Errorf("a user with email %s exists already", email)
	}
	return u, err
}

// ResetSetupToken replaces the pending first-run setup token (one that was
// lost: it is printed once, at the start that created it) with a new one
// and returns it; the old one stops working. Once a user exists there is
// no setup token: it says so.
func ResetSetupToken(ctx context.Context, o AdminOptions) (string, error) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := openStore(ctx, o.DataDir, o.DatabaseURL, log)
	if err != nil {
		return "", err
	}
	defer st.Close()
	id, err := newIdentity(o.DataDir, o.MasterKey, identity.Config{Store: st, Logger: log, Now: time.Now, Issuer: "http://127.0.0.1", Audience: Audience})
	if err != nil {
		return "", err
	}
	tok, err := id.ResetSetupToken(ctx)
	if errors.Is(err, identity.ErrSetupDone) {
		return "", errors.New("setup is done already (users exist): sign in, or add users with hks admin create-user")
	}
	return tok, err
}
