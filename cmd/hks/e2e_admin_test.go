package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestAdminCreateUser runs `hks admin create-user` against the data dir of
// a running server and of a stopped one; its users sign in with the API.
func TestAdminCreateUser(t *testing.T) {
	needBinary(t)
	t.Parallel()
	dataDir := filepath.Join(t.TempDir(), "data")
	env := baseEnv()
	createUser := func(email, password string) result {
		return runHKS(t, env, password+"\n", "admin", "create-user", "--data-dir", dataDir, "--email", email, "--password-stdin")
	}
	created := func(email string) *regexp.Regexp {
		return regexp.MustCompile(`^created user ` + regexp.QuoteMeta(email) + ` \([0-9a-f-]{36}\)\n$`)
	}

	s := startServer(t, dataDir, "127.0.0.1:0", nil)
	if r := createUser("ops@example.com", "running-password"); r.Code != 0 || !created("ops@example.com").MatchString(r.Stdout) {
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
	if r := createUser("offline@example.com", "stopped-password"); r.Code != 0 || !created("offline@example.com").MatchString(r.Stdout) {
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
