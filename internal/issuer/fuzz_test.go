package issuer

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/authz"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
)

// FuzzTokenEndpoint: whatever the body, the token endpoint answers a 4xx
// OAuth error or a token, never a 5xx, and never panics.
func FuzzTokenEndpoint(f *testing.F) {
	e := newEnvTB(f)
	az, _ := authz.New(e.st)
	s, err := New(Config{Identity: e.id, Access: az, Store: e.st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now})
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []struct{ ct, body string }{
		{"application/x-www-form-urlencoded", "grant_type=" + GrantTokenExchange + "&subject_token=a.b.c&subject_token_type=" + TokenTypeAccessToken + "&audience=x"},
		{"application/x-www-form-urlencoded", "grant_type=%zz"},
		{"application/json", `{"grant_type":"` + GrantTokenExchange + `","subject_token":"eyJhbGciOiJub25lIn0.e30."}`},
		{"application/json", `[1,2]`},
		{"text/plain", "x"},
	} {
		f.Add(seed.ct, seed.body)
	}
	f.Fuzz(func(t *testing.T, ct, body string) {
		r := httptest.NewRequest(http.MethodPost, TokenPath, strings.NewReader(body))
		r.Header.Set("Content-Type", ct)
		v, err := s.token(r)
		if err != nil {
			t.Fatalf("token endpoint error (a 4xx must be an OAuth answer): %v", err)
		}
		resp, ok := v.(*httpapi.Response)
		if !ok || (resp.Status != 0 && (resp.Status < 400 || resp.Status >= 500)) {
			t.Fatalf("answer %#v", v)
		}
		if resp.Status == 0 {
			t.Fatalf("token issued for a fuzzed body %q", body)
		}
	})
}
