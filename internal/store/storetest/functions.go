package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/store"
)

// function creates a function named name in p (of w) with one version.
func (f *fixture) function(w store.Workspace, p store.Project, name string) (store.Function, store.FunctionVersion) {
	f.t.Helper()
	at := f.tick()
	fn := store.Function{ID: store.NewID(), OrgID: w.OrgID, WorkspaceID: w.ID, ProjectID: p.ID, Name: name, Runtime: "node", Access: store.FunctionPrivate,
		Description: "says hello", LatestVersion: 1, Aliases: []store.FunctionAlias{{Name: store.AliasLatest, Targets: []store.AliasTarget{{Version: 1, Weight: 100}}}},
		Secrets: map[string][]byte{"TOKEN": []byte("sealed-bytes")}, CreatedAt: at, UpdatedAt: at, Version: 1}
	v := store.FunctionVersion{FunctionID: fn.ID, Version: 1, Digest: "d1", Filename: "index.js", Content: []byte("module.exports = async () => 'hi'"),
		Env: map[string]string{"MODE": "test"}, Limits: store.FunctionLimits{MemoryMB: 128, TimeoutSeconds: 10, Concurrency: 1, MaxInstances: 4},
		CreatedBy: "u1", BuildMillis: 12, CreatedAt: at}
	ok(f.t, f.s.CreateFunction(f.ctx, fn, v))
	v.Size = int64(len(v.Content))
	return fn, v
}

func (f *fixture) invocation(fn store.Function, at time.Time, status string) store.Invocation {
	f.t.Helper()
	i := store.Invocation{ID: store.NewID(), FunctionID: fn.ID, OrgID: fn.OrgID, WorkspaceID: fn.WorkspaceID, Version: 1, Alias: "latest", Trigger: "api",
		Status: status, StartedAt: at, Logs: ""}
	if status == store.InvocationSucceeded {
		i.DurationMS, i.Logs, i.Response, i.FinishedAt = 1.5, "hello\n", `{"status":200}`, at.Add(time.Millisecond)
	}
	ok(f.t, f.s.CreateInvocation(f.ctx, i))
	return i
}

func testFunctions(t *testing.T, f *fixture) {
	_, o := f.acme()
	w, w2 := f.workspace(o, "prod"), f.workspace(o, "dev")
	p, p2 := f.project(w, "shop", ""), f.project(w, "blog", "")
	other := f.project(w2, "shop", "")
	fn, v1 := f.function(w, p, "hello")

	stored(t, f, f.s.GetFunction, fn.ID, fn)
	got, err := f.s.GetFunctionByName(f.ctx, p.ID, "hello")
	ok(t, err)
	equal(t, got, fn)
	_, err = f.s.GetFunctionByName(f.ctx, p2.ID, "hello")
	wantErr(t, err, store.ErrNotFound)
	gv, err := f.s.GetFunctionVersion(f.ctx, fn.ID, 1)
	ok(t, err)
	equal(t, gv, v1)
	_, err = f.s.GetFunctionVersion(f.ctx, fn.ID, 2)
	wantErr(t, err, store.ErrNotFound)

	t.Run("conflicts and missing references", func(t *testing.T) {
		for name, mod := range map[string]func(*store.Function){
			"same name in the project":     func(x *store.Function) { x.Name = "hello" },
			"same id":                      func(x *store.Function) { x.ID = fn.ID },
			"org":                          func(x *store.Function) { x.OrgID = store.NewID() },
			"workspace":                    func(x *store.Function) { x.WorkspaceID = store.NewID() },
			"project":                      func(x *store.Function) { x.ProjectID = store.NewID() },
			"project of another workspace": func(x *store.Function) { x.ProjectID = other.ID },
		} {
			t.Run(name, func(t *testing.T) {
				x := store.Function{ID: store.NewID(), OrgID: o.ID, WorkspaceID: w.ID, ProjectID: p.ID, Name: "fresh", Runtime: "go", Access: store.FunctionPublic,
					CreatedAt: f.now, UpdatedAt: f.now, Version: 1}
				mod(&x)
				wantErr(t, f.s.CreateFunction(f.ctx, x, store.FunctionVersion{Digest: "x", Filename: "main.go", CreatedAt: f.now}), store.ErrConflict)
			})
		}
		// The same name in another project is fine.
		f.function(w, p2, "hello")
	})

	t.Run("list by name in pages", func(t *testing.T) {
		q, _ := f.function(w, p2, "a-first")
		z, _ := f.function(w, p2, "z-last")
		page, next, err := f.s.ListFunctions(f.ctx, p2.ID, store.Page{Limit: 2})
		ok(t, err)
		if len(page) != 2 || page[0].ID != q.ID || page[1].Name != "hello" {
			t.Fatalf("first page: %+v", page)
		}
		page, next, err = f.s.ListFunctions(f.ctx, p2.ID, store.Page{Limit: 2, After: next})
		ok(t, err)
		equal(t, page, []store.Function{z})
		equal(t, next, "")
	})

	t.Run("update is a compare-and-swap", func(t *testing.T) {
		exp := f.tick().Add(time.Hour)
		up, err := f.s.UpdateFunction(f.ctx, fn.ID, func(old store.Function) (store.Function, error) {
			old.Access, old.Description, old.ExpiresAt, old.UpdatedAt = store.FunctionPublic, "new", exp, f.tick()
			old.Name, old.Runtime, old.LatestVersion = "renamed", "go", 9 // ignored
			old.Aliases = append(old.Aliases, store.FunctionAlias{Name: "stable", Targets: []store.AliasTarget{{Version: 1, Weight: 100}}})
			old.Secrets = map[string][]byte{"B": {1, 2, 3}}
			return old, nil
		})
		ok(t, err)
		equal(t, up.Version, fn.Version+1)
		equal(t, up.Name, "hello")
		equal(t, up.LatestVersion, 1)
		stored(t, f, f.s.GetFunction, fn.ID, up)
		boom := errors.New("boom")
		_, err = f.s.UpdateFunction(f.ctx, fn.ID, func(store.Function) (store.Function, error) { return store.Function{}, boom })
		wantErr(t, err, boom)
		_, err = f.s.UpdateFunction(f.ctx, store.NewID(), func(x store.Function) (store.Function, error) { return x, nil })
		wantErr(t, err, store.ErrNotFound)

		// Expiry.
		gone, err := f.s.ListExpiredFunctions(f.ctx, exp.Add(-time.Second))
		ok(t, err)
		equal(t, len(gone), 0)
		gone, err = f.s.ListExpiredFunctions(f.ctx, exp)
		ok(t, err)
		equal(t, gone, []store.Function{up})
		// Clearing it.
		up, err = f.s.UpdateFunction(f.ctx, fn.ID, func(old store.Function) (store.Function, error) { old.ExpiresAt = time.Time{}; return old, nil })
		ok(t, err)
		gone, err = f.s.ListExpiredFunctions(f.ctx, exp.Add(time.Hour))
		ok(t, err)
		equal(t, len(gone), 0)
		stored(t, f, f.s.GetFunction, fn.ID, up)
	})

	t.Run("versions", func(t *testing.T) {
		at := f.tick()
		up, v2, err := f.s.AddFunctionVersion(f.ctx, fn.ID, store.FunctionVersion{Version: 77, Digest: "d2", Filename: "code.zip", Content: []byte{0, 1, 2, 0xff},
			Limits: store.FunctionLimits{MemoryMB: 256}, CreatedAt: at}, func(old store.Function) (store.Function, error) {
			old.UpdatedAt = at
			return old, nil
		})
		ok(t, err)
		equal(t, v2.Version, 2)
		equal(t, up.LatestVersion, 2)
		gv, err := f.s.GetFunctionVersion(f.ctx, fn.ID, 2)
		ok(t, err)
		equal(t, gv.Content, []byte{0, 1, 2, 0xff})
		equal(t, gv.Env, map[string]string{})
		list, err := f.s.ListFunctionVersions(f.ctx, fn.ID)
		ok(t, err)
		if len(list) != 2 || list[0].Version != 2 || list[0].Size != 4 || list[0].Content != nil || list[1].Size != v1.Size || list[1].Digest != "d1" {
			t.Fatalf("versions: %+v", list)
		}
		// A failed update adds no version.
		boom := errors.New("boom")
		_, _, err = f.s.AddFunctionVersion(f.ctx, fn.ID, store.FunctionVersion{Digest: "d3", Filename: "x", CreatedAt: at},
			func(store.Function) (store.Function, error) { return store.Function{}, boom })
		wantErr(t, err, boom)
		_, err = f.s.GetFunctionVersion(f.ctx, fn.ID, 3)
		wantErr(t, err, store.ErrNotFound)
	})
}

// testFunctionVersionRace: concurrent deploys of one function each get a
// distinct version number and none is lost.
func testFunctionVersionRace(t *testing.T, f *fixture) {
	_, o := f.acme()
	w := f.workspace(o, "prod")
	fn, _ := f.function(w, f.project(w, "shop", ""), "hello")
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := f.s.AddFunctionVersion(f.ctx, fn.ID, store.FunctionVersion{Digest: fmt.Sprint("d", i), Filename: "index.js", CreatedAt: f.now},
				func(old store.Function) (store.Function, error) { return old, nil })
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		ok(t, err)
	}
	got, err := f.s.GetFunction(f.ctx, fn.ID)
	ok(t, err)
	equal(t, got.LatestVersion, n+1)
	equal(t, got.Version, fn.Version+n)
	list, err := f.s.ListFunctionVersions(f.ctx, fn.ID)
	ok(t, err)
	equal(t, len(list), n+1)
}

func testFunctionInvocations(t *testing.T, f *fixture) {
	_, o := f.acme()
	w := f.workspace(o, "prod")
	fn, _ := f.function(w, f.project(w, "shop", ""), "hello")
	base := f.tick()
	var all []store.Invocation
	for i := range 5 {
		// Two share a start time: the id orders them.
		at := base.Add(time.Duration(i/2*2) * time.Second)
		all = append(all, f.invocation(fn, at, store.InvocationSucceeded))
	}
	wantErr(t, f.s.CreateInvocation(f.ctx, all[0]), store.ErrConflict)
	orphan := all[0]
	orphan.ID, orphan.FunctionID = store.NewID(), store.NewID()
	wantErr(t, f.s.CreateInvocation(f.ctx, orphan), store.ErrConflict)
	stored(t, f, f.s.GetInvocation, all[1].ID, all[1])

	t.Run("newest first in pages", func(t *testing.T) {
		var seen []store.Invocation
		after := ""
		for {
			page, next, err := f.s.ListInvocations(f.ctx, fn.ID, store.Page{Limit: 2, After: after})
			ok(t, err)
			seen = append(seen, page...)
			if next == "" {
				break
			}
			after = next
		}
		equal(t, seen, []store.Invocation{all[4], all[3], all[2], all[1], all[0]})
		_, _, err := f.s.ListInvocations(f.ctx, fn.ID, store.Page{After: store.EncodeCursor("no-bar")})
		wantErr(t, err, store.ErrInvalidCursor)
	})

	t.Run("finish once", func(t *testing.T) {
		n, err := f.s.CountUnfinishedInvocations(f.ctx, fn.ID)
		ok(t, err)
		equal(t, n, 0)
		q := f.invocation(fn, base.Add(time.Hour), store.InvocationQueued)
		n, err = f.s.CountUnfinishedInvocations(f.ctx, fn.ID)
		ok(t, err)
		equal(t, n, 1)
		done := q
		done.Status, done.ExitReason, done.ColdStart, done.DurationMS, done.Logs, done.Error, done.Version, done.Alias, done.FinishedAt =
			store.InvocationFailed, "timeout", true, 10000.25, "partial", "timed out", 1, "stable", q.StartedAt.Add(10*time.Second)
		ok(t, f.s.FinishInvocation(f.ctx, done))
		stored(t, f, f.s.GetInvocation, q.ID, done)
		n, err = f.s.CountUnfinishedInvocations(f.ctx, fn.ID)
		ok(t, err)
		equal(t, n, 0)
		wantErr(t, f.s.FinishInvocation(f.ctx, done), store.ErrConflict)
		missing := done
		missing.ID = store.NewID()
		wantErr(t, f.s.FinishInvocation(f.ctx, missing), store.ErrNotFound)
	})

	t.Run("retention", func(t *testing.T) {
		n, err := f.s.DeleteInvocationsBefore(f.ctx, base.Add(2*time.Second))
		ok(t, err)
		equal(t, n, 2)
		_, err = f.s.GetInvocation(f.ctx, all[0].ID)
		wantErr(t, err, store.ErrNotFound)
		stored(t, f, f.s.GetInvocation, all[2].ID, all[2])
	})
}

// testFunctionCascade: deleting a function, its project, its workspace
// or its organization removes the functions, versions and invocations.
func testFunctionCascade(t *testing.T, f *fixture) {
	owner, o := f.acme()
	w := f.workspace(o, "prod")
	p := f.project(w, "shop", "")
	gone := func(t *testing.T, fn store.Function, inv store.Invocation) {
		t.Helper()
		_, err := f.s.GetFunction(f.ctx, fn.ID)
		wantErr(t, err, store.ErrNotFound)
		_, err = f.s.GetFunctionVersion(f.ctx, fn.ID, 1)
		wantErr(t, err, store.ErrNotFound)
		_, err = f.s.GetInvocation(f.ctx, inv.ID)
		wantErr(t, err, store.ErrNotFound)
	}
	t.Run("function", func(t *testing.T) {
		fn, _ := f.function(w, p, "one")
		inv := f.invocation(fn, f.tick(), store.InvocationSucceeded)
		ok(t, f.s.DeleteFunction(f.ctx, fn.ID))
		gone(t, fn, inv)
		wantErr(t, f.s.DeleteFunction(f.ctx, fn.ID), store.ErrNotFound)
	})
	t.Run("project", func(t *testing.T) {
		q := f.project(w, "temp", "")
		fn, _ := f.function(w, q, "one")
		inv := f.invocation(fn, f.tick(), store.InvocationSucceeded)
		ok(t, f.s.DeleteProject(f.ctx, q.ID))
		gone(t, fn, inv)
	})
	t.Run("workspace", func(t *testing.T) {
		w2 := f.workspace(o, "gone")
		fn, _ := f.function(w2, f.project(w2, "shop", ""), "one")
		inv := f.invocation(fn, f.tick(), store.InvocationSucceeded)
		ok(t, f.s.DeleteWorkspace(f.ctx, w2.ID))
		gone(t, fn, inv)
	})
	t.Run("organization", func(t *testing.T) {
		o2 := f.org(owner, "gone")
		w2 := f.workspace(o2, "prod")
		fn, _ := f.function(w2, f.project(w2, "shop", ""), "one")
		inv := f.invocation(fn, f.tick(), store.InvocationSucceeded)
		ok(t, f.s.DeleteOrganization(f.ctx, o2.ID))
		gone(t, fn, inv)
	})
}
