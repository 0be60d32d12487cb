package local

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/hexabase/hexabase-ai/internal/functions/engine"
	"github.com/hexabase/hexabase-ai/internal/functions/sandbox"
)

// Defaults of a version's limits left zero.
const (
	defaultMemory       = 128 << 20
	defaultTimeout      = 10 * time.Second
	defaultMaxInstances = 4
)

// fnState is what the engine holds of one version (by key): its
// instances, how many are starting and how many callers wait.
type fnState struct {
	key, owner string
	instances  []*instance
	starting   int
	waiting    int
}

// instance is a specialized loader serving one version.
type instance struct {
	e     *Engine
	fn    *fnState
	ld    *loader
	conc  int
	owner string

	// Guarded by Engine.mu.
	inflight int
	stopped  bool
	idle     *time.Timer
	idleGen  uint64

	mu         sync.Mutex
	pending    map[uint64]chan *message
	dead       chan struct{} // closed when the process ended
	killReason string        // set before a kill: why (timeout, oom, pids)
	exitReason string        // set before dead is closed
	exitText   string
}

func (e *Engine) newInstance(fs *fnState, ld *loader, conc int) *instance {
	inst := &instance{e: e, fn: fs, ld: ld, conc: conc, owner: fs.owner,
		pending: map[uint64]chan *message{}, dead: make(chan struct{})}
	e.wg.Add(1)
	go inst.read()
	return inst
}

// read dispatches the loader's replies; when the loader's pipe ends, the
// process is gone: every pending call learns why.
func (inst *instance) read() {
	defer inst.e.wg.Done()
	for {
		m, err := readFrame(inst.ld.r)
		if err != nil {
			if errors.Is(err, errFrameTooLarge) {
				inst.kill(engine.ExitCrash)
			}
			break
		}
		inst.mu.Lock()
		ch := inst.pending[m.ID]
		if m.Type != "result" {
			ch = nil
		}
		if ch != nil {
			delete(inst.pending, m.ID)
		}
		inst.mu.Unlock()
		if ch == nil {
			// Not the loader's answer to a call: the function's code
			// writing to the protocol's fd itself. Decoding such frames
			// would be work without end for the platform: the instance
			// ends instead.
			inst.e.log.Warn("functions instance wrote a frame that answers no call: killed", "function", inst.fn.key, "type", m.Type, "id", m.ID)
			inst.kill(engine.ExitCrash)
			break
		}
		ch <- m
	}
	// The pipe ends a moment before the process: give it that moment to
	// report its own exit (code, signal) before making sure it is gone.
	select {
	case <-inst.ld.proc.Done():
	case <-time.After(time.Second):
	}
	inst.ld.proc.Kill()
	ex := inst.ld.proc.Wait()
	inst.mu.Lock()
	switch {
	case ex.Reason == sandbox.ReasonOOM:
		inst.exitReason = engine.ExitOOM
	case ex.Reason == sandbox.ReasonPids:
		inst.exitReason = engine.ExitPids
	case inst.killReason != "":
		inst.exitReason = inst.killReason
	default:
		inst.exitReason = engine.ExitCrash
	}
	inst.exitText = "the instance ended: " + exitText(ex)
	if inst.killReason == engine.ExitTimeout && ex.Reason != sandbox.ReasonOOM && ex.Reason != sandbox.ReasonPids {
		inst.exitText = "the invocation ran past its timeout"
	}
	inst.mu.Unlock()
	close(inst.dead)
	inst.e.removeInstance(inst)
	inst.ld.stop()
}

// kill ends the instance's process, remembering why.
func (inst *instance) kill(reason string) {
	inst.mu.Lock()
	if inst.killReason == "" {
		inst.killReason = reason
	}
	inst.mu.Unlock()
	inst.ld.stop()
}

// call sends one invocation and waits for its reply, its timeout or the
// end of the process.
func (inst *instance) call(v engine.Version, req engine.Request) engine.Result {
	start := time.Now()
	id := inst.e.callSeq.Add(1)
	ch := make(chan *message, 1)
	inst.mu.Lock()
	inst.pending[id] = ch
	inst.mu.Unlock()
	before := inst.ld.proc.Events()
	timeout := v.Limits.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	var res engine.Result
	if err := inst.ld.w.send(&message{Type: "invoke", ID: id, Request: toWire(req)}); err != nil {
		inst.kill(engine.ExitCrash)
	}
	select {
	case m := <-ch:
		res.Logs = []byte(m.Logs)
		switch {
		case m.Error != "":
			res.ExitReason, res.Error = engine.ExitError, m.Error
			if r := limitHit(before, inst.ld.proc.Events()); r != "" {
				// A handler that failed because its instance hit a limit
				// (a fork refused at the pids limit): the limit is why.
				res.ExitReason = r
				inst.kill(r)
			}
		case m.Response == nil:
			res.ExitReason, res.Error = engine.ExitError, "the handler returned no response"
		default:
			res.Response = fromWire(m.Response)
		}
	case <-inst.dead:
		inst.mu.Lock()
		res.ExitReason, res.Error = inst.exitReason, inst.exitText
		inst.mu.Unlock()
	case <-t.C:
		reason := engine.ExitTimeout
		if r := limitHit(before, inst.ld.proc.Events()); r != "" {
			reason = r
		}
		inst.kill(reason)
		<-inst.dead
		inst.mu.Lock()
		res.ExitReason, res.Error = inst.exitReason, inst.exitText
		inst.mu.Unlock()
		if res.ExitReason == engine.ExitTimeout {
			res.Error = "the invocation ran past its timeout of " + timeout.String()
		}
	}
	inst.mu.Lock()
	delete(inst.pending, id)
	inst.mu.Unlock()
	res.Duration = time.Since(start)
	return res
}

// limitHit says which limit the instance's cgroup counted between two
// readings: oom before pids, as the sandbox ranks them.
func limitHit(before, after sandbox.Events) string {
	switch {
	case after.OOMKills > before.OOMKills:
		return engine.ExitOOM
	case after.PidsLimitHits > before.PidsLimitHits:
		return engine.ExitPids
	}
	return ""
}

// errClosed is a call on a closed engine.
var errClosed = errors.New("functions engine closed")

// acquire returns an instance of v with room for one more call, starting
// one (cold) when none has room and the caps allow, else waiting in the
// version's bounded queue.
func (e *Engine) acquire(ctx context.Context, v engine.Version, rt *procRuntime, a *artifact) (*instance, bool, error) {
	maxInst := v.Limits.MaxInstances
	if maxInst <= 0 {
		maxInst = defaultMaxInstances
	}
	queued := false
	e.mu.Lock()
	defer func() {
		if queued {
			if fs := e.fns[v.Key]; fs != nil {
				fs.waiting--
			}
		}
		e.mu.Unlock()
	}()
	for {
		if e.closed {
			return nil, false, errClosed
		}
		fs := e.fns[v.Key]
		if fs == nil {
			fs = &fnState{key: v.Key, owner: v.Owner}
			e.fns[v.Key] = fs
		}
		for _, inst := range fs.instances {
			if !inst.stopped && inst.inflight < inst.conc {
				inst.inflight++
				inst.idleGen++
				if inst.idle != nil {
					inst.idle.Stop()
				}
				return inst, false, nil
			}
		}
		if len(fs.instances)+fs.starting < maxInst {
			if e.owners[v.Owner] >= e.cfg.MaxInstancesPerOwner {
				e.evictIdleLocked(v.Owner)
			}
			if e.owners[v.Owner] < e.cfg.MaxInstancesPerOwner {
				fs.starting++
				e.owners[v.Owner]++
				e.mu.Unlock()
				inst, err := e.coldStart(ctx, fs, rt, v, a)
				e.mu.Lock()
				fs.starting--
				if err != nil {
					e.owners[v.Owner]--
					e.broadcastLocked()
					e.dropIfEmptyLocked(fs)
					return nil, false, err
				}
				if e.closed {
					e.owners[v.Owner]--
					inst.stopped = true
					go inst.kill(engine.ExitCrash)
					return nil, false, errClosed
				}
				inst.inflight = 1
				fs.instances = append(fs.instances, inst)
				// Callers queued during the start may share the instance.
				e.broadcastLocked()
				return inst, true, nil
			}
		}
		if !queued {
			if fs.waiting >= e.cfg.QueueLength {
				return nil, false, &engine.ErrBusy{RetryAfter: time.Second}
			}
			fs.waiting++
			queued = true
		}
		ch := e.changed
		e.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			e.mu.Lock()
			return nil, false, ctx.Err()
		}
		e.mu.Lock()
	}
}

func (e *Engine) coldStart(ctx context.Context, fs *fnState, rt *procRuntime, v engine.Version, a *artifact) (*instance, error) {
	ld, err := e.specialize(ctx, rt, v, a)
	if err != nil {
		return nil, err
	}
	conc := v.Limits.Concurrency
	if conc <= 0 || rt.info.Name == engine.RuntimeGo {
		conc = 1
	}
	return e.newInstance(fs, ld, conc), nil
}

// release gives back an instance's call slot; an instance left without
// calls stops after IdleTimeout.
func (e *Engine) release(inst *instance) {
	e.mu.Lock()
	defer e.mu.Unlock()
	inst.inflight--
	e.broadcastLocked()
	if inst.inflight > 0 || inst.stopped {
		return
	}
	inst.idleGen++
	gen := inst.idleGen
	inst.idle = time.AfterFunc(e.cfg.IdleTimeout, func() {
		e.mu.Lock()
		stop := !inst.stopped && inst.inflight == 0 && inst.idleGen == gen
		if stop {
			e.stopLocked(inst)
		}
		e.mu.Unlock()
		if stop {
			inst.kill(engine.ExitCrash)
		}
	})
}

// stopLocked takes inst out of service; the caller kills it after
// unlocking.
func (e *Engine) stopLocked(inst *instance) {
	if inst.stopped {
		return
	}
	inst.stopped = true
	if inst.idle != nil {
		inst.idle.Stop()
	}
	fs := inst.fn
	for i, x := range fs.instances {
		if x == inst {
			fs.instances = append(fs.instances[:i], fs.instances[i+1:]...)
			break
		}
	}
	e.owners[inst.owner]--
	if e.owners[inst.owner] <= 0 {
		delete(e.owners, inst.owner)
	}
	e.dropIfEmptyLocked(fs)
	e.broadcastLocked()
}

// removeInstance forgets an instance whose process ended.
func (e *Engine) removeInstance(inst *instance) {
	e.mu.Lock()
	e.stopLocked(inst)
	e.mu.Unlock()
}

func (e *Engine) dropIfEmptyLocked(fs *fnState) {
	if len(fs.instances) == 0 && fs.starting == 0 && fs.waiting == 0 && e.fns[fs.key] == fs {
		delete(e.fns, fs.key)
	}
}

// evictIdleLocked stops one idle instance of owner (of any version) to make
// room under the owner's cap.
func (e *Engine) evictIdleLocked(owner string) {
	for _, fs := range e.fns {
		if fs.owner != owner {
			continue
		}
		for _, inst := range fs.instances {
			if !inst.stopped && inst.inflight == 0 {
				e.stopLocked(inst)
				go inst.kill(engine.ExitCrash)
				return
			}
		}
	}
}

func (e *Engine) broadcastLocked() {
	close(e.changed)
	e.changed = make(chan struct{})
}
