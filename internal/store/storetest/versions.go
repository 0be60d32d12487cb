package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/hexabase/hexabase-ai/internal/store"
)

// testByName: organizations are found by slug, workspaces by name within
// their organization, projects and groups by name within their workspace;
// the same name elsewhere is not a match.
func testByName(t *testing.T, f *fixture) {
	_, acme, globex := f.twoOrgs()
	prod, otherProd := f.workspace(acme, "prod"), f.workspace(globex, "prod")
	web, otherWeb := f.project(prod, "web", ""), f.project(otherProd, "web", "")
	eng := f.group(prod, "eng", "")
	_ = f.group(otherProd, "eng", "")

	o, err := f.s.GetOrganizationBySlug(f.ctx, "acme")
	ok(t, err)
	equal(t, o, acme)
	w, err := f.s.GetWorkspaceByName(f.ctx, globex.ID, "prod")
	ok(t, err)
	equal(t, w, otherProd)
	p, err := f.s.GetProjectByName(f.ctx, prod.ID, "web")
	ok(t, err)
	equal(t, p, web)
	p, err = f.s.GetProjectByName(f.ctx, otherProd.ID, "web")
	ok(t, err)
	equal(t, p, otherWeb)
	g, err := f.s.GetGroupByName(f.ctx, prod.ID, "eng")
	ok(t, err)
	equal(t, g, eng)

	for _, tc := range []struct {
		name string
		get  func() error
	}{
		{"org by name, not slug", func() error { _, err := f.s.GetOrganizationBySlug(f.ctx, acme.Name); return err }},
		{"org by id", func() error { _, err := f.s.GetOrganizationBySlug(f.ctx, acme.ID); return err }},
		{"workspace of another org", func() error { _, err := f.s.GetWorkspaceByName(f.ctx, acme.ID, "nope"); return err }},
		{"project by id", func() error { _, err := f.s.GetProjectByName(f.ctx, prod.ID, web.ID); return err }},
		{"project of another workspace", func() error { _, err := f.s.GetProjectByName(f.ctx, store.NewID(), "web"); return err }},
		{"group by wildcard", func() error { _, err := f.s.GetGroupByName(f.ctx, prod.ID, "%"); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) { wantErr(t, tc.get(), store.ErrNotFound) })
	}
}

// testUpdateCompareAndSwap: UpdateX hands the stored row to the update
// function, bumps the version by one per write, keeps identity fields,
// and writes nothing when the function fails.
func testUpdateCompareAndSwap(t *testing.T, f *fixture) {
	_, o := f.acme()
	w := f.workspace(o, "prod")
	p := f.project(w, "web", "")
	g := f.group(w, "eng", "")

	seen := store.Organization{}
	got, err := f.s.UpdateOrganization(f.ctx, o.ID, func(old store.Organization) (store.Organization, error) {
		seen = old
		old.Name = "Acme"
		old.ID, old.CreatedAt = "forged", f.tick() // identity fields are kept
		return old, nil
	})
	ok(t, err)
	equal(t, seen, o)
	equal(t, got.ID, o.ID)
	equal(t, got.CreatedAt, o.CreatedAt)
	equal(t, got.Name, "Acme")
	equal(t, got.Version, int64(2))

	refused := errors.New("refused")
	_, err = f.s.UpdateOrganization(f.ctx, o.ID, func(old store.Organization) (store.Organization, error) {
		old.Name = "lost"
		return old, refused
	})
	wantErr(t, err, refused)
	after, err := f.s.GetOrganization(f.ctx, o.ID)
	ok(t, err)
	equal(t, after, got)

	ws, err := f.s.UpdateWorkspace(f.ctx, w.ID, func(old store.Workspace) (store.Workspace, error) {
		old.Name, old.Status, old.OrgID = "production", store.WorkspaceDeleting, "forged"
		return old, nil
	})
	ok(t, err)
	equal(t, ws.Name, "production")
	equal(t, ws.Status, w.Status) // status is SetWorkspaceStatus's
	equal(t, ws.OrgID, o.ID)
	equal(t, ws.Version, int64(2))

	pr, err := f.s.UpdateProject(f.ctx, p.ID, func(old store.Project) (store.Project, error) {
		old.Quota.CPU, old.Name, old.WorkspaceID = "4", "renamed", "forged"
		return old, nil
	})
	ok(t, err)
	equal(t, pr.Quota.CPU, "4")
	equal(t, pr.Name, "web")
	equal(t, pr.WorkspaceID, w.ID)
	equal(t, pr.Version, int64(2))
	gr, err := f.s.UpdateGroup(f.ctx, g.ID, func(old store.Group) (store.Group, error) {
		old.Name = "platform"
		return old, nil
	})
	ok(t, err)
	equal(t, gr.Version, int64(2))
	stored, err := f.s.GetGroup(f.ctx, g.ID)
	ok(t, err)
	equal(t, stored, gr)
}

// testUpdateRace: concurrent updates of different fields of one row all
// survive, because each update function sees the row as the previous
// writer left it; the version counts every write.
func testUpdateRace(t *testing.T, f *fixture) {
	_, o := f.acme()
	w := f.workspace(o, "prod")
	p := f.project(w, "web", "")
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.s.UpdateProject(f.ctx, p.ID, func(old store.Project) (store.Project, error) {
				// Each writer sets one field of its own: the quota's pods
				// counts the writers (a lost update would lose a count),
				// and every other writer also appends to cpu.
				old.Quota.Pods++
				if i%2 == 0 {
					old.Quota.CPU += fmt.Sprint(i)
				}
				return old, nil
			})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		ok(t, err)
	}
	got, err := f.s.GetProject(f.ctx, p.ID)
	ok(t, err)
	equal(t, got.Quota.Pods, p.Quota.Pods+n)
	equal(t, len(got.Quota.CPU), len(p.Quota.CPU)+n/2)
	equal(t, got.Version, int64(1+n))
}
