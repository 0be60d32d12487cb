// Package messagingtest starts the embedded NATS server for the tests of
// the packages that use it.
package messagingtest

import (
	"context"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/messaging"
)

// Start starts an embedded NATS server with cfg and shuts it down when the
// test ends; a failure to start or to shut down fails the test.
func Start(t testing.TB, cfg messaging.EmbeddedConfig) *messaging.Conn {
	t.Helper()
	nc, err := messaging.StartEmbedded(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := nc.Shutdown(ctx); err != nil {
			t.Errorf("nats shutdown: %v", err)
		}
	})
	return nc
}
