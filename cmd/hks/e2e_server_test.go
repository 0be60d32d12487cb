package main

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
			want: "error: listen on " + busy.Addr().String() + ": …"},
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
