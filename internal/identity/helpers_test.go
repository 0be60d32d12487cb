package identity

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/seal"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/store/sqlstore"
)

const (
	testIssuer   = "http://127.0.0.1:8080"
	testAudience = "hks"
)

// testArgon2 keeps tests fast; BenchmarkPasswordHash measures the defaults.
var testArgon2 = Argon2Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// clock is an injectable clock for expiry tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func testLogger(tb testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(tWriter{tb}, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type tWriter struct{ tb testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.tb.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// newStore opens a real SQLite store in a temporary directory.
func newStore(tb testing.TB) store.Store {
	tb.Helper()
	st, err := sqlstore.Open(context.Background(), filepath.Join(tb.TempDir(), "hks.db"), testLogger(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	return st
}

func newSealer(tb testing.TB, b byte) *seal.Sealer {
	tb.Helper()
	s, err := seal.New(bytes.Repeat([]byte{b}, seal.KeySize))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

type env struct {
	st     store.Store
	sealer *seal.Sealer
	clock  *clock
	svc    *Service
	// delays are the waits of the account-wide throttle of svc, which
	// are recorded instead of waited.
	delays *delayLog
}

// delayLog records the delays of a lockout (its sleep) instead of waiting
// them; with advance, the fake clock moves on by each, as if waited.
type delayLog struct {
	mu      sync.Mutex
	d       []time.Duration
	advance bool
}

// take returns the delays recorded since the last take.
func (l *delayLog) take() []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	d := l.d
	l.d = nil
	return d
}

// newEnv returns a Service on a fresh store; mod adjusts its Config.
func newEnv(tb testing.TB, mod ...func(*Config)) *env {
	tb.Helper()
	e := &env{st: newStore(tb), sealer: newSealer(tb, 1), clock: newClock(), delays: &delayLog{}}
	e.svc = e.service(tb, e.sealer, mod...)
	e.svc.lockout.sleep = func(ctx context.Context, d time.Duration) error {
		e.delays.mu.Lock()
		e.delays.d = append(e.delays.d, d)
		adv := e.delays.advance
		e.delays.mu.Unlock()
		if adv {
			e.clock.Advance(d)
		}
		return ctx.Err()
	}
	return e
}

// service returns another Service (another process) on the same store.
func (e *env) service(tb testing.TB, sealer Sealer, mod ...func(*Config)) *Service {
	tb.Helper()
	cfg := Config{
		Store:    e.st,
		Sealer:   sealer,
		Logger:   testLogger(tb),
		Now:      e.clock.Now,
		Issuer:   testIssuer,
		Audience: testAudience,
		Argon2:   testArgon2,
	}
	for _, m := range mod {
		m(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// user creates a user with a password and returns it.
func (e *env) user(tb testing.TB, email string) store.User {
	tb.Helper()
	u, err := e.svc.CreateUser(context.Background(), email, "correct horse battery", false)
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

var testMeta = ClientMeta{IP: "192.0.2.1", UserAgent: "hks-test/1.0"}

// signedIn creates the user email and signs them in.
func (e *env) signedIn(tb testing.TB, email string) api.TokenPair {
	tb.Helper()
	e.user(tb, email)
	return e.login(tb, email)
}

func (e *env) login(tb testing.TB, email string) api.TokenPair {
	tb.Helper()
	p, err := e.svc.Login(context.Background(), email, "correct horse battery", testMeta)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}
