package e2e

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
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
	srv := startServer(t, t.TempDir(), "127.0.0.1:0", nil)
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
