package server

import (
	"context"
	"net/http"
	"time"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/identity"
	"github.com/hexabase/hexabase-ai/internal/tenancy"
)

// routeTable is every route of the platform.
func routeTable(tn *tenancy.Service, id *identity.Service, platform, wired []httpapi.Route) []httpapi.Route {
	var rs []httpapi.Route
	rs = append(rs, platform...)
	rs = append(rs, id.Routes()...)
	rs = append(rs, tn.Routes()...)
	rs = append(rs, wired...)
	return rs
}

func openAPIInfo(version string) httpapi.OpenAPIInfo {
	if version == "" {
		version = "v1"
	}
	return httpapi.OpenAPIInfo{Title: "Hexabase AI API", Version: "v1"}
}

// OpenAPIDocument renders the OpenAPI document of the route table without
// a running platform (`hks openapi`, make openapi).
func OpenAPIDocument() ([]byte, error) {
	s := &Server{}
	d := &deps{docsOnly: true}
	if err := wire(context.Background(), d); err != nil {
		return nil, err
	}
	return httpapi.OpenAPI(openAPIInfo(""), routeTable(&tenancy.Service{}, &identity.Service{}, s.platformRoutes(&openAPIDoc{}), d.routes))
}

type openAPIDoc struct{ b []byte }

// platformRoutes are the API listener's own routes; /metrics is served by
// the telemetry listener only (telemetry.go).
func (s *Server) platformRoutes(doc *openAPIDoc) []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/healthz", Tag: "platform", Public: true, Summary: "Liveness: the process serves", Response: api.Health{},
			Handle: func(*http.Request) (any, error) { return api.Health{Status: "ok"}, nil }},
		{Method: "GET", Path: "/readyz", Tag: "platform", Public: true, Summary: "Readiness: the database and NATS answer", Response: api.Health{},
			Errors: []int{http.StatusServiceUnavailable}, Handle: s.ready},
		{Method: "GET", Path: "/api/v1/openapi.json", Tag: "platform", Public: true, Summary: "This OpenAPI 3.1 document",
			Raw: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write(doc.b)
			})},
	}
}

func (s *Server) ready(r *http.Request) (any, error) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	h := api.Health{Status: "ok", Checks: map[string]string{"database": "ok", "nats": "ok"}}
	if err := s.st.Ping(ctx); err != nil {
		httpapi.Logger(ctx).Warn("readiness: database", "error", err)
		h.Status, h.Checks["database"] = "unavailable", "unavailable"
	}
	if err := s.nats.Ready(ctx); err != nil {
		httpapi.Logger(ctx).Warn("readiness: nats", "error", err)
		h.Status, h.Checks["nats"] = "unavailable", "unavailable"
	}
	if h.Status != "ok" {
		return &httpapi.Response{Status: http.StatusServiceUnavailable, Body: h}, nil
	}
	return h, nil
}
