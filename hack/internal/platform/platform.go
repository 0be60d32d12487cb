// Package platform starts the whole hks platform, in-process or as its
// own process from the built binary, for the measuring programs under
// hack/ (loadgen, wsbench, appbench, densitybench) and talks to its API as
// its first user.
package platform

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/hexabase/hexabase-ai/internal/config"
	"github.com/hexabase/hexabase-ai/internal/server"
)

// The first user's account.
const (
	Email    = "bench@example.com"
	Password = "bench-password"
)

// Platform is a running server and its first user's token.
type Platform struct {
	*Client
	Token   string
	DataDir string
	// PID is the server's process (StartBinary; 0 in-process).
	PID int
	// Telemetry is a client of the telemetry listener (/metrics).
	Telemetry *Client

	stop func() error
}

// Options adjust the server.
type Options struct {
	// Configure changes the default configuration (data dir, listen and
	// telemetry addresses are set already).
	Configure func(*config.Config)
	// Log receives the server's JSON log (nil: discarded).
	Log io.Writer
	// LogLevel of the server (default info).
	LogLevel slog.Level
	// Transport for the client (nil: a default one).
	Transport *http.Transport
	// Timeout per request of the client (0: 30 s).
	Timeout time.Duration
}

// Unthrottled lifts the per-user and per-IP rate limits, for a program
// whose one client sends bursts of requests far over a user's.
func Unthrottled(c *config.Config) {
	c.UserRateLimit, c.UserRateBurst = 1e6, 1e6
	c.IPRateLimit, c.IPRateBurst = 1e6, 1e6
}

// Start runs the platform on 127.0.0.1:0 with a temp data dir, creates the
// first user through the API (setup token, POST /auth/setup) and signs in.
func Start(ctx context.Context, o Options) (_ *Platform, err error) {
	dataDir, err := os.MkdirTemp("", "hks-bench-*")
	if err != nil {
		return nil, fmt.Errorf("temp data dir: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dataDir)
		}
	}()
	logw := o.Log
	if logw == nil {
		logw = io.Discard
	}
	cfg := config.Default()
	cfg.DataDir = dataDir
	cfg.Listen = "127.0.0.1:0"
	cfg.TelemetryListen = "127.0.0.1:0"
	if o.Configure != nil {
		o.Configure(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	srv, err := server.New(ctx, server.Options{Config: cfg, Version: "bench", Stdout: io.Discard, Stderr: logw,
		Logger: slog.New(slog.NewJSONHandler(logw, &slog.HandlerOptions{Level: o.LogLevel}))})
	if err != nil {
		return nil, fmt.Errorf("start server: %w", err)
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- srv.Run(sctx) }()
	stop := func() error {
		cancel()
		defer os.RemoveAll(dataDir)
		select {
		case err := <-done:
			return err
		case <-time.After(60 * time.Second):
			return errors.New("server did not stop within 60s")
		}
	}
	defer func() {
		if err != nil {
			_ = stop()
		}
	}()
	tr := o.Transport
	if tr == nil {
		tr = &http.Transport{MaxIdleConnsPerHost: 64}
	}
	timeout := o.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	hc := &http.Client{Transport: tr, Timeout: timeout}
	p := &Platform{Client: &Client{Base: srv.URL(), HC: hc}, Telemetry: &Client{Base: srv.TelemetryURL(), HC: hc}, DataDir: dataDir, stop: stop}
	if err := p.firstUser(ctx, srv.SetupToken); err != nil {
		return nil, err
	}
	return p, nil
}

// firstUser creates the first user with the server's setup token and
// signs in as them.
func (p *Platform) firstUser(ctx context.Context, setupToken string) error {
	if setupToken == "" {
		return errors.New("the server printed no setup token (the database is not empty)")
	}
	if err := p.Expect(ctx, http.MethodPost, "/auth/setup", "", map[string]string{"token": setupToken, "email": Email, "password": Password}, http.StatusCreated, nil); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	var tp struct {
		AccessToken string `json:"access_token"`
	}
	if err := p.Expect(ctx, http.MethodPost, "/auth/login", "", map[string]string{"email": Email, "password": Password}, http.StatusOK, &tp); err != nil {
		return fmt.Errorf("login: %w", err)
	}
	p.Token = tp.AccessToken
	return nil
}

// Stop stops the server and removes its data dir.
func (p *Platform) Stop() error { return p.stop() }

// Create POSTs in to path as the first user, wants want, and returns the
// "id" of the answer.
func (p *Platform) Create(ctx context.Context, path string, in any, want int) (string, error) {
	var obj struct {
		ID string `json:"id"`
	}
	err := p.Expect(ctx, http.MethodPost, path, p.Token, in, want, &obj)
	return obj.ID, err
}

// Client calls the API.
type Client struct {
	Base string
	HC   *http.Client
}

// Do sends one request and reads the whole answer; into, if not nil,
// receives the body.
func (c *Client) Do(ctx context.Context, method, path, token string, body []byte, into io.Writer) (int, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, r)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.HC.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	w := io.Discard
	if into != nil {
		w = into
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return resp.StatusCode, fmt.Errorf("read body: %w", err)
	}
	return resp.StatusCode, nil
}

// Expect sends a JSON body (nil: none) and wants the given status; out
// receives the decoded answer.
func (c *Client) Expect(ctx context.Context, method, path, token string, in any, want int, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	var buf bytes.Buffer
	code, err := c.Do(ctx, method, path, token, body, &buf)
	if err != nil {
		return err
	}
	if code != want {
		return fmt.Errorf("%s %s: status %d, want %d: %s", method, path, code, want, strings.TrimSpace(buf.String()))
	}
	if out != nil {
		if err := json.Unmarshal(buf.Bytes(), out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return nil
}

// Percentile is the nearest-rank q-quantile (0 < q ≤ 1) of the sorted
// values: the smallest value with at least q of them at or below it.
func Percentile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	rank := int(math.Ceil(q * float64(len(sorted))))
	return sorted[min(len(sorted), max(1, rank))-1]
}
