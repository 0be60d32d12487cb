package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hexabase/hexabase-ai/internal/api"
)

type tokenAuth map[string]Principal

func (a tokenAuth) Authenticate(_ context.Context, tok string) (Principal, error) {
	if p, ok := a[tok]; ok {
		return p, nil
	}
	return Principal{}, errors.New("secret internal reason")
}

type echoReq struct {
	Name  string `json:"name"`
	Count int    `json:"count,omitempty"`
}

func newTestAPI(t *testing.T) *API {
	t.Helper()
	a, err := New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: prometheus.NewRegistry(),
		Auth: tokenAuth{"good": {UserID: "u1"}}, MaxBodyBytes: 64})
	if err != nil {
		t.Fatal(err)
	}
	a.Mount(
		Route{Method: "POST", Path: "/echo", Request: echoReq{}, Response: echoReq{}, Status: http.StatusCreated, Handle: func(r *http.Request) (any, error) {
			var req echoReq
			if err := DecodeJSON(r, &req); err != nil {
				return nil, err
			}
			return req, nil
		}},
		Route{Method: "GET", Path: "/boom", Handle: func(r *http.Request) (any, error) { panic("secret panic text") }},
		Route{Method: "GET", Path: "/fail", Handle: func(r *http.Request) (any, error) { return nil, errors.New("secret db error") }},
		Route{Method: "GET", Path: "/things/{thing}", Handle: func(r *http.Request) (any, error) { return map[string]string{"thing": r.PathValue("thing")}, nil }},
		Route{Method: "GET", Path: "/open", Public: true, Handle: func(r *http.Request) (any, error) { return map[string]string{"ok": "yes"}, nil }},
	)
	return a
}

func call(t *testing.T, h http.Handler, method, path, body string, hdr map[string]string) (*http.Response, api.Problem, string) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	raw := rec.Body.String()
	var p api.Problem
	if strings.HasPrefix(rec.Header().Get("Content-Type"), "application/problem+json") {
		if err := json.Unmarshal([]byte(raw), &p); err != nil {
			t.Fatalf("problem body is not JSON: %q", raw)
		}
	}
	return rec.Result(), p, raw
}

func TestErrorsAreProblems(t *testing.T) {
	h := newTestAPI(t).Handler()
	auth := map[string]string{"Authorization": "Bearer good", "Content-Type": "application/json"}
	tests := []struct {
		name, method, path, body string
		hdr                      map[string]string
		status                   int
		typ, field               string
	}{
		{"no token", "POST", "/echo", `{"name":"a"}`, nil, 401, "unauthorized", ""},
		{"bad scheme", "POST", "/echo", `{"name":"a"}`, map[string]string{"Authorization": "Basic abc"}, 401, "unauthorized", ""},
		{"bad token", "POST", "/echo", `{"name":"a"}`, map[string]string{"Authorization": "Bearer nope"}, 401, "unauthorized", ""},
		{"malformed json", "POST", "/echo", `{"name":`, auth, 400, "bad-request", ""},
		{"syntax error", "POST", "/echo", `{"name" "a"}`, auth, 400, "bad-request", ""},
		{"empty body", "POST", "/echo", ``, auth, 400, "bad-request", ""},
		{"unknown field", "POST", "/echo", `{"name":"a","nmae":"b"}`, auth, 422, "validation", "nmae"},
		{"wrong type", "POST", "/echo", `{"name":5}`, auth, 422, "validation", "name"},
		{"not an object", "POST", "/echo", `[1,2]`, auth, 400, "bad-request", ""},
		{"two values", "POST", "/echo", `{"name":"a"}{"name":"b"}`, auth, 400, "bad-request", ""},
		{"too large", "POST", "/echo", `{"name":"` + strings.Repeat("x", 100) + `"}`, auth, 413, "body-too-large", ""},
		{"wrong content type", "POST", "/echo", `{"name":"a"}`, map[string]string{"Authorization": "Bearer good", "Content-Type": "text/plain"}, 415, "unsupported-media-type", ""},
		{"panic", "GET", "/boom", ``, auth, 500, "internal", ""},
		{"internal error", "GET", "/fail", ``, auth, 500, "internal", ""},
		{"no route", "GET", "/nowhere", ``, nil, 404, "not-found", ""},
		{"invalid UTF-8 in a path parameter", "GET", "/things/%FF", ``, auth, 404, "not-found", ""},
		{"NUL in a path parameter", "GET", "/things/a%00b", ``, auth, 404, "not-found", ""},
		{"control character in a path parameter", "GET", "/things/a%0Ab", ``, auth, 404, "not-found", ""},
		{"wrong method", "DELETE", "/echo", ``, nil, 405, "method-not-allowed", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, p, raw := call(t, h, tt.method, tt.path, tt.body, tt.hdr)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, raw)
			}
			if p.Type != ProblemTypeBase+tt.typ || p.Status != tt.status || p.RequestID == "" {
				t.Fatalf("problem %+v", p)
			}
			if tt.field != "" && (len(p.Errors) != 1 || p.Errors[0].Field != tt.field) {
				t.Fatalf("want field error on %q, got %+v", tt.field, p.Errors)
			}
			if strings.Contains(raw, "secret") {
				t.Fatalf("internal text leaked: %s", raw)
			}
		})
	}
}

func TestSuccessAndRequestID(t *testing.T) {
	h := newTestAPI(t).Handler()
	if resp, _, raw := call(t, h, "GET", "/things/caf%C3%A9", "", map[string]string{"Authorization": "Bearer good"}); resp.StatusCode != 200 || !strings.Contains(raw, "café") {
		t.Fatalf("a UTF-8 path parameter: %d %s", resp.StatusCode, raw)
	}
	resp, _, raw := call(t, h, "POST", "/echo", `{"name":"a","count":2}`, map[string]string{"Authorization": "Bearer good", "X-Request-Id": "abc-123"})
	if resp.StatusCode != 201 || resp.Header.Get("X-Request-Id") != "abc-123" || !strings.Contains(raw, `"count":2`) {
		t.Fatalf("got %d %q %s", resp.StatusCode, resp.Header.Get("X-Request-Id"), raw)
	}
	resp, _, _ = call(t, h, "GET", "/open", "", map[string]string{"X-Request-Id": "bad id with spaces"})
	if resp.StatusCode != 200 || resp.Header.Get("X-Request-Id") == "bad id with spaces" {
		t.Fatalf("invalid request id was echoed")
	}
}

func TestOpenAPIHasEveryRoute(t *testing.T) {
	a := newTestAPI(t)
	b, err := OpenAPI(OpenAPIInfo{Title: "t", Version: "1"}, a.Routes())
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	for _, rt := range a.Routes() {
		if _, ok := doc.Paths[rt.Path][strings.ToLower(rt.Method)]; !ok {
			t.Errorf("%s %s missing", rt.Method, rt.Path)
		}
	}
}

// secretUnencodable fails to encode, with internal text in its error.
type secretUnencodable struct{}

func (secretUnencodable) MarshalJSON() ([]byte, error) {
	return nil, errors.New("secret marshal failure")
}

// An answer that cannot be encoded (a time past year 9999, a value whose
// MarshalJSON fails) is a 500 problem, never a success status with an
// empty body: the body is encoded before the status is written.
func TestAnswerThatFailsToEncodeIsA500(t *testing.T) {
	a := newTestAPI(t)
	a.Mount(
		Route{Method: "GET", Path: "/far-future", Handle: func(*http.Request) (any, error) {
			return map[string]time.Time{"next": time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, nil
		}},
		Route{Method: "POST", Path: "/created", Status: http.StatusCreated, Handle: func(*http.Request) (any, error) {
			return &Response{Header: http.Header{"Location": {"/created/1"}}, Body: secretUnencodable{}}, nil
		}},
	)
	h := a.Handler()
	for _, tt := range []struct{ method, path string }{{"GET", "/far-future"}, {"POST", "/created"}} {
		t.Run(tt.path, func(t *testing.T) {
			resp, p, raw := call(t, h, tt.method, tt.path, "", map[string]string{"Authorization": "Bearer good"})
			if resp.StatusCode != http.StatusInternalServerError || p.Type != ProblemTypeBase+"internal" || p.Status != 500 {
				t.Fatalf("got %d %q, want a 500 problem", resp.StatusCode, raw)
			}
			if resp.Header.Get("Location") != "" || strings.Contains(raw, "secret") || strings.Contains(raw, "range") {
				t.Fatalf("a failed answer leaked its header or internal text: %v %s", resp.Header, raw)
			}
		})
	}
}

// TestAsCallerAuthenticatesInProcessRequests: a request marked AsCaller
// is authenticated as that principal without a token (never as
// cookie-authenticated); a principal merely put in the context
// (WithPrincipal, as the gateway does for its own middleware) or no mark
// at all is still a 401.
func TestAsCallerAuthenticatesInProcessRequests(t *testing.T) {
	a := newTestAPI(t)
	a.Mount(Route{Method: "GET", Path: "/whoami", Handle: func(r *http.Request) (any, error) {
		p, err := MustPrincipal(r)
		if err != nil {
			return nil, err
		}
		return map[string]any{"user": p.UserID, "cookie": p.ByCookie}, nil
	}})
	h := a.Handler()
	tests := []struct {
		name   string
		ctx    func(context.Context) context.Context
		status int
		want   string
	}{
		{"marked", func(c context.Context) context.Context { return AsCaller(c, Principal{UserID: "u7", ByCookie: true}) }, 200, `{"cookie":false,"user":"u7"}`},
		{"principal only", func(c context.Context) context.Context { return WithPrincipal(c, Principal{UserID: "u7"}) }, 401, ""},
		{"empty principal", func(c context.Context) context.Context { return AsCaller(c, Principal{}) }, 401, ""},
		{"nothing", func(c context.Context) context.Context { return c }, 401, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/whoami", nil)
			req = req.WithContext(tt.ctx(req.Context()))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if tt.want != "" && strings.TrimSpace(rec.Body.String()) != tt.want {
				t.Errorf("body %s, want %s", rec.Body, tt.want)
			}
		})
	}
}
