// Package pgtest runs a throwaway PostgreSQL server for tests: one cluster
// per test binary, one fresh database per test.
//
//	var pg *pgtest.Cluster
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Run(m, &pg)) }
//
//	func TestSomething(t *testing.T) {
//		dsn := pg.NewDatabase(t) // postgres://…/t_testsomething_1
//	}
//
// The server binaries (initdb, pg_ctl, postgres) are looked up in
// $HKS_TEST_POSTGRES_BIN if set, else in PATH and then in
// /usr/lib/postgresql/*/bin, newest version first. If they are
// missing, tests that ask for a database fail with a message naming the
// Debian package to install; with HKS_TEST_POSTGRES=skip they skip instead.
// When the tests run as root the server runs as the "postgres" OS user,
// because PostgreSQL refuses to run as root.
package pgtest

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// EnvSkip is the environment variable that turns "PostgreSQL is not
// installed" from a test failure into a skip when set to "skip".
const EnvSkip = "HKS_TEST_POSTGRES"

// EnvBinDir names a directory holding initdb, pg_ctl and postgres; when set
// it replaces the search of PATH and /usr/lib/postgresql/*/bin.
const EnvBinDir = "HKS_TEST_POSTGRES_BIN"

// ErrNoBinaries means the PostgreSQL server binaries were not found.
var ErrNoBinaries = errors.New("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found in PATH or /usr/lib/postgresql/*/bin; " +
	"install the Debian package `postgresql` (apt-get install postgresql), or set " + EnvSkip + "=skip to skip PostgreSQL tests")

// Cluster is a running throwaway PostgreSQL server.
type Cluster struct {
	// Set by StartCluster.
	binDir  string
	dir     string // temp dir: data/, the socket and the log
	port    int
	runAs   *user.User // nil: run as the current user
	admin   *sql.DB
	stopped atomic.Bool

	// Lazy start (Run): the first NewDatabase starts the server.
	lazy    bool
	once    sync.Once
	started *Cluster
	err     error

	seq atomic.Int64
}

// Run starts nothing until a test asks for a database, runs the tests, and
// stops the cluster if one was started. Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Run(m, &pg)) }
func Run(m *testing.M, c **Cluster) int {
	lazy := &Cluster{lazy: true}
	*c = lazy
	code := m.Run()
	lazy.Stop()
	return code
}

// StartCluster initializes and starts a server in a new temp dir.
func StartCluster() (*Cluster, error) {
	binDir, err := findBinDir()
	if err != nil {
		return nil, err
	}
	c := &Cluster{binDir: binDir}
	c.reapStale()
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("pgtest: running as root and there is no postgres OS user to run the server as: %w", err)
		}
		c.runAs = u
	}
	if err := c.init(); err != nil {
		c.cleanup()
		return nil, err
	}
	var startErr error
	for range 3 { // a free port can be taken between probe and bind
		if c.port, startErr = freePort(); startErr != nil {
			break
		}
		if startErr = c.start(); startErr == nil {
			break
		}
	}
	if startErr != nil {
		c.cleanup()
		return nil, startErr
	}
	admin, err := c.open("postgres")
	if err != nil {
		c.Stop()
		return nil, err
	}
	c.admin = admin
	return c, nil
}

// Port is the loopback TCP port the server listens on.
func (c *Cluster) Port() int { return c.cluster().port }

// DSN returns the URL of database name on this cluster.
func (c *Cluster) DSN(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.cluster().port, name)
}

// NewDatabase creates an empty database for tb, dropped when tb ends, and
// returns its URL. It fails tb (or skips it, see EnvSkip) if no server runs.
func (c *Cluster) NewDatabase(tb testing.TB) string {
	tb.Helper()
	if c == nil {
		tb.Fatal("pgtest: no cluster; call pgtest.Run (or StartCluster) from TestMain")
	}
	if c.lazy {
		c.once.Do(func() { c.started, c.err = StartCluster() })
		if c.err != nil {
			failOrSkip(tb, c.err)
		}
		return c.started.NewDatabase(tb)
	}
	name := databaseName(tb.Name(), c.seq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.admin.ExecContext(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		tb.Fatalf("pgtest: create database %s: %v", name, err)
	}
	tb.Cleanup(func() {
		if c.stopped.Load() {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := c.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			tb.Logf("pgtest: drop database %s: %v", name, err)
		}
	})
	return c.DSN(name)
}

// Stop stops the server (pg_ctl stop -m immediate) and removes its files. It
// is safe to call on a nil or never-started cluster, and more than once.
func (c *Cluster) Stop() {
	if c == nil {
		return
	}
	if c.lazy {
		if c.started != nil {
			c.started.Stop()
		}
		return
	}
	if c.stopped.Swap(true) {
		return
	}
	if c.admin != nil {
		_ = c.admin.Close()
	}
	if out, err := c.run("pg_ctl", "-D", c.dataDir(), "stop", "-m", "immediate", "-w", "-t", "60"); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: pg_ctl stop: %v\n%s\n", err, out)
	}
	c.cleanup()
}

const (
	dirPattern = "hks-pgtest-*"
	ownerFile  = "owner.pid"
)

// reapStale stops and removes clusters that this harness started in earlier
// test binaries that exited without Stop (a panic, a timeout, a kill). Only
// directories carrying our owner file whose owner process is gone are
// touched; the server is stopped through its own data directory.
func (c *Cluster) reapStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPattern))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || processAlive(pid) {
			continue
		}
		stale := &Cluster{binDir: c.binDir, dir: dir, runAs: c.runAs}
		if os.Geteuid() == 0 {
			stale.runAs, _ = user.Lookup("postgres")
		}
		if _, err := os.Stat(filepath.Join(stale.dataDir(), "postmaster.pid")); err == nil {
			_, _ = stale.run("pg_ctl", "-D", stale.dataDir(), "stop", "-m", "immediate", "-w", "-t", "30")
		}
		_ = os.RemoveAll(dir)
	}
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func (c *Cluster) cluster() *Cluster {
	if c.lazy && c.started != nil {
		return c.started
	}
	return c
}

func (c *Cluster) dataDir() string { return filepath.Join(c.dir, "data") }

func (c *Cluster) cleanup() {
	if c.dir != "" {
		_ = os.RemoveAll(c.dir)
	}
}

func (c *Cluster) init() error {
	dir, err := os.MkdirTemp("", dirPattern)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	c.dir = dir
	// Record who owns this cluster, so that a later run can clean up after
	// a test binary that died without calling Stop (see reapStale).
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	if c.runAs != nil {
		uid, _ := strconv.Atoi(c.runAs.Uid)
		gid, _ := strconv.Atoi(c.runAs.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return fmt.Errorf("pgtest: chown %s to postgres: %w", dir, err)
		}
	}
	out, err := c.run("initdb", "-D", c.dataDir(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
	if err != nil {
		return fmt.Errorf("pgtest: initdb: %w\n%s", err, out)
	}
	// Trust, but only over the private socket and 127.0.0.1.
	hba := "local all all trust\nhost all all 127.0.0.1/32 trust\n"
	if err := c.writeFile(filepath.Join(c.dataDir(), "pg_hba.conf"), hba); err != nil {
		return err
	}
	return nil
}

func (c *Cluster) start() error {
	opts := strings.Join([]string{
		"-p " + strconv.Itoa(c.port),
		"-c listen_addresses=127.0.0.1",
		"-c unix_socket_directories='" + c.dir + "'",
		"-c fsync=off",
		"-c synchronous_commit=off",
		"-c full_page_writes=off",
		"-c max_connections=200",
	}, " ")
	out, err := c.run("pg_ctl", "-D", c.dataDir(), "-l", filepath.Join(c.dir, "postgres.log"), "-o", opts, "-w", "-t", "60", "start")
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "postgres.log"))
		// pg_ctl may have left a server behind when it gave up waiting.
		_, _ = c.run("pg_ctl", "-D", c.dataDir(), "stop", "-m", "immediate", "-w")
		return fmt.Errorf("pgtest: pg_ctl start on port %d: %w\n%s\n%s", c.port, err, out, log)
	}
	return nil
}

func (c *Cluster) open(name string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(c.DSN(name))
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("pgtest: connect: %w", err)
	}
	return db, nil
}

// run runs a server binary, as the postgres user when we are root.
func (c *Cluster) run(name string, args ...string) ([]byte, error) {
	bin := filepath.Join(c.binDir, name)
	var cmd *exec.Cmd
	if c.runAs != nil {
		if runuser, err := exec.LookPath("runuser"); err == nil {
			cmd = exec.Command(runuser, append([]string{"-u", c.runAs.Username, "--", bin}, args...)...)
		} else {
			quoted := make([]string, 0, len(args)+1)
			for _, a := range append([]string{bin}, args...) {
				quoted = append(quoted, shellQuote(a))
			}
			cmd = exec.Command("su", c.runAs.Username, "-s", "/bin/sh", "-c", strings.Join(quoted, " "))
		}
	} else {
		cmd = exec.Command(bin, args...)
	}
	cmd.Dir = c.dir // the postgres user may not be able to enter our cwd
	cmd.Env = cleanEnv()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}

func (c *Cluster) writeFile(path, content string) error {
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	if c.runAs != nil {
		uid, _ := strconv.Atoi(c.runAs.Uid)
		gid, _ := strconv.Atoi(c.runAs.Gid)
		if err := os.Chown(path, uid, gid); err != nil {
			return fmt.Errorf("pgtest: %w", err)
		}
	}
	return nil
}

// cleanEnv drops PG* variables so that the caller's environment cannot point
// the tools at another server or data directory.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LC_ALL=C")
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// findBinDir returns the directory holding initdb, pg_ctl and postgres.
func findBinDir() (string, error) {
	has := func(dir string) bool {
		for _, b := range []string{"initdb", "pg_ctl", "postgres"} {
			if fi, err := os.Stat(filepath.Join(dir, b)); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
				return false
			}
		}
		return true
	}
	if dir := os.Getenv(EnvBinDir); dir != "" {
		if has(dir) {
			return dir, nil
		}
		return "", fmt.Errorf("%s=%s: %w", EnvBinDir, dir, ErrNoBinaries)
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if dir := filepath.Dir(p); has(dir) {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(d string) float64 {
		v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(d)), 64)
		return v
	}
	slices.SortFunc(dirs, func(a, b string) int {
		switch va, vb := version(a), version(b); {
		case va > vb:
			return -1
		case va < vb:
			return 1
		}
		return 0
	})
	for _, d := range dirs {
		if has(d) {
			return d, nil
		}
	}
	return "", ErrNoBinaries
}

var nonIdent = regexp.MustCompile(`[^a-z0-9_]+`)

// databaseName makes a unique, valid database name from a test name.
func databaseName(testName string, seq int64) string {
	base := strings.Trim(nonIdent.ReplaceAllString(strings.ToLower(testName), "_"), "_")
	suffix := "_" + strconv.FormatInt(seq, 10)
	if max := 63 - len("t_") - len(suffix); len(base) > max {
		base = base[len(base)-max:]
	}
	return "t_" + base + suffix
}

var loudOnce sync.Once

func failOrSkip(tb testing.TB, err error) {
	tb.Helper()
	skip := errors.Is(err, ErrNoBinaries) && os.Getenv(EnvSkip) == "skip"
	loudOnce.Do(func() {
		verb := "FAILING"
		if skip {
			verb = "SKIPPING"
		}
		fmt.Fprintf(os.Stderr, "\n!!!!! pgtest: %s PostgreSQL tests: %v\n\n", verb, err)
	})
	if skip {
		tb.Skipf("pgtest: %s=skip: %v", EnvSkip, err)
	}
	tb.Fatalf("pgtest: %v", err)
}
