// Package local is the embedded control-plane provider: for every
// workspace a kube-apiserver, kube-controller-manager, kube-scheduler and
// kwok process on loopback ports, supervised by hks, all sharing one etcd
// (a key prefix per workspace). Data lives under
// <data-dir>/workspaces/<id>/ and <data-dir>/etcd/.
package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/hexabase/hexabase-ai/internal/controlplane"
)

// Name is the provider's configuration name.
const Name = "local"

// healthInterval is how often a workspace's components are probed.
const healthInterval = 5 * time.Second

// leanAPIServerFlags trim kube-apiserver's memory and CPU for a small
// cluster (docs/performance.md has the measurements; hack/wsbench -n 3,
// 2 noisy cores, so ready times are medians of several runs):
//   - no API Priority and Fairness: its controllers and per-request
//     bookkeeping matter only under overload from many clients;
//   - no watch cache: ready p50 about 5.5 s to 4.3 s (no per-resource cache
//     to fill before /readyz), apiserver RSS about 4 MiB less; informers'
//     lists and watches go to the shared etcd instead;
//   - flowcontrol.apiserver.k8s.io off (unused with APF off): no measurable
//     effect, kept because nothing can then configure a feature that is off.
//     resource.k8s.io was tried and must stay: the scheduler's and the
//     controller manager's DRA informers fail to list without it.
var leanAPIServerFlags = []string{
	"--enable-priority-and-fairness=false",
	"--max-requests-inflight=200",
	"--max-mutating-requests-inflight=100",
	"--watch-cache=false",
	"--runtime-config=flowcontrol.apiserver.k8s.io/v1=false",
}

// leanControllerManagerFlags: controllers that have nothing to do in a
// workspace without cloud, CSR signing or bootstrap tokens are off, and
// workers are fewer.
var leanControllerManagerFlags = []string{
	"--controllers=*,-bootstrap-signer-controller,-token-cleaner-controller,-certificatesigningrequest-signing-controller,-certificatesigningrequest-approving-controller,-certificatesigningrequest-cleaner-controller,-cloud-node-lifecycle-controller,-service-lb-controller,-node-route-controller,-persistentvolume-attach-detach-controller,-persistentvolume-expander-controller,-ephemeral-volume-controller,-storageversion-garbage-collector-controller",
	"--concurrent-deployment-syncs=2",
	"--concurrent-replicaset-syncs=2",
	"--concurrent-job-syncs=2",
	"--concurrent-namespace-syncs=2",
	"--concurrent-gc-syncs=5",
	"--node-monitor-grace-period=" + nodeMonitorGracePeriod,
}

// Config configures a Provider.
type Config struct {
	// DataDir is the platform's data dir.
	DataDir string
	// BinDir holds the binaries ("": the `make k8s-bins` cache).
	BinDir string
	Logger *slog.Logger
	Now    func() time.Time
	// WarmPool is how many API servers to keep started for workspaces
	// yet to be created (pool.go); 0 starts each with its workspace.
	WarmPool int
	// Issuer is the trust every workspace's API server gets; required
	// with a WarmPool (a spare must be started with it).
	Issuer controlplane.IssuerTrust
}

// Provider is the local control-plane provider.
type Provider struct {
	dataDir string
	bins    Binaries
	log     *slog.Logger
	now     func() time.Time

	etcdMu sync.Mutex
	etcd   *etcdServer

	mu     sync.Mutex
	locks  map[string]*sync.Mutex // one per workspace: Create/Delete in turn
	spaces map[string]*workspace
	closed bool

	// The warm pool (pool.go).
	issuer     controlplane.IssuerTrust
	poolSize   int
	spares     map[string]*spare // under mu
	poolWake   chan struct{}
	poolCancel context.CancelFunc // under mu; nil until StartPool
	poolDone   chan struct{}
}

var _ controlplane.Provider = (*Provider)(nil)

// workspace is a running control plane.
type workspace struct {
	id     string
	files  *wsFiles
	procs  []*proc
	cancel context.CancelFunc // stops the health loop
	done   chan struct{}

	mu     sync.Mutex
	health controlplane.Health
}

// New finds the binaries (a missing one is an error wrapping
// controlplane.ErrBinaryMissing) and returns an idle provider; etcd starts
// with the first workspace.
func New(cfg Config) (*Provider, error) {
	if cfg.DataDir == "" || cfg.Logger == nil {
		return nil, errors.New("local provider: DataDir and Logger are required")
	}
	bins, err := FindBinaries(cfg.BinDir)
	if err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	dd, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if cfg.WarmPool < 0 {
		return nil, errors.New("local provider: WarmPool must not be negative")
	}
	if cfg.WarmPool > 0 && !strings.HasPrefix(cfg.Issuer.URL, "https://") {
		return nil, errors.New("local provider: a warm pool needs the https issuer workspaces trust")
	}
	p := &Provider{dataDir: dd, bins: bins, log: cfg.Logger.With("provider", Name), now: cfg.Now,
		locks: map[string]*sync.Mutex{}, spaces: map[string]*workspace{},
		issuer: cfg.Issuer, poolSize: cfg.WarmPool, spares: map[string]*spare{}, poolWake: make(chan struct{}, 1)}
	return p, nil
}

// StartPool sweeps the spares an earlier run left and, with a WarmPool,
// keeps that many ready until Close. Call it after adopting the running
// workspaces, so that their restart does not share the CPU with spares.
func (p *Provider) StartPool() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.poolCancel != nil || p.closed {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.poolCancel, p.poolDone = cancel, make(chan struct{})
	go p.runPool(ctx)
}

// Name implements controlplane.Provider.
func (p *Provider) Name() string { return Name }

// memLimit is the GOMEMLIMIT of a process: a soft limit that makes the Go
// runtime collect harder before the heap grows past it.
func (p *Provider) memLimit(name string) string {
	switch name {
	case "kube-apiserver":
		return "128MiB"
	case "kube-controller-manager":
		return "48MiB"
	case "etcd":
		return "256MiB"
	default:
		return "32MiB"
	}
}

// procEnv is the environment of a process: its GOMEMLIMIT and GOGC.
//
// The API server runs with the default GOGC=100 under a 128 MiB soft limit
// rather than a low GOGC: GOGC=25 kept its idle RSS about 30 MiB lower but
// made it collect all through start-up, where it allocates most (its CPU
// time to /readyz was 2.6-3.5 s against 1.8-2.3 s, measured with
// hack/cpuprobe). With the limit, the idle heap is held near 128 MiB
// anyway (RSS about 200 MiB either way; 110 MiB was too tight: start-up
// then took 5 s of CPU collecting against it). The others keep GOGC=50:
// their RSS is mostly the binary's mapped code, and they start after the
// API server is ready.
func (p *Provider) procEnv(name string) []string {
	gogc := "50"
	if name == "kube-apiserver" {
		gogc = "100"
	}
	return []string{"GOMEMLIMIT=" + p.memLimit(name), "GOGC=" + gogc}
}

func (p *Provider) lock(id string) func() {
	p.mu.Lock()
	l, ok := p.locks[id]
	if !ok {
		l = &sync.Mutex{}
		p.locks[id] = l
	}
	p.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// ensureEtcd starts the shared etcd if it is not running.
func (p *Provider) ensureEtcd(ctx context.Context) (*etcdServer, error) {
	p.etcdMu.Lock()
	defer p.etcdMu.Unlock()
	if p.etcd != nil {
		return p.etcd, nil
	}
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return nil, errors.New("local provider: closed")
	}
	e, err := p.startEtcd(ctx)
	if err != nil {
		return nil, err
	}
	p.etcd = e
	return e, nil
}

// Create implements controlplane.Provider.
func (p *Provider) Create(ctx context.Context, spec controlplane.Spec) error {
	if spec.WorkspaceID == "" {
		return errors.New("local provider: workspace id is empty")
	}
	unlock := p.lock(spec.WorkspaceID)
	defer unlock()
	if _, err := p.ensureEtcd(ctx); err != nil {
		return err
	}
	p.mu.Lock()
	ws := p.spaces[spec.WorkspaceID]
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return errors.New("local provider: closed")
	}
	if ws != nil {
		// Running: apply the spec (the API server reloads its
		// authentication file) and wait until it answers.
		if err := p.writeAuthConfig(ws.files, spec); err != nil {
			return err
		}
		return p.waitReady(ctx, ws)
	}
	if sws, claimed, err := p.claimSpare(spec); err != nil {
		return err
	} else if claimed {
		// A warm spare of this ID: its API server runs with this very
		// configuration (writeAuthConfig finds the file unchanged); the
		// rest starts now.
		if err := p.writeAuthConfig(sws.files, spec); err != nil {
			sws.stop()
			return err
		}
		now := time.Now()
		return p.startRest(ctx, sws, spec, true, now, now)
	}
	// Not a spare (any more): a crash from here on leaves a workspace.
	if err := removeIfExists(filepath.Join(p.wsDir(spec.WorkspaceID), spareMarker)); err != nil {
		return err
	}
	t0 := time.Now()
	// Leftovers of an hks that died go before the ports are checked, so
	// that a port only they hold is kept.
	if err := p.killLeftovers(spec.WorkspaceID); err != nil {
		return err
	}
	f, err := p.prepare(spec)
	if err != nil {
		return fmt.Errorf("prepare workspace files: %w", err)
	}
	tPrepared := time.Now()
	ws = &workspace{id: spec.WorkspaceID, files: f, done: make(chan struct{})}
	// The API server first: the others only retry until it answers.
	api, err := startProc(p.procSpecs(spec.WorkspaceID, f)[0], p.log.With("workspace", spec.WorkspaceID))
	if err != nil {
		return err
	}
	ws.procs = append(ws.procs, api)
	return p.startRest(ctx, ws, spec, false, t0, tPrepared)
}

// startRest waits for the API server of ws (running as ws.procs[0]), then
// starts the controller manager, scheduler and kwok, creates the nodes and
// registers the workspace. On failure every process of ws is stopped.
//
// The others start once the API server is ready: on two cores, their
// start-up (loading, then retrying against an API server that is not
// serving yet) slows its own, and none of them is needed for the workspace
// to be reachable.
func (p *Provider) startRest(ctx context.Context, ws *workspace, spec controlplane.Spec, fromSpare bool, t0, tPrepared time.Time) error {
	fail := func(err error) error {
		for i := len(ws.procs) - 1; i >= 0; i-- {
			ws.procs[i].stop()
		}
		return err
	}
	if err := p.waitReady(ctx, ws); err != nil {
		return fail(err)
	}
	tReady := time.Now()
	if err := p.dropNodeLeases(ctx, ws, spec); err != nil {
		return fail(err)
	}
	for _, s := range p.procSpecs(spec.WorkspaceID, ws.files)[1:] {
		pr, err := startProc(s, p.log.With("workspace", spec.WorkspaceID))
		if err != nil {
			return fail(err)
		}
		ws.procs = append(ws.procs, pr)
	}
	if err := p.ensureNodes(ctx, ws, spec); err != nil {
		return fail(err)
	}
	// kwok serves the nodes' kubelet endpoint: until it listens, the API
	// server answers kubectl logs, attach and port-forward with a 500
	// (connection refused), so a request held by a wake must not be
	// released before it.
	if err := p.waitKwok(ctx, ws); err != nil {
		return fail(err)
	}
	p.log.Info("control plane started", "workspace", spec.WorkspaceID, "from_spare", fromSpare,
		"prepare_s", tPrepared.Sub(t0).Seconds(), "apiserver_ready_s", tReady.Sub(tPrepared).Seconds(),
		"others_and_nodes_s", time.Since(tReady).Seconds())
	hctx, cancel := context.WithCancel(context.Background())
	ws.cancel = cancel
	p.mu.Lock()
	p.spaces[spec.WorkspaceID] = ws
	p.mu.Unlock()
	go p.healthLoop(hctx, ws)
	return nil
}

// waitReady waits for the API server's /readyz.
func (p *Provider) waitReady(ctx context.Context, ws *workspace) error {
	cs, err := kubernetes.NewForConfig(ws.files.adminConfig())
	if err != nil {
		return err
	}
	err = waitFor(ctx, 50*time.Millisecond, func(ctx context.Context) error {
		if running, _, last := ws.procs[0].status(); !running && last != "" {
			return fmt.Errorf("kube-apiserver exited: %s", last)
		}
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		b, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(rctx)
		if err != nil {
			return err
		}
		if string(b) != "ok" {
			return fmt.Errorf("readyz: %s", b)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("the workspace API server did not become ready (log: %s): %w",
			filepath.Join(ws.files.dir, "logs", "kube-apiserver.log"), err)
	}
	return nil
}

// waitKwok waits until the workspace's kwok answers its health path on
// the port that also serves the simulated kubelet endpoint.
func (p *Provider) waitKwok(ctx context.Context, ws *workspace) error {
	url := "http://127.0.0.1:" + strconv.Itoa(ws.files.ports.Kwok) + kwokHealthPath
	err := waitFor(ctx, 25*time.Millisecond, func(ctx context.Context) error {
		if running, _, last := ws.procs[3].status(); !running && last != "" {
			return fmt.Errorf("kwok exited: %s", last)
		}
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		return probe(pctx, url)
	})
	if err != nil {
		return fmt.Errorf("kwok did not serve its kubelet endpoint (log: %s): %w",
			filepath.Join(ws.files.dir, "logs", "kwok.log"), err)
	}
	return nil
}

// ensureNodes creates the workspace's simulated nodes that are missing.
func (p *Provider) ensureNodes(ctx context.Context, ws *workspace, spec controlplane.Spec) error {
	cs, err := kubernetes.NewForConfig(ws.files.adminConfig())
	if err != nil {
		return err
	}
	for _, n := range kwokNodes(spec.WorkspaceID, spec.Plan, ws.files.ports.Kwok) {
		if err := ensureKwokNode(ctx, cs, n); err != nil {
			return err
		}
	}
	return nil
}

// dropNodeLeases deletes the simulated nodes' leases left by a kwok of
// an earlier version of hks, which renewed them (kwok.go): kept, they
// would only go stale.
func (p *Provider) dropNodeLeases(ctx context.Context, ws *workspace, spec controlplane.Spec) error {
	cs, err := kubernetes.NewForConfig(ws.files.adminConfig())
	if err != nil {
		return err
	}
	leases := cs.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	for _, n := range kwokNodes(spec.WorkspaceID, spec.Plan, ws.files.ports.Kwok) {
		if err := leases.Delete(ctx, n.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete the lease of node %s: %w", n.Name, err)
		}
	}
	return nil
}

// Configure implements controlplane.Provider.
func (p *Provider) Configure(ctx context.Context, spec controlplane.Spec) error {
	unlock := p.lock(spec.WorkspaceID)
	defer unlock()
	p.mu.Lock()
	ws := p.spaces[spec.WorkspaceID]
	p.mu.Unlock()
	if ws == nil {
		return controlplane.ErrNotFound
	}
	return p.writeAuthConfig(ws.files, spec)
}

// Delete implements controlplane.Provider.
func (p *Provider) Delete(ctx context.Context, workspaceID string) error {
	if workspaceID == "" {
		return errors.New("local provider: workspace id is empty")
	}
	unlock := p.lock(workspaceID)
	defer unlock()
	p.mu.Lock()
	ws := p.spaces[workspaceID]
	delete(p.spaces, workspaceID)
	if s := p.spares[workspaceID]; s != nil && ws == nil {
		ws = s.ws // reserved, never claimed
	}
	delete(p.spares, workspaceID)
	p.mu.Unlock()
	if ws != nil {
		ws.kill()
	}
	if err := p.remove(ctx, workspaceID); err != nil {
		return err
	}
	p.mu.Lock()
	delete(p.locks, workspaceID)
	p.mu.Unlock()
	return nil
}

// Stop implements controlplane.Provider: the processes end (kwok first,
// the API server last, each given sleepGrace), the data stays.
func (p *Provider) Stop(_ context.Context, workspaceID string) error {
	if workspaceID == "" {
		return errors.New("local provider: workspace id is empty")
	}
	unlock := p.lock(workspaceID)
	defer unlock()
	p.mu.Lock()
	ws := p.spaces[workspaceID]
	delete(p.spaces, workspaceID)
	p.mu.Unlock()
	if ws != nil {
		ws.stopWithin(sleepGrace)
	}
	return p.killLeftovers(workspaceID)
}

// sleepGrace is how long each process of a workspace going to sleep gets
// after SIGTERM: the API server ends its open watches at once, and
// nothing it does at shutdown is worth more than a fast sleep (its data
// is in etcd already).
const sleepGrace = 3 * time.Second

// killLeftovers ends the processes of workspace id an earlier hks left
// running (named in its pid files). p.lock(id) is held.
func (p *Provider) killLeftovers(workspaceID string) error {
	dir := p.wsDir(workspaceID)
	for _, name := range []string{"kwok", "kube-scheduler", "kube-controller-manager", "kube-apiserver"} {
		path := map[string]string{"kwok": p.bins.Kwok, "kube-scheduler": p.bins.Scheduler,
			"kube-controller-manager": p.bins.ControllerManager, "kube-apiserver": p.bins.APIServer}[name]
		if err := killStale(filepath.Join(dir, "run", name+".pid"), path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// remove deletes what is left of workspace (or spare) id once its known
// processes are stopped: leftovers of an hks that died, its etcd keys and
// its directory. p.lock(id) is held.
func (p *Provider) remove(ctx context.Context, workspaceID string) error {
	dir := p.wsDir(workspaceID)
	if err := p.killLeftovers(workspaceID); err != nil {
		return err
	}
	e, err := p.ensureEtcd(ctx)
	if err != nil {
		return err
	}
	if err := e.deletePrefix(ctx, workspaceID); err != nil {
		return fmt.Errorf("delete the workspace's etcd keys: %w", err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove workspace data: %w", err)
	}
	return nil
}

// stop ends the health loop and the processes (kwok first, the API server
// last), each given stopGrace to exit.
func (ws *workspace) stop() { ws.stopWithin(stopGrace) }

// kill ends them at once: for a control plane whose data goes next (a
// deleted workspace, a spare), where a graceful stop buys nothing and an
// API server waits out its grace for any watch still open (the platform's
// own, or a user's).
func (ws *workspace) kill() { ws.stopWithin(0) }

func (ws *workspace) stopWithin(grace time.Duration) {
	if ws.cancel != nil {
		ws.cancel()
		<-ws.done
	}
	var wg sync.WaitGroup
	for _, pr := range ws.procs[1:] {
		wg.Go(func() { pr.stopWithin(grace) })
	}
	wg.Wait()
	ws.procs[0].stopWithin(grace)
}

// Health implements controlplane.Provider.
func (p *Provider) Health(_ context.Context, workspaceID string) (controlplane.Health, error) {
	p.mu.Lock()
	ws := p.spaces[workspaceID]
	p.mu.Unlock()
	if ws == nil {
		return controlplane.Health{}, controlplane.ErrNotFound
	}
	ws.mu.Lock()
	defer ws.mu.Unlock()
	h := ws.health
	h.Components = append([]controlplane.ComponentHealth(nil), h.Components...)
	return h, nil
}

// AdminConfig implements controlplane.Provider.
func (p *Provider) AdminConfig(_ context.Context, workspaceID string) (*rest.Config, error) {
	p.mu.Lock()
	ws := p.spaces[workspaceID]
	p.mu.Unlock()
	if ws == nil {
		return nil, controlplane.ErrNotFound
	}
	return ws.files.adminConfig(), nil
}

// Endpoint implements controlplane.Provider. It reads the kept port and CA,
// so it answers for a workspace whose processes are being (re)started.
func (p *Provider) Endpoint(_ context.Context, workspaceID string) (controlplane.Endpoint, error) {
	dir := p.wsDir(workspaceID)
	var ports wsPorts
	b, err := os.ReadFile(filepath.Join(dir, "ports.json"))
	if errors.Is(err, os.ErrNotExist) {
		return controlplane.Endpoint{}, controlplane.ErrNotFound
	}
	if err != nil {
		return controlplane.Endpoint{}, err
	}
	if err := json.Unmarshal(b, &ports); err != nil || ports.APIServer == 0 {
		return controlplane.Endpoint{}, fmt.Errorf("read %s: invalid", filepath.Join(dir, "ports.json"))
	}
	ca, err := os.ReadFile(filepath.Join(dir, "pki", "ca.crt"))
	if errors.Is(err, os.ErrNotExist) {
		return controlplane.Endpoint{}, controlplane.ErrNotFound
	}
	if err != nil {
		return controlplane.Endpoint{}, err
	}
	return controlplane.Endpoint{Server: "https://127.0.0.1:" + strconv.Itoa(ports.APIServer), CAPEM: ca}, nil
}

// List implements controlplane.Provider: the workspace directories
// (spares are not workspaces).
func (p *Provider) List(context.Context) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(p.dataDir, "workspaces"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range ents {
		if e.IsDir() && !p.isSpareDir(e.Name()) {
			ids = append(ids, e.Name())
		}
	}
	return ids, nil
}

// Close implements controlplane.Provider: every process stops, data stays.
func (p *Provider) Close() error {
	p.mu.Lock()
	p.closed = true
	poolCancel, poolDone := p.poolCancel, p.poolDone
	p.mu.Unlock()
	if poolCancel != nil {
		poolCancel()
		<-poolDone
	}
	p.closeSpares()
	p.mu.Lock()
	spaces := p.spaces
	p.spaces = map[string]*workspace{}
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, ws := range spaces {
		wg.Go(ws.stop)
	}
	wg.Wait()
	p.etcdMu.Lock()
	defer p.etcdMu.Unlock()
	if p.etcd != nil {
		p.etcd.proc.stop()
		p.etcd = nil
	}
	return nil
}

// healthLoop probes the workspace's components until ctx ends.
func (p *Provider) healthLoop(ctx context.Context, ws *workspace) {
	defer close(ws.done)
	cs, err := kubernetes.NewForConfig(ws.files.adminConfig())
	if err != nil {
		p.log.Error("health client", "workspace", ws.id, "err", err)
		return
	}
	version := ""
	for {
		h := controlplane.Health{CheckedAt: p.now().UTC()}
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		etcdErr := p.etcdHealth(pctx)
		h.Components = append(h.Components, p.component("etcd", p.etcdProc(), etcdErr))
		_, apiErr := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(pctx)
		if apiErr == nil && version == "" {
			if v, err := cs.Discovery().ServerVersion(); err == nil {
				version = v.GitVersion
			}
		}
		h.Version = version
		h.Components = append(h.Components, p.component("kube-apiserver", ws.procs[0], apiErr))
		h.Components = append(h.Components, p.component("kube-controller-manager", ws.procs[1],
			probe(pctx, "https://127.0.0.1:"+strconv.Itoa(ws.files.ports.ControllerManager)+"/healthz")))
		h.Components = append(h.Components, p.component("kube-scheduler", ws.procs[2],
			probe(pctx, "https://127.0.0.1:"+strconv.Itoa(ws.files.ports.Scheduler)+"/healthz")))
		h.Components = append(h.Components, p.component("kwok", ws.procs[3],
			probe(pctx, "http://127.0.0.1:"+strconv.Itoa(ws.files.ports.Kwok)+kwokHealthPath)))
		cancel()
		h.Ready = true
		for _, c := range h.Components {
			h.Ready = h.Ready && c.Healthy
		}
		ws.mu.Lock()
		ws.health = h
		ws.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-time.After(healthInterval):
		}
	}
}

func (p *Provider) etcdProc() *proc {
	p.etcdMu.Lock()
	defer p.etcdMu.Unlock()
	if p.etcd == nil {
		return nil
	}
	return p.etcd.proc
}

func (p *Provider) etcdHealth(ctx context.Context) error {
	p.etcdMu.Lock()
	e := p.etcd
	p.etcdMu.Unlock()
	if e == nil {
		return errors.New("etcd is not running")
	}
	return e.healthy(ctx)
}

// component combines a process's state and its probe.
func (p *Provider) component(name string, pr *proc, probeErr error) controlplane.ComponentHealth {
	c := controlplane.ComponentHealth{Name: name, Healthy: probeErr == nil}
	if pr != nil {
		running, restarts, last := pr.status()
		c.Restarts = restarts
		if !running {
			c.Healthy = false
			c.Message = "not running (restarting with backoff)"
			if last != "" {
				c.Message += ": last exit: " + last
			}
			return c
		}
	}
	if probeErr != nil {
		c.Message = probeErr.Error()
	}
	return c
}

// getBody GETs url with c and returns the answer, its body closed, and
// up to limit bytes of that body.
func getBody(ctx context.Context, c *http.Client, url string, limit int64) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, limit))
	return resp, b, nil
}

// probe GETs a health endpoint and wants 200.
func probe(ctx context.Context, url string) error {
	resp, b, err := getBody(ctx, probeClient, url, 512)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s %s", url, resp.Status, b)
	}
	return nil
}
