package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hexabase/hexabase-ai/internal/functions"
	"github.com/hexabase/hexabase-ai/internal/functions/local"
	"github.com/hexabase/hexabase-ai/internal/functions/sandbox"
	"github.com/hexabase/hexabase-ai/internal/functions/triggers"
	"github.com/hexabase/hexabase-ai/internal/functions/wasm"
)

// wireFunctions builds the local functions engine (wasm in-process; node,
// python and go in the bubblewrap sandbox when this machine has it) and
// the functions service: its routes, the HTTP trigger server.New mounts
// at functions.TriggerPrefix, and its sweeper in the background.
func wireFunctions(ctx context.Context, d *deps) error {
	if d.docsOnly {
		d.routes = append(d.routes, (&functions.Service{}).Routes()...)
		d.routes = append(d.routes, (&triggers.Service{}).Routes()...)
		return nil
	}
	fc := d.cfg.Functions
	if !fc.Enabled {
		return nil
	}
	log := d.log.With("component", "functions")
	// One directory and cgroup per server (tests run several in one
	// process): named after the data dir, which the sandbox's user must
	// not reach (it holds the database and the master key).
	sum := sha256.Sum256([]byte(d.cfg.DataDir))
	id := hex.EncodeToString(sum[:6])
	dir := fc.Dir
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "hks-functions-"+id)
	}
	// local.New creates dir (0755 whatever the umask) and refuses one that
	// another user could have planted or can write into.
	runner, err := wasm.New(ctx, wasm.Config{CacheDir: filepath.Join(d.cfg.DataDir, "functions", "wasm-cache"), Logger: log.With("runtime", "wasm")})
	if err != nil {
		return fmt.Errorf("functions: %w", err)
	}
	sb, sbErr := sandbox.New(sandbox.Config{Group: "hks-fn-" + id, Logger: log.With("part", "sandbox")})
	reason := ""
	if sbErr != nil {
		reason = sbErr.Error()
		log.Warn("functions sandbox unavailable: node, python and go functions cannot run", "error", sbErr)
		sb = nil
	}
	lc := local.Config{DataDir: dir, Sandbox: sb, SandboxReason: reason, Wasm: runner, PoolSize: fc.PoolSize,
		IdleTimeout: fc.IdleTimeout.Duration, MaxInstancesPerOwner: fc.MaxInstancesPerWorkspace,
		Node: fc.Runtimes.Node, Python: fc.Runtimes.Python, Go: fc.Runtimes.Go, Logger: log.With("part", "engine"), Now: d.now}
	eng, err := local.New(ctx, lc)
	if err != nil && sb != nil {
		// The sandbox's user cannot reach the directory: wasm still runs.
		log.Warn("functions engine without the sandbox: node, python and go functions cannot run", "error", err)
		_ = sb.Close()
		sb, lc.Sandbox, lc.SandboxReason = nil, nil, err.Error()
		eng, err = local.New(ctx, lc)
	}
	if err != nil {
		_ = runner.Close(context.Background())
		if sb != nil {
			_ = sb.Close()
		}
		return fmt.Errorf("functions: %w", err)
	}
	d.closers = append(d.closers, func() {
		_ = eng.Close()
		if sb != nil {
			_ = sb.Close()
		}
	})
	scfg := functions.Config{Store: d.store, Tenancy: d.tenancy, Auth: d.identity, Engine: eng, Sealer: d.sealer, Tasks: d.queue,
		NATS: d.nats.NATS(), Audit: d.audit, ExternalURL: d.cfg.ExternalURL, Logger: log, Now: d.now, Retention: fc.Retention.Duration,
		UserStreams: d.userStreams}
	if d.functionsConfig != nil {
		d.functionsConfig(&scfg)
	}
	s, err := functions.New(scfg)
	if err != nil {
		return err
	}
	// Cron and event triggers: fires are tasks of the queue (registered
	// here, before the queue runs), events a JetStream stream.
	trg, err := triggers.New(ctx, triggers.Config{Store: d.store, JS: d.nats.JetStream(), Tasks: d.queue,
		Functions: triggers.Adapt(s.FunctionByName, s.InvokeAs), Scopes: d.tenancy, Logger: log.With("part", "triggers"), Now: d.now})
	if err != nil {
		return fmt.Errorf("functions triggers: %w", err)
	}
	d.routes = append(d.routes, s.Routes()...)
	d.routes = append(d.routes, trg.Routes()...)
	d.functions = s
	d.background = append(d.background, s.Run, trg.Run)
	return nil
}
