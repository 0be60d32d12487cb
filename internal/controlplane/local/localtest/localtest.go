// Package localtest starts real workspace clusters with the embedded
// provider for tests that need a Kubernetes API server (skipped with
// -short, or when the pinned binaries are missing).
package localtest

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/hexabase/hexabase-ai/internal/controlplane"
	"github.com/hexabase/hexabase-ai/internal/controlplane/local"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/testutil"
)

// Workspace starts a workspace cluster for the test (stopped when it
// ends) and answers its administrator's client configuration.
func Workspace(t testing.TB) *rest.Config {
	t.Helper()
	dir, err := local.DefaultBinDir()
	if err != nil {
		t.Fatal(err)
	}
	testutil.NeedK8sBinaries(t, dir)
	p, err := local.New(local.Config{DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	id := store.NewID()
	// An https issuer nobody serves: the API server starts without it.
	spec := controlplane.Spec{WorkspaceID: id, OrgID: store.NewID(), Plan: controlplane.PlanShared, Issuer: controlplane.IssuerTrust{URL: "https://127.0.0.1:1"}}
	if err := p.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	rc, err := p.AdminConfig(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return rc
}
