package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/testutil/scriptedmodel"
)

// TestConsoleInBrowser runs the console's browser tests
// (test/e2e/console/run.mjs: Debian's chromium driven headless by
// playwright-core, axe-core scans) against a real hks server with real
// workspaces. It needs the console built into the binary (make console,
// which make test-e2e runs first), web/node_modules, node and chromium.
// CONSOLE_SCREENSHOTS=<dir> saves the docs' screenshots there.
func TestConsoleInBrowser(t *testing.T) {
	needBinary(t)
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, need := range []struct{ path, fix string }{
		{filepath.Join(root, "internal/console/dist/app/index.html"), "the console is not built: run make console (make test-e2e does)"},
		{filepath.Join(root, "web/node_modules/playwright-core"), "web/node_modules is missing: run make console"},
	} {
		if _, err := os.Stat(need.path); err != nil {
			t.Fatalf("%s (%v)", need.fix, err)
		}
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is not installed (the console's tests run on Node.js)")
	}
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		if chromium, err = exec.LookPath("chromium"); err != nil {
			t.Fatal("chromium is not installed: apt-get install chromium (.ci/run does)")
		}
	}
	// The assistant's steps chat with a scripted model (a test double: no
	// model weights run here); hks is configured with it as its one provider.
	model, gate := startScriptedModel(t)
	cfg := filepath.Join(t.TempDir(), "hks.yaml")
	yaml := fmt.Sprintf("ai:\n  providers:\n  - name: scripted\n    baseURL: %s\n    model: scripted-1\n", model.URL())
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, t.TempDir(), "127.0.0.1:0", nil, "--config", cfg)
	const viewerPassword = "viewer-password-1"

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(root, "test/e2e/console/run.mjs"))
	cmd.Dir = root
	cmd.Env = append(os.Environ(),
		"CONSOLE_URL="+srv.URL,
		"CONSOLE_SETUP_TOKEN="+srv.SetupToken,
		"CONSOLE_VIEWER_EMAIL=viewer@example.com",
		"CONSOLE_VIEWER_PASSWORD="+viewerPassword,
		"CONSOLE_OUT="+t.TempDir(),
		// The steps create more users (after the setup, which needs none) with
		// `hks admin create-user` on the server's data directory.
		"CONSOLE_HKS_BIN="+hksBin,
		"CONSOLE_DATA_DIR="+srv.DataDir,
		"CHROMIUM="+chromium,
		// The steps set the model's script (PUT/POST <model>/_scripted/turns)
		// and add turns held at a gate they open (<gate>/gated, <gate>/open).
		"CONSOLE_AI_MODEL_URL="+strings.TrimSuffix(model.URL(), "/v1"),
		"CONSOLE_AI_GATE_URL="+gate,
	)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		t.Log(sc.Text())
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the browser tests failed (%v); the server's log:\n%s", err, tail(srv.Logs(), 40))
	}
}

// startScriptedModel runs the scripted model server (scriptedmodel, a test
// double) for the browser test, and a small control server on 127.0.0.1
// beside it: POST /gated adds the turns of a JSON script held at a gate (their
// stream stops after the first content chunk), POST /open opens that gate.
// A step thus sees a reply partly written, while its turn still runs, without
// waiting for any length of time. Both stop with the test.
func startScriptedModel(t *testing.T) (*scriptedmodel.Server, string) {
	t.Helper()
	model := scriptedmodel.Start(t)
	var mu sync.Mutex
	gate := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /gated", func(w http.ResponseWriter, r *http.Request) {
		turns, err := scriptedmodel.ParseScript(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		for i := range turns {
			turns[i].Gate = gate
		}
		mu.Unlock()
		model.Add(turns...)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /open", func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		close(gate)
		gate = make(chan struct{}) // for the turns gated next
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	return model, "http://" + ln.Addr().String()
}
