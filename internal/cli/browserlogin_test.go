package cli

import (
	"bytes"
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// TestBrowserLoginRequest: the authorization request the CLI opens asks
// for a code with PKCE S256 and a state, on a loopback redirect it
// listens on; without an answer it gives up at its timeout.
func TestBrowserLoginRequest(t *testing.T) {
	var out bytes.Buffer
	var opened string
	o := BrowserLoginOptions{Server: "http://127.0.0.1:9/", Out: &out, Timeout: 300 * time.Millisecond,
		OpenURL: func(u string) error { opened = u; return nil }}
	_, err := BrowserLogin(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "waiting for the browser") {
		t.Fatalf("err = %v", err)
	}
	u, err := url.Parse(opened)
	if err != nil || u.Scheme+"://"+u.Host+u.Path != "http://127.0.0.1:9/auth/authorize" {
		t.Fatalf("opened %q", opened)
	}
	q := u.Query()
	redirect, _ := url.Parse(q.Get("redirect_uri"))
	switch {
	case q.Get("response_type") != "code", q.Get("client_id") != CLIClientID, q.Get("code_challenge_method") != "S256",
		len(q.Get("code_challenge")) != 43, len(q.Get("state")) < 32,
		redirect == nil, redirect.Hostname() != "127.0.0.1", redirect.Port() == "", redirect.Path != "/callback":
		t.Fatalf("authorization request %v", q)
	}
	if !strings.Contains(out.String(), opened) {
		t.Fatalf("the URL is not printed for headless machines: %q", out.String())
	}
}

func TestLoginFlagConflicts(t *testing.T) {
	for _, args := range [][]string{
		{"login", "--device", "--email", "a@example.com"},
		{"login", "--device", "--otp", "123456"},
		{"login", "--password-stdin"},
	} {
		root := &cobra.Command{Use: "hks", SilenceUsage: true, SilenceErrors: true}
		AddCommands(root)
		root.SetOut(&bytes.Buffer{})
		root.SetErr(&bytes.Buffer{})
		root.SetArgs(append(args, "--server", "http://127.0.0.1:9"))
		err := root.ExecuteContext(context.Background())
		if err == nil || !strings.Contains(err.Error(), "are for password sign-in") {
			t.Errorf("%v: err = %v", args, err)
		}
	}
}
