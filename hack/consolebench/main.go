// Command consolebench measures the web console (issue 13): the
// JavaScript shipped on first load (gzip, as served), the time from a
// navigation to the workspace list rendered, the latency from a workspace
// status change to the browser showing it, and the memory of hks per open
// console connection. It starts `hks server` as its own process (loopback,
// a temp data dir, stopped at the end) with one real workspace, drives
// Debian's chromium headless (browser.mjs, playwright-core from
// web/node_modules), and prints a table and a JSON summary; the figures go
// to docs/performance.md.
//
//	make consolebench                 # builds the console and hks first
//	go run ./hack/consolebench -hks bin/hks -nav 20 -cycles 5 -conns 200
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
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/hexabase/hexabase-ai/hack/internal/platform"
)

type result struct {
	Commit        string  `json:"commit,omitempty"`
	JSGzipBytes   int     `json:"js_gzip_bytes"`
	JSRawBytes    int     `json:"js_raw_bytes"`
	CSSGzipBytes  int     `json:"css_gzip_bytes"`
	NavN          int     `json:"nav_n"`
	NavP50ms      float64 `json:"nav_p50_ms"`
	NavP95ms      float64 `json:"nav_p95_ms"`
	NavFirstms    float64 `json:"nav_first_ms"`
	StatusN       int     `json:"status_n"`
	StatusP50ms   float64 `json:"status_p50_ms"`
	StatusP95ms   float64 `json:"status_p95_ms"`
	StatusMaxms   float64 `json:"status_max_ms"`
	Conns         int     `json:"conns,omitempty"`
	KiBPerConn    float64 `json:"kib_per_conn,omitempty"`
	GoKiBPerConn  float64 `json:"go_kib_per_conn,omitempty"`
	RSSBeforeMiB  float64 `json:"rss_before_mib,omitempty"`
	RSSWithMiB    float64 `json:"rss_with_conns_mib,omitempty"`
	GoroutinesPer float64 `json:"goroutines_per_conn,omitempty"`
}

func main() {
	hks := flag.String("hks", "bin/hks", "the hks binary (built with the console: make console build)")
	nav := flag.Int("nav", 20, "navigations to the workspace list")
	cycles := flag.Int("cycles", 5, "sleep and wake cycles whose status changes are timed")
	conns := flag.Int("conns", 200, "console connections opened for the memory figure (0: skip)")
	jsonOut := flag.String("json", "", "also write the JSON summary to this file")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *hks, *nav, *cycles, *conns, *jsonOut); err != nil {
		fmt.Fprintln(os.Stderr, "consolebench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, hks string, nav, cycles, conns int, jsonOut string) error {
	// One user opens every connection of the memory figure, each with two
	// watches, which count against the user's and the workspace's caps of
	// long-lived requests.
	streams := strconv.Itoa(max(96, 2*conns+16))
	p, err := platform.StartBinary(ctx, platform.BinaryOptions{Bin: hks, Args: []string{"--live-connections-per-user", strconv.Itoa(max(8, conns)),
		"--streams-per-user", streams, "--streams-per-workspace", streams}})
	if err != nil {
		return err
	}
	defer func() {
		if err := p.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop:", err)
		}
	}()
	var r result
	if out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		r.Commit = strings.TrimSpace(string(out))
	}
	if err := shipped(ctx, p, &r); err != nil {
		return fmt.Errorf("first-load size: %w", err)
	}
	var org struct {
		ID   string `json:"id"`
		Slug string `json:"slug"`
	}
	if err := p.Expect(ctx, "POST", "/api/v1/organizations", p.Token, map[string]string{"name": "Bench"}, http.StatusCreated, &org); err != nil {
		return err
	}
	wsPath := "/api/v1/organizations/" + org.Slug + "/workspaces"
	if _, err := p.Create(ctx, wsPath, map[string]string{"name": "web"}, http.StatusAccepted); err != nil {
		return err
	}
	if err := waitRunning(ctx, p, wsPath+"/web"); err != nil {
		return err
	}
	if err := browser(ctx, p, org.Slug, nav, cycles, &r); err != nil {
		return fmt.Errorf("browser: %w", err)
	}
	if conns > 0 {
		if err := connMemory(ctx, p, org.Slug, conns, &r); err != nil {
			return fmt.Errorf("connection memory: %w", err)
		}
	}
	report(r)
	if jsonOut != "" {
		b, _ := json.MarshalIndent(r, "", "  ")
		return os.WriteFile(jsonOut, append(b, '\n'), 0o644)
	}
	return nil
}

var assetRE = regexp.MustCompile(`<(?:script[^>]*\ssrc|link[^>]*\shref)="(/assets/[^"]+)"`)

// shipped sums what a first load of the console transfers: the entry
// script, the modules it preloads and the stylesheet, each as served
// to a browser that accepts gzip.
func shipped(ctx context.Context, p *platform.Platform, r *result) error {
	page, _, err := get(ctx, p.Base+"/", false)
	if err != nil {
		return err
	}
	ms := assetRE.FindAllStringSubmatch(string(page), -1)
	if len(ms) == 0 {
		return errors.New("the page names no /assets/ file: is the console built into this hks (make console build)?")
	}
	for _, m := range ms {
		gz, enc, err := get(ctx, p.Base+m[1], true)
		if err != nil {
			return err
		}
		raw, _, err := get(ctx, p.Base+m[1], false)
		if err != nil {
			return err
		}
		if enc != "gzip" {
			return fmt.Errorf("%s was not served gzip-compressed", m[1])
		}
		switch {
		case strings.HasSuffix(m[1], ".js"):
			r.JSGzipBytes += len(gz)
			r.JSRawBytes += len(raw)
		case strings.HasSuffix(m[1], ".css"):
			r.CSSGzipBytes += len(gz)
		}
	}
	return nil
}

// get fetches url; with gzip it asks for gzip and returns the bytes as
// sent (the transport then leaves them compressed).
func get(ctx context.Context, url string, gzip bool) ([]byte, string, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return nil, "", err
	}
	if gzip {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return nil, "", fmt.Errorf("GET %s: %d", url, resp.StatusCode)
	}
	return b, resp.Header.Get("Content-Encoding"), err
}

func waitRunning(ctx context.Context, p *platform.Platform, path string) error {
	deadline := time.Now().Add(3 * time.Minute)
	for {
		var ws struct{ Status, StatusReason string }
		if err := p.Expect(ctx, "GET", path, p.Token, nil, http.StatusOK, &ws); err != nil {
			return err
		}
		if ws.Status == "running" {
			return nil
		}
		if ws.Status == "failed" || time.Now().After(deadline) {
			return fmt.Errorf("workspace %s: %s %s", path, ws.Status, ws.StatusReason)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// browser runs browser.mjs and reads its figures.
func browser(ctx context.Context, p *platform.Platform, org string, nav, cycles int, r *result) error {
	cmd := exec.CommandContext(ctx, "node", filepath.Join("hack", "consolebench", "browser.mjs"))
	cmd.Env = append(os.Environ(), "CONSOLE_URL="+p.Base, "CONSOLE_ORG="+org, "CONSOLE_WORKSPACE=web",
		"CONSOLE_TOKEN="+p.Token, "CONSOLE_EMAIL="+platform.Email, "CONSOLE_PASSWORD="+platform.Password,
		fmt.Sprintf("CONSOLE_NAV_RUNS=%d", nav), fmt.Sprintf("CONSOLE_STATUS_CYCLES=%d", cycles))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("%w: %s", err, stderr.String())
	}
	var b struct {
		Nav    []float64 `json:"nav_ms"`
		Status []float64 `json:"status_ms"`
	}
	if err := json.Unmarshal(out, &b); err != nil {
		return fmt.Errorf("browser.mjs said %q: %w", out, err)
	}
	if len(b.Nav) == 0 || len(b.Status) == 0 {
		return fmt.Errorf("no figures: %s", out)
	}
	r.NavN, r.NavFirstms = len(b.Nav), b.Nav[0]
	slices.Sort(b.Nav)
	r.NavP50ms, r.NavP95ms = platform.Percentile(b.Nav, 0.5), platform.Percentile(b.Nav, 0.95)
	r.StatusN = len(b.Status)
	slices.Sort(b.Status)
	r.StatusP50ms, r.StatusP95ms, r.StatusMaxms = platform.Percentile(b.Status, 0.5), platform.Percentile(b.Status, 0.95), b.Status[len(b.Status)-1]
	return nil
}

func report(r result) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "JavaScript on first load (gzip)\t%.1f KB (%.1f KB uncompressed); CSS %.1f KB gzip\n", float64(r.JSGzipBytes)/1000, float64(r.JSRawBytes)/1000, float64(r.CSSGzipBytes)/1000)
	fmt.Fprintf(w, "navigation → workspace list rendered\tp50 %.0f ms, p95 %.0f ms (n=%d; first, cold: %.0f ms)\n", r.NavP50ms, r.NavP95ms, r.NavN, r.NavFirstms)
	fmt.Fprintf(w, "status change → shown in the browser\tp50 %.0f ms, p95 %.0f ms, max %.0f ms (n=%d)\n", r.StatusP50ms, r.StatusP95ms, r.StatusMaxms, r.StatusN)
	if r.Conns > 0 {
		fmt.Fprintf(w, "hks memory per console connection\t%.1f KiB of live Go heap and stacks (after a GC), %.1f goroutines; RSS %.1f KiB each (%d connections: %.1f → %.1f MiB)\n",
			r.GoKiBPerConn, r.GoroutinesPer, r.KiBPerConn, r.Conns, r.RSSBeforeMiB, r.RSSWithMiB)
	}
	w.Flush()
	b, _ := json.Marshal(r)
	fmt.Println(string(b))
}
