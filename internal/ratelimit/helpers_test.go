package ratelimit

import (
	"context"
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hexabase/hexabase-ai/internal/httpapi"
)

func newRegistry() *prometheus.Registry { return prometheus.NewRegistry() }

// noAuth refuses every token; the routes under test are public.
type noAuth struct{}

func (noAuth) Authenticate(context.Context, string) (httpapi.Principal, error) {
	return httpapi.Principal{}, errors.New("no authentication in this test")
}
