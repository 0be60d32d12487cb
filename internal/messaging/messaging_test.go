package messaging

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hexabase/hexabase-ai/internal/testutil"
)

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func startEmbedded(t *testing.T, cfg EmbeddedConfig) *Conn {
	t.Helper()
	c, err := StartEmbedded(cfg)
	if err != nil {
		t.Fatalf("StartEmbedded: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := c.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return c
}

func TestEmbeddedInProcessHasNoListener(t *testing.T) {
	ctx := t.Context()
	c := startEmbedded(t, EmbeddedConfig{StoreDir: t.TempDir(), Logger: testLogger(t)})
	if err := c.Ready(ctx); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	if a := c.srv.Addr(); a != nil {
		t.Errorf("server listens on %v, want no listener", a)
	}
	if u := c.ClientURL(); u != "" {
		t.Errorf("ClientURL = %q, want empty", u)
	}
}

func TestEmbeddedLoopbackListenerAndConnect(t *testing.T) {
	ctx := t.Context()
	emb := startEmbedded(t, EmbeddedConfig{StoreDir: t.TempDir(), ListenAddr: "127.0.0.1:0", Logger: testLogger(t)})
	url := emb.ClientURL()
	if !strings.HasPrefix(url, "nats://127.0.0.1:") || strings.HasSuffix(url, ":0") {
		t.Fatalf("ClientURL = %q, want a loopback URL with a real port", url)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ext, err := Connect(cctx, ConnectConfig{URL: url, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	if err := ext.Ready(ctx); err != nil {
		t.Fatalf("Ready over TCP: %v", err)
	}
	if err := ext.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown of client: %v", err)
	}
	if err := ext.Ready(ctx); err == nil {
		t.Fatal("Ready after Shutdown = nil, want an error")
	}
	// The server is still up for its own connection.
	if err := emb.Ready(ctx); err != nil {
		t.Fatalf("embedded Ready after client left: %v", err)
	}
}

func TestReadyFailsAfterShutdown(t *testing.T) {
	ctx := t.Context()
	c, err := StartEmbedded(EmbeddedConfig{StoreDir: t.TempDir(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := c.Shutdown(ctx); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	if err := c.Ready(ctx); err == nil {
		t.Fatal("Ready after Shutdown = nil, want an error")
	}
	if c.srv.Running() {
		t.Fatal("server still running after Shutdown")
	}
}

func TestEmbeddedKeepsStreamsAcrossRestart(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	log := testLogger(t)

	c, err := StartEmbedded(EmbeddedConfig{StoreDir: dir, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.JetStream().CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.JetStream().Publish(ctx, "t.x", []byte("kept")); err != nil {
		t.Fatal(err)
	}
	if err := c.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	c2 := startEmbedded(t, EmbeddedConfig{StoreDir: dir, Logger: log})
	s, err := c2.JetStream().Stream(ctx, "T")
	if err != nil {
		t.Fatalf("stream after restart: %v", err)
	}
	m, err := s.GetLastMsgForSubject(ctx, "t.x")
	if err != nil {
		t.Fatalf("message after restart: %v", err)
	}
	if string(m.Data) != "kept" {
		t.Fatalf("message = %q, want %q", m.Data, "kept")
	}
}

func TestConnectGivesUpWithContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 600*time.Millisecond)
	defer cancel()
	// Port 1 on loopback: nothing listens there.
	_, err := Connect(ctx, ConnectConfig{URL: "nats://127.0.0.1:1", Logger: testLogger(t)})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Connect = %v, want context.DeadlineExceeded", err)
	}
}

func TestConfigErrors(t *testing.T) {
	log := testLogger(t)
	embedded := []struct {
		name string
		cfg  EmbeddedConfig
		want string
	}{
		{"no store dir", EmbeddedConfig{Logger: log}, "messaging: StoreDir is required"},
		{"no logger", EmbeddedConfig{StoreDir: t.TempDir()}, "messaging: Logger is required"},
		{"public address", EmbeddedConfig{StoreDir: t.TempDir(), Logger: log, ListenAddr: "0.0.0.0:4222"}, `messaging: listen address "0.0.0.0:4222": host must be a loopback address`},
		{"lan address", EmbeddedConfig{StoreDir: t.TempDir(), Logger: log, ListenAddr: "10.1.2.3:4222"}, `messaging: listen address "10.1.2.3:4222": host must be a loopback address`},
		{"host name", EmbeddedConfig{StoreDir: t.TempDir(), Logger: log, ListenAddr: "example.com:4222"}, `messaging: listen address "example.com:4222": host must be a loopback address`},
		{"empty host", EmbeddedConfig{StoreDir: t.TempDir(), Logger: log, ListenAddr: ":4222"}, `messaging: listen address ":4222": host must be a loopback address`},
		{"bad port", EmbeddedConfig{StoreDir: t.TempDir(), Logger: log, ListenAddr: "127.0.0.1:http"}, `messaging: listen address "127.0.0.1:http": bad port`},
		{"no port", EmbeddedConfig{StoreDir: t.TempDir(), Logger: log, ListenAddr: "127.0.0.1"}, `messaging: listen address "127.0.0.1": address 127.0.0.1: missing port in address`},
	}
	for _, tc := range embedded {
		t.Run(tc.name, func(t *testing.T) {
			c, err := StartEmbedded(tc.cfg)
			if err == nil {
				_ = c.Shutdown(t.Context())
				t.Fatal("StartEmbedded succeeded, want an error")
			}
			if err.Error() != tc.want {
				t.Fatalf("error = %q, want %q", err, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		name string
		cfg  ConnectConfig
		want string
	}{
		{"no url", ConnectConfig{Logger: log}, "messaging: URL is required"},
		{"no logger", ConnectConfig{URL: "nats://127.0.0.1:4222"}, "messaging: Logger is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Connect(t.Context(), tc.cfg)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("Connect error = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestValidToken(t *testing.T) {
	for _, ok := range []string{"0190c5a2-7e7b-7cc3-8d1e-2f0a3b4c5d6e", "_platform", "abc", "A-Z_09"} {
		t.Run("token "+testutil.CaseName(ok), func(t *testing.T) {
			if err := ValidToken(ok); err != nil {
				t.Errorf("ValidToken(%q) = %v, want nil", ok, err)
			}
		})
	}
	for _, bad := range []string{"", "a.b", "*", ">", "a*", "a>", "a b", "a\tb", "a\nb", "a\x00", "é", "a/b", strings.Repeat("a", MaxTokenLen+1)} {
		t.Run("bad token "+testutil.CaseName(bad), func(t *testing.T) {
			if err := ValidToken(bad); !errors.Is(err, ErrInvalidToken) {
				t.Errorf("ValidToken(%q) = %v, want ErrInvalidToken", bad, err)
			}
		})
	}
	for _, ok := range []string{"workspace.status", "task.status", "a"} {
		t.Run("path "+testutil.CaseName(ok), func(t *testing.T) {
			if err := ValidPath(ok); err != nil {
				t.Errorf("ValidPath(%q) = %v, want nil", ok, err)
			}
		})
	}
	for _, bad := range []string{"", ".", "a.", ".a", "a..b", "a.*", "a.>", "a. b", "*.a"} {
		t.Run("bad path "+testutil.CaseName(bad), func(t *testing.T) {
			if err := ValidPath(bad); !errors.Is(err, ErrInvalidToken) {
				t.Errorf("ValidPath(%q) = %v, want ErrInvalidToken", bad, err)
			}
		})
	}
}

// FuzzValidPath checks that whatever passes validation is a plain literal
// subject path: no wildcards, no empty tokens, no whitespace or controls.
func FuzzValidPath(f *testing.F) {
	for _, s := range []string{"workspace.status", "a..b", "a.*", ">", "a b", "_platform", "é.x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidPath(s) != nil {
			return
		}
		for tok := range strings.SplitSeq(s, ".") {
			if tok == "" || tok == "*" || tok == ">" {
				t.Fatalf("ValidPath accepted %q with token %q", s, tok)
			}
		}
		if strings.ContainsAny(s, "*> \t\r\n\x00") {
			t.Fatalf("ValidPath accepted %q", s)
		}
	})
}
