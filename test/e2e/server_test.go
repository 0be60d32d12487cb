package e2e

import (
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServerConfigErrors: a bad setting stops `hks server` before it
// serves, with exit code 1 and a message naming the setting.
func TestServerConfigErrors(t *testing.T) {
	needBinary(t)
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dataDir := filepath.Join(t.TempDir(), "data")
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		// want is the whole of stderr, or its prefix if it ends in "…".
		want string
	}{
		{name: "listen not host:port", args: []string{"--listen", "nonsense"},
			want: "error: config: listen: \"nonsense\" is not host:port\n"},
		{name: "listen port out of range", args: []string{"--listen", "127.0.0.1:99999"},
			want: "error: config: listen: port \"99999\" is not a number from 0 to 65535\n"},
		{name: "log level from env", env: []string{"HKS_LOG_LEVEL=loud"},
			want: "error: config: logLevel: \"loud\" must be debug, info, warn or error\n"},
		{name: "log format", args: []string{"--log-format", "xml"},
			want: "error: config: logFormat: \"xml\" must be json or text\n"},
		{name: "duration flag", args: []string{"--shutdown-timeout", "soon"},
			want: "error: config: --shutdown-timeout: must be a duration such as 15m, got \"soon\"\n"},
		{name: "duration env out of range", env: []string{"HKS_ACCESS_TOKEN_TTL=2h"},
			want: "error: config: accessTokenTTL: 2h0m0s must be from 1m to 1h\n"},
		{name: "port in use", args: []string{"--listen", busy.Addr().String()},
			want: "error: listen: " + busy.Addr().String() + " is taken (another hks server?): choose another --listen (HKS_LISTEN, listen): …"},
		{name: "telemetry not host:port", args: []string{"--telemetry-listen", "9090"},
			want: "error: config: telemetryListen: \"9090\" is not host:port\n"},
		{name: "telemetry port in use", env: []string{"HKS_TELEMETRY_LISTEN=" + busy.Addr().String()},
			want: "error: telemetry listener: " + busy.Addr().String() + " is taken: choose another --telemetry-listen (HKS_TELEMETRY_LISTEN, telemetryListen), or off: …"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"server", "--data-dir", dataDir, "--listen", "127.0.0.1:0"}, tc.args...)
			r := runHKS(t, baseEnv(tc.env...), "", args...)
			ok := r.Stderr == tc.want
			if p, found := strings.CutSuffix(tc.want, "…"); found {
				ok = strings.HasPrefix(r.Stderr, p) && strings.Contains(r.Stderr, "address already in use")
			}
			if r.Code != 1 || !ok {
				t.Errorf("%s\nwant exit 1 and stderr %q", r, tc.want)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	needBinary(t)
	t.Parallel()
	r := runHKS(t, baseEnv(), "", "version")
	if r.Code != 0 || !regexp.MustCompile(`^hks \S+\n$`).MatchString(r.Stdout) {
		t.Fatalf("hks version: %s", r)
	}
}

// TestGracefulShutdown: SIGTERM stops the server within its shutdown
// timeout with exit code 0, and frees the port.
func TestGracefulShutdown(t *testing.T) {
	needBinary(t)
	t.Parallel()
	const shutdownTimeout = 10 * time.Second
	s := startServer(t, filepath.Join(t.TempDir(), "data"), "127.0.0.1:0", nil, "--shutdown-timeout", shutdownTimeout.String())
	// An open keep-alive connection must not hold the shutdown up.
	a := newAPI(t, s.URL)
	a.must("GET", "/healthz", nil, 200, nil)

	start := time.Now()
	s.Signal(syscall.SIGTERM)
	if err := s.Wait(shutdownTimeout); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	t.Logf("stopped %s after SIGTERM", time.Since(start).Round(time.Millisecond))
	if err := portFree(s.Addr); err != nil {
		t.Errorf("port still taken after the exit: %v", err)
	}
	if logs := s.Logs(); !strings.Contains(logs, `"msg":"shutting down"`) || !strings.Contains(logs, `"msg":"stopped"`) {
		t.Errorf("no shutdown in the logs:\n%s", tail(logs, 10))
	}
}

// TestAdminCreateUser runs `hks admin create-user` against the data dir of
// a running server and of a stopped one; its users sign in with the API.
func TestAdminCreateUser(t *testing.T) {
	needBinary(t)
	t.Parallel()
	dataDir := filepath.Join(t.TempDir(), "data")
	env := baseEnv()
	adminCreateUser := func(email, password string) result {
		return runHKS(t, env, password+"\n", "admin", "create-user", "--data-dir", dataDir, "--email", email, "--password-stdin")
	}
	created := func(email string) *regexp.Regexp {
		return regexp.MustCompile(`^created user ` + regexp.QuoteMeta(email) + ` \([0-9a-f-]{36}\)\n$`)
	}

	s := startServer(t, dataDir, "127.0.0.1:0", nil)
	if r := adminCreateUser("ops@example.com", "running-password"); r.Code != 0 || !created("ops@example.com").MatchString(r.Stdout) {
		t.Fatalf("create-user while the server runs: %s", r)
	}
	newAPI(t, s.URL).login("ops@example.com", "running-password")

	for _, tc := range []struct {
		name, stdin string
		args        []string
		// want is the whole of stderr, or its prefix if it ends in "…".
		want string
	}{
		{name: "duplicate email", stdin: "another-password\n",
			args: []string{"--email", "ops@example.com", "--password-stdin"},
			want: "error: a user with email ops@example.com exists already\n"},
		{name: "bad email", stdin: "another-password\n",
			args: []string{"--email", "not-an-email", "--password-stdin"},
			want: "error: --email: must be a valid email address…"},
		{name: "short password", stdin: "short\n",
			args: []string{"--email", "new@example.com", "--password-stdin"},
			want: "error: --password: must be at least 8 characters\n"},
		{name: "no --password-stdin", stdin: "another-password\n",
			args: []string{"--email", "new@example.com"},
			want: "error: --password-stdin is required: pass the password on standard input\n"},
		{name: "no --email", stdin: "another-password\n",
			args: []string{"--password-stdin"},
			want: "error: required flag(s) \"email\" not set\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runHKS(t, env, tc.stdin, append([]string{"admin", "create-user", "--data-dir", dataDir}, tc.args...)...)
			ok := r.Stderr == tc.want
			if p, found := strings.CutSuffix(tc.want, "…"); found {
				ok = strings.HasPrefix(r.Stderr, p)
			}
			if r.Code != 1 || !ok || r.Stdout != "" {
				t.Errorf("%s\nwant exit 1 and stderr %q", r, tc.want)
			}
		})
	}

	s.Signal(syscall.SIGTERM)
	if err := s.Wait(30 * time.Second); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if r := adminCreateUser("offline@example.com", "stopped-password"); r.Code != 0 || !created("offline@example.com").MatchString(r.Stdout) {
		t.Fatalf("create-user while the server is stopped: %s", r)
	}
	s2 := startServer(t, dataDir, "127.0.0.1:"+s.Port(), nil)
	if s2.SetupToken != "" {
		t.Error("setup token printed although users exist")
	}
	newAPI(t, s2.URL).login("offline@example.com", "stopped-password")
	newAPI(t, s2.URL).login("ops@example.com", "running-password")
	// A user nobody created does not sign in: the logins above are real.
	if code, b, err := newAPI(t, s2.URL).call("POST", "/auth/login", map[string]string{"email": "new@example.com", "password": "another-password"}); err != nil || code != 401 {
		t.Errorf("login of a user that create-user refused: %d %s %v", code, b, err)
	}
}
