package controlplane

// Test-only harness: a real etcd and kube-apiserver from the pinned
// binaries, with static tokens: the platform (PlatformUsername in
// system:masters) and the testUsers.

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/hexabase/hexabase-ai/internal/issuer"
	"github.com/hexabase/hexabase-ai/internal/testutil"
)

const testK8sBins = "k8s-v1.35.4_etcd-v3.6.16_kwok-v0.8.0"

// testUsers are the users of startAPIServer's token file besides the
// platform, by the name asUser takes: as a workspace token would name
// them (UsernamePrefix, GroupsPrefix and the issuer's marker groups).
var testUsers = map[string]struct{ name, group string }{
	"developer": {UsernamePrefix + "dev@example.com", GroupsPrefix + issuer.GroupDeveloper},
	"wsadmin":   {UsernamePrefix + "admin@example.com", GroupsPrefix + issuer.GroupWorkspaceAdmin},
}

// asUser is the config of startAPIServer for one of testUsers.
func asUser(admin *rest.Config, name string) *rest.Config {
	c := rest.CopyConfig(admin)
	c.BearerToken += "-" + name
	return c
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startProcess runs a binary with its output in dir/<name>.log and stops
// it by PID when the test ends.
func startProcess(t *testing.T, dir, name, bin string, args ...string) {
	t.Helper()
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() {
		if p, err := os.FindProcess(pid); err == nil {
			_ = p.Signal(syscall.SIGTERM)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logf.Close()
		if t.Failed() {
			if b, err := os.ReadFile(logf.Name()); err == nil {
				if len(b) > 4000 {
					b = b[len(b)-4000:]
				}
				t.Logf("%s log tail:\n%s", name, b)
			}
		}
	})
}

// startAPIServer starts etcd and kube-apiserver and returns an admin
// config for the API server. It skips the test with -short and fails it
// when the binaries are missing (testutil.NeedK8sBinaries).
func startAPIServer(t *testing.T) *rest.Config {
	t.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	bins := filepath.Join(cache, "hks", "k8s-bins", testK8sBins)
	testutil.NeedK8sBinaries(t, bins)
	dir := t.TempDir()

	etcdPort, peerPort := freePort(t), freePort(t)
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(etcdPort)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(peerPort)
	startProcess(t, dir, "etcd", filepath.Join(bins, "etcd"),
		"--name=default", "--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=default="+peerURL, "--unsafe-no-fsync", "--log-level=warn")

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	saKey := filepath.Join(dir, "sa.key")
	if err := os.WriteFile(saKey, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		t.Fatal(err)
	}
	token := rand.Text()
	tokens := filepath.Join(dir, "tokens.csv")
	lines := token + "," + PlatformUsername + ",hks-platform,\"system:masters\"\n"
	for name, u := range testUsers {
		lines += fmt.Sprintf("%s-%s,%s,%s,\"%s\"\n", token, name, u.name, name, u.group)
	}
	if err := os.WriteFile(tokens, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	// The PodSecurity defaults and token lifetime of a workspace API
	// server (the local provider's flags are checked end to end).
	admission := filepath.Join(dir, "admission.yaml")
	b, err := yaml.Marshal(map[string]any{"apiVersion": "apiserver.config.k8s.io/v1", "kind": "AdmissionConfiguration",
		"plugins": []map[string]any{{"name": "PodSecurity", "configuration": PodSecurityDefaults()}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(admission, b, 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	startProcess(t, dir, "kube-apiserver", filepath.Join(bins, "kube-apiserver"),
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--secure-port="+strconv.Itoa(port),
		"--cert-dir="+filepath.Join(dir, "certs"),
		"--token-auth-file="+tokens,
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file="+saKey, "--service-account-signing-key-file="+saKey,
		"--service-account-max-token-expiration="+MaxServiceAccountTokenLifetime.String(),
		"--service-account-extend-token-expiration=false",
		"--admission-control-config-file="+admission,
		"--service-cluster-ip-range=10.0.0.0/24")

	cfg := &rest.Config{
		Host:            fmt.Sprintf("https://127.0.0.1:%d", port),
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{Insecure: true}, // self-signed test serving certificate
		Timeout:         30 * time.Second,
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	for {
		// Ready, and the bootstrap roles (admin, edit, view) exist.
		_, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err == nil {
			_, err = cs.RbacV1().ClusterRoles().Get(ctx, "edit", metav1.GetOptions{})
		}
		if err == nil {
			return cfg
		}
		select {
		case <-ctx.Done():
			t.Fatalf("kube-apiserver not ready: %v", err)
		case <-time.After(300 * time.Millisecond):
		}
	}
}
