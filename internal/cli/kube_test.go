package cli

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/fsutil"
	"github.com/hexabase/hexabase-ai/internal/testutil"
)

func TestTokenCache(t *testing.T) {
	t.Setenv("HKS_CONFIG_DIR", t.TempDir())
	now := time.Now()
	p1, err := tokenCachePath("https://hks", "user-1", "acme", "alpha")
	if err != nil {
		t.Fatal(err)
	}
	p2, _ := tokenCachePath("https://hks", "user-2", "acme", "alpha")
	if p1 == p2 {
		t.Fatal("two users share a token cache entry")
	}
	if _, ok := readCachedToken(p1, now); ok {
		t.Fatal("missing cache file used")
	}
	write := func(body string) {
		t.Helper()
		if err := fsutil.WritePrivate(p1, []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	cached := func(token string, d time.Duration) string {
		b, err := json.Marshal(workspaceToken{Token: token, ExpiresAt: now.Add(d)})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, tc := range []struct {
		name, body string
		ok         bool
	}{
		{"fresh", cached("t", 9*time.Minute), true},
		{"near expiry", cached("t", time.Minute), false},
		{"expired", cached("t", -time.Minute), false},
		{"no token", cached("", 9*time.Minute), false},
		{"garbage", `{{`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			write(tc.body)
			if _, ok := readCachedToken(p1, now); ok != tc.ok {
				t.Errorf("%s: used %v, want %v", tc.name, ok, tc.ok)
			}
		})
	}
	fi, err := os.Stat(p1)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("cache file mode: %v %v", fi, err)
	}
	if di, _ := os.Stat(filepath.Dir(p1)); di.Mode().Perm() != 0o700 {
		t.Fatalf("cache dir mode %v", di.Mode().Perm())
	}
	claims, err := json.Marshal(struct {
		Sub string `json:"sub"`
	}{"u-1"})
	if err != nil {
		t.Fatal(err)
	}
	payload := base64.RawURLEncoding.EncodeToString(claims)
	if got := subjectOf("h." + payload + ".s"); got != "u-1" {
		t.Fatalf("subjectOf: %q", got)
	}
	for _, bad := range []string{"", "a.b", "h.!!.s", "h." + base64.RawURLEncoding.EncodeToString([]byte("[]")) + ".s"} {
		t.Run(testutil.CaseName(bad), func(t *testing.T) {
			if got := subjectOf(bad); got != "" {
				t.Fatalf("subjectOf(%q) = %q", bad, got)
			}
		})
	}
}
