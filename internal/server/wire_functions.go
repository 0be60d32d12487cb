package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"

	"github.com/hexabase/hexabase-ai/internal/functions"
	"github.com/hexabase/hexabase-ai/internal/functions/local"
	"github.com/hexabase/hexabase-ai/internal/functions/sandbox"
	"github.com/hexabase/hexabase-ai/internal/functions/wasm"
)

// wireFunctions builds the local functions engine (wasm in-process; node,
// python and go in the bubblewrap sandbox when this machine has it) and
// the functions service: its routes, the HTTP trigger server.New mounts
// at functions.TriggerPrefix, and its sweeper in the background.
func wireFunctions(ctx context.Context, d *deps) error {
	if d.docsOnly {
		d.routes = append(d.routes, (&functions.Service{}).Routes()...)
		return nil
	}
	fc := d.cfg.Functions
	if !fc.Enabled {
		return nil
	}
	dir := filepath.Join(d.cfg.DataDir, "functions")
	log := d.log.With("component", "functions")
	runner, err := wasm.New(ctx, wasm.Config{CacheDir: filepath.Join(dir, "wasm-cache"), Logger: log.With("runtime", "wasm")})
	if err != nil {
		return fmt.Errorf("functions: %w", err)
	}
	// One cgroup per server (tests run several in one process): named
	// after the data dir.
	sum := sha256.Sum256([]byte(d.cfg.DataDir))
	sb, sbErr := sandbox.New(sandbox.Config{Group: "hks-fn-" + hex.EncodeToString(sum[:6]), Logger: log.With("part", "sandbox")})
	reason := ""
	if sbErr != nil {
		reason = sbErr.Error()
		log.Warn("functions sandbox unavailable: node, python and go functions cannot run", "error", sbErr)
		sb = nil
	}
	eng, err := local.New(ctx, local.Config{DataDir: dir, Sandbox: sb, SandboxReason: reason, Wasm: runner, PoolSize: fc.PoolSize,
		IdleTimeout: fc.IdleTimeout.Duration, MaxInstancesPerOwner: fc.MaxInstancesPerWorkspace,
		Node: fc.Runtimes.Node, Python: fc.Runtimes.Python, Go: fc.Runtimes.Go, Logger: log.With("part", "engine"), Now: d.now})
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
	s, err := functions.New(functions.Config{Store: d.store, Tenancy: d.tenancy, Auth: d.identity, Engine: eng, Sealer: d.sealer, Tasks: d.queue,
		NATS: d.nats.NATS(), Audit: d.audit, ExternalURL: d.cfg.ExternalURL, Logger: log, Now: d.now, Retention: fc.Retention.Duration})
	if err != nil {
		return err
	}
	d.routes = append(d.routes, s.Routes()...)
	d.functions = s
	d.background = append(d.background, s.Run)
	return nil
}
