package pgtest

import (
	"context"
	"database/sql"
	"os"
	"strings"
	"testing"

	"github.com/hexabase/hexabase-ai/internal/testutil"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

var pg *Cluster

func TestMain(m *testing.M) { os.Exit(Run(m, &pg)) }

func TestDatabaseName(t *testing.T) {
	for _, tc := range []struct {
		test string
		seq  int64
		want string
	}{
		{"TestX", 1, "t_testx_1"},
		{"TestPostgres/Users/same email, other case", 12, "t_testpostgres_users_same_email_other_case_12"},
		{"Test" + strings.Repeat("Long", 30), 7, "t_" + strings.Repeat("long", 30)[120-(63-2-2):] + "_7"},
		{"Test'; DROP DATABASE postgres; --", 3, "t_test_drop_database_postgres_3"},
	} {
		t.Run(testutil.CaseName(tc.test), func(t *testing.T) {
			got := databaseName(tc.test, tc.seq)
			if got != tc.want || len(got) > 63 {
				t.Errorf("databaseName(%q, %d) = %q, want %q", tc.test, tc.seq, got, tc.want)
			}
		})
	}
}

func TestNewDatabaseIsolated(t *testing.T) {
	a, b := pg.NewDatabase(t), pg.NewDatabase(t)
	if a == b {
		t.Fatalf("two databases share the DSN %s", a)
	}
	ctx := context.Background()
	dbA, dbB := connect(t, a), connect(t, b)
	if _, err := dbA.ExecContext(ctx, "CREATE TABLE only_in_a (x int)"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := dbB.QueryRowContext(ctx, "SELECT COUNT(*) FROM pg_tables WHERE tablename = 'only_in_a'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatal("a table created in one database is visible in another")
	}
	var listen string
	if err := dbA.QueryRowContext(ctx, "SHOW listen_addresses").Scan(&listen); err != nil {
		t.Fatal(err)
	}
	if listen != "127.0.0.1" {
		t.Fatalf("listen_addresses = %q", listen)
	}
}

func TestStartStop(t *testing.T) {
	c, err := StartCluster()
	if err != nil {
		failOrSkip(t, err)
	}
	dir := c.dir
	db := connect(t, c.NewDatabase(t))
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
	c.Stop()
	c.Stop() // idempotent
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("cluster dir %s still exists after Stop: %v", dir, err)
	}
	if err := db.PingContext(context.Background()); err == nil {
		t.Fatal("server still answers after Stop")
	}
}

func connect(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDB(*cfg)
	t.Cleanup(func() { _ = db.Close() })
	return db
}
