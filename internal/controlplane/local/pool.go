package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hexabase/hexabase-ai/internal/controlplane"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// The warm pool keeps API servers started and ready for workspaces that do
// not exist yet, so that creating a workspace does not wait for an API
// server to boot (about 2.5 s of its 3 s on two cores, most of it in
// post-start hooks that poll at one-second intervals).
//
// A spare is an ordinary workspace directory, workspaces/<id>/, named by
// the ID the next workspace will get, and holding a spareMarker file; only
// its kube-apiserver runs. Everything a spare's processes are started with
// (the etcd prefix, the audience its authentication file trusts, the
// certificates) follows from that ID, so it is exactly what Create would
// build for a shared-plan workspace of that ID. tenancy asks for an ID with
// Reserve before it inserts the workspace; the provisioning task's Create
// then finds the spare, removes the marker and starts the controller
// manager, scheduler and kwok. Nothing about the API server changes, so
// nothing is reloaded.
//
// Crash safety follows from the marker: a directory that has it is not a
// workspace (List leaves it out, so adoption does not see it), and at start
// every such directory is deleted with its processes and etcd keys. A
// workspace whose spare was reserved but not yet claimed when hks died is
// then provisioned from scratch by its task, like any other. Create takes
// the marker away (under the workspace's lock) before anything else, and
// the sweep looks for it again under the same lock.

// spareMarker marks a workspace directory as a spare.
const spareMarker = "spare"

// spare is a started API server waiting for a workspace.
type spare struct {
	ws         *workspace
	reserved   bool
	reservedAt time.Time
}

// reservationTTL is how long a reserved spare waits for its workspace's
// provisioning. One that waits longer was provisioned elsewhere (another
// hks took the task) or never will be: it is discarded, never handed out
// again, since its ID may be a workspace's now.
const reservationTTL = 10 * time.Minute

// spareSpec is the spec a spare is started with: the shared plan, with the
// issuer trust every workspace gets.
func (p *Provider) spareSpec(id string) controlplane.Spec {
	return controlplane.Spec{WorkspaceID: id, Plan: controlplane.PlanShared, Issuer: p.issuer}
}

func (p *Provider) isSpareDir(id string) bool {
	_, err := os.Stat(filepath.Join(p.wsDir(id), spareMarker))
	return err == nil
}

// Reserve implements controlplane.Reserver: the ID of a ready spare for a
// workspace of plan, which the caller must create with that ID (and then
// provision with Create) or hand back with Release. ok is false when no
// spare is ready or the plan is not shared (a dedicated plan's API server
// has admission settings of its own).
func (p *Provider) Reserve(plan string) (id string, ok bool) {
	if plan != controlplane.PlanShared {
		return "", false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for sid, s := range p.spares {
		if !s.reserved {
			s.reserved, s.reservedAt = true, time.Now()
			p.refill()
			return sid, true
		}
	}
	return "", false
}

// Release implements controlplane.Reserver: an ID from Reserve that was
// not used goes back to the pool.
func (p *Provider) Release(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s, ok := p.spares[id]; ok {
		s.reserved = false
	}
}

// refill wakes the pool loop; p.mu is held.
func (p *Provider) refill() {
	select {
	case p.poolWake <- struct{}{}:
	default:
	}
}

// SparesReady is the number of ready spares nobody has reserved.
func (p *Provider) SparesReady() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, s := range p.spares {
		if !s.reserved {
			n++
		}
	}
	return n
}

// runPool sweeps the spares an earlier hks left, then keeps p.poolSize
// unreserved spares ready until ctx ends. A spare that fails to start is
// removed and tried again after a pause.
func (p *Provider) runPool(ctx context.Context) {
	defer close(p.poolDone)
	if err := p.sweepSpares(ctx); err != nil && ctx.Err() == nil {
		p.log.Warn("remove spare control planes of an earlier run", "err", err)
	}
	backoff := time.Second
	expire := time.NewTicker(time.Minute)
	defer expire.Stop()
	for ctx.Err() == nil {
		if p.SparesReady() >= p.poolSize {
			select {
			case <-ctx.Done():
				return
			case <-p.poolWake:
			case <-expire.C:
				p.expireReservations(ctx, time.Now().Add(-reservationTTL))
			}
			continue
		}
		if err := p.startSpare(ctx, store.NewID()); err != nil {
			if ctx.Err() != nil {
				return
			}
			p.log.Warn("start a spare control plane", "err", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Minute)
			continue
		}
		backoff = time.Second
	}
}

// expireReservations discards the spares reserved before cutoff.
func (p *Provider) expireReservations(ctx context.Context, cutoff time.Time) {
	p.mu.Lock()
	var stale []*spare
	for id, s := range p.spares {
		if s.reserved && s.reservedAt.Before(cutoff) {
			stale = append(stale, s)
			delete(p.spares, id)
		}
	}
	p.mu.Unlock()
	for _, s := range stale {
		p.log.Warn("discarding a spare reserved but never provisioned", "spare", s.ws.id)
		s.ws.kill()
		unlock := p.lock(s.ws.id)
		if err := p.remove(ctx, s.ws.id); err != nil {
			p.log.Warn("remove a spare control plane", "spare", s.ws.id, "err", err)
		}
		unlock()
	}
}

// startSpare prepares and starts the API server of spare id and waits for
// it to be ready.
func (p *Provider) startSpare(ctx context.Context, id string) error {
	unlock := p.lock(id)
	defer unlock()
	spec := p.spareSpec(id)
	dir := p.wsDir(id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	// The marker first: whatever else is left by a crash is swept.
	if err := writeFileAtomic(filepath.Join(dir, spareMarker), nil, 0o600); err != nil {
		return err
	}
	start := time.Now()
	if _, err := p.ensureEtcd(ctx); err != nil {
		return p.discardSpare(id, err)
	}
	f, err := p.prepare(spec)
	if err != nil {
		return p.discardSpare(id, fmt.Errorf("prepare spare files: %w", err))
	}
	ws := &workspace{id: id, files: f, done: make(chan struct{})}
	api, err := startProc(p.procSpecs(id, f)[0], p.log.With("spare", id))
	if err != nil {
		return p.discardSpare(id, err)
	}
	ws.procs = append(ws.procs, api)
	if err := p.waitReady(ctx, ws); err != nil {
		api.kill()
		return p.discardSpare(id, err)
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		api.kill()
		return p.discardSpare(id, errors.New("local provider: closed"))
	}
	p.spares[id] = &spare{ws: ws}
	p.mu.Unlock()
	p.log.Info("spare control plane ready", "spare", id, "seconds", time.Since(start).Seconds())
	return nil
}

// discardSpare removes what startSpare made (p.lock(id) is held) and
// returns err.
func (p *Provider) discardSpare(id string, err error) error {
	dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if derr := p.remove(dctx, id); derr != nil {
		p.log.Warn("remove a spare that did not start", "spare", id, "err", derr)
	}
	return err
}

// claimSpare turns the running spare spec.WorkspaceID, if there is one,
// into the workspace; p.lock(id) is held. ok is false when there is no
// such spare. The spare leaves the pool whether or not the rest succeeds:
// a failure is the caller's to handle like any failed start.
func (p *Provider) claimSpare(spec controlplane.Spec) (ws *workspace, ok bool, err error) {
	p.mu.Lock()
	s := p.spares[spec.WorkspaceID]
	delete(p.spares, spec.WorkspaceID)
	p.mu.Unlock()
	if s == nil {
		return nil, false, nil
	}
	if err := removeIfExists(filepath.Join(p.wsDir(spec.WorkspaceID), spareMarker)); err != nil {
		s.ws.kill()
		return nil, true, err
	}
	if spec.Plan != controlplane.PlanShared || spec.Issuer.URL != p.issuer.URL || string(spec.Issuer.CAPEM) != string(p.issuer.CAPEM) {
		// Not what the spare was started for (Reserve hands out shared
		// IDs only; the issuer changed since): start over cold.
		s.ws.kill()
		return nil, false, nil
	}
	return s.ws, true, nil
}

// sweepSpares removes every spare directory, as at start, when none of
// them is in use.
func (p *Provider) sweepSpares(ctx context.Context) error {
	ents, err := os.ReadDir(filepath.Join(p.dataDir, "workspaces"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range ents {
		if !e.IsDir() || !p.isSpareDir(e.Name()) {
			continue
		}
		errs = append(errs, p.sweepSpare(ctx, e.Name()))
	}
	return errors.Join(errs...)
}

func (p *Provider) sweepSpare(ctx context.Context, id string) error {
	unlock := p.lock(id)
	defer unlock()
	p.mu.Lock()
	_, live := p.spares[id]
	_, running := p.spaces[id]
	p.mu.Unlock()
	if live || running || !p.isSpareDir(id) {
		return nil // ours, or claimed meanwhile
	}
	p.log.Info("removing a spare control plane of an earlier run", "spare", id)
	return p.remove(ctx, id)
}

// closeSpares stops and removes the spares (Close): they hold no workspace
// yet, and one that was reserved is provisioned from scratch by its task.
func (p *Provider) closeSpares() {
	p.mu.Lock()
	spares := p.spares
	p.spares = map[string]*spare{}
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for id, s := range spares {
		s.ws.kill()
		unlock := p.lock(id)
		if err := p.remove(ctx, id); err != nil {
			p.log.Warn("remove a spare control plane", "spare", id, "err", err)
		}
		unlock()
	}
}
