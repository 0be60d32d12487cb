package console

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/hexabase/hexabase-ai/internal/httpapi"
)

func get(t *testing.T, h http.Handler, path, accept string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest("GET", path, nil)
	if accept != "" {
		r.Header.Set("Accept", accept)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestServesTheBuild(t *testing.T) {
	h := newHandler(fstest.MapFS{
		"index.html":          {Data: []byte(`<!doctype html><div id="root"></div>`)},
		"assets/index-abc.js": {Data: []byte(`console.log(1)`)},
		"favicon.svg":         {Data: []byte(`<svg/>`)},
	})
	tests := []struct {
		name, path, accept string
		status             int
		cache, body        string
	}{
		{"root is the page", "/", "text/html", 200, "no-cache", `id="root"`},
		{"a page's path falls back to the page", "/orgs/acme/workspaces", "text/html", 200, "no-cache", `id="root"`},
		{"a path with a dot that a person typed falls back too", "/orgs/acme.io", "text/html", 200, "no-cache", `id="root"`},
		{"hashed asset is immutable", "/assets/index-abc.js", "*/*", 200, "public, max-age=31536000, immutable", "console.log"},
		{"other files revalidate", "/favicon.svg", "*/*", 200, "no-cache", "<svg/>"},
		{"a missing asset is a 404, not the page", "/assets/index-old.js", "*/*", 404, "no-cache", ""},
		{"a missing file fetched by a script is a 404", "/robots.txt", "*/*", 404, "no-cache", ""},
		{"path traversal stays inside", "/../../etc/passwd", "text/html", 200, "no-cache", `id="root"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := get(t, h, tt.path, tt.accept)
			if w.Code != tt.status || w.Header().Get("Cache-Control") != tt.cache || !strings.Contains(w.Body.String(), tt.body) {
				t.Fatalf("%s: %d %q %q", tt.path, w.Code, w.Header().Get("Cache-Control"), w.Body.String())
			}
		})
	}
	r := httptest.NewRequest("POST", "/", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 405 {
		t.Fatalf("POST: %d", w.Code)
	}
}

// TestNotBuilt: a binary built without the console (a plain go build of a
// fresh clone) serves a page that says how to build it, at every path.
func TestNotBuilt(t *testing.T) {
	h := newHandler(fstest.MapFS{"README.md": {Data: []byte("x")}})
	if h.Built() {
		t.Fatal("Built with no index.html")
	}
	for _, p := range []string{"/", "/orgs"} {
		w := get(t, h, p, "text/html")
		if w.Code != 200 || !strings.Contains(w.Body.String(), "make console") || w.Header().Get("Content-Type") != "text/html; charset=utf-8" {
			t.Fatalf("%s: %d %s", p, w.Code, w.Body.String())
		}
	}
}

// TestGzip: text files of the build go compressed to clients that accept
// gzip, as they are to those that do not, with Vary set for caches.
func TestGzip(t *testing.T) {
	js := strings.Repeat("function f(){return 1}\n", 500)
	h := newHandler(fstest.MapFS{
		"index.html":          {Data: []byte(`<!doctype html><div id="root"></div>`)},
		"assets/index-abc.js": {Data: []byte(js)},
	})
	for _, tt := range []struct {
		accept string
		gz     bool
	}{{"gzip, deflate, br", true}, {"br;q=1.0, gzip;q=0.8", true}, {"gzip;q=0", false}, {"", false}, {"identity", false}} {
		r := httptest.NewRequest("GET", "/assets/index-abc.js", nil)
		if tt.accept != "" {
			r.Header.Set("Accept-Encoding", tt.accept)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		got := w.Header().Get("Content-Encoding") == "gzip"
		if got != tt.gz || w.Header().Get("Vary") != "Accept-Encoding" || w.Header().Get("Content-Type") != "text/javascript; charset=utf-8" {
			t.Fatalf("Accept-Encoding %q: gzip %v, headers %v", tt.accept, got, w.Header())
		}
		body := w.Body.Bytes()
		if got {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if body, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
			if w.Body.Len() >= len(js)/4 {
				t.Fatalf("compressed to %d of %d bytes", w.Body.Len(), len(js))
			}
		}
		if string(body) != js {
			t.Fatalf("Accept-Encoding %q: the body is not the file", tt.accept)
		}
	}
}

// TestRevalidatedPageKeepsItsCSP: a page revalidated with a 304 (the
// browser's If-Modified-Since on a second visit) carries the page's CSP,
// not the API's default-src 'none', which the browser would store on the
// cached page (and then block its scripts and styles).
func TestRevalidatedPageKeepsItsCSP(t *testing.T) {
	h := httpapi.SecurityHeaders(httpapi.SecurityConfig{})(newHandler(fstest.MapFS{"index.html": {Data: []byte(`<!doctype html><div id="root"></div>`)}}))
	first := get(t, h, "/orgs/acme", "text/html")
	r := httptest.NewRequest("GET", "/orgs/acme", nil)
	r.Header.Set("If-Modified-Since", first.Header().Get("Last-Modified"))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusNotModified {
		t.Fatalf("revalidation: %d", w.Code)
	}
	if got := w.Header().Get("Content-Security-Policy"); got != httpapi.PageContentSecurityPolicy {
		t.Fatalf("304's CSP: %q", got)
	}
}
