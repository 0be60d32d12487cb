package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/hexabase/hexabase-ai/internal/controlplane/local"
	"github.com/hexabase/hexabase-ai/internal/testutil"
)

// hksBin is the binary under test; "" with -short (the tests skip).
var hksBin string

// TestMain builds the binary once from ./cmd/hks of the repository the
// tests are in, unless -short is given.
func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	code, err := runWithBinary(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func runWithBinary(m *testing.M) (int, error) {
	root, err := moduleRoot()
	if err != nil {
		return 0, err
	}
	dir, err := os.MkdirTemp("", "hks-e2e-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	hksBin = filepath.Join(dir, "hks")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-o", hksBin, "./cmd/hks")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("go build ./cmd/hks in %s: %w\n%s", root, err, out)
	}
	return m.Run(), nil
}

// moduleRoot is the nearest directory at or above the working directory
// (the test's package directory) that holds go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod at or above the test directory")
		}
		dir = parent
	}
}

// needBinary skips the test with -short: every test here runs the binary.
func needBinary(t *testing.T) {
	t.Helper()
	if hksBin == "" {
		t.Skip("end-to-end test of the hks binary: skipped with -short (make test-unit); make test-e2e runs it")
	}
}

// needKubectl is the kubectl the tests that act as a person with kubectl
// run: the one `make k8s-bins` builds at the workspaces' own version, next
// to the other pinned binaries. Without it the test fails (not skips) and
// says how to get it.
func needKubectl(t *testing.T) string {
	t.Helper()
	dir, err := local.DefaultBinDir()
	if err != nil {
		t.Fatal(err)
	}
	kubectl := filepath.Join(dir, "kubectl")
	if _, err := os.Stat(kubectl); err != nil {
		t.Fatalf("%s is missing: run make k8s-bins (it builds kubectl at the workspaces' Kubernetes version)", kubectl)
	}
	return kubectl
}

// needK8sBinaries fails the test unless the Kubernetes binaries that a
// server with the local control-plane provider runs are in place.
func needK8sBinaries(t *testing.T) {
	t.Helper()
	dir, err := local.DefaultBinDir()
	if err != nil {
		t.Fatal(err)
	}
	testutil.NeedK8sBinaries(t, dir)
}

// baseEnv is the test's environment without HKS_* variables, plus extra.
func baseEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HKS_") {
			env = append(env, kv)
		}
	}
	// Servers run side by side: each picks a free telemetry port.
	env = append(env, "HKS_TELEMETRY_LISTEN=127.0.0.1:0")
	return append(env, extra...)
}

// result is the outcome of one finished hks command.
type result struct {
	Stdout, Stderr string
	Code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
}

// runHKS runs the binary to completion with env (see baseEnv) and stdin;
// it fails the test if the command cannot run or takes over a minute.
func runHKS(t *testing.T, env []string, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, hksBin, args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{Stdout: stdout.String(), Stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("hks %s: timed out\n%s", strings.Join(args, " "), r)
	case errors.As(err, &ee):
		r.Code = ee.ExitCode()
	case err != nil:
		t.Fatalf("hks %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// mustHKS runs the binary and fails the test unless it exits 0.
func mustHKS(t *testing.T, env []string, stdin string, args ...string) string {
	t.Helper()
	r := runHKS(t, env, stdin, args...)
	if r.Code != 0 {
		t.Fatalf("hks %s: %s", strings.Join(args, " "), r)
	}
	return r.Stdout
}

// eventually polls cond every 50ms until it reports done or timeout passes,
// then fails the test with cond's last word on what it waits for.
func eventually(t *testing.T, timeout time.Duration, cond func() (done bool, status string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		done, status := cond()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still not done after %s: %s", timeout, status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// hksServer is a running `hks server` process.
type hksServer struct {
	t          *testing.T
	cmd        *exec.Cmd
	done       chan struct{} // closed when the process has exited
	waitErr    error         // set before done is closed
	stderrPath string
	stdoutPath string
	// DataDir is the server's data directory.
	DataDir string
	// Addr is host:port of the listener, URL its base URL.
	Addr, URL string
	// TelemetryURL is the base URL of the telemetry listener (/metrics).
	TelemetryURL string
	// SetupToken is the one-time setup token printed on a first start.
	SetupToken string
}

// noControlPlanes in a server's env keeps workspaces records: the server
// then runs no Kubernetes binaries.
const noControlPlanes = "HKS_CONTROL_PLANE_PROVIDER=none"

var (
	startedRE    = regexp.MustCompile(`"msg":"hks server started".*?"listen":"([^"]+)","telemetry":"([^"]+)"`)
	setupTokenRE = regexp.MustCompile(`"token":"([^"]+)"`)
)

// startServer starts `hks server` on dataDir and listen (port 0 picks a
// free port) with env added to baseEnv, waits until it is ready and
// registers its stop. Unless env turns the control planes off, the test
// needs the Kubernetes binaries.
func startServer(t *testing.T, dataDir, listen string, env []string, args ...string) *hksServer {
	t.Helper()
	if !slices.Contains(env, noControlPlanes) {
		needK8sBinaries(t)
	}
	logs := t.TempDir()
	stdout, err := os.Create(filepath.Join(logs, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := os.Create(filepath.Join(logs, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	defer stderr.Close()
	s := &hksServer{t: t, done: make(chan struct{}), stderrPath: stderr.Name(), stdoutPath: stdout.Name(), DataDir: dataDir}
	s.cmd = exec.Command(hksBin, append([]string{"server", "--data-dir", dataDir, "--listen", listen}, args...)...)
	s.cmd.Env = baseEnv(env...)
	s.cmd.Stdout, s.cmd.Stderr = stdout, stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.waitErr = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(s.Kill)

	eventually(t, 60*time.Second, func() (bool, string) {
		select {
		case <-s.done:
			t.Fatalf("hks server exited before it was ready: %v\n%s", s.waitErr, s.Logs())
		default:
		}
		m := startedRE.FindStringSubmatch(s.Logs())
		if m == nil {
			return false, "hks server to log that it started"
		}
		s.Addr, s.URL, s.TelemetryURL = m[1], "http://"+m[1], "http://"+m[2]
		return true, ""
	})
	out, err := os.ReadFile(stdout.Name()) // the token is printed before the start is logged
	if err != nil {
		t.Fatal(err)
	}
	if m := setupTokenRE.FindSubmatch(out); m != nil {
		s.SetupToken = string(m[1])
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	eventually(t, 30*time.Second, func() (bool, string) {
		resp, err := hc.Get(s.URL + "/readyz")
		if err != nil {
			return false, "GET /readyz: " + err.Error()
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Sprintf("GET /readyz: %d %s", resp.StatusCode, b)
	})
	return s
}

// Port is the listener's port.
func (s *hksServer) Port() string {
	_, p, _ := net.SplitHostPort(s.Addr)
	return p
}

// Stdout is what the server printed on standard output so far.
func (s *hksServer) Stdout() string {
	b, _ := os.ReadFile(s.stdoutPath)
	return string(b)
}

// Logs are the server's logs so far.
func (s *hksServer) Logs() string {
	b, _ := os.ReadFile(s.stderrPath)
	return string(b)
}

// Signal sends sig to the server's PID.
func (s *hksServer) Signal(sig syscall.Signal) {
	s.t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("signal %v to hks server %d: %v", sig, s.cmd.Process.Pid, err)
	}
}

// Wait waits up to timeout for the process to exit and returns its exit
// error; it fails the test on timeout.
func (s *hksServer) Wait(timeout time.Duration) error {
	s.t.Helper()
	select {
	case <-s.done:
		return s.waitErr
	case <-time.After(timeout):
		s.t.Fatalf("hks server %d still running %s later\n%s", s.cmd.Process.Pid, timeout, s.Logs())
		return nil
	}
}

// Kill stops the process with SIGKILL if it still runs and reaps it; it is
// the cleanup of every started server.
func (s *hksServer) Kill() {
	select {
	case <-s.done:
	default:
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	if s.t.Failed() {
		s.t.Logf("logs of hks server %d:\n%s", s.cmd.Process.Pid, tail(s.Logs(), 40))
	}
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// apiClient calls the HTTP API with a bearer token.
type apiClient struct {
	t     *testing.T
	url   string
	token string
	hc    *http.Client
	// email and password are those of the last login.
	email, password string
}

func newAPI(t *testing.T, url string) *apiClient {
	return &apiClient{t: t, url: url, hc: &http.Client{Timeout: 30 * time.Second}}
}

// in is the client as it fails the subtest t rather than the test it was
// made in (a subtest must not end its parent).
func (a *apiClient) in(t *testing.T) *apiClient {
	c := *a
	c.t = t
	return &c
}

// call sends a request and returns the status and body; transport errors
// are returned, not fatal (the crash test calls a dead server).
func (a *apiClient) call(method, path string, in any) (int, []byte, error) {
	code, _, b, err := a.callHeader(method, path, in)
	return code, b, err
}

// callHeader is call that also returns the answer's header.
func (a *apiClient) callHeader(method, path string, in any) (int, http.Header, []byte, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, nil, nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.url+path, body)
	if err != nil {
		return 0, nil, nil, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b, err
}

// must sends a request, fails the test unless the status is want, and
// decodes the answer into out (if not nil).
func (a *apiClient) must(method, path string, in any, want int, out any) {
	a.t.Helper()
	code, b, err := a.call(method, path, in)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	if code != want {
		a.t.Fatalf("%s %s: status %d, want %d: %s", method, path, code, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			a.t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
}

// login signs in with the API and keeps the access token.
func (a *apiClient) login(email, password string) {
	a.t.Helper()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	a.must("POST", "/auth/login", map[string]string{"email": email, "password": password}, http.StatusOK, &tok)
	if tok.AccessToken == "" {
		a.t.Fatal("login answered no access token")
	}
	a.token, a.email, a.password = tok.AccessToken, email, password
}

// setupAdmin creates the first administrator with the server's setup token
// and returns an API client signed in as it.
func setupAdmin(t *testing.T, s *hksServer, email, password string) *apiClient {
	t.Helper()
	if s.SetupToken == "" {
		t.Fatal("the server printed no setup token")
	}
	a := newAPI(t, s.URL)
	a.must("POST", "/auth/setup", map[string]string{"token": s.SetupToken, "email": email, "password": password}, http.StatusCreated, nil)
	a.login(email, password)
	return a
}

// createUser makes a user with `hks admin create-user` on the server's
// data directory and returns an API client signed in as them.
func createUser(t *testing.T, s *hksServer, email, password string) *apiClient {
	t.Helper()
	mustHKS(t, baseEnv(), password+"\n", "admin", "create-user", "--data-dir", s.DataDir, "--email", email, "--password-stdin")
	c := newAPI(t, s.URL)
	c.login(email, password)
	return c
}

// createOrg creates an organization and returns its API path.
func (a *apiClient) createOrg(name string) string {
	a.t.Helper()
	var org struct {
		ID string `json:"id"`
	}
	a.must("POST", "/api/v1/organizations", map[string]string{"name": name}, http.StatusCreated, &org)
	return "/api/v1/organizations/" + org.ID
}

// createProject creates a project of the workspace at wsPath and returns
// its id.
func (a *apiClient) createProject(wsPath string, body map[string]any) string {
	a.t.Helper()
	var p struct {
		ID string `json:"id"`
	}
	a.must("POST", wsPath+"/projects", body, http.StatusCreated, &p)
	return p.ID
}

// invite makes the user of c a member of the organization at orgPath.
func (a *apiClient) invite(orgPath string, c *apiClient) {
	a.t.Helper()
	var inv struct {
		Token string `json:"token"`
	}
	a.must("POST", orgPath+"/invitations", map[string]string{"email": c.email}, http.StatusCreated, &inv)
	c.must("POST", "/api/v1/invitations/accept", map[string]string{"token": inv.Token}, http.StatusOK, nil)
}

// grant creates a group of the workspace at wsPath with the user of c as
// its member and binds role to it, in the project with projectID or, if
// that is "", in the whole workspace.
func (a *apiClient) grant(wsPath, group string, c *apiClient, role, projectID string) {
	a.t.Helper()
	var g struct {
		ID string `json:"id"`
	}
	a.must("POST", wsPath+"/groups", map[string]string{"name": group}, http.StatusCreated, &g)
	a.must("POST", wsPath+"/groups/"+g.ID+"/members", map[string]string{"email": c.email}, http.StatusCreated, nil)
	rb := map[string]string{"group_id": g.ID, "role": role}
	if projectID != "" {
		rb["project_id"] = projectID
	}
	a.must("POST", wsPath+"/rolebindings", rb, http.StatusCreated, nil)
}

// task is a task as the API shows it.
type task struct {
	ID         string     `json:"id"`
	Kind       string     `json:"kind"`
	Status     string     `json:"status"`
	Attempts   int        `json:"attempts"`
	Reason     string     `json:"reason"`
	FinishedAt *time.Time `json:"finished_at"`
}

// listTasks reads every task of an organization, following the cursor.
func (a *apiClient) listTasks(orgID string) (map[string]task, error) {
	all := map[string]task{}
	cursor := ""
	for {
		p := "/api/v1/organizations/" + orgID + "/tasks?limit=100"
		if cursor != "" {
			p += "&cursor=" + cursor
		}
		code, b, err := a.call("GET", p, nil)
		if err != nil {
			return nil, err
		}
		if code != http.StatusOK {
			return nil, fmt.Errorf("list tasks: %d %s", code, b)
		}
		var page struct {
			Items      []task `json:"items"`
			NextCursor string `json:"next_cursor"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			return nil, err
		}
		for _, t := range page.Items {
			all[t.ID] = t
		}
		if page.NextCursor == "" {
			return all, nil
		}
		cursor = page.NextCursor
	}
}

// portFree reports why addr cannot be listened on, or nil.
func portFree(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return ln.Close()
}

// wsOut is a workspace as the API shows it.
type wsOut struct {
	ID           string `json:"id"`
	Status       string `json:"status"`
	StatusReason string `json:"status_reason"`
	ControlPlane *struct {
		Ready      bool   `json:"ready"`
		Version    string `json:"version"`
		Components []struct {
			Name    string `json:"name"`
			Healthy bool   `json:"healthy"`
		} `json:"components"`
	} `json:"control_plane"`
}

// waitStatus polls the workspace until it has status want.
func waitStatus(t *testing.T, a *apiClient, wsPath, want string, timeout time.Duration) wsOut {
	t.Helper()
	var w wsOut
	eventually(t, timeout, func() (bool, string) {
		code, b, err := a.call("GET", wsPath, nil)
		if err != nil || code != http.StatusOK {
			return false, fmt.Sprintf("GET %s: %d %s %v", wsPath, code, b, err)
		}
		w = wsOut{}
		_ = json.Unmarshal(b, &w)
		if w.Status == "failed" && want != "failed" {
			t.Fatalf("workspace failed: %s", w.StatusReason)
		}
		return w.Status == want, "status " + w.Status + " " + w.StatusReason
	})
	return w
}

// userClient signs the user of a in with the CLI (its own config dir) and
// returns a client-go clientset built from the workspace kubeconfig the
// API hands out to that user: kubectl-token with the user's own identity.
func userClient(t *testing.T, s *hksServer, a *apiClient, wsPath string) (*kubernetes.Clientset, string) {
	t.Helper()
	cfgDir := t.TempDir()
	env := baseEnv("HKS_CONFIG_DIR=" + cfgDir)
	mustHKS(t, env, a.password+"\n", "login", "--server", s.URL, "--email", a.email, "--password-stdin")
	code, b, err := a.call("GET", wsPath+"/kubeconfig", nil)
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET kubeconfig as %s: %d %s %v", a.email, code, b, err)
	}
	if bytes.Contains(b, []byte("client-certificate")) || bytes.Contains(b, []byte("client-key")) || bytes.Contains(b, []byte("token:")) {
		t.Fatalf("the kubeconfig carries a credential:\n%s", b)
	}
	cfg, err := clientcmd.Load(b)
	if err != nil {
		t.Fatalf("parse kubeconfig: %v\n%s", err, b)
	}
	ctxName := cfg.CurrentContext
	ai := cfg.AuthInfos[cfg.Contexts[ctxName].AuthInfo]
	if ai == nil || ai.Exec == nil || len(ai.Exec.Args) == 0 || ai.Exec.Args[0] != "kubectl-token" {
		t.Fatalf("kubeconfig user is not the hks exec plugin:\n%s", b)
	}
	// The test's binary, signed in as this user.
	ai.Exec.Command = hksBin
	ai.Exec.Env = append(ai.Exec.Env, clientcmdapi.ExecEnvVar{Name: "HKS_CONFIG_DIR", Value: cfgDir})
	path := filepath.Join(cfgDir, "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	rc, err := clientcmd.NewNonInteractiveClientConfig(*cfg, ctxName, &clientcmd.ConfigOverrides{}, nil).ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	return kubernetes.NewForConfigOrDie(rc), path
}

// waitDeployment waits until the Deployment ns/name has replicas ready.
func waitDeployment(t *testing.T, cs kubernetes.Interface, ns, name string, replicas int32, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, func() (bool, string) {
		d, err := cs.AppsV1().Deployments(ns).Get(t.Context(), name, metav1.GetOptions{})
		if err != nil {
			return false, fmt.Sprintf("get deployment %s/%s: %v", ns, name, err)
		}
		return d.Status.ReadyReplicas == replicas, fmt.Sprintf("deployment %s/%s: ready replicas %d/%d", ns, name, d.Status.ReadyReplicas, replicas)
	})
}

// metricsText is the /metrics page of the server's telemetry listener.
func metricsText(t *testing.T, s *hksServer) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.TelemetryURL+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _, b := testutil.Do(t, http.DefaultClient, req)
	return string(b)
}

// parseTable reads table output: a header line of column names, then rows
// whose cells start where their column's name does.
func parseTable(t *testing.T, out string) []map[string]string {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	type col struct {
		name  string
		start int
	}
	var cols []col
	for i, f := range strings.Fields(lines[0]) {
		start := 0
		if i > 0 {
			prev := cols[i-1]
			start = prev.start + len(prev.name) + strings.Index(lines[0][prev.start+len(prev.name):], f)
		}
		cols = append(cols, col{f, start})
	}
	var rows []map[string]string
	for _, l := range lines[1:] {
		row := map[string]string{}
		for i, c := range cols {
			end := len(l)
			if i+1 < len(cols) {
				end = min(cols[i+1].start, len(l))
			}
			if c.start < end {
				row[c.name] = strings.TrimSpace(l[c.start:end])
			}
		}
		rows = append(rows, row)
	}
	if len(cols) == 0 {
		t.Fatalf("no table header in %q", out)
	}
	return rows
}
