// Command wsbench measures the local control-plane provider on this
// machine: time from create to ready for workspaces created one by one and
// several at a time, and the resident memory of an idle workspace (all of
// its processes). Figures go to docs/performance.md.
//
//	go run ./hack/wsbench -n 10 -parallel 5               # through the API
//	go run ./hack/wsbench -n 10 -parallel 5 -via provider # the provider alone
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hexabase/hexabase-ai/hack/internal/platform"
	"github.com/hexabase/hexabase-ai/internal/config"
	"github.com/hexabase/hexabase-ai/internal/controlplane"
	"github.com/hexabase/hexabase-ai/internal/controlplane/local"
	"github.com/hexabase/hexabase-ai/internal/store"
)

func main() {
	n := flag.Int("n", 10, "workspaces created one by one")
	par := flag.Int("parallel", 5, "workspaces created at once in the second round (0: skip)")
	idle := flag.Duration("idle", 30*time.Second, "how long the workspaces idle before memory is read")
	binDir := flag.String("k8s-bin-dir", "", "binaries (default: the make k8s-bins cache)")
	serverLog := flag.String("server-log", "", "with -via api: write the server's JSON log to this file")
	pool := flag.Int("warm-pool", 1, "spare API servers kept ready (the server's --warm-pool); the rounds wait for the pool to refill before each create (one by one) or each round (at a time)")
	via := flag.String("via", "api", "api: the whole platform in-process, POST …/workspaces until GET shows running; provider: the local provider's Create alone")
	flag.Parse()
	ctx := context.Background()
	var (
		dir    string
		create func() (string, time.Duration)
		del    func(id string)
		spares func() int
	)
	switch *via {
	case "provider":
		var stop func()
		dir, create, del, spares, stop = viaProvider(ctx, *binDir, *pool)
		defer stop()
	case "api":
		var stop func()
		dir, create, del, spares, stop = viaAPI(ctx, *binDir, *serverLog, *pool)
		defer stop()
	default:
		fail(fmt.Errorf("-via %q: want api or provider", *via))
	}
	// The shared etcd starts with the first workspace; start it apart so
	// that it does not count for that one.
	warm, _ := create()
	del(warm)
	// waitPool waits until the pool holds its spares again (a refill takes
	// an API server's boot, about 3 s).
	waitPool := func() {
		deadline := time.Now().Add(2 * time.Minute)
		for spares() < *pool {
			if time.Now().After(deadline) {
				fail(fmt.Errorf("the warm pool did not refill to %d in 2m", *pool))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	var ids []string
	var seq []time.Duration
	for range *n {
		waitPool()
		id, d := create()
		ids = append(ids, id)
		seq = append(seq, d)
	}
	report(fmt.Sprintf("create to ready, one by one (n=%d, warm pool %d)", *n, *pool), seq)
	if *par > 0 {
		var conc []time.Duration
		var mu sync.Mutex
		for round := 0; round < 2; round++ {
			waitPool()
			var wg sync.WaitGroup
			for range *par {
				wg.Go(func() {
					id, d := create()
					mu.Lock()
					ids = append(ids, id)
					conc = append(conc, d)
					mu.Unlock()
				})
			}
			wg.Wait()
		}
		report(fmt.Sprintf("create to ready, %d at a time (n=%d, warm pool %d)", *par, len(conc), *pool), conc)
	}
	fmt.Printf("idling %s with %d workspaces...\n", *idle, len(ids))
	time.Sleep(*idle)
	var per, own, pss []float64
	byProc := map[string][]float64{}
	for _, id := range ids {
		total, anon, pssKB := 0.0, 0.0, 0.0
		for name, m := range memOf(filepath.Join(dir, "workspaces", id)) {
			total += m.rss
			anon += m.anon
			pssKB += m.pss
			byProc[name] = append(byProc[name], m.rss/1024)
		}
		per = append(per, total/1024)
		own = append(own, anon/1024)
		pss = append(pss, pssKB/1024)
	}
	slices.Sort(own)
	slices.Sort(pss)
	fmt.Printf("private memory (RssAnon+RssShmem) per idle workspace (MiB): min %.0f median %.0f max %.0f\n", own[0], own[len(own)/2], own[len(own)-1])
	fmt.Printf("PSS per idle workspace, shared code split across workspaces (MiB): min %.0f median %.0f max %.0f\n", pss[0], pss[len(pss)/2], pss[len(pss)-1])
	slices.Sort(per)
	fmt.Printf("RSS per idle workspace (MiB): min %.0f median %.0f max %.0f\n", per[0], per[len(per)/2], per[len(per)-1])
	for name, v := range byProc {
		slices.Sort(v)
		fmt.Printf("  %-24s median %.0f MiB\n", name, v[len(v)/2])
	}
	etcd := 0.0
	for _, m := range memOf(filepath.Join(dir, "etcd", "data")) {
		etcd += m.rss
	}
	fmt.Printf("shared etcd RSS with %d workspaces: %.0f MiB\n", len(ids), etcd/1024)
	if *pool > 0 {
		marks, _ := filepath.Glob(filepath.Join(dir, "workspaces", "*", "spare"))
		for _, m := range marks {
			total, anon := 0.0, 0.0
			for _, pm := range memOf(filepath.Dir(m)) {
				total += pm.rss
				anon += pm.anon
			}
			fmt.Printf("warm pool: spare %s RSS %.0f MiB, private %.0f MiB\n", filepath.Base(filepath.Dir(m)), total/1024, anon/1024)
		}
	}
	// The binaries' code pages are shared by every workspace: count them
	// once (the largest RSS minus private, about 250 MiB), then the
	// private memory of each workspace.
	med := own[len(own)/2]
	code := per[len(per)/2] - med
	fmt.Printf("workspaces in 8 GiB (shared code %.0f MiB and etcd once, then median private memory each): %d\n", code, int((8*1024-etcd/1024-code)/med))
	fmt.Printf("workspaces in 8 GiB counting full RSS each (pessimistic): %d\n", int((8*1024-etcd/1024)/per[len(per)/2]))
	for _, id := range ids {
		del(id)
	}
}

// viaProvider measures the local provider's Create alone.
func viaProvider(ctx context.Context, binDir string, pool int) (string, func() (string, time.Duration), func(string), func() int, func()) {
	dir, err := os.MkdirTemp("", "wsbench-")
	if err != nil {
		fail(err)
	}
	issuer := controlplane.IssuerTrust{URL: "https://127.0.0.1:1"}
	p, err := local.New(local.Config{DataDir: dir, BinDir: binDir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		WarmPool: pool, Issuer: issuer})
	if err != nil {
		fail(err)
	}
	p.StartPool()
	create := func() (string, time.Duration) {
		start := time.Now()
		id, ok := p.Reserve(controlplane.PlanShared)
		if !ok {
			id = store.NewID()
		}
		if err := p.Create(ctx, controlplane.Spec{WorkspaceID: id, OrgID: "bench", Plan: controlplane.PlanShared, Issuer: issuer}); err != nil {
			fail(err)
		}
		return id, time.Since(start)
	}
	del := func(id string) {
		if err := p.Delete(ctx, id); err != nil {
			fail(err)
		}
	}
	stop := func() {
		_ = p.Close()
		os.RemoveAll(dir)
	}
	return dir, create, del, p.SparesReady, stop
}

// viaAPI measures what a user sees: from sending POST …/workspaces to the
// first GET …/workspaces/{workspace} (polled every 20 ms) that shows running.
func viaAPI(ctx context.Context, binDir, serverLog string, pool int) (string, func() (string, time.Duration), func(string), func() int, func()) {
	var logw io.Writer
	if serverLog != "" {
		f, err := os.Create(serverLog)
		if err != nil {
			fail(err)
		}
		logw = f
	}
	pl, err := platform.Start(ctx, platform.Options{Log: logw, Configure: func(c *config.Config) {
		c.K8sBinDir = binDir
		c.WarmPool = pool
		// The poll below is one user's burst of GETs.
		platform.Unthrottled(c)
	}})
	if err != nil {
		fail(err)
	}
	org, err := pl.Create(ctx, "/api/v1/organizations", map[string]string{"name": "Bench"}, http.StatusCreated)
	if err != nil {
		fail(err)
	}
	wss := "/api/v1/organizations/" + org + "/workspaces"
	var mu sync.Mutex
	seq := 0
	create := func() (string, time.Duration) {
		mu.Lock()
		seq++
		name := fmt.Sprintf("ws-%d", seq)
		mu.Unlock()
		start := time.Now()
		id, err := pl.Create(ctx, wss, map[string]string{"name": name}, http.StatusAccepted)
		if err != nil {
			fail(err)
		}
		for {
			var w struct {
				Status       string `json:"status"`
				StatusReason string `json:"status_reason"`
			}
			if err := pl.Expect(ctx, http.MethodGet, wss+"/"+id, pl.Token, nil, http.StatusOK, &w); err != nil {
				fail(err)
			}
			switch w.Status {
			case "running":
				return id, time.Since(start)
			case "failed":
				fail(fmt.Errorf("workspace %s failed: %s", id, w.StatusReason))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	del := func(id string) {
		if err := pl.Expect(ctx, http.MethodDelete, wss+"/"+id, pl.Token, nil, http.StatusAccepted, nil); err != nil {
			fail(err)
		}
		for {
			code, err := pl.Do(ctx, http.MethodGet, wss+"/"+id, pl.Token, nil, nil)
			if err != nil {
				fail(err)
			}
			if code == http.StatusNotFound {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	stop := func() {
		if err := pl.Stop(); err != nil {
			fail(err)
		}
	}
	// spares reads hks_controlplane_spares_ready from the telemetry
	// listener's /metrics.
	spares := func() int {
		var b bytes.Buffer
		if _, err := pl.Telemetry.Do(ctx, http.MethodGet, "/metrics", "", nil, &b); err != nil {
			fail(err)
		}
		for line := range strings.Lines(b.String()) {
			if v, ok := strings.CutPrefix(line, "hks_controlplane_spares_ready "); ok {
				n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil {
					fail(err)
				}
				return int(n)
			}
		}
		return 0
	}
	return pl.DataDir, create, del, spares, stop
}

func report(what string, ds []time.Duration) {
	slices.Sort(ds)
	pct := func(q float64) time.Duration { return ds[min(len(ds)-1, int(q*float64(len(ds))))] }
	fmt.Printf("%s: p50 %s p95 %s max %s\n", what, pct(0.5).Round(10*time.Millisecond), pct(0.95).Round(10*time.Millisecond), ds[len(ds)-1].Round(10*time.Millisecond))
}

// mem is the memory of processes, in KiB.
type mem struct{ rss, anon, pss float64 }

// memOf sums VmRSS, RssAnon+RssShmem and Pss by program name over the
// processes whose command line mentions dir.
func memOf(dir string) map[string]mem {
	out := map[string]mem{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		cmd, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || !bytes.Contains(cmd, []byte(dir)) {
			continue
		}
		argv0, _, _ := bytes.Cut(cmd, []byte{0})
		status, err := os.ReadFile("/proc/" + e.Name() + "/status")
		if err != nil {
			continue
		}
		name := filepath.Base(string(argv0))
		m := out[name]
		rollup, _ := os.ReadFile("/proc/" + e.Name() + "/smaps_rollup")
		for _, line := range strings.Split(string(status)+"\n"+string(rollup), "\n") {
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			kb, _ := strconv.ParseFloat(f[1], 64)
			switch f[0] {
			case "VmRSS:":
				m.rss += kb
			case "RssAnon:", "RssShmem:":
				m.anon += kb
			case "Pss:":
				m.pss += kb
			}
		}
		out[name] = m
	}
	return out
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "wsbench:", err)
	os.Exit(1)
}
