// Command loadgen starts the whole platform in-process on 127.0.0.1:0 and
// measures it under an open-loop load: each kind of request is sent at a
// fixed rate whatever the response times, and each latency is measured from
// the time the request was scheduled to be sent, so that queueing in the
// client or the server shows up in the figures instead of lowering the rate
// (no coordinated omission).
//
//	go run ./hack/loadgen -backend sqlite -rate 200 -duration 20s
//	go run ./hack/loadgen -backend postgres -rate 100 -json
//
// It signs up the first user through POST /auth/setup and /auth/login,
// creates an organization, a workspace and a project over the API, then
// runs two kinds at -rate requests per second each:
//
//	get-project   GET  /api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}
//	create-group  POST /api/v1/organizations/{org}/workspaces/{workspace}/groups (unique names, 201)
//
// and, with -login-rate, a third at its own rate:
//
//	login         POST /auth/login (email and password: argon2id)
//
// The loader and the server share the machine's cores; results describe the
// pair, not the server alone. See docs/performance.md.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"github.com/hexabase/hexabase-ai/hack/internal/platform"
	"github.com/hexabase/hexabase-ai/internal/config"
	"github.com/hexabase/hexabase-ai/internal/testutil/pgtest"
)

type options struct {
	backend   string
	rate      float64
	duration  time.Duration
	warmup    time.Duration
	limit     int
	timeout   time.Duration
	jsonOut   bool
	serverLog string
	logLevel  string
	limits    string
	loginRate float64
}

func main() {
	var o options
	flag.StringVar(&o.backend, "backend", "sqlite", "database: sqlite (in the temp data dir) or postgres (a throwaway cluster from internal/testutil/pgtest)")
	flag.Float64Var(&o.rate, "rate", 100, "requests per second of each kind")
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "measured duration, after the warm-up")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "warm-up at the same rate, excluded from the figures")
	flag.IntVar(&o.limit, "concurrency-limit", 512, "most requests of one kind in flight; a request scheduled while the limit is reached waits for a slot, and that wait counts in its latency")
	flag.DurationVar(&o.timeout, "timeout", 10*time.Second, "per-request timeout (a timed-out request counts as an error)")
	flag.StringVar(&o.limits, "rate-limits", "raised", "the server's per-IP and per-user rate limits: raised (on, so each request pays for them, but far above the load), off, or default (the shipped limits, which refuse most of a load from one user)")
	flag.Float64Var(&o.loginRate, "login-rate", 0, "also sign in with email and password (POST /auth/login, argon2id) at this many per second; 0: not at all")
	flag.BoolVar(&o.jsonOut, "json", false, "print the results as JSON")
	flag.StringVar(&o.serverLog, "server-log", "", "write the server's JSON log to this file (default: encoded and discarded)")
	flag.StringVar(&o.logLevel, "log-level", "info", "server log level (info logs one line per request, as in production)")
	flag.Parse()
	if err := o.check(); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		stop()
		os.Exit(1)
	}
}

func (o options) check() error {
	switch {
	case o.backend != "sqlite" && o.backend != "postgres":
		return fmt.Errorf("-backend must be sqlite or postgres, not %q", o.backend)
	case o.limits != "raised" && o.limits != "off" && o.limits != "default":
		return fmt.Errorf("-rate-limits must be raised, off or default, not %q", o.limits)
	case o.rate <= 0 || math.IsInf(o.rate, 0) || math.IsNaN(o.rate):
		return errors.New("-rate must be positive")
	case o.duration <= 0:
		return errors.New("-duration must be positive")
	case o.warmup < 0:
		return errors.New("-warmup must not be negative")
	case o.limit < 1:
		return errors.New("-concurrency-limit must be at least 1")
	case o.timeout <= 0:
		return errors.New("-timeout must be positive")
	}
	return nil
}

// Result is the report of one kind of request.
type Result struct {
	Kind   string `json:"kind"`
	Method string `json:"method"`
	Route  string `json:"route"`
	// Sent counts the measured requests (scheduled after the warm-up).
	Sent   int `json:"sent"`
	Errors int `json:"errors"` // non-2xx answers and transport errors
	// Statuses counts answers by status code; "transport" for no answer.
	Statuses map[string]int `json:"statuses"`
	// TargetRate is -rate; AchievedRate is expected answers per second over
	// the measured window: from the first measured scheduled send to the
	// last answer, or the scheduled duration if that is longer.
	TargetRate   float64 `json:"target_rate"`
	AchievedRate float64 `json:"achieved_rate"`
	// Latencies in milliseconds, from the scheduled send time to the end of
	// the response body, over all measured requests (errors included).
	P50Ms float64 `json:"p50_ms"`
	P90Ms float64 `json:"p90_ms"`
	P99Ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
	// MaxSendLagMs is the largest delay between a scheduled send time and
	// the actual send (loader overload or the concurrency limit).
	MaxSendLagMs float64 `json:"max_send_lag_ms"`
	FirstError   string  `json:"first_error,omitempty"`
}

// Report is the whole -json output.
type Report struct {
	Backend          string    `json:"backend"`
	Rate             float64   `json:"rate_per_kind"`
	Duration         string    `json:"duration"`
	Warmup           string    `json:"warmup"`
	ConcurrencyLimit int       `json:"concurrency_limit"`
	RateLimits       string    `json:"rate_limits"`
	GOMAXPROCS       int       `json:"gomaxprocs"`
	NumCPU           int       `json:"num_cpu"`
	GoVersion        string    `json:"go_version"`
	Start            time.Time `json:"start"`
	Results          []Result  `json:"results"`
	// CPU is where the machine's CPU went in the measured window (absent
	// where /proc cannot be read).
	CPU *CPU `json:"cpu,omitempty"`
}

func run(ctx context.Context, o options) (err error) {
	var dsn string
	if o.backend == "postgres" {
		status("starting a throwaway PostgreSQL")
		pg, err := pgtest.StartCluster()
		if err != nil {
			return fmt.Errorf("start postgres: %w", err)
		}
		defer pg.Stop()
		if dsn, err = createDatabase(ctx, pg, "loadgen"); err != nil {
			return err
		}
	}

	logw := io.Discard
	if o.serverLog != "" {
		f, err := os.Create(o.serverLog)
		if err != nil {
			return fmt.Errorf("server log: %w", err)
		}
		defer f.Close()
		logw = f
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}

	// Tokens must outlive the run.
	ttl := o.warmup + o.duration + 5*time.Minute
	status("starting the platform (%s)", o.backend)
	tr := &http.Transport{MaxIdleConns: 2 * o.limit, MaxIdleConnsPerHost: 2 * o.limit, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	pl, err := platform.Start(ctx, platform.Options{Log: logw, LogLevel: level, Transport: tr, Timeout: o.timeout,
		Configure: func(cfg *config.Config) {
			cfg.DatabaseURL = dsn
			if ttl > cfg.AccessTokenTTL.Duration {
				cfg.AccessTokenTTL.Duration = ttl
			}
			switch o.limits {
			case "raised":
				platform.Unthrottled(cfg)
			case "off":
				cfg.IPRateLimit, cfg.UserRateLimit = 0, 0
			}
		}})
	if err != nil {
		return err
	}
	defer func() {
		if serr := pl.Stop(); serr != nil && err == nil {
			err = fmt.Errorf("server: %w", serr)
		}
	}()
	c := pl.Client
	fx, err := setup(ctx, pl)
	if err != nil {
		return err
	}

	kinds := []*kind{
		{name: "get-project", method: http.MethodGet, route: "/api/v1/organizations/{org}/workspaces/{workspace}/projects/{project}",
			path: fmt.Sprintf("/api/v1/organizations/%s/workspaces/%s/projects/%s", fx.org, fx.ws, fx.project), want: http.StatusOK},
		{name: "create-group", method: http.MethodPost, route: "/api/v1/organizations/{org}/workspaces/{workspace}/groups",
			path: fmt.Sprintf("/api/v1/organizations/%s/workspaces/%s/groups", fx.org, fx.ws), want: http.StatusCreated,
			body: func(i int) []byte { return fmt.Appendf(nil, `{"name":"load-%d"}`, i) }},
	}
	for _, k := range kinds {
		k.token = fx.token
	}
	if o.loginRate > 0 {
		kinds = append(kinds, &kind{name: "login", method: http.MethodPost, route: "/auth/login", path: "/auth/login", want: http.StatusOK, rate: o.loginRate,
			body: func(int) []byte { return fmt.Appendf(nil, `{"email":%q,"password":%q}`, loadEmail, loadPassword) }})
	}
	rep := Report{Backend: o.backend, Rate: o.rate, Duration: o.duration.String(), Warmup: o.warmup.String(), ConcurrencyLimit: o.limit, RateLimits: o.limits,
		GOMAXPROCS: runtime.GOMAXPROCS(0), NumCPU: runtime.NumCPU(), GoVersion: runtime.Version()}
	status("load: %g req/s per kind for %s after a %s warm-up", o.rate, o.duration, o.warmup)
	for _, k := range kinds {
		if k.rate == 0 {
			k.rate = o.rate
		}
	}
	interval := func(k *kind) time.Duration { return time.Duration(float64(time.Second) / k.rate) }
	count := func(k *kind, d time.Duration) int { return int(math.Ceil(d.Seconds() * k.rate)) }
	rep.Start = time.Now().Add(100 * time.Millisecond)
	postmaster := 0
	if o.backend == "postgres" {
		postmaster = ourPostmaster()
	}
	var cpu0 cpuSnap
	cpuErr := errors.New("not measured")
	var wg sync.WaitGroup
	wg.Go(func() {
		time.Sleep(time.Until(rep.Start.Add(o.warmup)))
		cpu0, cpuErr = snapCPU(postmaster)
	})
	for i, k := range kinds {
		// Interleave the kinds' schedules rather than send both at once.
		offset := time.Duration(i) * interval(k) / time.Duration(len(kinds))
		wg.Go(func() {
			k.run(ctx, c, k.token, rep.Start.Add(offset), interval(k), count(k, o.warmup+o.duration), o.limit)
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if cpu1, err := snapCPU(postmaster); err == nil && cpuErr == nil {
		rep.CPU = cpuBetween(cpu0, cpu1)
	}
	for _, k := range kinds {
		rep.Results = append(rep.Results, k.result(count(k, o.warmup), k.rate, interval(k)))
	}
	if o.jsonOut {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printTable(os.Stdout, rep)
	return nil
}

// createDatabase creates an empty database on the throwaway cluster through
// its exported DSN and returns the new database's URL.
func createDatabase(ctx context.Context, pg *pgtest.Cluster, name string) (string, error) {
	db, err := sql.Open("pgx", pg.DSN("postgres"))
	if err != nil {
		return "", fmt.Errorf("connect to postgres: %w", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return pg.DSN(name), nil
}

// sample is one request's outcome; each request goroutine writes its own.
type sample struct {
	done   bool
	status int // 0: transport error
	lat    time.Duration
	lag    time.Duration
	err    string
	answer string // the start of an unexpected answer's body
}

type kind struct {
	name, method, route, path string
	want                      int
	rate                      float64 // requests per second; 0: the -rate
	token                     string  // "" for an anonymous request
	body                      func(i int) []byte
	samples                   []sample
}

// run sends n requests, the i-th at start+i·interval whatever happened to
// the earlier ones; at most limit are in flight.
func (k *kind) run(ctx context.Context, c *platform.Client, token string, start time.Time, interval time.Duration, n, limit int) {
	k.samples = make([]sample, n)
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	defer wg.Wait()
	for i := range n {
		at := start.Add(time.Duration(i) * interval)
		if d := time.Until(at); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return
			}
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		wg.Go(func() {
			defer func() { <-sem }()
			var body []byte
			if k.body != nil {
				body = k.body(i)
			}
			sent := time.Now()
			var head headWriter
			code, err := c.Do(ctx, k.method, k.path, token, body, &head)
			s := sample{done: true, status: code, lat: time.Since(at), lag: sent.Sub(at)}
			if err != nil {
				s.err = err.Error()
			} else if code != k.want {
				s.answer = string(head.b)
			}
			k.samples[i] = s
		})
	}
}

func (k *kind) result(warmN int, rate float64, interval time.Duration) Result {
	r := Result{Kind: k.name, Method: k.method, Route: k.route, TargetRate: rate, Statuses: map[string]int{}}
	measured := k.samples[min(warmN, len(k.samples)):]
	lats := make([]time.Duration, 0, len(measured))
	var ok int
	var span, maxLag time.Duration
	for i, s := range measured {
		if !s.done {
			continue
		}
		r.Sent++
		lats = append(lats, s.lat)
		// End of this request relative to the first measured schedule slot.
		if end := time.Duration(i)*interval + s.lat; end > span {
			span = end
		}
		maxLag = max(maxLag, s.lag)
		switch {
		case s.err != "":
			r.Statuses["transport"]++
		default:
			r.Statuses[fmt.Sprint(s.status)]++
		}
		if s.err == "" && s.status == k.want {
			ok++
			continue
		}
		r.Errors++
		if r.FirstError == "" {
			r.FirstError = s.err
			if s.err == "" {
				r.FirstError = fmt.Sprintf("status %d, want %d: %s", s.status, k.want, s.answer)
			}
		}
	}
	// A loader that keeps up spans the schedule; one that falls behind
	// spans longer.
	span = max(span, time.Duration(len(measured))*interval)
	if span > 0 {
		r.AchievedRate = round(float64(ok) / span.Seconds())
	}
	slices.Sort(lats)
	r.P50Ms, r.P90Ms, r.P99Ms = ms(percentile(lats, 50)), ms(percentile(lats, 90)), ms(percentile(lats, 99))
	if len(lats) > 0 {
		r.MaxMs = ms(lats[len(lats)-1])
	}
	r.MaxSendLagMs = ms(maxLag)
	return r
}

// percentile is the nearest-rank percentile of sorted samples: the
// smallest sample with at least p% of the samples at or below it.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[max(rank, 1)-1]
}

func ms(d time.Duration) float64 { return round(float64(d) / float64(time.Millisecond)) }

func round(f float64) float64 { return math.Round(f*1000) / 1000 }

// The account the load signs in with.
const loadEmail, loadPassword = platform.Email, platform.Password

// fixture is what the load runs against.
type fixture struct {
	token, org, ws, project string
}

// setup creates an organization, a workspace and a project through the
// API, as the platform's first user.
func setup(ctx context.Context, pl *platform.Platform) (fx fixture, err error) {
	fx.token = pl.Token
	if fx.org, err = pl.Create(ctx, "/api/v1/organizations", map[string]string{"name": "Loadgen"}, http.StatusCreated); err != nil {
		return fx, fmt.Errorf("create organization: %w", err)
	}
	if fx.ws, err = pl.Create(ctx, "/api/v1/organizations/"+fx.org+"/workspaces", map[string]string{"name": "load"}, http.StatusAccepted); err != nil {
		return fx, fmt.Errorf("create workspace: %w", err)
	}
	if fx.project, err = pl.Create(ctx, "/api/v1/organizations/"+fx.org+"/workspaces/"+fx.ws+"/projects", map[string]string{"name": "app"}, http.StatusCreated); err != nil {
		return fx, fmt.Errorf("create project: %w", err)
	}
	return fx, nil
}

// headWriter keeps the first bytes written to it and drops the rest.
type headWriter struct{ b []byte }

func (w *headWriter) Write(p []byte) (int, error) {
	if n := min(len(p), 300-len(w.b)); n > 0 {
		w.b = append(w.b, p[:n]...)
	}
	return len(p), nil
}

// ReadFrom spares io.Copy its 32 KiB buffer per request.
func (w *headWriter) ReadFrom(r io.Reader) (int64, error) {
	buf := make([]byte, 512)
	var n int64
	for {
		m, err := r.Read(buf)
		_, _ = w.Write(buf[:m])
		n += int64(m)
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

func status(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "loadgen: "+format+"\n", args...)
}

func printTable(w io.Writer, rep Report) {
	fmt.Fprintf(w, "backend=%s rate=%g/s per kind duration=%s warmup=%s concurrency-limit=%d rate-limits=%s GOMAXPROCS=%d %s\n",
		rep.Backend, rep.Rate, rep.Duration, rep.Warmup, rep.ConcurrencyLimit, rep.RateLimits, rep.GOMAXPROCS, rep.GoVersion)
	fmt.Fprintf(w, "%-13s %6s %6s %9s %9s %9s %9s %9s %9s\n", "kind", "sent", "errors", "ok/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "lag ms")
	for _, r := range rep.Results {
		fmt.Fprintf(w, "%-13s %6d %6d %9.1f %9.2f %9.2f %9.2f %9.2f %9.2f\n",
			r.Kind, r.Sent, r.Errors, r.AchievedRate, r.P50Ms, r.P90Ms, r.P99Ms, r.MaxMs, r.MaxSendLagMs)
	}
	if c := rep.CPU; c != nil {
		fmt.Fprintf(w, "cores busy in the measured window: machine %.2f = this process %.2f + postgres %.2f + other %.2f (hypervisor steal %.2f)\n",
			c.MachineCores, c.ProcessCores, c.PostgresCores, c.OtherCores, c.StealCores)
	}
	for _, r := range rep.Results {
		if r.FirstError != "" {
			fmt.Fprintf(w, "%s: statuses %v; first error: %s\n", r.Kind, r.Statuses, r.FirstError)
		}
	}
}
