// Command fnbench measures functions (issue 15) against their targets,
// end to end through the platform's HTTP API and its HTTP trigger:
//
//   - cold start p50 and p95 per runtime (targets: p50 ≤ 50 ms for
//     python, go and wasm, ≤ 100 ms for node; p95 ≤ 2× p50): the first
//     call of a freshly deployed version, which specializes a warm loader
//     (wasm: instantiates the compiled module), as the client sees it;
//   - a warm call through HTTP, p50 per runtime (target ≤ 3 ms);
//   - throughput of a trivial function on this machine's cores (target
//     ≥ 1,000 invocations/s), with -clients concurrent callers;
//   - deploy to first successful call per runtime (targets ≤ 1 s for node
//     and python, ≤ 3 s for go);
//   - 1,000 deployed idle functions: the instances they hold (target: no
//     process) and the platform's memory they cost (target < 50 MiB: the
//     Go heap after a GC, and the process's RSS, before and after).
//
// In the same run it measures what the figures compare with: a plain
// authenticated API request (GET of the function), so the platform's
// share of a call can be told from the runtime's.
//
//	make fnbench
//	go run ./hack/fnbench -cold 30 -warm 2000 -idle 1000
//
// It starts the whole platform in-process (hack/internal/platform) with
// no workspace control planes (functions need none) and a temp data dir.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hexabase/hexabase-ai/hack/internal/platform"
	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/config"
)

type options struct {
	cold, warm, deploys, idle, clients int
	duration                           time.Duration
	runtimes                           string
	jsonOut                            string
	cpuProfile                         string
	logFile                            string
}

func main() {
	var o options
	flag.IntVar(&o.cold, "cold", 30, "cold starts measured per runtime (one freshly deployed version each)")
	flag.IntVar(&o.warm, "warm", 1000, "warm calls measured per runtime")
	flag.IntVar(&o.deploys, "deploys", 5, "deploy-to-first-call measurements per runtime")
	flag.IntVar(&o.idle, "idle", 1000, "idle functions deployed for the memory figure (0: skip)")
	flag.IntVar(&o.clients, "clients", 16, "concurrent callers of the throughput run")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "length of the throughput run")
	flag.StringVar(&o.runtimes, "runtimes", "python,node,go,wasm", "runtimes measured")
	flag.StringVar(&o.jsonOut, "json", "", "also write the figures as JSON to this file")
	flag.StringVar(&o.logFile, "log", "", "write the platform's log to this file")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the throughput runs to this file")
	flag.Parse()
	if o.cold < 2 || o.warm < 2 || o.deploys < 1 || o.idle < 0 || o.clients < 1 {
		fail(errors.New("want -cold, -warm >= 2, -deploys, -clients >= 1, -idle >= 0"))
	}
	if err := run(context.Background(), o); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "fnbench:", err)
	os.Exit(1)
}

// code is a trivial handler per runtime; %d makes each version distinct.
var code = map[string]struct{ file, src string }{
	"python": {"handler.py", "def handle(req):\n    return 'ok %d'\n"},
	"node":   {"index.js", "module.exports = async (req) => 'ok %d';\n"},
	"go":     {"main.go", "package main\n\nfunc Handle(req Request) Response {\n\treturn Response{Status: 200, Body: []byte(\"ok %d\")}\n}\n"},
}

const wasmSrc = `package main

import (
	"io"
	"os"
)

var n = "%d"

func main() {
	io.Copy(io.Discard, os.Stdin)
	os.Stdout.WriteString("ok " + n)
}
`

type bench struct {
	p       *platform.Platform
	project string // API path
	wasmDir string
	figures map[string]any
}

func run(ctx context.Context, o options) error {
	// The first go deploy on an empty build cache compiles the standard
	// library's parts it uses: minutes on a loaded 2-core machine.
	var logw io.Writer
	if o.logFile != "" {
		f, err := os.Create(o.logFile)
		if err != nil {
			return err
		}
		defer f.Close()
		logw = f
	}
	p, err := platform.Start(ctx, platform.Options{Log: logw, Timeout: 5 * time.Minute, Configure: func(c *config.Config) {
		platform.Unthrottled(c)
		c.ControlPlaneProvider = "none"
		c.Functions.MaxInstancesPerWorkspace = 4 * o.cold
	}})
	if err != nil {
		return err
	}
	defer p.Stop()
	b := &bench{p: p, figures: map[string]any{"cpus": runtime.NumCPU()}}
	orgID, err := p.Create(ctx, "/api/v1/organizations", map[string]string{"name": "Bench"}, http.StatusCreated)
	if err != nil {
		return err
	}
	wsID, err := p.Create(ctx, "/api/v1/organizations/"+orgID+"/workspaces", map[string]string{"name": "bench"}, http.StatusAccepted)
	if err != nil {
		return err
	}
	ws := "/api/v1/organizations/" + orgID + "/workspaces/" + wsID
	if _, err := p.Create(ctx, ws+"/projects", map[string]any{"name": "bench"}, http.StatusCreated); err != nil {
		return err
	}
	b.project = ws + "/projects/bench"
	if b.wasmDir, err = os.MkdirTemp("", "fnbench-wasm-"); err != nil {
		return err
	}
	defer os.RemoveAll(b.wasmDir)

	var runtimes []api.FunctionRuntime
	if err := p.Expect(ctx, "GET", "/api/v1/functions/runtimes", p.Token, nil, http.StatusOK, &runtimes); err != nil {
		return err
	}
	for _, r := range runtimes {
		fmt.Printf("runtime %-6s available=%v %s %s\n", r.Name, r.Available, r.Version, r.Reason)
	}
	fmt.Printf("fnbench: %d CPUs, GOMAXPROCS %d\n\n", runtime.NumCPU(), runtime.GOMAXPROCS(0))
	seq := 0
	for _, rt := range strings.Split(o.runtimes, ",") {
		if err := b.perRuntime(ctx, o, rt, &seq); err != nil {
			return fmt.Errorf("%s: %w", rt, err)
		}
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	err = b.throughput(ctx, o)
	if o.cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return err
	}
	if o.idle > 0 {
		if err := b.idleFunctions(ctx, o); err != nil {
			return err
		}
	}
	if o.jsonOut != "" {
		j, _ := json.MarshalIndent(b.figures, "", "  ")
		return os.WriteFile(o.jsonOut, j, 0o644)
	}
	return nil
}

// source is the code of version seq of a runtime's trivial function.
func (b *bench) source(rt string, seq int) (api.FunctionSource, error) {
	if rt != "wasm" {
		c, ok := code[rt]
		if !ok {
			return api.FunctionSource{}, fmt.Errorf("unknown runtime %s", rt)
		}
		return api.FunctionSource{Filename: c.file, Content: []byte(fmt.Sprintf(c.src, seq))}, nil
	}
	dir := filepath.Join(b.wasmDir, strconv.Itoa(seq))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return api.FunctionSource{}, err
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(fmt.Sprintf(wasmSrc, seq)), 0o644); err != nil {
		return api.FunctionSource{}, err
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module fn\n\ngo 1.22\n"), 0o644); err != nil {
		return api.FunctionSource{}, err
	}
	cmd := exec.Command("go", "build", "-o", "fn.wasm", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return api.FunctionSource{}, fmt.Errorf("go build wasip1: %v\n%s", err, out)
	}
	mod, err := os.ReadFile(filepath.Join(dir, "fn.wasm"))
	return api.FunctionSource{Filename: "fn.wasm", Content: mod}, err
}

// deploy deploys a function and returns the path of its HTTP trigger.
func (b *bench) deploy(ctx context.Context, name, rt string, src api.FunctionSource, limits *api.FunctionLimits) (string, error) {
	var f api.Function
	req := api.DeployFunctionRequest{Runtime: rt, Source: src, Limits: limits}
	if err := b.p.Expect(ctx, "PUT", b.project+"/functions/"+name, b.p.Token, req, http.StatusCreated, &f); err != nil {
		return "", err
	}
	u, err := url.Parse(f.URL)
	if err != nil {
		return "", err
	}
	return u.Path, nil
}

// call calls the HTTP trigger once and returns its latency; an answer
// other than 200 with a body starting "ok" is an error.
func (b *bench) call(ctx context.Context, path string) (time.Duration, error) {
	var buf bytes.Buffer
	start := time.Now()
	code, err := b.p.Do(ctx, "POST", path, b.p.Token, []byte("{}"), &buf)
	d := time.Since(start)
	if err != nil {
		return d, err
	}
	if code != http.StatusOK || !strings.HasPrefix(buf.String(), "ok") {
		return d, fmt.Errorf("POST %s: %d %s", path, code, buf.String())
	}
	return d, nil
}

type stats struct{ P50, P95, Mean float64 } // milliseconds

func summarize(ds []time.Duration) stats {
	ms := make([]float64, len(ds))
	sum := 0.0
	for i, d := range ds {
		ms[i] = float64(d) / float64(time.Millisecond)
		sum += ms[i]
	}
	slices.Sort(ms)
	return stats{P50: platform.Percentile(ms, 0.5), P95: platform.Percentile(ms, 0.95), Mean: sum / float64(len(ms))}
}

func (b *bench) perRuntime(ctx context.Context, o options, rt string, seq *int) error {
	// Deploy to first successful call: fresh code every time.
	var deploys []time.Duration
	for i := 0; i < o.deploys; i++ {
		*seq++
		src, err := b.source(rt, *seq)
		if err != nil {
			return err
		}
		start := time.Now()
		path, err := b.deploy(ctx, fmt.Sprintf("d-%s-%d", rt, i), rt, src, nil)
		if err != nil {
			return err
		}
		if _, err := b.call(ctx, path); err != nil {
			return err
		}
		deploys = append(deploys, time.Since(start))
	}
	first := deploys[0]
	ds := summarize(deploys)
	fmt.Printf("%-6s deploy→first call: p50 %7.1f ms  (first of the run %7.1f ms, %d deploys)\n", rt, ds.P50, ms(first), len(deploys))

	// Cold starts: versions deployed first, then each called once. The
	// pause between calls lets the loader pool refill, as it does between
	// cold starts that are not a burst.
	var paths []string
	for i := 0; i < o.cold; i++ {
		*seq++
		src, err := b.source(rt, *seq)
		if err != nil {
			return err
		}
		path, err := b.deploy(ctx, fmt.Sprintf("c-%s-%d", rt, i), rt, src, nil)
		if err != nil {
			return err
		}
		paths = append(paths, path)
	}
	var cold, secondCall []time.Duration
	for _, path := range paths {
		time.Sleep(300 * time.Millisecond)
		d, err := b.call(ctx, path)
		if err != nil {
			return err
		}
		cold = append(cold, d)
		d2, err := b.call(ctx, path)
		if err != nil {
			return err
		}
		secondCall = append(secondCall, d2)
	}
	cs := summarize(cold)
	fmt.Printf("%-6s cold start:       p50 %7.1f ms  p95 %7.1f ms  (p95/p50 %.2f; the same version's second call p50 %.1f ms)\n", rt, cs.P50, cs.P95, cs.P95/cs.P50, summarize(secondCall).P50)

	// Warm calls of one version, and a plain API GET of it to compare.
	var warm, plain []time.Duration
	for i := 0; i < o.warm; i++ {
		d, err := b.call(ctx, paths[0])
		if err != nil {
			return err
		}
		warm = append(warm, d)
		start := time.Now()
		if code, err := b.p.Do(ctx, "GET", b.project+"/functions/"+fmt.Sprintf("c-%s-0", rt), b.p.Token, nil, nil); err != nil || code != http.StatusOK {
			return fmt.Errorf("GET the function: %d %v", code, err)
		}
		plain = append(plain, time.Since(start))
	}
	ws, ps := summarize(warm), summarize(plain)
	fmt.Printf("%-6s warm call (HTTP): p50 %7.2f ms  p95 %7.2f ms  (a plain API GET of the function: p50 %.2f ms)\n\n", rt, ws.P50, ws.P95, ps.P50)
	b.figures[rt] = map[string]any{"deploy_first_call_ms": ds, "deploy_first_of_run_ms": ms(first), "cold_ms": cs, "warm_ms": ws, "plain_get_ms": ps}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// throughput runs -clients callers of one trivial function for -duration
// per runtime measured.
func (b *bench) throughput(ctx context.Context, o options) error {
	for _, rt := range strings.Split(o.runtimes, ",") {
		src, err := b.source(rt, 1_000_000)
		if err != nil {
			return err
		}
		conc := 1
		if rt == "node" || rt == "python" {
			conc = 8
		}
		path, err := b.deploy(ctx, "tput-"+rt, rt, src, &api.FunctionLimits{Concurrency: conc, MaxInstances: 8})
		if err != nil {
			return err
		}
		if _, err := b.call(ctx, path); err != nil {
			return err
		}
		var ok, failed atomic.Int64
		var firstErr atomic.Value
		deadline := time.Now().Add(o.duration)
		var wg sync.WaitGroup
		for c := 0; c < o.clients; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(deadline) {
					if _, err := b.call(ctx, path); err != nil {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, err.Error())
						continue
					}
					ok.Add(1)
				}
			}()
		}
		wg.Wait()
		rate := float64(ok.Load()) / o.duration.Seconds()
		fmt.Printf("%-6s throughput: %7.0f invocations/s with %d clients over %s (%d failed", rt, rate, o.clients, o.duration, failed.Load())
		if e := firstErr.Load(); e != nil {
			fmt.Printf("; first: %.200s", e)
		}
		fmt.Println(")")
		b.figures["throughput_"+rt] = map[string]any{"per_second": rate, "failed": failed.Load(), "clients": o.clients}
	}
	fmt.Println()
	return nil
}

// idleFunctions deploys o.idle python functions nobody calls and reports
// the instances they hold and the memory they cost the platform.
func (b *bench) idleFunctions(ctx context.Context, o options) error {
	heap0, rss0 := memory()
	procs0 := sandboxProcesses()
	start := time.Now()
	for i := 0; i < o.idle; i++ {
		src, err := b.source("python", 2_000_000+i)
		if err != nil {
			return err
		}
		if _, err := b.deploy(ctx, fmt.Sprintf("idle-%04d", i), "python", src, nil); err != nil {
			return err
		}
	}
	took := time.Since(start)
	heap1, rss1 := memory()
	procs1 := sandboxProcesses()
	instances := 0
	cursor := ""
	for {
		var l api.List[api.Function]
		p := b.project + "/functions?limit=100"
		if cursor != "" {
			p += "&cursor=" + url.QueryEscape(cursor)
		}
		if err := b.p.Expect(ctx, "GET", p, b.p.Token, nil, http.StatusOK, &l); err != nil {
			return err
		}
		for _, f := range l.Items {
			if strings.HasPrefix(f.Name, "idle-") {
				instances += f.Instances
			}
		}
		if l.NextCursor == "" {
			break
		}
		cursor = l.NextCursor
	}
	fmt.Printf("%d idle functions (deployed in %s, %.0f ms each): %d instances; sandboxed processes %d before, %d after (the loader pool)\n",
		o.idle, took.Round(time.Second), ms(took)/float64(o.idle), instances, procs0, procs1)
	fmt.Printf("platform memory: Go heap after GC %+.1f MiB (%.1f → %.1f), RSS %+.1f MiB (%.1f → %.1f)\n",
		mib(heap1)-mib(heap0), mib(heap0), mib(heap1), mib(rss1)-mib(rss0), mib(rss0), mib(rss1))
	b.figures["idle"] = map[string]any{"functions": o.idle, "instances": instances, "sandbox_processes_before": procs0, "sandbox_processes_after": procs1,
		"heap_delta_mib": mib(heap1) - mib(heap0), "rss_delta_mib": mib(rss1) - mib(rss0)}
	return nil
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

// memory is the live Go heap after a GC and the process's resident set.
func memory() (heap, rss uint64) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	b, err := os.ReadFile("/proc/self/status")
	if err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
				kb, _ := strconv.ParseUint(f[1], 10, 64)
				rss = kb << 10
			}
		}
	}
	return m.HeapAlloc, rss
}

// sandboxProcesses counts this process's bwrap children and their trees
// (processes whose parent chain reaches this process through bwrap).
func sandboxProcesses() int {
	self := os.Getpid()
	parent := map[int]int{}
	name := map[int]string{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < 0 {
			continue
		}
		f := strings.Fields(s[close+1:])
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		parent[pid], name[pid] = ppid, s[open+1:close]
	}
	n := 0
	for pid := range parent {
		sandboxed := false
		for p, hops := pid, 0; p > 1 && hops < 64; p, hops = parent[p], hops+1 {
			if name[p] == "bwrap" {
				sandboxed = true
			}
			if parent[p] == self {
				if sandboxed || name[p] == "bwrap" {
					n++
				}
				break
			}
		}
	}
	return n
}
