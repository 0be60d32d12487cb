package tasks_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite" // effects database of the crash test

	"github.com/hexabase/hexabase-ai/internal/events"
	"github.com/hexabase/hexabase-ai/internal/messaging"
	"github.com/hexabase/hexabase-ai/internal/messaging/messagingtest"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/store/sqlstore"
	"github.com/hexabase/hexabase-ai/internal/tasks"
)

// The crash test runs the platform's task machinery (embedded NATS, the
// queue, the SQLite store) in a child process — this test binary re-executed
// to run TestHelperProcess — so that it can be killed with SIGKILL.
const (
	helperDirEnv = "HKS_TASKS_CRASH_DIR"
	helperGenEnv = "HKS_TASKS_CRASH_GEN"
	crashKind    = "test.crash"
	crashTasks   = 50
)

// crashPayload: Hold makes the first process's handler block until the
// process dies, so that some tasks are certainly in flight when it is killed.
type crashPayload struct {
	N    int  `json:"n"`
	Hold bool `json:"hold"`
}

func TestHelperProcess(t *testing.T) {
	dir := os.Getenv(helperDirEnv)
	if dir == "" {
		return // not the helper: nothing to do in a normal run
	}
	if err := crashChild(dir, os.Getenv(helperGenEnv)); err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// crashChild runs until its stdin is closed (graceful stop) or it is killed.
func crashChild(dir, gen string) error {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("gen", gen)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go func() { // the parent closes stdin to stop us; EOF also if it dies
		_, _ = io.Copy(io.Discard, os.Stdin)
		stop()
	}()

	st, err := sqlstore.Open(ctx, filepath.Join(dir, "hks.db"), log)
	if err != nil {
		return err
	}
	defer st.Close()
	fx, err := openEffects(dir)
	if err != nil {
		return err
	}
	defer fx.Close()
	nc, err := messaging.StartEmbedded(messaging.EmbeddedConfig{StoreDir: filepath.Join(dir, "nats"), ListenAddr: "127.0.0.1:0", Logger: log})
	if err != nil {
		return err
	}
	defer func() { _ = nc.Shutdown(context.Background()) }()
	ev, err := events.New(ctx, events.Config{JS: nc.JetStream(), Logger: log, Now: time.Now})
	if err != nil {
		return err
	}
	q, err := tasks.New(ctx, tasks.Config{
		JS: nc.JetStream(), Store: st, Events: ev, Logger: log, Now: time.Now,
		AckWait: time.Second, Concurrency: 4, StopTimeout: 5 * time.Second, Backoff: fastBackoff,
	})
	if err != nil {
		return err
	}
	err = tasks.Register(q, crashKind, func(ctx context.Context, task store.Task, p crashPayload) error {
		if _, err := fx.ExecContext(ctx, `INSERT INTO deliveries (task_id, gen) VALUES (?, ?)`, task.ID, gen); err != nil {
			return err
		}
		if p.Hold && gen == "1" {
			<-ctx.Done() // until SIGKILL
			return ctx.Err()
		}
		select { // the work takes a while
		case <-time.After(40 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
		// The effect, applied idempotently: a task delivered twice
		// (its first run killed after this point) applies it once.
		tx, err := fx.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM effects WHERE task_id = ?`, task.ID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			if _, err := tx.ExecContext(ctx, `INSERT INTO effects (task_id, n, gen) VALUES (?, ?, ?)`, task.ID, p.N, gen); err != nil {
				return err
			}
		}
		return tx.Commit()
	})
	if err != nil {
		return err
	}
	// Tell the parent where to reach the server.
	ready := filepath.Join(dir, "ready-"+gen)
	if err := os.WriteFile(ready+".tmp", []byte(nc.ClientURL()), 0o600); err != nil {
		return err
	}
	if err := os.Rename(ready+".tmp", ready); err != nil {
		return err
	}
	return q.Run(ctx)
}

// openEffects opens the database where handlers record their effects. It
// has no uniqueness constraint on purpose: a handler that applied its
// effect twice would leave two rows.
func openEffects(dir string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", filepath.Join(dir, "effects.db")+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1) // serializes the check-then-insert of handlers
	_, err = db.Exec(`CREATE TABLE IF NOT EXISTS effects (task_id TEXT NOT NULL, n INTEGER NOT NULL, gen TEXT NOT NULL);
		CREATE TABLE IF NOT EXISTS deliveries (task_id TEXT NOT NULL, gen TEXT NOT NULL)`)
	if err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

type child struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	exited chan struct{}
	url    string
}

// startChild starts generation gen of the helper on dir and waits until it
// serves.
func startChild(t *testing.T, dir, gen string) *child {
	t.Helper()
	logf, err := os.Create(filepath.Join(dir, "child-"+gen+".log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("log of child %s:\n%s", gen, tail(string(b), 60))
		}
	})
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperDirEnv+"="+dir, helperGenEnv+"="+gen)
	cmd.Stdout, cmd.Stderr = logf, logf
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, stdin: stdin, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(c.exited) }()
	t.Cleanup(func() { // whatever happens, no child outlives the test
		_ = cmd.Process.Kill()
		<-c.exited
	})
	ready := filepath.Join(dir, "ready-"+gen)
	deadline := time.Now().Add(waitFor)
	for {
		if b, err := os.ReadFile(ready); err == nil {
			c.url = string(b)
			return c
		}
		select {
		case <-c.exited:
			t.Fatalf("child %s exited before it was ready: %v", gen, cmd.ProcessState)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("child %s not ready after %s", gen, waitFor)
		}
	}
}

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

func taskStatuses(t *testing.T, st store.Store, ids []string) map[string]store.Task {
	t.Helper()
	out := make(map[string]store.Task, len(ids))
	for _, id := range ids {
		task, err := st.GetTask(context.Background(), id)
		if err != nil {
			t.Fatalf("GetTask: %v", err)
		}
		out[id] = task
	}
	return out
}

func count(m map[string]store.Task, status string) int {
	n := 0
	for _, t := range m {
		if t.Status == status {
			n++
		}
	}
	return n
}

// TestCrashRedeliversAndLosesNothing: killing the server with SIGKILL while
// tasks are queued and running, then starting it again on the same data
// dir, redelivers them; nothing acknowledged is lost and every effect is
// applied exactly once.
func TestCrashRedeliversAndLosesNothing(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	log := testLogger(t)

	first := startChild(t, dir, "1")

	// Enqueue through the real API, over loopback TCP to the child's
	// embedded server, on the shared database.
	st, err := sqlstore.Open(ctx, filepath.Join(dir, "hks.db"), log)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	conn, err := messaging.Connect(ctx, messaging.ConnectConfig{URL: first.url, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := events.New(ctx, events.Config{JS: conn.JetStream(), Logger: log, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	q, err := tasks.New(ctx, tasks.Config{JS: conn.JetStream(), Store: st, Events: ev, Logger: log, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	var ids, held []string
	for i := range crashTasks {
		hold := i == 1 || i == 2
		task, err := q.Enqueue(ctx, crashKind, "", crashPayload{N: i, Hold: hold})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, task.ID)
		if hold {
			held = append(held, task.ID)
		}
	}
	if err := conn.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	// Wait until some tasks are done and the held ones are running (so
	// their messages are delivered and unacknowledged), then kill.
	var before map[string]store.Task
	deadline := time.Now().Add(waitFor)
	for {
		before = taskStatuses(t, st, ids)
		heldRunning := before[held[0]].Status == store.TaskRunning && before[held[1]].Status == store.TaskRunning
		if heldRunning && count(before, store.TaskSucceeded) >= 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("child 1 made no progress: %d succeeded", count(before, store.TaskSucceeded))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-first.exited
	if ws, ok := first.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child 1 ended with %v, want killed by SIGKILL", first.cmd.ProcessState)
	}
	t.Logf("killed child 1 with %d succeeded, %d running, %d queued of %d",
		count(before, store.TaskSucceeded), count(before, store.TaskRunning), count(before, store.TaskQueued), crashTasks)

	second := startChild(t, dir, "2")
	var after map[string]store.Task
	deadline = time.Now().Add(waitFor)
	for {
		after = taskStatuses(t, st, ids)
		if count(after, store.TaskSucceeded) == crashTasks {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after restart only %d of %d tasks succeeded", count(after, store.TaskSucceeded), crashTasks)
		}
		time.Sleep(10 * time.Millisecond)
	}
	second.stdin.Close() // graceful stop
	select {
	case <-second.exited:
	case <-time.After(waitFor):
		t.Fatal("child 2 did not stop after its stdin was closed")
	}
	if !second.cmd.ProcessState.Success() {
		t.Fatalf("child 2 ended with %v", second.cmd.ProcessState)
	}

	// Everything finished before the kill is untouched: same attempts,
	// same finish time (its redelivery, if any, was skipped).
	for id, b := range before {
		if b.Status != store.TaskSucceeded {
			continue
		}
		a := after[id]
		if a.Status != store.TaskSucceeded || a.Attempts != b.Attempts || !a.FinishedAt.Equal(*b.FinishedAt) {
			t.Errorf("task %s finished before the kill changed: before %+v, after %+v", id, b, a)
		}
	}
	for _, id := range held {
		if a := after[id]; a.Attempts != 2 {
			t.Errorf("held task %s: attempts %d, want 2 (killed once, then done)", id, a.Attempts)
		}
	}

	// Each effect exactly once; the held tasks delivered in both lives.
	fx, err := openEffects(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer fx.Close()
	effects := map[string]int{}
	rows, err := fx.Query(`SELECT task_id, count(*) FROM effects GROUP BY task_id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		effects[id] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if effects[id] != 1 {
			t.Errorf("task %s effect applied %d times, want 1", id, effects[id])
		}
	}
	if len(effects) != crashTasks {
		t.Errorf("%d tasks have effects, want %d", len(effects), crashTasks)
	}
	var deliveries, twice int
	if err := fx.QueryRow(`SELECT count(*) FROM deliveries`).Scan(&deliveries); err != nil {
		t.Fatal(err)
	}
	if err := fx.QueryRow(`SELECT count(*) FROM (SELECT task_id FROM deliveries GROUP BY task_id HAVING count(DISTINCT gen) = 2)`).Scan(&twice); err != nil {
		t.Fatal(err)
	}
	if twice < len(held) {
		t.Errorf("%d tasks were delivered in both lives, want at least the %d held ones", twice, len(held))
	}
	t.Logf("%d deliveries of %d tasks; %d delivered before and after the kill", deliveries, crashTasks, twice)

	// The work queue is empty and nothing awaits an ack.
	nc := messagingtest.Start(t, messaging.EmbeddedConfig{StoreDir: filepath.Join(dir, "nats"), Logger: log})
	s, err := nc.JetStream().Stream(ctx, tasks.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	if n := s.CachedInfo().State.Msgs; n != 0 {
		t.Errorf("TASKS stream still holds %d messages", n)
	}
	ci, err := nc.JetStream().Consumer(ctx, tasks.StreamName, "tasks_test_crash")
	if err != nil {
		t.Fatal(err)
	}
	if ci.CachedInfo().NumAckPending != 0 || ci.CachedInfo().NumPending != 0 {
		t.Errorf("consumer has %d pending and %d awaiting ack", ci.CachedInfo().NumPending, ci.CachedInfo().NumAckPending)
	}
}
