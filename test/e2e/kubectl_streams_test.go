package e2e

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/controlplane/local"
)

// TestKubectlStreamsThroughTheGateway (issue 12, point 1: streaming) runs
// the real kubectl, with the kubeconfig `hks kubeconfig` writes, against
// the simulated kubelet endpoint of a workspace's nodes (kwok), through
// the gateway only:
//   - `kubectl logs` shows the platform's notice, and `logs -f` receives a
//     line written to the workspace's container log after it started;
//   - `kubectl attach` receives lines written after it attached;
//   - `kubectl port-forward` forwards a local port to the node's kubelet
//     endpoint, which answers GET /healthz;
//   - `kubectl exec` is upgraded through the gateway (a 101 counted as
//     verb "upgrade") and then refused by the node with a message naming
//     exec, and the command did not run on this host;
//   - deleting the workspace drops the gateway's metric series of it.
func TestKubectlStreamsThroughTheGateway(t *testing.T) {
	needBinary(t)
	kubectl := needKubectl(t)
	s := startServer(t, filepath.Join(t.TempDir(), "data"), "127.0.0.1:0", nil)
	admin := setupAdmin(t, s, "admin@example.com", "correct-horse-battery")
	orgPath := admin.createOrg("Acme")
	var ws wsOut
	admin.must("POST", orgPath+"/workspaces", map[string]string{"name": "prod"}, http.StatusAccepted, &ws)
	wsPath := orgPath + "/workspaces/" + ws.ID
	waitStatus(t, admin, wsPath, "running", 3*time.Minute)

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	kc, env := gatewayKubeconfig(t, s, admin, orgPath, ws.ID)
	run := func(args ...string) (string, error) { return runKubectl(ctx, kubectl, kc, env, args...) }
	// The controller manager makes the default service account within
	// seconds of the start.
	eventually(t, time.Minute, func() (bool, string) {
		out, err := run("run", "web", "--image=nginx:1.27", "--restart=Never")
		return err == nil, "kubectl run: " + out
	})
	if out, err := run("wait", "--for=condition=Ready", "pod/web", "--timeout=90s"); err != nil {
		t.Fatalf("kubectl wait: %v %s", err, out)
	}
	logFile := local.ContainerLogFile(s.DataDir, ws.ID)
	appendLog := func(line string) {
		t.Helper()
		f, err := os.OpenFile(logFile, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := io.WriteString(f, local.CRILogLine(time.Now(), line)); err != nil {
			t.Fatal(err)
		}
	}
	const notice = "hks: this pod runs on a simulated node (kwok)"
	upgrades := func() int {
		t.Helper()
		re := regexp.MustCompile(`hks_gateway_requests_total\{code="101",verb="upgrade",workspace="` + ws.ID + `"\} (\d+)`)
		m := re.FindStringSubmatch(metricsText(t, s))
		if m == nil {
			return 0
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}

	t.Run("logs", func(t *testing.T) {
		out, err := run("logs", "web")
		if err != nil || !strings.HasPrefix(out, notice) {
			t.Fatalf("kubectl logs: %v\n%s", err, out)
		}
	})

	t.Run("logs -f", func(t *testing.T) {
		follow := startKubectl(ctx, t, kubectl, kc, env, "logs", "-f", "web")
		follow.waitLine(t, func(l string) bool { return strings.HasPrefix(l, notice) }, "the notice")
		// The stream is open (it printed the file so far): a line written
		// now reaches it.
		appendLog("written after logs -f started")
		follow.waitLine(t, func(l string) bool { return l == "written after logs -f started" }, "the line written after it started")
	})

	t.Run("attach", func(t *testing.T) {
		before := upgrades()
		attach := startKubectl(ctx, t, kubectl, kc, env, "attach", "web")
		// attach follows the log from its end once connected; kubectl
		// tells nothing when that is, so lines are written until one
		// arrives.
		for i := 0; ; i++ {
			appendLog("attached line " + strconv.Itoa(i))
			select {
			case l, ok := <-attach.lines:
				if !ok {
					t.Fatalf("kubectl attach ended: %s", attach.stderr.String())
				}
				if !strings.HasPrefix(l, "attached line ") {
					t.Fatalf("attach printed %q", l)
				}
				if n := upgrades(); n <= before {
					t.Errorf("upgrades with 101 went from %d to %d: attach was not an upgraded connection through the gateway", before, n)
				}
				return
			case <-ctx.Done():
				t.Fatalf("attach received nothing: %s", attach.stderr.String())
			case <-time.After(500 * time.Millisecond): // the next line; not a synchronization
			}
		}
	})

	t.Run("port-forward", func(t *testing.T) {
		pf := startKubectl(ctx, t, kubectl, kc, env, "port-forward", "pod/web", ":80")
		l := pf.waitLine(t, func(l string) bool { return strings.HasPrefix(l, "Forwarding from 127.0.0.1:") }, "the forwarded port")
		port := strings.Fields(strings.TrimPrefix(l, "Forwarding from 127.0.0.1:"))[0]
		req, err := http.NewRequestWithContext(ctx, "GET", "http://127.0.0.1:"+port+"/healthz", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET through the forwarded port: %v (%s)", err, pf.stderr.String())
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "ok" {
			t.Fatalf("through the forwarded port: %s %q, want 200 ok", resp.Status, b)
		}
	})

	t.Run("exec", func(t *testing.T) {
		before := upgrades()
		marker := filepath.Join(t.TempDir(), "exec-ran-on-the-host")
		out, err := run("exec", "web", "--", "touch", marker)
		var exit interface{ ExitCode() int }
		if !errors.As(err, &exit) || exit.ExitCode() == 0 {
			t.Fatalf("kubectl exec: %v, want it to fail: %s", err, out)
		}
		if want := `error executing command in container: no exec found for container "web" in pod "default/web"`; !strings.Contains(out, want) {
			t.Errorf("kubectl exec said %q, want it to contain %q", out, want)
		}
		t.Logf("kubectl exec: %s", strings.TrimSpace(out))
		if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("the command ran on the host: %v", err)
		}
		// The refusal came over the upgraded connection, not as an HTTP
		// error before it.
		if n := upgrades(); n != before+1 {
			t.Errorf("upgrades with 101: %d before exec, %d after; want one more", before, n)
		}
	})

	// Deleting the workspace drops the gateway's series of it.
	admin.must("DELETE", wsPath, nil, http.StatusAccepted, nil)
	eventually(t, 2*time.Minute, func() (bool, string) {
		m := metricsText(t, s)
		return !strings.Contains(m, `workspace="`+ws.ID+`"`), "gateway series of the deleted workspace remain"
	})
}
