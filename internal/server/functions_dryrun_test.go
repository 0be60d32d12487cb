package server

import (
	"strings"
	"testing"

	"github.com/hexabase/hexabase-ai/internal/api"
)

// TestFunctionsDeployDryRun: a deploy with ?dry_run=true checks what a
// deploy checks, the build included, and stores nothing: a new function
// stays absent, an existing one keeps its version; a refused build, a
// viewer, a stale resource_version and a bad dry_run are refused as the
// deploy itself would be.
func TestFunctionsDeployDryRun(t *testing.T) {
	w := newFnWorld(t, nil)
	dev, viewer := w.tok["member"], w.tok["viewer"]
	fn := w.base + "/functions/dryrun"

	var out api.Function
	w.do("PUT", fn+"?dry_run=true", dev, wasmDeploy(t, map[string]string{"TAG": "a"})).decode(t, 200, &out)
	if out.Name != "dryrun" || out.LatestVersion != 1 || out.ResourceVersion != "0" || out.Runtime != "wasm" {
		t.Fatalf("dry run of a new function: %+v", out)
	}
	if a := w.do("GET", fn, dev, nil); a.status != 404 {
		t.Fatalf("a dry run stored the function: %d %s", a.status, a.body)
	}
	v1 := w.deploy("dryrun", wasmDeploy(t, map[string]string{"TAG": "a"}), 201)
	w.do("PUT", fn+"?dry_run=true", dev, wasmDeploy(t, map[string]string{"TAG": "b"})).decode(t, 200, &out)
	if out.LatestVersion != 2 || out.ResourceVersion != v1.ResourceVersion {
		t.Fatalf("dry run of a new version: %+v", out)
	}
	var got api.Function
	w.do("GET", fn, dev, nil).decode(t, 200, &got)
	if got.LatestVersion != 1 || got.ResourceVersion != v1.ResourceVersion {
		t.Fatalf("a dry run changed the function: %+v", got)
	}

	bad := api.DeployFunctionRequest{Runtime: "wasm", Source: api.FunctionSource{Filename: "fn.wasm", Content: []byte("not wasm")}}
	if a := w.do("PUT", w.base+"/functions/bad?dry_run=true", dev, bad); a.status != 422 {
		t.Fatalf("dry run of a module that does not compile: %d %s", a.status, a.body)
	}
	if a := w.do("PUT", fn+"?dry_run=true", viewer, wasmDeploy(t, nil)); a.status != 403 {
		t.Fatalf("a viewer's dry run: %d %s", a.status, a.body)
	}
	stale := wasmDeploy(t, map[string]string{"TAG": "c"})
	stale.ResourceVersion = "999"
	if a := w.do("PUT", fn+"?dry_run=true", dev, stale); a.status != 412 {
		t.Fatalf("a stale dry run: %d %s", a.status, a.body)
	}
	if a := w.do("PUT", fn+"?dry_run=maybe", dev, wasmDeploy(t, nil)); a.status != 400 && a.status != 422 || !strings.Contains(string(a.body), "dry_run") {
		t.Fatalf("a bad dry_run: %d %s", a.status, a.body)
	}
}
