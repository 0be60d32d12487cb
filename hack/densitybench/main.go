// Command densitybench measures how many workspaces one machine holds when
// most of them sleep (issue 12, point 5). It builds and starts `hks
// server` as its own process (loopback, a temp data dir, stopped at the
// end), creates workspaces through the API and puts each to sleep as soon
// as it runs, keeping -awake of them awake, until -n are held or the
// memory budget is used; then it wakes sleeping workspaces through the
// gateway, one at a time and several at once, and reads the idle CPU of
// everything it started. It prints a table and a JSON summary; the
// figures go to docs/performance.md.
//
//	go run ./hack/densitybench                       # 300 workspaces, 20 awake
//	go run ./hack/densitybench -n 8 -awake 2 -idle 10s -wakes 6 -wake-parallel 3
//
// Memory is read from /proc/<pid>/smaps_rollup (Rss, Pss, Private_Clean +
// Private_Dirty) and CPU from /proc/<pid>/stat (utime + stime) of the
// server, the shared etcd and every workspace process: the processes
// whose command line names the server's data dir.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/hexabase/hexabase-ai/hack/internal/platform"
)

// clkTck is USER_HZ, the unit of utime and stime in /proc/<pid>/stat (100
// on Linux for every architecture hks builds for).
const clkTck = 100

type flags struct {
	n, awake, parallel, pool, wakes, wakePar int
	budgetMiB                                float64
	idle                                     time.Duration
	hks, binDir, serverLog, jsonOut          string
}

func main() {
	var f flags
	flag.IntVar(&f.n, "n", 300, "workspaces to hold (fewer if the memory budget is used first)")
	flag.IntVar(&f.awake, "awake", 20, "workspaces kept awake (the first ones created); the others sleep as soon as they run")
	flag.Float64Var(&f.budgetMiB, "budget-mib", 0, "memory budget in MiB: no workspace is created once the PSS of everything started reaches it (0: 80% of MemAvailable at start)")
	flag.IntVar(&f.parallel, "parallel", 2, "workspaces created at once")
	flag.IntVar(&f.pool, "warm-pool", 1, "the server's --warm-pool")
	flag.IntVar(&f.wakes, "wakes", 40, "wakes measured one at a time, and again in rounds of -wake-parallel (different sleeping workspaces while there are enough)")
	flag.IntVar(&f.wakePar, "wake-parallel", 4, "wakes at once in the concurrent rounds (0: skip them)")
	flag.DurationVar(&f.idle, "idle", 60*time.Second, "idle window over which CPU is read")
	flag.StringVar(&f.hks, "hks", "", "hks binary (default: go build ./cmd/hks into a temp dir)")
	flag.StringVar(&f.binDir, "k8s-bin-dir", "", "the server's --k8s-bin-dir (default: the make k8s-bins cache)")
	flag.StringVar(&f.serverLog, "server-log", "", "write the server's JSON log to this file (default: a temp file, removed)")
	flag.StringVar(&f.jsonOut, "json", "", "also write the JSON summary to this file")
	flag.Parse()
	if f.n < 1 || f.awake < 0 || f.parallel < 1 || f.wakes < 0 || f.wakePar < 0 || f.idle <= 0 {
		fail(errors.New("-n and -parallel must be at least 1, -awake, -wakes and -wake-parallel not negative, -idle positive"))
	}
	f.awake = min(f.awake, f.n)
	if err := run(f); err != nil {
		fail(err)
	}
}

// stopServer stops the server if one runs (from fail and on a signal).
var stopServer atomic.Pointer[func()]

func fail(err error) {
	fmt.Fprintln(os.Stderr, "densitybench:", err)
	if stop := stopServer.Swap(nil); stop != nil {
		(*stop)()
	}
	os.Exit(1)
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
}

func run(f flags) error {
	ctx := context.Background()
	memTotal, memAvail := meminfo()
	budget := f.budgetMiB * 1024
	if budget == 0 {
		budget = 0.8 * memAvail
	}
	bin := f.hks
	if bin == "" {
		dir, err := os.MkdirTemp("", "densitybench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		bin = filepath.Join(dir, "hks")
		progress("building ./cmd/hks")
		if err := goBuild(bin); err != nil {
			return err
		}
	}
	// Access tokens live their longest (1h): a full run takes about 40 min.
	args := []string{"--warm-pool", strconv.Itoa(f.pool), "--sleep-after", "0", "--access-token-ttl", "1h",
		// One client polls many workspaces: far over a user's rate.
		"--user-rate-limit", "1000000", "--user-rate-burst", "1000000",
		"--ip-rate-limit", "1000000", "--ip-rate-burst", "1000000"}
	if f.binDir != "" {
		args = append(args, "--k8s-bin-dir", f.binDir)
	}
	pl, err := platform.StartBinary(ctx, platform.BinaryOptions{Bin: bin, Args: args, Log: f.serverLog, Timeout: 3 * time.Minute})
	if err != nil {
		return err
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			progress("stopping hks (pid %d)", pl.PID)
			if err := pl.Stop(); err != nil {
				fmt.Fprintln(os.Stderr, "densitybench: stop:", err)
			}
		})
	}
	stopServer.Store(&stop)
	defer stop()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		fail(errors.New("interrupted"))
	}()
	progress("hks pid %d at %s, data dir %s; MemTotal %.0f MiB, MemAvailable %.0f MiB, budget %.0f MiB PSS",
		pl.PID, pl.Base, pl.DataDir, memTotal/1024, memAvail/1024, budget/1024)

	b := &bench{f: f, pl: pl, budget: budget, memTotal: memTotal, ids: map[string]bool{}}
	org, err := pl.Create(ctx, "/api/v1/organizations", map[string]string{"name": "Density"}, http.StatusCreated)
	if err != nil {
		return err
	}
	b.wss = "/api/v1/organizations/" + org + "/workspaces"
	s, err := b.measure(ctx)
	if err != nil {
		return err
	}
	s.print(os.Stdout)
	js, _ := json.MarshalIndent(s, "", "  ")
	fmt.Println(string(js))
	if f.jsonOut != "" {
		if err := os.WriteFile(f.jsonOut, append(js, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// goBuild builds ./cmd/hks of the module the working directory is in.
func goBuild(out string) error {
	mod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(mod)) == "" || strings.TrimSpace(string(mod)) == os.DevNull {
		return fmt.Errorf("go env GOMOD: not inside the module (%v)", err)
	}
	cmd := exec.Command("go", "build", "-o", out, "./cmd/hks")
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(mod)))
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/hks: %w\n%s", err, b)
	}
	return nil
}

type bench struct {
	f        flags
	pl       *platform.Platform
	wss      string
	budget   float64 // KiB of PSS
	memTotal float64 // KiB

	mu       sync.Mutex
	ids      map[string]bool // every workspace created
	awake    []string
	sleeping []string
	seq      int
	ready    []time.Duration // POST → running
	sleeps   []time.Duration // POST sleep → no process left
}

// create creates a workspace and waits until it runs.
func (b *bench) create(ctx context.Context) (string, time.Duration, error) {
	b.mu.Lock()
	b.seq++
	name := fmt.Sprintf("ws-%d", b.seq)
	b.mu.Unlock()
	start := time.Now()
	id, err := b.pl.Create(ctx, b.wss, map[string]string{"name": name}, http.StatusAccepted)
	if err != nil {
		return "", 0, err
	}
	b.mu.Lock()
	b.ids[id] = true
	b.mu.Unlock()
	_, err = b.waitStatus(ctx, id, "running", 5*time.Minute)
	return id, time.Since(start), err
}

type wsOut struct {
	Status       string     `json:"status"`
	StatusReason string     `json:"status_reason"`
	SleptAt      *time.Time `json:"slept_at"`
}

func (b *bench) get(ctx context.Context, id string) (wsOut, error) {
	var w wsOut
	err := b.pl.Expect(ctx, http.MethodGet, b.wss+"/"+id, b.pl.Token, nil, http.StatusOK, &w)
	return w, err
}

// waitStatus polls the workspace every 100 ms until it shows status (for
// sleeping: with slept_at, i.e. its sleep task finished).
func (b *bench) waitStatus(ctx context.Context, id, status string, limit time.Duration) (wsOut, error) {
	deadline := time.Now().Add(limit)
	for {
		w, err := b.get(ctx, id)
		if err != nil {
			return w, err
		}
		if w.Status == status && (status != "sleeping" || w.SleptAt != nil) {
			return w, nil
		}
		if w.Status == "failed" {
			return w, fmt.Errorf("workspace %s failed: %s", id, w.StatusReason)
		}
		if time.Now().After(deadline) {
			return w, fmt.Errorf("workspace %s: still %s after %s, want %s", id, w.Status, limit, status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (b *bench) wsDir(id string) string { return filepath.Join(b.pl.DataDir, "workspaces", id) + "/" }

// sleep puts a running workspace to sleep and returns the time from
// sending POST …/sleep until none of its processes is left.
func (b *bench) sleep(ctx context.Context, id string) (time.Duration, error) {
	pids := platform.PIDsNaming(b.wsDir(id))
	if len(pids) == 0 {
		return 0, fmt.Errorf("workspace %s runs no process before its sleep", id)
	}
	start := time.Now()
	if err := b.pl.Expect(ctx, http.MethodPost, b.wss+"/"+id+"/sleep", b.pl.Token, nil, http.StatusAccepted, nil); err != nil {
		return 0, err
	}
	deadline := start.Add(2 * time.Minute)
	for slices.ContainsFunc(pids, platform.Alive) {
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("workspace %s: processes left 2m after POST sleep", id)
		}
		time.Sleep(10 * time.Millisecond)
	}
	d := time.Since(start)
	if _, err := b.waitStatus(ctx, id, "sleeping", time.Minute); err != nil {
		return 0, err
	}
	if left := platform.PIDsNaming(b.wsDir(id)); len(left) > 0 {
		return 0, fmt.Errorf("workspace %s: processes %v started after its sleep", id, left)
	}
	return d, nil
}

// fill creates count workspaces (parallel at once), putting each to sleep
// when keepAwake is false, until the budget is used.
func (b *bench) fill(ctx context.Context, count int, keepAwake bool) (budgetHit bool, err error) {
	var (
		wg       sync.WaitGroup
		next     atomic.Int64
		stopped  atomic.Bool
		firstErr error
		errOnce  sync.Once
	)
	for range b.f.parallel {
		wg.Go(func() {
			for !stopped.Load() && int(next.Add(1)) <= count {
				if used, why := b.budgetUsed(); used {
					progress("memory budget reached: %s", why)
					budgetHit = true
					stopped.Store(true)
					return
				}
				id, ready, err := b.create(ctx)
				var slept time.Duration
				if err == nil && !keepAwake {
					slept, err = b.sleep(ctx, id)
				}
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					stopped.Store(true)
					return
				}
				b.mu.Lock()
				b.ready = append(b.ready, ready)
				if keepAwake {
					b.awake = append(b.awake, id)
				} else {
					b.sleeping = append(b.sleeping, id)
					b.sleeps = append(b.sleeps, slept)
				}
				a, s := len(b.awake), len(b.sleeping)
				b.mu.Unlock()
				snap := b.snapshot()
				what := "awake"
				if !keepAwake {
					what = fmt.Sprintf("asleep in %.2fs", slept.Seconds())
				}
				progress("[%d/%d] %s running in %.2fs, %s; held %d (%d awake, %d asleep); PSS %.0f MiB; hks RSS %.1f MiB",
					a+s, b.f.n, id, ready.Seconds(), what, a+s, a, s, snap.total().pss/1024, snap.group("hks").rss/1024)
			}
		})
	}
	wg.Wait()
	return budgetHit, firstErr
}

// budgetUsed reports whether the PSS of everything started reaches the
// budget, or the machine runs low on memory (under 10% available).
func (b *bench) budgetUsed() (bool, string) {
	pss := b.snapshot().total().pss
	if pss >= b.budget {
		return true, fmt.Sprintf("PSS %.0f MiB ≥ budget %.0f MiB", pss/1024, b.budget/1024)
	}
	if _, avail := meminfo(); avail < 0.1*b.memTotal {
		return true, fmt.Sprintf("MemAvailable %.0f MiB < 10%% of MemTotal", avail/1024)
	}
	return false, ""
}

// wake sends the first request through the gateway to a sleeping
// workspace (GET /api/v1/namespaces with a workspace token) and returns
// the time to its whole answer.
func (b *bench) wake(ctx context.Context, id, token string) (time.Duration, error) {
	var body bytes.Buffer
	start := time.Now()
	code, err := b.pl.Do(ctx, http.MethodGet, "/k8s/"+id+"/api/v1/namespaces", token, nil, &body)
	d := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("wake %s: %w", id, err)
	}
	if code != http.StatusOK || !strings.Contains(body.String(), `"kind":"NamespaceList"`) {
		return 0, fmt.Errorf("wake %s: GET /api/v1/namespaces through the gateway: %d %s", id, code, truncate(body.String()))
	}
	if n := len(platform.PIDsNaming(b.wsDir(id))); n != 4 {
		progress("warning: workspace %s runs %d processes after its wake, want 4", id, n)
	}
	return d, nil
}

func truncate(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

func (b *bench) token(ctx context.Context, id string) (string, error) {
	var t struct {
		Token string `json:"token"`
	}
	err := b.pl.Expect(ctx, http.MethodPost, b.wss+"/"+id+"/token", b.pl.Token, nil, http.StatusOK, &t)
	return t.Token, err
}

// wakeRounds wakes total sleeping workspaces, per at a time, from the
// sleeping list starting at from; each round is put back to sleep before
// the next (sleep times are kept with the others).
func (b *bench) wakeRounds(ctx context.Context, total, per, from int) ([]time.Duration, int, error) {
	per = min(per, len(b.sleeping))
	var out []time.Duration
	for len(out) < total {
		var ids, toks []string
		for len(ids) < min(per, total-len(out)) {
			id := b.sleeping[from%len(b.sleeping)]
			from++
			t, err := b.token(ctx, id) // before the clock starts
			if err != nil {
				return nil, from, err
			}
			ids, toks = append(ids, id), append(toks, t)
		}
		ds := make([]time.Duration, len(ids))
		errs := make([]error, len(ids))
		var wg sync.WaitGroup
		for i := range ids {
			wg.Go(func() { ds[i], errs[i] = b.wake(ctx, ids[i], toks[i]) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return nil, from, err
		}
		for i, id := range ids {
			if _, err := b.waitStatus(ctx, id, "running", time.Minute); err != nil {
				return nil, from, err
			}
			progress("woke %s in %.2fs (%d at once)", id, ds[i].Seconds(), len(ids))
		}
		out = append(out, ds...)
		for _, id := range ids {
			d, err := b.sleep(ctx, id)
			if err != nil {
				return nil, from, err
			}
			b.sleeps = append(b.sleeps, d)
		}
	}
	return out, from, nil
}

func (b *bench) measure(ctx context.Context) (*summary, error) {
	s := &summary{Target: targets{Held: 300, Awake: 20, WakeP50s: 3, WakeP95s: 5, SleepingMiB: 1}}
	s.Settings = settings{N: b.f.n, Awake: b.f.awake, BudgetMiB: b.budget / 1024, Parallel: b.f.parallel, WarmPool: b.f.pool,
		Wakes: b.f.wakes, WakeParallel: b.f.wakePar, IdleS: b.f.idle.Seconds(), MemTotalMiB: b.memTotal / 1024}
	start := time.Now()
	hit := false
	var err error
	if b.f.awake > 0 {
		progress("creating %d workspaces kept awake, %d at a time", b.f.awake, b.f.parallel)
		if hit, err = b.fill(ctx, b.f.awake, true); err != nil {
			return nil, err
		}
	}
	b.settle(ctx)
	before := b.snapshot()
	beforeM := b.metrics(ctx)
	if !hit && b.f.n > b.f.awake {
		progress("creating up to %d workspaces that sleep as soon as they run, %d at a time", b.f.n-b.f.awake, b.f.parallel)
		if hit, err = b.fill(ctx, b.f.n-b.f.awake, false); err != nil {
			return nil, err
		}
	}
	b.settle(ctx)
	after := b.snapshot()
	afterM := b.metrics(ctx)
	s.FillS = time.Since(start).Seconds()
	s.BudgetReached = hit
	s.Held, s.Awake, s.Sleeping = len(b.awake)+len(b.sleeping), len(b.awake), len(b.sleeping)
	s.Ready = pcts(b.ready)
	if ns := float64(len(b.sleeping)); ns > 0 {
		h0, h1 := before.group("hks"), after.group("hks")
		e0, e1 := before.group("etcd"), after.group("etcd")
		s.PerSleeping = &perSleeping{
			HksRSSKiB:       (h1.rss - h0.rss) / ns,
			HksPrivateKiB:   (h1.private - h0.private) / ns,
			HksHeapKiB:      (afterM.heapInuse - beforeM.heapInuse) / 1024 / ns,
			HksGoroutines:   (afterM.goroutines - beforeM.goroutines) / ns,
			HksFDs:          float64(h1.fds-h0.fds) / ns,
			HksMetricSeries: float64(afterM.series-beforeM.series) / ns,
			EtcdRSSKiB:      (e1.rss - e0.rss) / ns,
			EtcdPrivateKiB:  (e1.private - e0.private) / ns,
			EtcdDBKiB:       (afterM.etcdDBInUse - beforeM.etcdDBInUse) / 1024 / ns,
			EtcdKeys:        (afterM.etcdKeys - beforeM.etcdKeys) / ns,
		}
		s.HksBefore, s.HksAfter = hksStateOf(before, beforeM), hksStateOf(after, afterM)
	}

	if b.f.wakes > 0 && len(b.sleeping) > 0 {
		progress("waking %d sleeping workspaces through the gateway, one at a time", b.f.wakes)
		one, from, err := b.wakeRounds(ctx, b.f.wakes, 1, 0)
		if err != nil {
			return nil, err
		}
		s.WakeOne = pcts(one)
		if b.f.wakePar > 1 {
			progress("waking %d sleeping workspaces through the gateway, %d at a time", b.f.wakes, b.f.wakePar)
			conc, _, err := b.wakeRounds(ctx, b.f.wakes, b.f.wakePar, from)
			if err != nil {
				return nil, err
			}
			s.WakeConcurrent = pcts(conc)
			s.WakeConcurrentAt = min(b.f.wakePar, len(b.sleeping))
		}
	}
	s.Sleep = pcts(b.sleeps)

	progress("idle window of %s with %d awake and %d asleep", b.f.idle, len(b.awake), len(b.sleeping))
	c0, m0 := b.snapshot(), machineCPU()
	time.Sleep(b.f.idle)
	c1, m1 := b.snapshot(), machineCPU()
	s.fillIdle(c0, c1, m1-m0, b.f.idle, len(b.awake))
	s.HksEnd = hksStateOf(c1, b.metrics(ctx))
	s.fillMemory(c1, b.awake, b.sleeping, b.wsDir)
	return s, nil
}

// proc is one process's figures, memory in KiB.
type proc struct {
	group             string // hks, etcd, workspace, spare
	ws                string
	rss, pss, private float64
	ticks             int64 // utime + stime
	fds               int
}

type snapshot map[int]proc

type sums struct {
	rss, pss, private float64
	fds, n            int
	ticks             int64
}

func (s snapshot) sum(keep func(proc) bool) sums {
	var t sums
	for _, p := range s {
		if keep(p) {
			t.rss += p.rss
			t.pss += p.pss
			t.private += p.private
			t.fds += p.fds
			t.ticks += p.ticks
			t.n++
		}
	}
	return t
}

func (s snapshot) total() sums         { return s.sum(func(proc) bool { return true }) }
func (s snapshot) group(g string) sums { return s.sum(func(p proc) bool { return p.group == g }) }
func (s snapshot) ws(id string) sums   { return s.sum(func(p proc) bool { return p.ws == id }) }

var wsIDRE = regexp.MustCompile(`/workspaces/([^/\x00]+)/`)

// snapshot reads every process the server started (and the server): their
// command lines name its data dir.
func (b *bench) snapshot() snapshot {
	out := snapshot{}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, pid := range append(platform.PIDsNaming(b.pl.DataDir+"/"), b.pl.PID) {
		if _, ok := out[pid]; ok {
			continue
		}
		p := proc{group: "hks"}
		if pid != b.pl.PID {
			cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			argv0, _, _ := bytes.Cut(cmd, []byte{0})
			// The API servers name etcd's files too: by program first.
			switch m := wsIDRE.FindSubmatch(cmd); {
			case filepath.Base(string(argv0)) == "etcd":
				p.group = "etcd"
			case m != nil && b.ids[string(m[1])]:
				p.group, p.ws = "workspace", string(m[1])
			case m != nil:
				p.group = "spare"
			default:
				p.group = "other"
			}
		}
		roll, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
		if err != nil {
			continue // exited
		}
		for line := range strings.Lines(string(roll)) {
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			kb, _ := strconv.ParseFloat(f[1], 64)
			switch f[0] {
			case "Rss:":
				p.rss = kb
			case "Pss:":
				p.pss = kb
			case "Private_Clean:", "Private_Dirty:":
				p.private += kb
			}
		}
		if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
			f := strings.Fields(string(st[bytes.LastIndexByte(st, ')')+1:]))
			if len(f) > 12 {
				u, _ := strconv.ParseInt(f[11], 10, 64)
				s, _ := strconv.ParseInt(f[12], 10, 64)
				p.ticks = u + s
			}
		}
		if fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
			p.fds = len(fds)
		}
		out[pid] = p
	}
	return out
}

// settle waits until the warm pool is full again and then 5 s more (the
// last workspace's watches and the spare's boot), so that the snapshots
// around the sleeping workspaces compare like with like.
func (b *bench) settle(ctx context.Context) {
	deadline := time.Now().Add(2 * time.Minute)
	for b.metrics(ctx).spares < float64(b.f.pool) && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(5 * time.Second)
}

// hksMetrics are read from the server's /metrics and data dir.
type hksMetrics struct {
	goroutines, heapInuse float64
	spares                float64 // hks_controlplane_spares_ready
	series                int     // samples in /metrics
	etcdDB, etcdDBInUse   float64 // bytes of the shared etcd's database
	etcdKeys              float64
}

func (b *bench) metrics(ctx context.Context) hksMetrics {
	var m hksMetrics
	var buf bytes.Buffer
	if _, err := b.pl.Telemetry.Do(ctx, http.MethodGet, "/metrics", "", nil, &buf); err != nil {
		progress("warning: /metrics: %v", err)
	}
	for line := range strings.Lines(buf.String()) {
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		m.series++
		name, val, _ := strings.Cut(strings.TrimSpace(line), " ")
		v, _ := strconv.ParseFloat(val, 64)
		switch name {
		case "go_goroutines":
			m.goroutines = v
		case "go_memstats_heap_inuse_bytes":
			m.heapInuse = v
		case "hks_controlplane_spares_ready":
			m.spares = v
		}
	}
	if err := b.etcdMetrics(ctx, &m); err != nil {
		progress("warning: etcd /metrics: %v", err)
	}
	return m
}

// etcdMetrics reads the shared etcd's database size and key count from
// its /metrics, with the client certificate the server keeps in its data
// dir.
func (b *bench) etcdMetrics(ctx context.Context, m *hksMetrics) error {
	dir := filepath.Join(b.pl.DataDir, "etcd")
	var ports struct{ Client int }
	pb, err := os.ReadFile(filepath.Join(dir, "ports.json"))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(pb, &ports); err != nil {
		return err
	}
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "pki", "client.crt"), filepath.Join(dir, "pki", "client.key"))
	if err != nil {
		return err
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, "pki", "ca.crt"))
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	tr := &http.Transport{TLSClientConfig: &tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: pool, MinVersion: tls.VersionTLS12}}
	defer tr.CloseIdleConnections()
	c := platform.Client{Base: "https://127.0.0.1:" + strconv.Itoa(ports.Client), HC: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
	var buf bytes.Buffer
	if code, err := c.Do(ctx, http.MethodGet, "/metrics", "", nil, &buf); err != nil || code != http.StatusOK {
		return fmt.Errorf("status %d: %v", code, err)
	}
	for line := range strings.Lines(buf.String()) {
		name, val, _ := strings.Cut(strings.TrimSpace(line), " ")
		v, _ := strconv.ParseFloat(val, 64)
		switch name {
		case "etcd_mvcc_db_total_size_in_bytes":
			m.etcdDB = v
		case "etcd_mvcc_db_total_size_in_use_in_bytes":
			m.etcdDBInUse = v
		case "etcd_debugging_mvcc_keys_total":
			m.etcdKeys = v
		}
	}
	return nil
}

// meminfo returns MemTotal and MemAvailable in KiB.
func meminfo() (total, avail float64) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		fail(err)
	}
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "MemTotal:":
			total = v
		case "MemAvailable:":
			avail = v
		}
	}
	return total, avail
}

// machineCPU is the machine's busy CPU time in ticks (/proc/stat: all but
// idle and iowait; steal included).
func machineCPU() int64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		fail(err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	var busy int64
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		if i != 3 && i != 4 && i < 8 { // idle, iowait; guest is in user already
			busy += n
		}
	}
	return busy
}

type pct struct {
	N    int     `json:"n"`
	P50s float64 `json:"p50_s"`
	P95s float64 `json:"p95_s"`
	Maxs float64 `json:"max_s"`
}

// pcts are nearest-rank percentiles: the q-th is the smallest sample with
// at least q of the samples at or below it (of 20, the 95th is the 19th).
func pcts(ds []time.Duration) *pct {
	if len(ds) == 0 {
		return nil
	}
	secs := make([]float64, len(ds))
	for i, d := range ds {
		secs[i] = d.Seconds()
	}
	slices.Sort(secs)
	at := func(q float64) float64 { return platform.Percentile(secs, q) }
	return &pct{N: len(ds), P50s: at(0.5), P95s: at(0.95), Maxs: secs[len(secs)-1]}
}

type settings struct {
	N            int     `json:"n"`
	Awake        int     `json:"awake"`
	BudgetMiB    float64 `json:"budget_mib"`
	Parallel     int     `json:"parallel"`
	WarmPool     int     `json:"warm_pool"`
	Wakes        int     `json:"wakes"`
	WakeParallel int     `json:"wake_parallel"`
	IdleS        float64 `json:"idle_s"`
	MemTotalMiB  float64 `json:"mem_total_mib"`
}

type targets struct {
	Held        int     `json:"held"`
	Awake       int     `json:"awake"`
	WakeP50s    float64 `json:"wake_p50_s"`
	WakeP95s    float64 `json:"wake_p95_s"`
	SleepingMiB float64 `json:"sleeping_platform_mib"`
}

type mem struct {
	RSSMiB     float64 `json:"rss_mib"`
	PrivateMiB float64 `json:"private_mib"`
	PSSMiB     float64 `json:"pss_mib"`
	Procs      int     `json:"processes"`
}

func memOf(s sums) mem {
	return mem{RSSMiB: s.rss / 1024, PrivateMiB: s.private / 1024, PSSMiB: s.pss / 1024, Procs: s.n}
}

// perSleeping is what each sleeping workspace added to the platform,
// between the snapshot after the awake ones and the one after the rest.
type perSleeping struct {
	HksRSSKiB       float64 `json:"hks_rss_kib"`
	HksPrivateKiB   float64 `json:"hks_private_kib"`
	HksHeapKiB      float64 `json:"hks_heap_inuse_kib"`
	HksGoroutines   float64 `json:"hks_goroutines"`
	HksFDs          float64 `json:"hks_fds"`
	HksMetricSeries float64 `json:"hks_metric_series"`
	EtcdRSSKiB      float64 `json:"etcd_rss_kib"`
	EtcdPrivateKiB  float64 `json:"etcd_private_kib"`
	EtcdDBKiB       float64 `json:"etcd_db_in_use_kib"`
	EtcdKeys        float64 `json:"etcd_keys"`
}

func hksStateOf(c snapshot, m hksMetrics) hksState {
	h := c.group("hks")
	return hksState{RSSMiB: h.rss / 1024, PrivateMiB: h.private / 1024, HeapMiB: m.heapInuse / (1 << 20), Goroutines: m.goroutines,
		FDs: h.fds, MetricSeries: m.series, EtcdDBMiB: m.etcdDB / (1 << 20), EtcdDBInUseMiB: m.etcdDBInUse / (1 << 20), EtcdKeys: m.etcdKeys}
}

type hksState struct {
	RSSMiB         float64 `json:"rss_mib"`
	PrivateMiB     float64 `json:"private_mib"`
	HeapMiB        float64 `json:"heap_inuse_mib"`
	Goroutines     float64 `json:"goroutines"`
	FDs            int     `json:"fds"`
	MetricSeries   int     `json:"metric_series"`
	EtcdDBMiB      float64 `json:"etcd_db_mib"`
	EtcdDBInUseMiB float64 `json:"etcd_db_in_use_mib"`
	EtcdKeys       float64 `json:"etcd_keys"`
}

type summary struct {
	Settings      settings `json:"settings"`
	Target        targets  `json:"targets"`
	Held          int      `json:"held"`
	Awake         int      `json:"awake"`
	Sleeping      int      `json:"sleeping"`
	BudgetReached bool     `json:"budget_reached"`
	FillS         float64  `json:"fill_s"`
	// SleepingProcs is the number of processes of sleeping workspaces at
	// the end of the idle window (want 0).
	SleepingProcs int `json:"sleeping_workspace_processes"`

	Total                 mem            `json:"total"`
	Groups                map[string]mem `json:"by_group"`
	PerAwake              mem            `json:"per_awake_median"`
	PerAwakePrivateMinMiB float64        `json:"per_awake_private_min_mib"`
	PerAwakePrivateMaxMiB float64        `json:"per_awake_private_max_mib"`
	PerSleeping           *perSleeping   `json:"per_sleeping,omitempty"`
	HksBefore             hksState       `json:"hks_after_awake"`
	HksAfter              hksState       `json:"hks_after_all"`
	HksEnd                hksState       `json:"hks_end_of_idle"`
	Ready                 *pct           `json:"create_to_running,omitempty"`
	Sleep                 *pct           `json:"sleep_to_no_process,omitempty"`
	WakeOne               *pct           `json:"wake_one_at_a_time,omitempty"`
	WakeConcurrentAt      int            `json:"wake_concurrent_at,omitempty"`
	WakeConcurrent        *pct           `json:"wake_concurrent,omitempty"`

	IdleCPUs          float64            `json:"idle_cpu_s"`
	IdleCPUByGroup    map[string]float64 `json:"idle_cpu_s_by_group"`
	IdleCPUPerAwake   float64            `json:"idle_cpu_s_per_awake"`
	IdleCoresPerAwake float64            `json:"idle_cores_per_awake"`
	MachineCores      float64            `json:"machine_busy_cores"`
	OtherCores        float64            `json:"other_busy_cores"`
}

func (s *summary) fillIdle(c0, c1 snapshot, machine int64, window time.Duration, awake int) {
	s.IdleCPUByGroup = map[string]float64{}
	var total int64
	for pid, p := range c1 {
		d := p.ticks - c0[pid].ticks // a process new in the window counts whole
		total += d
		s.IdleCPUByGroup[p.group] += float64(d) / clkTck
	}
	s.IdleCPUs = float64(total) / clkTck
	if awake > 0 {
		s.IdleCPUPerAwake = s.IdleCPUs / float64(awake)
		s.IdleCoresPerAwake = s.IdleCPUPerAwake / window.Seconds()
	}
	s.MachineCores = float64(machine) / clkTck / window.Seconds()
	s.OtherCores = s.MachineCores - s.IdleCPUs/window.Seconds()
}

func (s *summary) fillMemory(c snapshot, awake, sleeping []string, wsDir func(string) string) {
	s.Total = memOf(c.total())
	s.Groups = map[string]mem{}
	for _, g := range []string{"hks", "etcd", "workspace", "spare", "other"} {
		if t := c.group(g); t.n > 0 {
			s.Groups[g] = memOf(t)
		}
	}
	var rss, priv, pss []float64
	for _, id := range awake {
		t := c.ws(id)
		rss, priv, pss = append(rss, t.rss/1024), append(priv, t.private/1024), append(pss, t.pss/1024)
	}
	if len(awake) > 0 {
		med := func(v []float64) float64 { slices.Sort(v); return v[len(v)/2] }
		s.PerAwake = mem{RSSMiB: med(rss), PrivateMiB: med(priv), PSSMiB: med(pss), Procs: c.ws(awake[0]).n}
		s.PerAwakePrivateMinMiB, s.PerAwakePrivateMaxMiB = priv[0], priv[len(priv)-1]
	}
	for _, id := range sleeping {
		s.SleepingProcs += len(platform.PIDsNaming(wsDir(id)))
	}
}

func (s *summary) print(w *os.File) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(cols ...string) { fmt.Fprintln(tw, strings.Join(cols, "\t")) }
	mib := func(v float64) string { return fmt.Sprintf("%.1f MiB", v) }
	secs := func(p *pct) string {
		if p == nil {
			return "—"
		}
		return fmt.Sprintf("p50 %.2fs  p95 %.2fs  max %.2fs  (n=%d)", p.P50s, p.P95s, p.Maxs, p.N)
	}
	row("workspaces held", fmt.Sprintf("%d (%d awake, %d asleep)%s", s.Held, s.Awake, s.Sleeping,
		map[bool]string{true: ", memory budget reached", false: ""}[s.BudgetReached]), fmt.Sprintf("target %d with %d awake", s.Target.Held, s.Target.Awake))
	row("created in", fmt.Sprintf("%.0fs", s.FillS))
	row("processes of sleeping workspaces", strconv.Itoa(s.SleepingProcs), "target 0")
	row("total (everything started)", fmt.Sprintf("RSS %s  private %s  PSS %s  (%d processes)", mib(s.Total.RSSMiB), mib(s.Total.PrivateMiB), mib(s.Total.PSSMiB), s.Total.Procs))
	for _, g := range []string{"hks", "etcd", "workspace", "spare", "other"} {
		if m, ok := s.Groups[g]; ok {
			row("  "+g, fmt.Sprintf("RSS %s  private %s  PSS %s  (%d processes)", mib(m.RSSMiB), mib(m.PrivateMiB), mib(m.PSSMiB), m.Procs))
		}
	}
	if s.Awake > 0 {
		row("per awake workspace (median)", fmt.Sprintf("RSS %s  private %s  PSS %s", mib(s.PerAwake.RSSMiB), mib(s.PerAwake.PrivateMiB), mib(s.PerAwake.PSSMiB)),
			fmt.Sprintf("private min %s max %s", mib(s.PerAwakePrivateMinMiB), mib(s.PerAwakePrivateMaxMiB)))
	}
	if p := s.PerSleeping; p != nil {
		row("per sleeping workspace: hks", fmt.Sprintf("RSS %+.0f KiB  private %+.0f KiB  heap in use %+.0f KiB", p.HksRSSKiB, p.HksPrivateKiB, p.HksHeapKiB), fmt.Sprintf("target ≤ %.0f MiB", s.Target.SleepingMiB))
		row("per sleeping workspace: hks", fmt.Sprintf("goroutines %+.2f  fds %+.2f  metric samples %+.1f", p.HksGoroutines, p.HksFDs, p.HksMetricSeries))
		row("per sleeping workspace: etcd", fmt.Sprintf("RSS %+.0f KiB  private %+.0f KiB  db in use %+.0f KiB  keys %+.0f", p.EtcdRSSKiB, p.EtcdPrivateKiB, p.EtcdDBKiB, p.EtcdKeys))
		row("hks after the awake ones", fmt.Sprintf("RSS %s  heap %s  goroutines %.0f  fds %d  metric samples %d",
			mib(s.HksBefore.RSSMiB), mib(s.HksBefore.HeapMiB), s.HksBefore.Goroutines, s.HksBefore.FDs, s.HksBefore.MetricSeries))
		row("etcd after the awake ones", fmt.Sprintf("db %s (in use %s of the 4 GiB quota), %.0f keys", mib(s.HksBefore.EtcdDBMiB), mib(s.HksBefore.EtcdDBInUseMiB), s.HksBefore.EtcdKeys))
		row("hks after all", fmt.Sprintf("RSS %s  heap %s  goroutines %.0f  fds %d  metric samples %d",
			mib(s.HksAfter.RSSMiB), mib(s.HksAfter.HeapMiB), s.HksAfter.Goroutines, s.HksAfter.FDs, s.HksAfter.MetricSeries))
		row("etcd after all", fmt.Sprintf("db %s (in use %s of the 4 GiB quota), %.0f keys", mib(s.HksAfter.EtcdDBMiB), mib(s.HksAfter.EtcdDBInUseMiB), s.HksAfter.EtcdKeys))
	}
	row("hks at the end", fmt.Sprintf("RSS %s  heap %s  goroutines %.0f  fds %d  metric samples %d",
		mib(s.HksEnd.RSSMiB), mib(s.HksEnd.HeapMiB), s.HksEnd.Goroutines, s.HksEnd.FDs, s.HksEnd.MetricSeries))
	row("create → running", secs(s.Ready))
	row("sleep: POST → no process", secs(s.Sleep))
	row("wake through the gateway, one at a time", secs(s.WakeOne), fmt.Sprintf("target p50 ≤ %.0fs, p95 ≤ %.0fs", s.Target.WakeP50s, s.Target.WakeP95s))
	if s.WakeConcurrent != nil {
		row(fmt.Sprintf("wake through the gateway, %d at once", s.WakeConcurrentAt), secs(s.WakeConcurrent))
	}
	row(fmt.Sprintf("idle CPU over %.0fs", s.Settings.IdleS), fmt.Sprintf("%.2f s in all (hks %.2f, etcd %.2f, workspaces %.2f, spare %.2f)",
		s.IdleCPUs, s.IdleCPUByGroup["hks"], s.IdleCPUByGroup["etcd"], s.IdleCPUByGroup["workspace"], s.IdleCPUByGroup["spare"]))
	if s.Awake > 0 {
		row("idle CPU per awake workspace", fmt.Sprintf("%.3f s (%.4f core)", s.IdleCPUPerAwake, s.IdleCoresPerAwake))
	}
	row("machine busy during the window", fmt.Sprintf("%.2f cores, of which other processes %.2f", s.MachineCores, s.OtherCores))
	tw.Flush()
}
