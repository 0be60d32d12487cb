package controlplane

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hexabase/hexabase-ai/internal/tasks"
)

// TestPublicReasonHidesTheCause: what a workspace's members read of a
// failed provisioning (status_reason) names the stage and the task, never
// the error's text: paths, ports and other projects' objects stay in the
// server's log.
func TestPublicReasonHidesTheCause(t *testing.T) {
	secret := errors.New(`open /var/lib/hks/workspaces/x/pki/ca.key: no such file; namespace "other-team" exists`)
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"control plane", stageError{public: "the control plane did not start", err: fmt.Errorf("start the control plane: %w", secret)}, "the control plane did not start"},
		{"permanent", tasks.Permanent(stageError{public: "binaries missing", err: fmt.Errorf("%w: %w", ErrBinaryMissing, secret)}), "binaries missing"},
		{"unclassified", fmt.Errorf("wrapped: %w", secret), "provisioning failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := publicReason(tc.err, "task-1")
			if !strings.HasPrefix(got, tc.want) || !strings.Contains(got, "task-1") {
				t.Errorf("publicReason = %q, want it to start with %q and name the task", got, tc.want)
			}
			for _, leak := range []string{"/var/lib", "ca.key", "other-team"} {
				if strings.Contains(got, leak) {
					t.Errorf("publicReason leaks %q: %s", leak, got)
				}
			}
		})
	}
}
