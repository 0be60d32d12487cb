package local

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/controlplane"
	"github.com/hexabase/hexabase-ai/internal/testutil"
)

func spareIDs(p *Provider) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var ids []string
	for id := range p.spares {
		ids = append(ids, id)
	}
	return ids
}

// TestWarmPool: a spare API server is kept ready, is not a workspace, is
// handed out by Reserve and turned into a full workspace by Create; a
// restarted provider sweeps the spares the dead one left, and keeps the
// workspace.
func TestWarmPool(t *testing.T) {
	needBinaries(t)
	dataDir := t.TempDir()
	var logw io.Writer = io.Discard
	if testing.Verbose() {
		logw = os.Stderr
	}
	if _, err := New(Config{DataDir: dataDir, Logger: slog.New(slog.NewTextHandler(logw, nil)), WarmPool: 1}); err == nil {
		t.Fatal("a warm pool without an issuer was accepted")
	}
	p, err := New(Config{DataDir: dataDir, Logger: slog.New(slog.NewTextHandler(logw, nil)), WarmPool: 1, Issuer: testIssuer})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, ok := p.Reserve(controlplane.PlanShared); ok {
		t.Fatal("Reserve before StartPool handed out an ID")
	}
	p.StartPool()
	testutil.WaitFor(t, 90*time.Second, "a ready spare", func() bool { return p.SparesReady() == 1 })
	if ids, err := p.List(ctx); err != nil || len(ids) != 0 {
		t.Fatalf("List = %v, %v; a spare is not a workspace", ids, err)
	}
	first := spareIDs(p)[0]
	wantProcs(t, p.wsDir(first), 1, "the spare (its API server alone)")
	if _, ok := p.Reserve(controlplane.PlanDedicated); ok {
		t.Fatal("a dedicated workspace got a shared spare")
	}
	id, ok := p.Reserve(controlplane.PlanShared)
	if !ok || id != first {
		t.Fatalf("Reserve = %q, %v; want %q", id, ok, first)
	}
	if _, ok := p.Reserve(controlplane.PlanShared); ok {
		t.Fatal("a reserved spare was handed out twice")
	}
	p.Release(id)
	if id2, ok := p.Reserve(controlplane.PlanShared); !ok || id2 != id {
		t.Fatalf("after Release: Reserve = %q, %v", id2, ok)
	}

	start := time.Now()
	spec := controlplane.Spec{WorkspaceID: id, OrgID: "org", Plan: controlplane.PlanShared, Issuer: testIssuer}
	if err := p.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	t.Logf("workspace from a spare running in %s", time.Since(start))
	wsDir := p.wsDir(id)
	wantProcs(t, wsDir, 4, "the claimed workspace")
	if _, err := os.Stat(filepath.Join(wsDir, spareMarker)); !os.IsNotExist(err) {
		t.Fatalf("spare marker left on a workspace: %v", err)
	}
	if ids, _ := p.List(ctx); !slices.Equal(ids, []string{id}) {
		t.Fatalf("List = %v, want [%s]", ids, id)
	}
	testutil.WaitFor(t, 60*time.Second, "healthy control plane", func() bool {
		h, _ := p.Health(ctx, id)
		return h.Ready
	})
	// The pool refills with a spare of a new ID.
	testutil.WaitFor(t, 90*time.Second, "a refilled spare", func() bool { return p.SparesReady() == 1 })
	next := spareIDs(p)[0]
	if next == id {
		t.Fatal("the refilled spare reuses the claimed ID")
	}

	// hks dies (no Close); a new one on the same data dir, without a pool,
	// sweeps the spare and keeps the workspace.
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.poolCancel()
	<-p.poolDone
	for _, ws := range append(wsOf(p.spaces), spareWS(p.spares)...) {
		for _, pr := range ws.procs {
			pr.mu.Lock()
			pr.stopping = true
			pr.mu.Unlock()
		}
	}
	p.mu.Lock()
	p.spares = map[string]*spare{} // the dead one does not clean up
	p.mu.Unlock()
	p.etcd.proc.mu.Lock()
	p.etcd.proc.stopping = true
	p.etcd.proc.mu.Unlock()
	p2 := newTestProvider(t, dataDir)
	p2.StartPool()
	testutil.WaitFor(t, 60*time.Second, "the old spare swept", func() bool {
		_, err := os.Stat(p2.wsDir(next))
		return os.IsNotExist(err)
	})
	if pids := testutil.ProcsUnder(t, p2.wsDir(next)); len(pids) != 0 {
		t.Fatalf("processes of the swept spare: %v", pids)
	}
	if _, err := os.Stat(wsDir); err != nil {
		t.Fatalf("the workspace was swept with the spares: %v", err)
	}
	if err := p2.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	p2.Close()
	if pids := testutil.ProcsUnder(t, dataDir); len(pids) != 0 {
		t.Fatalf("processes left after Close: %v", pids)
	}
}

// TestWarmPoolClose: a reservation nobody provisions expires and its
// spare goes; Close stops and removes the spares.
func TestWarmPoolClose(t *testing.T) {
	needBinaries(t)
	dataDir := t.TempDir()
	p, err := New(Config{DataDir: dataDir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), WarmPool: 1, Issuer: testIssuer})
	if err != nil {
		t.Fatal(err)
	}
	p.StartPool()
	testutil.WaitFor(t, 90*time.Second, "a ready spare", func() bool { return p.SparesReady() == 1 })
	stale, ok := p.Reserve(controlplane.PlanShared)
	if !ok {
		t.Fatal("no spare to reserve")
	}
	p.expireReservations(context.Background(), time.Now().Add(time.Second))
	if _, err := os.Stat(p.wsDir(stale)); !os.IsNotExist(err) {
		t.Fatalf("expired spare's data left: %v", err)
	}
	if pids := testutil.ProcsUnder(t, p.wsDir(stale)); len(pids) != 0 {
		t.Fatalf("expired spare's processes left: %v", pids)
	}
	p.Release(stale) // too late: nothing to give back
	testutil.WaitFor(t, 90*time.Second, "a refilled spare", func() bool { return p.SparesReady() == 1 })
	id := spareIDs(p)[0]
	if id == stale {
		t.Fatal("an expired reservation came back")
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if pids := testutil.ProcsUnder(t, dataDir); len(pids) != 0 {
		t.Fatalf("processes left after Close: %v", pids)
	}
	if _, err := os.Stat(p.wsDir(id)); !os.IsNotExist(err) {
		t.Fatalf("spare data left after Close: %v", err)
	}
}

func wsOf(m map[string]*workspace) []*workspace {
	var out []*workspace
	for _, ws := range m {
		out = append(out, ws)
	}
	return out
}

func spareWS(m map[string]*spare) []*workspace {
	var out []*workspace
	for _, s := range m {
		out = append(out, s.ws)
	}
	return out
}
