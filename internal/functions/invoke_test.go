package functions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/functions/engine"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// TestOutcomeHidesInternalErrors: the record of a call that never ran
// says what kind of failure it was, never the error's text (host paths,
// sandbox messages, a secret's name); a build error keeps the runtime's
// message. Seen failing before the fix: the record held
// "the call did not run: unseal secret TOKEN: open /var/lib/hks/...".
func TestOutcomeHidesInternalErrors(t *testing.T) {
	var logged strings.Builder
	s := &Service{cfg: Config{Now: time.Now, Logger: slog.New(slog.NewTextHandler(&logged, nil))}}
	internal := errors.New("unseal secret TOKEN: open /var/lib/hks/sealer/key: permission denied (bwrap: setting up uid map)")
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"internal", fmt.Errorf("invoke hello: %w", internal), "internal error"},
		{"busy", &engine.ErrBusy{RetryAfter: time.Second}, "busy"},
		{"unavailable", fmt.Errorf("x: %w", engine.ErrUnavailable), "not available"},
		{"timeout", fmt.Errorf("start /tmp/hks/loader: %w", context.DeadlineExceeded), "timed out"},
		{"canceled", context.Canceled, "canceled"},
		{"build", &engine.BuildError{Runtime: "node", Message: "SyntaxError: Unexpected token at index.js:3"}, "did not build: SyntaxError: Unexpected token at index.js:3"},
	} {
		t.Run(c.name, func(t *testing.T) {
			inv := store.Invocation{ID: "inv-" + c.name}
			s.outcome(&inv, engine.Result{}, c.err, false)
			if inv.Status != store.InvocationFailed || !strings.Contains(inv.Error, c.want) ||
				strings.Contains(inv.Error, "/var/lib") || strings.Contains(inv.Error, "/tmp") || strings.Contains(inv.Error, "TOKEN") || strings.Contains(inv.Error, "bwrap") {
				t.Fatalf("record error %q (status %s), want it to say %q and nothing internal", inv.Error, inv.Status, c.want)
			}
		})
	}
	if !strings.Contains(logged.String(), "/var/lib/hks/sealer/key") {
		t.Fatalf("the cause was not logged: %s", logged.String())
	}
}
