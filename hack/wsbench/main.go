// Command wsbench measures the local control-plane provider on this
// machine: time from create to ready for workspaces created one by one and
// several at a time, and the resident memory of an idle workspace (all of
// its processes). Figures go to docs/performance.md.
//
//	go run ./hack/wsbench -n 10 -parallel 5
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hexabase/hexabase-ai/internal/controlplane"
	"github.com/hexabase/hexabase-ai/internal/controlplane/local"
	"github.com/hexabase/hexabase-ai/internal/store"
)

func main() {
	n := flag.Int("n", 10, "workspaces created one by one")
	par := flag.Int("parallel", 5, "workspaces created at once in the second round (0: skip)")
	idle := flag.Duration("idle", 30*time.Second, "how long the workspaces idle before memory is read")
	binDir := flag.String("k8s-bin-dir", "", "binaries (default: the make k8s-bins cache)")
	flag.Parse()
	dir, err := os.MkdirTemp("", "wsbench-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	p, err := local.New(local.Config{DataDir: dir, BinDir: *binDir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		fail(err)
	}
	defer p.Close()
	ctx := context.Background()
	issuer := controlplane.IssuerTrust{URL: "https://127.0.0.1:1"}
	create := func() (string, time.Duration) {
		id := store.NewID()
		start := time.Now()
		if err := p.Create(ctx, controlplane.Spec{WorkspaceID: id, OrgID: "bench", Plan: controlplane.PlanShared, Issuer: issuer}); err != nil {
			fail(err)
		}
		return id, time.Since(start)
	}
	// The shared etcd starts with the first workspace; start it apart so
	// that it does not count for that one.
	warm, _ := create()
	if err := p.Delete(ctx, warm); err != nil {
		fail(err)
	}
	var ids []string
	var seq []time.Duration
	for range *n {
		id, d := create()
		ids = append(ids, id)
		seq = append(seq, d)
	}
	report(fmt.Sprintf("create to ready, one by one (n=%d)", *n), seq)
	if *par > 0 {
		var conc []time.Duration
		var mu sync.Mutex
		for round := 0; round < 2; round++ {
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
		report(fmt.Sprintf("create to ready, %d at a time (n=%d)", *par, len(conc)), conc)
	}
	fmt.Printf("idling %s with %d workspaces...\n", *idle, len(ids))
	time.Sleep(*idle)
	var per []float64
	byProc := map[string][]float64{}
	for _, id := range ids {
		total := 0.0
		for name, kb := range rssOf(filepath.Join(dir, "workspaces", id)) {
			total += kb
			byProc[name] = append(byProc[name], kb/1024)
		}
		per = append(per, total/1024)
	}
	slices.Sort(per)
	fmt.Printf("RSS per idle workspace (MiB): min %.0f median %.0f max %.0f\n", per[0], per[len(per)/2], per[len(per)-1])
	for name, v := range byProc {
		slices.Sort(v)
		fmt.Printf("  %-24s median %.0f MiB\n", name, v[len(v)/2])
	}
	etcd := 0.0
	for _, kb := range rssOf(filepath.Join(dir, "etcd", "data")) {
		etcd += kb
	}
	fmt.Printf("shared etcd RSS with %d workspaces: %.0f MiB\n", len(ids), etcd/1024)
	med := per[len(per)/2]
	fmt.Printf("workspaces in 8 GiB (median, plus the shared etcd): %d\n", int((8*1024-etcd/1024)/med))
	for _, id := range ids {
		if err := p.Delete(ctx, id); err != nil {
			fail(err)
		}
	}
}

func report(what string, ds []time.Duration) {
	slices.Sort(ds)
	pct := func(q float64) time.Duration { return ds[min(len(ds)-1, int(q*float64(len(ds))))] }
	fmt.Printf("%s: p50 %s p95 %s max %s\n", what, pct(0.5).Round(10*time.Millisecond), pct(0.95).Round(10*time.Millisecond), ds[len(ds)-1].Round(10*time.Millisecond))
}

// rssOf sums VmRSS (KiB) by program name over the processes whose command
// line mentions dir.
func rssOf(dir string) map[string]float64 {
	out := map[string]float64{}
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
		for _, line := range strings.Split(string(status), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
				kb, _ := strconv.ParseFloat(f[1], 64)
				out[filepath.Base(string(argv0))] += kb
			}
		}
	}
	return out
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "wsbench:", err)
	os.Exit(1)
}
