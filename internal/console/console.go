package console

import (
	"bytes"
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
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
	h := &Handler{files: files, mod: time.Now()}
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
			http.ServeContent(w, r, name, h.mod, bytes.NewReader(b))
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
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	// The page's CSP, set here rather than by the security middleware from
	// the Content-Type: a 304 answer carries no Content-Type, so it would
	// get the API's default-src 'none', and the browser would store that
	// on the cached page, which then could load none of its assets.
	w.Header().Set("Content-Security-Policy", httpapi.PageContentSecurityPolicy)
	http.ServeContent(w, r, "index.html", h.mod, bytes.NewReader(h.index))
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
