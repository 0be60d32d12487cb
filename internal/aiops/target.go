package aiops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/gateway"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/issuer"
	"github.com/hexabase/hexabase-ai/internal/kube"
	"github.com/hexabase/hexabase-ai/internal/tenancy"
)

// Tokens issues workspace tokens (*issuer.Service implements it).
type Tokens interface {
	WorkspaceToken(ctx context.Context, sub issuer.Subject, orgID, wsID string) (api.WorkspaceToken, error)
}

var _ Tokens = (*issuer.Service)(nil)

// clientAs is a client of the scope's workspace cluster as its caller:
// a workspace token issued for the caller (their user, their session,
// their workspace groups) sent through the gateway, which checks it and
// forwards it unchanged, so the workspace API server authenticates the
// caller and its RBAC decides. The gateway is reached in-process (its
// handler serves the requests: the same checks, limits and metrics as
// from outside, without a network hop or a TLS handshake).
func (s *Service) clientAs(ctx context.Context, sc tenancy.WorkspaceScope) (*kube.Client, error) {
	p := sc.Principal
	wt, err := s.cfg.Tokens.WorkspaceToken(ctx, issuer.Subject{UserID: p.UserID, Email: p.Email, SessionID: p.SessionID}, sc.Org.ID, sc.Workspace.ID)
	switch {
	case errors.Is(err, issuer.ErrNotFound):
		return nil, httpapi.NotFound("workspace")
	case errors.Is(err, issuer.ErrMFARequired):
		return nil, httpapi.Forbidden("this organization requires two-factor authentication")
	case err != nil:
		return nil, fmt.Errorf("workspace token: %w", err)
	}
	cfg := &rest.Config{
		Host:        gateway.URL(s.cfg.ExternalURL, sc.Workspace.ID),
		BearerToken: wt.Token,
		Transport:   handlerTransport{h: s.cfg.Gateway},
		UserAgent:   "hks-assistant",
		QPS:         50,
		Burst:       100,
	}
	warnings := &kube.Warnings{}
	cfg.WarningHandlerWithContext = warnings
	kc, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("workspace client: %w", err)
	}
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("workspace dynamic client: %w", err)
	}
	return &kube.Client{Kube: kc, Dynamic: dc, Config: cfg, Warnings: warnings}, nil
}

// handlerTransport serves client requests with an http.Handler in
// process: the response streams through a pipe as the handler writes it.
// client-go wraps a custom Transport in its bearer-token and user-agent
// round trippers, so the request arrives here with the workspace token.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	pr, pw := io.Pipe()
	rw := &pipeWriter{header: http.Header{}, pw: pw, ready: make(chan struct{})}
	in := req.Clone(gateway.InProcess(req.Context()))
	in.RequestURI = req.URL.RequestURI()
	in.RemoteAddr = "127.0.0.1:0"
	if in.Body == nil {
		in.Body = http.NoBody
	}
	go func() {
		defer func() {
			rw.writeHeader(http.StatusOK)
			_ = pw.Close()
		}()
		t.h.ServeHTTP(rw, in)
	}()
	select {
	case <-rw.ready:
	case <-req.Context().Done():
		_ = pr.CloseWithError(req.Context().Err())
		return nil, req.Context().Err()
	}
	// client-go would sleep and retry an answer with Retry-After (a
	// workspace waking up, a rate limit) up to ten times: a tool answers
	// at once instead, within its turn's time, and says what happened.
	rw.sent.Del("Retry-After")
	return &http.Response{Status: http.StatusText(rw.code), StatusCode: rw.code, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: rw.sent, Body: pr, ContentLength: -1, Request: req}, nil
}

// pipeWriter is the handler's side of a handlerTransport response.
type pipeWriter struct {
	header http.Header
	sent   http.Header
	pw     *io.PipeWriter
	once   sync.Once
	code   int
	ready  chan struct{}
}

func (w *pipeWriter) Header() http.Header { return w.header }

func (w *pipeWriter) writeHeader(code int) {
	w.once.Do(func() {
		w.code = code
		w.sent = w.header.Clone()
		close(w.ready)
	})
}

func (w *pipeWriter) WriteHeader(code int) {
	if code >= 100 && code < 200 {
		return // informational answers are not the response
	}
	w.writeHeader(code)
}

func (w *pipeWriter) Write(b []byte) (int, error) {
	w.writeHeader(http.StatusOK)
	return w.pw.Write(b)
}

// Flush lets handlers that flush (the reverse proxy) do so; the pipe has
// no buffer to flush.
func (w *pipeWriter) Flush() {}
