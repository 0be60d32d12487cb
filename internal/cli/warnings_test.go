package cli

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestClientPrintsWarnings: every answer's Warning headers, of a success
// or an error, are printed as `Warning: text` lines, as kubectl prints
// them; a header that is not in the RFC form is printed as it came.
func TestClientPrintsWarnings(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Warning", `299 - "would violate PodSecurity \"restricted:latest\": runAsNonRoot != true"`)
		w.Header().Add("Warning", `299 - "second"`)
		w.Header().Add("Warning", `not rfc`)
		if r.URL.Path == "/fail" {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusUnprocessableEntity)
			_, _ = w.Write([]byte(`{"detail":"no"}`))
			return
		}
		_, _ = w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	const want = "Warning: would violate PodSecurity \"restricted:latest\": runAsNonRoot != true\nWarning: second\nWarning: not rfc\n"
	for _, path := range []string{"/ok", "/fail"} {
		var out bytes.Buffer
		c := &Client{HTTP: srv.Client(), Creds: Credentials{Server: srv.URL, AccessToken: "a", ExpiresAt: time.Now().Add(time.Hour)}, Warnings: &out}
		err := c.Do(context.Background(), http.MethodGet, path, nil, &struct{}{})
		if (err != nil) != (path == "/fail") {
			t.Errorf("%s: %v", path, err)
		}
		if out.String() != want {
			t.Errorf("%s printed %q, want %q", path, out.String(), want)
		}
	}
	c := &Client{HTTP: srv.Client(), Creds: Credentials{Server: srv.URL, AccessToken: "a", ExpiresAt: time.Now().Add(time.Hour)}}
	if err := c.Do(context.Background(), http.MethodGet, "/ok", nil, nil); err != nil {
		t.Errorf("without a writer: %v", err)
	}
}
