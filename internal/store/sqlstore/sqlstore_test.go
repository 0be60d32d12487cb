package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/store/sqlstore"
	"github.com/hexabase/hexabase-ai/internal/store/storetest"
	"github.com/hexabase/hexabase-ai/internal/testutil/pgtest"
)

var pg *pgtest.Cluster

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain())
	}
	os.Exit(pgtest.Run(m, &pg))
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func open(tb testing.TB, dsn string) *sqlstore.Store {
	tb.Helper()
	s, err := sqlstore.Open(tb.Context(), dsn, discardLogger())
	if err != nil {
		tb.Fatalf("open %s: %v", dsn, err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

func sqlitePath(tb testing.TB) string { return filepath.Join(tb.TempDir(), "hks.db") }

func TestSQLite(t *testing.T) {
	t.Parallel()
	storetest.RunTests(t, func(t *testing.T) store.Store { return open(t, sqlitePath(t)) })
}

func TestSQLiteMemory(t *testing.T) {
	t.Parallel()
	storetest.RunTests(t, func(t *testing.T) store.Store { return open(t, ":memory:") })
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	storetest.RunTests(t, func(t *testing.T) store.Store { return open(t, pg.NewDatabase(t)) })
}

// backends yields a fresh DSN per backend for the tests below.
func backends(t *testing.T, fn func(t *testing.T, dsn func(t *testing.T) string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, func(t *testing.T) string { return sqlitePath(t) }) })
	t.Run("postgres", func(t *testing.T) { fn(t, func(t *testing.T) string { return pg.NewDatabase(t) }) })
}

func TestReopenIsNoop(t *testing.T) {
	backends(t, func(t *testing.T, newDSN func(t *testing.T) string) {
		dsn := newDSN(t)
		s := open(t, dsn)
		u := store.User{ID: store.NewID(), Email: "a@example.com", CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
		u.UpdatedAt = u.CreatedAt
		if err := s.CreateUser(t.Context(), u); err != nil {
			t.Fatal(err)
		}
		var before int
		if err := s.DB().QueryRowContext(t.Context(), "SELECT COUNT(*) FROM schema_migrations").Scan(&before); err != nil {
			t.Fatal(err)
		}
		if before == 0 {
			t.Fatal("no migrations recorded")
		}
		_ = s.Close()

		s2 := open(t, dsn)
		var after int
		if err := s2.DB().QueryRowContext(t.Context(), "SELECT COUNT(*) FROM schema_migrations").Scan(&after); err != nil {
			t.Fatal(err)
		}
		if after != before {
			t.Fatalf("schema_migrations has %d rows after reopen, want %d", after, before)
		}
		got, err := s2.GetUser(t.Context(), u.ID)
		if err != nil || got != u {
			t.Fatalf("GetUser after reopen = %+v, %v", got, err)
		}
	})
}

func TestConcurrentOpen(t *testing.T) {
	backends(t, func(t *testing.T, newDSN func(t *testing.T) string) {
		dsn := newDSN(t)
		const n = 4
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				s, err := sqlstore.Open(t.Context(), dsn, discardLogger())
				if err == nil {
					err = s.Ping(t.Context())
					_ = s.Close()
				}
				errs[i] = err
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		s := open(t, dsn)
		var rows, distinct int
		if err := s.DB().QueryRowContext(t.Context(), "SELECT COUNT(*), COUNT(DISTINCT version) FROM schema_migrations").Scan(&rows, &distinct); err != nil {
			t.Fatal(err)
		}
		if rows != distinct {
			t.Fatalf("schema_migrations: %d rows for %d versions", rows, distinct)
		}
	})
}

// TestSQLitePragmas checks every pooled connection, not just the first, has
// the pragmas.
func TestSQLitePragmas(t *testing.T) {
	s := open(t, "sqlite://"+sqlitePath(t))
	ctx := t.Context()
	conns := make([]interface{ Close() error }, 0, 4)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	for i := range 4 {
		c, err := s.DB().Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		for _, tc := range []struct{ pragma, want string }{
			{"journal_mode", "wal"},
			{"foreign_keys", "1"},
			{"busy_timeout", "10000"},
			{"synchronous", "1"},
		} {
			t.Run(fmt.Sprintf("conn %d %s", i, tc.pragma), func(t *testing.T) {
				var got string
				if err := c.QueryRowContext(ctx, "PRAGMA "+tc.pragma).Scan(&got); err != nil {
					t.Fatal(err)
				}
				if got != tc.want {
					t.Errorf("conn %d: PRAGMA %s = %q, want %q", i, tc.pragma, got, tc.want)
				}
			})
		}
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := t.Context()
	for _, tc := range []struct {
		name   string
		dsn    string
		logger *slog.Logger
	}{
		{"nil logger", sqlitePath(t), nil},
		{"empty dsn", "", discardLogger()},
		{"empty sqlite path", "sqlite://", discardLogger()},
		{"unreachable postgres", "postgres://nobody@127.0.0.1:1/x?sslmode=disable&connect_timeout=2", discardLogger()},
		{"bad postgres dsn", "postgres://%zz", discardLogger()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if s, err := sqlstore.Open(ctx, tc.dsn, tc.logger); err == nil {
				_ = s.Close()
				t.Fatalf("Open(%q) succeeded", tc.dsn)
			}
		})
	}
}

// TestSQLiteSharedWithOtherProcess writes from a child process (as
// `hks admin create-user` does) while this process writes to the same file.
const childEnv = "HKS_SQLSTORE_TEST_CHILD"

func childMain() int {
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, os.Getenv(childEnv), discardLogger())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer s.Close()
	for i := range 50 {
		now := time.Now().UTC().Truncate(time.Microsecond)
		u := store.User{ID: store.NewID(), Email: fmt.Sprintf("child-%d@example.com", i), CreatedAt: now, UpdatedAt: now}
		if err := s.CreateUser(ctx, u); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return 0
}

func TestSQLiteSharedWithOtherProcess(t *testing.T) {
	path := sqlitePath(t)
	s := open(t, path)
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+path)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		now := time.Now().UTC().Truncate(time.Microsecond)
		u := store.User{ID: store.NewID(), Email: fmt.Sprintf("parent-%d@example.com", i), CreatedAt: now, UpdatedAt: now}
		if err := s.CreateUser(t.Context(), u); err != nil {
			t.Errorf("parent write %d: %v", i, err)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v\n%s", err, out.String())
	}
	n, err := s.CountUsers(t.Context())
	if err != nil || n != 100 {
		t.Fatalf("CountUsers = %d, %v; want 100", n, err)
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// Benchmarks: a page of members (a join) and a get by primary key.

func benchBackends(b *testing.B, fn func(b *testing.B, s *sqlstore.Store)) {
	b.Run("sqlite", func(b *testing.B) { fn(b, open(b, sqlitePath(b))) })
	b.Run("postgres", func(b *testing.B) { fn(b, open(b, pg.NewDatabase(b))) })
}

func seedOrg(b *testing.B, s *sqlstore.Store, members int) (store.Organization, []store.User) {
	ctx := b.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	users := make([]store.User, members)
	for i := range users {
		users[i] = store.User{ID: store.NewID(), Email: fmt.Sprintf("u%d@example.com", i), CreatedAt: now, UpdatedAt: now}
		if err := s.CreateUser(ctx, users[i]); err != nil {
			b.Fatal(err)
		}
	}
	o := store.Organization{ID: store.NewID(), Name: "Bench", Slug: "bench", CreatedAt: now, UpdatedAt: now}
	if err := s.CreateOrganization(ctx, o, store.OrgMember{UserID: users[0].ID, CreatedAt: now}); err != nil {
		b.Fatal(err)
	}
	for _, u := range users[1:] {
		if err := s.AddOrgMember(ctx, store.OrgMember{OrgID: o.ID, UserID: u.ID, Role: store.RoleMember, CreatedAt: now}); err != nil {
			b.Fatal(err)
		}
	}
	return o, users
}

func BenchmarkListOrgMembers(b *testing.B) {
	benchBackends(b, func(b *testing.B, s *sqlstore.Store) {
		o, _ := seedOrg(b, s, 500)
		ctx := b.Context()
		b.ReportAllocs()
		for b.Loop() {
			page, _, err := s.ListOrgMembers(ctx, o.ID, store.Page{Limit: store.DefaultLimit})
			if err != nil || len(page) != store.DefaultLimit {
				b.Fatalf("page of %d: %v", len(page), err)
			}
		}
	})
}

func BenchmarkGetUser(b *testing.B) {
	benchBackends(b, func(b *testing.B, s *sqlstore.Store) {
		_, users := seedOrg(b, s, 100)
		ctx := b.Context()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := s.GetUser(ctx, users[i%len(users)].ID); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
