package identity

import (
	"context"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// StartSession starts a session for u, whom the caller has authenticated
// already (the platform's OAuth authorization server, trading an
// authorization or device code that a signed-in browser approved). The
// session is bound to meta's device fingerprint: the client that will
// refresh it.
func (s *Service) StartSession(ctx context.Context, u store.User, meta ClientMeta) (api.TokenPair, error) {
	return s.startSession(ctx, u, meta)
}
