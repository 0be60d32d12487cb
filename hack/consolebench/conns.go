package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/hexabase/hexabase-ai/hack/internal/platform"
)

// connMemory opens conns console connections, each with the
// subscriptions of a console tab on an application's page (the
// organization's events, the project's deployments and pods), and reads
// the server's RSS and goroutines before and with them. The server runs
// with -live-connections-per-user raised (see run) since one user opens
// them all.
func connMemory(ctx context.Context, p *platform.Platform, org string, conns int, r *result) error {
	project := "/api/v1/organizations/" + org + "/workspaces/web/projects"
	if _, err := p.Create(ctx, project, map[string]string{"name": "bench"}, http.StatusCreated); err != nil {
		return err
	}
	// settle reads the server's RSS and, from its metrics, the goroutines
	// and the Go memory in use (live heap and stacks) just after a garbage
	// collection (the runtime runs one at least every 2 minutes; the
	// server is idle meanwhile): RSS alone moves with what the runtime
	// returns to the system, and the heap before a collection holds
	// garbage, each by more than 200 connections take.
	names := []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "go_memstats_stack_inuse_bytes", "go_gc_duration_seconds_count"}
	settle := func() (rss float64, m map[string]float64, err error) {
		first, err := metrics(ctx, p, names...)
		if err != nil {
			return 0, nil, err
		}
		deadline := time.Now().Add(3 * time.Minute)
		for {
			if m, err = metrics(ctx, p, names...); err != nil {
				return 0, nil, err
			}
			if m["go_gc_duration_seconds_count"] > first["go_gc_duration_seconds_count"] {
				break
			}
			if time.Now().After(deadline) {
				return 0, nil, errors.New("no garbage collection in 3 minutes")
			}
			time.Sleep(200 * time.Millisecond)
		}
		rss, err = rssMiB(p.PID)
		return rss, m, err
	}
	before, m0, err := settle()
	if err != nil {
		return err
	}
	url := strings.Replace(p.Base, "http", "ws", 1) + "/api/v1/ws"
	h := http.Header{"Authorization": {"Bearer " + p.Token}}
	var open []*websocket.Conn
	defer func() {
		for _, c := range open {
			_ = c.CloseNow()
		}
	}()
	for i := range conns {
		c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: h})
		if err != nil {
			return fmt.Errorf("connection %d: %w", i+1, err)
		}
		c.SetReadLimit(1 << 22)
		open = append(open, c)
		subs := []map[string]string{
			{"type": "subscribe", "id": "org", "topic": "org", "org": org},
			{"type": "subscribe", "id": "deploy", "topic": "watch", "org": org, "workspace": "web", "project": "bench", "kind": "deployments"},
			{"type": "subscribe", "id": "pods", "topic": "watch", "org": org, "workspace": "web", "project": "bench", "kind": "pods"},
		}
		for _, m := range subs {
			b, _ := json.Marshal(m)
			if err := c.Write(ctx, websocket.MessageText, b); err != nil {
				return err
			}
		}
		// Read until both watches are synced and the org topic subscribed.
		want := map[string]bool{"org/subscribed": true, "deploy/synced": true, "pods/synced": true}
		for len(want) > 0 {
			_, b, err := c.Read(ctx)
			if err != nil {
				return fmt.Errorf("connection %d: %w", i+1, err)
			}
			var m struct{ Type, ID string }
			_ = json.Unmarshal(b, &m)
			if m.Type == "error" {
				return fmt.Errorf("connection %d: %s", i+1, b)
			}
			delete(want, m.ID+"/"+m.Type)
		}
		go func() { // keep reading (pings, events) as a browser does
			for {
				if _, _, err := c.Read(context.Background()); err != nil {
					return
				}
			}
		}()
	}
	with, m1, err := settle()
	if err != nil {
		return err
	}
	inUse := func(m map[string]float64) float64 {
		return m["go_memstats_heap_alloc_bytes"] + m["go_memstats_stack_inuse_bytes"]
	}
	r.Conns, r.RSSBeforeMiB, r.RSSWithMiB = conns, before, with
	r.KiBPerConn = (with - before) * 1024 / float64(conns)
	r.GoKiBPerConn = (inUse(m1) - inUse(m0)) / 1024 / float64(conns)
	r.GoroutinesPer = (m1["go_goroutines"] - m0["go_goroutines"]) / float64(conns)
	return nil
}

func rssMiB(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseFloat(f[1], 64)
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

// metrics reads the named gauges from the server's metrics.
func metrics(ctx context.Context, p *platform.Platform, names ...string) (map[string]float64, error) {
	var sb strings.Builder
	if _, err := p.Telemetry.Do(ctx, "GET", "/metrics", "", nil, &sb); err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, line := range strings.Split(sb.String(), "\n") {
		for _, n := range names {
			if v, ok := strings.CutPrefix(line, n+" "); ok {
				f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", n, err)
				}
				out[n] = f
			}
		}
	}
	for _, n := range names {
		if _, ok := out[n]; !ok {
			return nil, fmt.Errorf("no %s in the metrics", n)
		}
	}
	return out, nil
}
