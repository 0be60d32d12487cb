package e2e

import (
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLostSetupToken: the setup token is printed once, at the start that
// made it. A restart before setup says that token is still valid and how
// to get a new one; `hks admin setup-token` prints a new one, after which
// the old one is refused and the new one creates the first administrator;
// once a user exists the command says setup is done.
func TestLostSetupToken(t *testing.T) {
	needBinary(t)
	dataDir := t.TempDir()
	s := startServer(t, dataDir, "127.0.0.1:0", []string{noControlPlanes})
	first := s.SetupToken
	if first == "" || !strings.Contains(s.Stdout(), "/setup") {
		t.Fatalf("the first start printed no setup token or no console address:\n%s", s.Stdout())
	}
	s.Signal(syscall.SIGTERM)
	if err := s.Wait(time.Minute); err != nil {
		t.Fatal(err)
	}
	s2 := startServer(t, dataDir, "127.0.0.1:0", []string{noControlPlanes})
	if out := s2.Stdout(); s2.SetupToken != "" || !strings.Contains(out, "still valid") || !strings.Contains(out, "hks admin setup-token") {
		t.Fatalf("a restart before setup printed:\n%s", out)
	}
	tok := strings.TrimSpace(mustHKS(t, baseEnv(), "", "admin", "setup-token", "--data-dir", dataDir))
	if tok == "" || tok == first {
		t.Fatalf("setup-token printed %q", tok)
	}
	a := newAPI(t, s2.URL)
	body := func(token string) map[string]string {
		return map[string]string{"token": token, "email": "admin@example.com", "password": "choose-a-password"}
	}
	a.must("POST", "/auth/setup", body(first), http.StatusUnprocessableEntity, nil)
	a.must("POST", "/auth/setup", body(tok), http.StatusCreated, nil)
	if r := runHKS(t, baseEnv(), "", "admin", "setup-token", "--data-dir", dataDir); r.Code == 0 || !strings.Contains(r.Stderr, "setup is done already") {
		t.Fatalf("setup-token after setup: %v", r)
	}
}
