package server

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/cli"
)

// TestCLIConcurrentRefresh: several hks processes sharing one credentials
// file (kubectl runs its credential plugin in parallel) refresh an expired
// session at once. The refresh token is spent on use and a second use
// revokes the session, so they must take turns and share the result.
func TestCLIConcurrentRefresh(t *testing.T) {
	ts := startServer(t, "")
	t.Setenv("HKS_CONFIG_DIR", t.TempDir())
	ctx := context.Background()
	if _, err := ts.identity.CreateUser(ctx, "cli@example.com", "correct-horse", false); err != nil {
		t.Fatal(err)
	}
	creds, err := cli.Login(ctx, &http.Client{Timeout: 10 * time.Second}, ts.URL(), "cli@example.com", "correct-horse")
	if err != nil {
		t.Fatal(err)
	}
	creds.ExpiresAt = time.Now().Add(-time.Minute) // force a refresh
	if err := cli.SaveCredentials(creds); err != nil {
		t.Fatal(err)
	}
	const n = 6
	clients := make([]*cli.Client, n)
	for i := range clients {
		if clients[i], err = cli.NewClient(""); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.Do(ctx, http.MethodGet, "/auth/me", nil, nil)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("client %d: %v", i, err)
		}
	}
	// The session survived: a fresh process still works.
	c, err := cli.NewClient("")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Do(ctx, http.MethodGet, "/auth/me", nil, nil); err != nil {
		t.Fatalf("after the parallel refreshes: %v", err)
	}
}
