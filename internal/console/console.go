package console

import (
	"bytes"
	"compress/gzip"
	"embed"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/hexabase/hexabase-ai/internal/httpapi"
)

//go:embed all:dist
var dist embed.FS

// Handler serves the console of the embedded build.
type Handler struct {
	files fs.FS
	index []byte // nil: the console was not built into this binary
	mod   time.Time

	mu sync.Mutex
	gz map[string]*gzipped // by file name, made on first request
}

// gzipped is a file compressed once, on its first request by a client
// that accepts gzip (the build's text files compress to about a third).
type gzipped struct {
	once sync.Once
	b    []byte // nil: not worth it
}

// New returns the handler of the console embedded in the binary.
func New() *Handler {
	sub, err := fs.Sub(dist, "dist/app")
	if err != nil {
		panic(err) // a constant, valid path
	}
	return newHandler(sub)
}

func newHandler(files fs.FS) *Handler {
	h := &Handler{files: files, mod: time.Now(), gz: map[string]*gzipped{}}
	if b, err := fs.ReadFile(files, "index.html"); err == nil {
		h.index = b
	}
	return h
}

// Built reports whether the binary holds a built console.
func (h *Handler) Built() bool { return h.index != nil }

// Cache-Control of hashed assets (their names change with their content)
// and of everything else (index.html must be revalidated so that a new
// binary's assets are picked up at once).
const (
	immutable   = "public, max-age=31536000, immutable"
	revalidate  = "no-cache"
	assetPrefix = "assets/"
)

// ServeHTTP serves GET and HEAD requests: a file of the build when the
// path names one, else index.html (the history fallback).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if h.index == nil {
		notBuilt(w, r)
		return
	}
	name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	if name != "" && name != "index.html" {
		if b, err := fs.ReadFile(h.files, name); err == nil {
			if strings.HasPrefix(name, assetPrefix) {
				w.Header().Set("Cache-Control", immutable)
			} else {
				w.Header().Set("Cache-Control", revalidate)
			}
			h.serve(w, r, name, b)
			return
		}
		if strings.HasPrefix(name, assetPrefix) || path.Ext(name) != "" && !strings.Contains(r.Header.Get("Accept"), "text/html") {
			// A missing asset (an old page asking for a file of an
			// earlier build) must not get the page instead.
			w.Header().Set("Cache-Control", revalidate)
			http.NotFound(w, r)
			return
		}
	}
	w.Header().Set("Cache-Control", revalidate)
	h.serve(w, r, "index.html", h.index)
}

// compressible are the extensions of the build's text files.
var compressible = map[string]bool{".js": true, ".css": true, ".html": true, ".svg": true, ".json": true, ".txt": true, ".map": true}

// serve answers the file name with content b, gzip-compressed for a
// client that accepts it.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, name string, b []byte) {
	ext := path.Ext(name)
	ct := mime.TypeByExtension(ext)
	if ext == ".html" {
		ct = "text/html; charset=utf-8"
		// The page's CSP, set here rather than by the security middleware
		// from the Content-Type: a 304 answer carries no Content-Type, so
		// it would get the API's default-src 'none', and the browser would
		// store that on the cached page, which then could load none of its
		// assets.
		w.Header().Set("Content-Security-Policy", httpapi.PageContentSecurityPolicy)
	}
	if ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	if compressible[ext] && len(b) > 1024 {
		w.Header().Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			if z := h.gzipOf(name, b); z != nil {
				w.Header().Set("Content-Encoding", "gzip")
				b = z
			}
		}
	}
	http.ServeContent(w, r, name, h.mod, bytes.NewReader(b))
}

func (h *Handler) gzipOf(name string, b []byte) []byte {
	h.mu.Lock()
	g := h.gz[name]
	if g == nil {
		g = &gzipped{}
		h.gz[name] = g
	}
	h.mu.Unlock()
	g.once.Do(func() {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // a valid level: no error
		_, _ = zw.Write(b)
		_ = zw.Close()
		if buf.Len() < len(b) {
			g.b = buf.Bytes()
		}
	})
	return g.b
}

// acceptsGzip: the request's Accept-Encoding lists gzip without q=0.
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") || strings.TrimSpace(enc) == "*" {
			q := strings.ReplaceAll(params, " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}

const notBuiltPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Hexabase AI: console not built</title></head>
<body><main>
<h1>The console is not built into this binary</h1>
<p>This hks was built without the web console. The API (<code>/api/v1</code>) and the CLI work as usual.</p>
<p>To get the console, build it and then hks, from the repository:</p>
<pre>make run</pre>
<p>or, step by step (needs Node.js 20.19 or later and npm):</p>
<pre>make console
make build</pre>
<p>See docs/console.md.</p>
</main></body></html>
`

func notBuilt(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(notBuiltPage))
	}
}
