package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hexabase/hexabase-ai/internal/testutil"
)

// TestRunServesTheScript: run announces its URL and answers with the
// script's turns until its context ends.
func TestRunServesTheScript(t *testing.T) {
	script := filepath.Join(t.TempDir(), "turns.json")
	if err := os.WriteFile(script, []byte(`[{"when": {"last_user_contains": "scale"}, "content": "Scaling web."}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- run(ctx, script, "127.0.0.1:0", pw); pw.Close() }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
	if !ok || !strings.HasPrefix(url, "http://127.0.0.1:") || !strings.HasSuffix(url, "/v1") {
		t.Fatalf("announced %q", line)
	}
	req, _ := http.NewRequest(http.MethodPost, url+"/chat/completions",
		strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"scale web to 5"}]}`))
	status, _, body := testutil.Do(t, http.DefaultClient, req)
	if status != http.StatusOK || !strings.Contains(string(body), `"content":"Scaling web."`) {
		t.Fatalf("answer %d %s", status, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestRunRefusesABadScript(t *testing.T) {
	script := filepath.Join(t.TempDir(), "turns.json")
	if err := os.WriteFile(script, []byte(`[{"when": {"last_user_says": "x"}}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	err := run(context.Background(), script, "127.0.0.1:0", io.Discard)
	if err == nil || !strings.Contains(err.Error(), `unknown field "last_user_says"`) {
		t.Fatalf("run: %v", err)
	}
}
