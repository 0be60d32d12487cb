package functions

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/authz"
	"github.com/hexabase/hexabase-ai/internal/functions/engine"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/tenancy"
)

// Bounds of a deploy.
const (
	MaxSourceBytes  = 4 << 20  // the uploaded file
	MaxArchiveBytes = 16 << 20 // an archive's files together
	MaxArchiveFiles = 100
	maxEnvBytes     = 64 << 10
	maxEnvVars      = 100
	maxDescription  = 256
	minTTL          = time.Minute
	maxTTL          = 30 * 24 * time.Hour
)

var (
	nameRE   = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)
	envRE    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)
	fileExts = map[string][]string{engine.RuntimeNode: {".js", ".mjs", ".cjs"}, engine.RuntimePython: {".py"}, engine.RuntimeGo: {".go"}, engine.RuntimeWasm: {".wasm"}}
)

// isArchive tells whether a file name is a zip or tar.gz archive.
func isArchive(name string) bool {
	return strings.HasSuffix(name, ".zip") || strings.HasSuffix(name, ".tar.gz") || strings.HasSuffix(name, ".tgz")
}

// files is the code of a version as the engine takes it: an archive's
// files, or the single file under the runtime's entry name.
func files(filename, entry string, content []byte) (map[string][]byte, error) {
	if !isArchive(filename) {
		return map[string][]byte{entry: content}, nil
	}
	out := map[string][]byte{}
	var total int64
	add := func(name string, r io.Reader) error {
		clean := path.Clean(name)
		if strings.HasPrefix(name, "/") || clean == ".." || strings.HasPrefix(clean, "../") || strings.Contains(name, "\\") {
			return fmt.Errorf("%q: absolute paths and .. are not allowed", name)
		}
		if len(out) == MaxArchiveFiles {
			return fmt.Errorf("more than %d files", MaxArchiveFiles)
		}
		b, err := io.ReadAll(io.LimitReader(r, MaxArchiveBytes-total+1))
		if err != nil {
			return fmt.Errorf("%q: %w", name, err)
		}
		if total += int64(len(b)); total > MaxArchiveBytes {
			return fmt.Errorf("the files hold more than %d MiB", MaxArchiveBytes>>20)
		}
		out[clean] = b
		return nil
	}
	if strings.HasSuffix(filename, ".zip") {
		zr, err := zip.NewReader(bytes.NewReader(content), int64(len(content)))
		if err != nil {
			return nil, errors.New("not a zip archive")
		}
		for _, f := range zr.File {
			if f.FileInfo().IsDir() {
				continue
			}
			if !f.Mode().IsRegular() {
				return nil, fmt.Errorf("%q: only regular files are allowed", f.Name)
			}
			rc, err := f.Open()
			if err != nil {
				return nil, fmt.Errorf("%q: %w", f.Name, err)
			}
			err = add(f.Name, rc)
			rc.Close()
			if err != nil {
				return nil, err
			}
		}
	} else {
		gz, err := gzip.NewReader(bytes.NewReader(content))
		if err != nil {
			return nil, errors.New("not a gzip-compressed tar archive")
		}
		tr := tar.NewReader(gz)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, errors.New("not a valid tar archive")
			}
			switch h.Typeflag {
			case tar.TypeDir:
				continue
			case tar.TypeReg:
				if err := add(h.Name, tr); err != nil {
					return nil, err
				}
			default:
				return nil, fmt.Errorf("%q: only regular files are allowed", h.Name)
			}
		}
	}
	if _, ok := out[entry]; !ok {
		return nil, fmt.Errorf("the archive has no %s", entry)
	}
	return out, nil
}

// runtimeInfo finds the runtime name among the engine's.
func (s *Service) runtimeInfo(name string) (engine.RuntimeInfo, error) {
	var avail []string
	for _, rt := range s.cfg.Engine.Runtimes() {
		if rt.Name == name {
			if !rt.Available {
				return rt, httpapi.Invalid(httpapi.Field("runtime", fmt.Sprintf("runtime %s is not available on this platform: %s", name, rt.Reason)))
			}
			return rt, nil
		}
		if rt.Available {
			avail = append(avail, rt.Name)
		}
	}
	if name == "" {
		return engine.RuntimeInfo{}, httpapi.Invalid(httpapi.Field("runtime", "is required; available: "+strings.Join(avail, ", ")))
	}
	return engine.RuntimeInfo{}, httpapi.Invalid(httpapi.Field("runtime", fmt.Sprintf("unknown runtime %q; available: %s", name, strings.Join(avail, ", "))))
}

// deploySpec is a checked deploy request.
type deploySpec struct {
	rt          engine.RuntimeInfo
	filename    string
	content     []byte
	files       map[string][]byte
	env         map[string]string
	limits      store.FunctionLimits
	access      string
	description string
	ttl         time.Duration
	digest      string
}

// limitsDefault are a version's limits where its deploy sets none.
func limitsDefault() store.FunctionLimits {
	return store.FunctionLimits{MemoryMB: 128, TimeoutSeconds: 10, Concurrency: 1, MaxInstances: 4}
}

func checkLimits(l *api.FunctionLimits) (store.FunctionLimits, []api.FieldError) {
	out := limitsDefault()
	if l == nil {
		return out, nil
	}
	var errs []api.FieldError
	for _, c := range []struct {
		field    string
		v        int
		min, max int
		dst      *int
	}{
		{"limits.memory_mb", l.MemoryMB, 16, 1024, &out.MemoryMB},
		{"limits.timeout_seconds", l.TimeoutSeconds, 1, 300, &out.TimeoutSeconds},
		{"limits.concurrency", l.Concurrency, 1, 100, &out.Concurrency},
		{"limits.max_instances", l.MaxInstances, 1, 100, &out.MaxInstances},
	} {
		if c.v == 0 {
			continue
		}
		if c.v < c.min || c.v > c.max {
			errs = append(errs, httpapi.Field(c.field, fmt.Sprintf("must be %d to %d", c.min, c.max)))
			continue
		}
		*c.dst = c.v
	}
	return out, errs
}

// checkDeploy validates a deploy request; oversized code is a 413.
func (s *Service) checkDeploy(req api.DeployFunctionRequest) (deploySpec, error) {
	rt, err := s.runtimeInfo(req.Runtime)
	if err != nil {
		return deploySpec{}, err
	}
	sp := deploySpec{rt: rt, filename: req.Source.Filename, content: req.Source.Content, access: req.Access, description: req.Description, env: req.Env}
	if len(sp.content) > MaxSourceBytes {
		return sp, &httpapi.Error{Status: http.StatusRequestEntityTooLarge, Type: "body-too-large", Title: "Request body too large",
			Detail: fmt.Sprintf("source.content: the code is %d bytes, more than %d MiB", len(sp.content), MaxSourceBytes>>20)}
	}
	var errs []api.FieldError
	bad := func(f, msg string) { errs = append(errs, httpapi.Field(f, msg)) }
	switch {
	case sp.filename == "":
		bad("source.filename", "is required")
	case len(sp.filename) > 255 || strings.ContainsAny(sp.filename, "/\\\x00") || sp.filename == "." || sp.filename == "..":
		bad("source.filename", "must be a file name without a directory")
	case len(sp.content) == 0:
		bad("source.content", "is empty")
	case isArchive(sp.filename):
		if sp.files, err = files(sp.filename, rt.Entry, sp.content); err != nil {
			bad("source.content", "archive: "+err.Error())
		}
	default:
		ok := false
		for _, ext := range fileExts[rt.Name] {
			ok = ok || strings.HasSuffix(sp.filename, ext)
		}
		if !ok {
			bad("source.filename", fmt.Sprintf("a %s function is a %s file or a .zip or .tar.gz archive holding %s", rt.Name, strings.Join(fileExts[rt.Name], " or "), rt.Entry))
		}
		sp.files = map[string][]byte{rt.Entry: sp.content}
	}
	switch sp.access {
	case "":
		sp.access = store.FunctionPrivate
	case store.FunctionPrivate, store.FunctionPublic:
	default:
		bad("access", fmt.Sprintf("%q must be private or public", sp.access))
	}
	if len(sp.description) > maxDescription {
		bad("description", fmt.Sprintf("must be at most %d characters", maxDescription))
	}
	size := 0
	names := make([]string, 0, len(sp.env))
	for k := range sp.env {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		size += len(k) + len(sp.env[k])
		if !envRE.MatchString(k) {
			bad("env."+k, "a name is letters, digits and _, not starting with a digit (at most 128)")
		} else if strings.HasPrefix(strings.ToUpper(k), "HKS_") {
			bad("env."+k, "names starting with HKS_ are the platform's")
		}
	}
	if len(names) > maxEnvVars || size > maxEnvBytes {
		bad("env", fmt.Sprintf("at most %d variables of %d KiB together", maxEnvVars, maxEnvBytes>>10))
	}
	var lerrs []api.FieldError
	sp.limits, lerrs = checkLimits(req.Limits)
	errs = append(errs, lerrs...)
	if req.TTL != "" {
		d, err := time.ParseDuration(req.TTL)
		if err != nil || d < minTTL || d > maxTTL {
			bad("ttl", fmt.Sprintf("%q must be a Go duration from 1m to 720h (30 days)", req.TTL))
		}
		sp.ttl = d
	}
	if len(errs) > 0 {
		return sp, httpapi.Invalid(errs...)
	}
	sp.digest = digest(rt.Name, sp.filename, sp.content, sp.env, sp.limits)
	return sp, nil
}

// digest is the sha256 of what makes a version: code, runtime, env and limits.
func digest(runtime, filename string, content []byte, env map[string]string, l store.FunctionLimits) string {
	h := sha256.New()
	fmt.Fprintf(h, "runtime=%s\nfilename=%s\ncontent=%d\n", runtime, filename, len(content))
	h.Write(content)
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "\nenv %d:%s=%d:%s", len(k), k, len(env[k]), env[k])
	}
	fmt.Fprintf(h, "\nlimits=%d,%d,%d,%d", l.MemoryMB, l.TimeoutSeconds, l.Concurrency, l.MaxInstances)
	return hex.EncodeToString(h.Sum(nil))
}

func engineLimits(l store.FunctionLimits) engine.Limits {
	return engine.Limits{MemoryBytes: int64(l.MemoryMB) << 20, Timeout: time.Duration(l.TimeoutSeconds) * time.Second,
		Concurrency: l.Concurrency, MaxInstances: l.MaxInstances, Pids: 64}
}

// build checks the code with the engine: a refused build is a 422 with
// the runtime's words.
func (s *Service) build(ctx context.Context, fn store.Function, sp deploySpec) (int64, error) {
	start := time.Now()
	err := s.cfg.Engine.Build(ctx, engine.Version{Key: fn.ID + "/build", Owner: fn.WorkspaceID, Runtime: sp.rt.Name, Digest: sp.digest,
		Files: sp.files, Env: sp.env, Limits: engineLimits(sp.limits)})
	var be *engine.BuildError
	switch {
	case errors.As(err, &be):
		e := httpapi.Invalid(httpapi.Field("source", be.Message))
		e.Type, e.Title, e.Detail = "build-failed", "The code was refused", be.Runtime+": "+be.Message
		return 0, e
	case errors.Is(err, engine.ErrUnavailable):
		return 0, httpapi.Invalid(httpapi.Field("runtime", fmt.Sprintf("runtime %s is not available on this platform: %s", sp.rt.Name, err)))
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
		// The engine's own time limit of a build, on a busy machine (the
		// first go build on an empty cache compiles the standard library).
		return 0, &httpapi.Error{Status: http.StatusServiceUnavailable, Type: "build-timeout", Title: "The build did not finish in time",
			Detail: "the build of the code took longer than the platform allows; try again (a first go build also compiles the parts of the standard library it uses)",
			Header: http.Header{"Retry-After": {"30"}}, Cause: err}
	case err != nil:
		return 0, fmt.Errorf("build: %w", err)
	}
	return time.Since(start).Milliseconds(), nil
}

func (s *Service) deploy(r *http.Request) (any, error) {
	ps, err := s.project(r, authz.Develop)
	if err != nil {
		return nil, err
	}
	name := r.PathValue("function")
	if !nameRE.MatchString(name) {
		return nil, httpapi.Invalid(httpapi.Field("function", "a name is 1 to 63 lowercase letters, digits and dashes, starting with a letter"))
	}
	var req api.DeployFunctionRequest
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	ctx := r.Context()
	fn, err := s.cfg.Store.GetFunctionByName(ctx, ps.Project.ID, name)
	exists := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if exists && req.Runtime != fn.Runtime {
		return nil, httpapi.Invalid(httpapi.Field("runtime", fmt.Sprintf("the function runs %s; a runtime cannot change (delete the function and deploy it again)", fn.Runtime)))
	}
	sp, err := s.checkDeploy(req)
	if err != nil {
		return nil, err
	}
	dry, err := dryRunQuery(r)
	if err != nil {
		return nil, err
	}
	now, user := s.cfg.Now().UTC(), ""
	if p, ok := httpapi.PrincipalFrom(ctx); ok {
		user = p.UserID
	}
	var expires time.Time
	if sp.ttl > 0 {
		expires = now.Add(sp.ttl)
	}
	if !exists {
		if err := httpapi.CheckVersion(r, req.ResourceVersion, "0"); err != nil && (req.ResourceVersion != "" || r.Header.Get("If-Match") != "") {
			return nil, err
		}
		fn = store.Function{ID: store.NewID(), OrgID: ps.Org.ID, WorkspaceID: ps.Workspace.ID, ProjectID: ps.Project.ID, Name: name, Runtime: sp.rt.Name,
			Access: sp.access, Description: sp.description, LatestVersion: 1, ExpiresAt: expires, CreatedAt: now, UpdatedAt: now, Version: 1,
			Aliases: []store.FunctionAlias{{Name: store.AliasLatest, Targets: []store.AliasTarget{{Version: 1, Weight: 100}}}}}
		if dry {
			return s.dryDeploy(ctx, ps, fn, sp, true, "0")
		}
		ms, err := s.build(ctx, fn, sp)
		if err != nil {
			return nil, err
		}
		if err := s.cfg.Store.CreateFunction(ctx, fn, store.FunctionVersion{Digest: sp.digest, Filename: sp.filename, Content: sp.content, Env: sp.env,
			Limits: sp.limits, CreatedBy: user, BuildMillis: ms, CreatedAt: now}); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return nil, httpapi.Conflict("function", "a function of this name was created at the same time; read it and retry")
			}
			return nil, err
		}
		created, err := s.cfg.Store.GetFunction(ctx, fn.ID)
		if err != nil {
			return nil, err
		}
		out, err := s.functionOut(ctx, ps, created)
		return &httpapi.Response{Status: http.StatusCreated, Body: out}, err
	}
	rv := strconv.FormatInt(fn.Version, 10)
	if err := httpapi.CheckVersion(r, req.ResourceVersion, rv); err != nil {
		return nil, err
	}
	latest, err := s.cfg.Store.GetFunctionVersion(ctx, fn.ID, fn.LatestVersion)
	if err != nil {
		return nil, err
	}
	if dry {
		next := fn
		next.Access, next.Description = sp.access, sp.description
		switch {
		case sp.ttl == 0:
			next.ExpiresAt = time.Time{}
		case next.ExpiresAt.IsZero() || latest.Digest != sp.digest:
			next.ExpiresAt = expires
		}
		if latest.Digest != sp.digest {
			next.LatestVersion++
		}
		return s.dryDeploy(ctx, ps, next, sp, latest.Digest != sp.digest, rv)
	}
	settings := func(old store.Function) (store.Function, error) {
		if old.Version != fn.Version {
			return old, errRaced
		}
		old.Access, old.Description, old.UpdatedAt = sp.access, sp.description, now
		switch {
		case sp.ttl == 0:
			old.ExpiresAt = time.Time{}
		case old.ExpiresAt.IsZero() || latest.Digest != sp.digest:
			old.ExpiresAt = expires
		}
		return old, nil
	}
	var out store.Function
	if latest.Digest == sp.digest {
		if fn.Access == sp.access && fn.Description == sp.description && (sp.ttl == 0) == fn.ExpiresAt.IsZero() {
			out = fn // unchanged: nothing written
		} else if out, err = s.cfg.Store.UpdateFunction(ctx, fn.ID, settings); err != nil {
			return nil, s.raced(err, req, r)
		}
	} else {
		ms, err := s.build(ctx, fn, sp)
		if err != nil {
			return nil, err
		}
		if out, _, err = s.cfg.Store.AddFunctionVersion(ctx, fn.ID, store.FunctionVersion{Digest: sp.digest, Filename: sp.filename, Content: sp.content,
			Env: sp.env, Limits: sp.limits, CreatedBy: user, BuildMillis: ms, CreatedAt: now}, func(old store.Function) (store.Function, error) {
			next, err := settings(old)
			if err != nil {
				return next, err
			}
			moveAlias(&next, store.AliasLatest, []store.AliasTarget{{Version: old.LatestVersion + 1, Weight: 100}})
			return next, nil
		}); err != nil {
			return nil, s.raced(err, req, r)
		}
	}
	o, err := s.functionOut(ctx, ps, out)
	return &httpapi.Response{Status: http.StatusOK, Body: o}, err
}

// dryRunQuery reads a deploy's dry_run query: true (or 1) checks the
// deploy without storing it.
func dryRunQuery(r *http.Request) (bool, error) {
	v := r.URL.Query().Get("dry_run")
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, httpapi.Invalid(httpapi.Field("dry_run", "must be true or false"))
	}
	return b, nil
}

// dryDeploy answers a deploy with dry_run=true: everything a deploy
// checks (the role, the request, the resource_version, the runtime) and,
// when the code is new, the build (the runtime's compile or syntax check,
// whose refusal is the same 422), but nothing is stored and no instance
// stays: 200 with the function as the deploy would leave it (its
// resource_version the current one, "0" for a new function).
func (s *Service) dryDeploy(ctx context.Context, ps tenancy.ProjectScope, fn store.Function, sp deploySpec, build bool, rv string) (any, error) {
	if build {
		probe := fn
		probe.ID = "dry-run-" + store.NewID() // its own engine key, forgotten at once
		_, err := s.build(ctx, probe, sp)
		s.cfg.Engine.Forget(probe.ID + "/build")
		if err != nil {
			return nil, err
		}
	}
	out := api.Function{Name: fn.Name, Project: ps.Project.Name, Runtime: sp.rt.Name, Access: fn.Access, Description: fn.Description,
		URL: s.URL(ps, fn.Name), LatestVersion: fn.LatestVersion, Aliases: []api.FunctionAlias{}, Secrets: []string{}, Limits: limitsOut(sp.limits),
		CreatedAt: fn.CreatedAt, UpdatedAt: fn.UpdatedAt, ResourceVersion: rv}
	if !fn.ExpiresAt.IsZero() {
		t := fn.ExpiresAt
		out.ExpiresAt = &t
	}
	return &httpapi.Response{Status: http.StatusOK, Body: out}, nil
}

// errRaced is a compare-and-swap that found the function changed since
// it was read.
var errRaced = errors.New("the function changed meanwhile")

// raced maps a lost race onto 412 (the caller named a version) or 409.
func (s *Service) raced(err error, req api.DeployFunctionRequest, r *http.Request) error {
	if !errors.Is(err, errRaced) && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if errors.Is(err, store.ErrNotFound) {
		return httpapi.NotFound("function")
	}
	if req.ResourceVersion != "" || r.Header.Get("If-Match") != "" {
		return httpapi.PreconditionFailed("newer")
	}
	return httpapi.Conflict("function", "the function was changed at the same time; read it and retry")
}

// moveAlias points alias name of fn at targets, keeping what it pointed
// at as Previous (creating it when missing).
func moveAlias(fn *store.Function, name string, targets []store.AliasTarget) {
	for i, a := range fn.Aliases {
		if a.Name == name {
			fn.Aliases[i].Previous, fn.Aliases[i].Targets = a.Targets, targets
			return
		}
	}
	fn.Aliases = append(fn.Aliases, store.FunctionAlias{Name: name, Targets: targets})
}

// checkTargets validates an alias's targets against fn's versions.
func checkTargets(fn store.Function, ts []api.FunctionAliasTarget) ([]store.AliasTarget, error) {
	switch {
	case len(ts) == 0:
		return nil, httpapi.Invalid(httpapi.Field("targets", "at least one target is required"))
	case len(ts) > 2:
		return nil, httpapi.Invalid(httpapi.Field("targets", "at most 2 targets"))
	}
	sum := 0
	var out []store.AliasTarget
	for i, t := range ts {
		f := fmt.Sprintf("targets[%d]", i)
		if t.Version < 1 || t.Version > fn.LatestVersion {
			return nil, httpapi.Invalid(httpapi.Field(f+".version", fmt.Sprintf("version %d does not exist (the latest is %d)", t.Version, fn.LatestVersion)))
		}
		if len(ts) == 1 && t.Weight == 0 {
			t.Weight = 100
		}
		if t.Weight < 1 || t.Weight > 100 {
			return nil, httpapi.Invalid(httpapi.Field(f+".weight", "must be 1 to 100"))
		}
		if i == 1 && t.Version == ts[0].Version {
			return nil, httpapi.Invalid(httpapi.Field(f+".version", "both targets are the same version"))
		}
		sum += t.Weight
		out = append(out, store.AliasTarget{Version: t.Version, Weight: t.Weight})
	}
	if sum != 100 {
		return nil, httpapi.Invalid(httpapi.Field("targets", fmt.Sprintf("the weights add up to %d, not 100", sum)))
	}
	return out, nil
}

// change applies update to the function of the request under a
// compare-and-swap and answers the function.
func (s *Service) change(r *http.Request, update func(old store.Function) (store.Function, error)) (any, error) {
	ps, fn, err := s.scope(r, authz.Develop)
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now().UTC()
	out, err := s.cfg.Store.UpdateFunction(r.Context(), fn.ID, func(old store.Function) (store.Function, error) {
		old.UpdatedAt = now
		return update(old)
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, httpapi.NotFound("function")
	}
	if err != nil {
		return nil, err
	}
	if out.Secrets != nil && key(out, 1) != key(fn, 1) {
		// Instances carry the old secrets: stop them.
		for v := 1; v <= fn.LatestVersion; v++ {
			s.cfg.Engine.Forget(key(fn, v))
		}
	}
	return s.functionOut(r.Context(), ps, out)
}

func (s *Service) setAlias(r *http.Request) (any, error) {
	name := r.PathValue("alias")
	if !nameRE.MatchString(name) {
		return nil, httpapi.Invalid(httpapi.Field("alias", "a name is 1 to 63 lowercase letters, digits and dashes, starting with a letter"))
	}
	var req api.SetFunctionAliasRequest
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	return s.change(r, func(old store.Function) (store.Function, error) {
		ts, err := checkTargets(old, req.Targets)
		if err != nil {
			return old, err
		}
		if _, ok := old.Alias(name); !ok && len(old.Aliases) >= 20 {
			return old, httpapi.Invalid(httpapi.Field("alias", "a function has at most 20 aliases"))
		}
		moveAlias(&old, name, ts)
		return old, nil
	})
}

func (s *Service) deleteAlias(r *http.Request) (any, error) {
	name := r.PathValue("alias")
	if name == store.AliasLatest {
		return nil, httpapi.Invalid(httpapi.Field("alias", "latest cannot be deleted; it follows every deploy"))
	}
	_, err := s.change(r, func(old store.Function) (store.Function, error) {
		if _, ok := old.Alias(name); !ok {
			return old, httpapi.NotFound("alias")
		}
		var keep []store.FunctionAlias
		for _, a := range old.Aliases {
			if a.Name != name {
				keep = append(keep, a)
			}
		}
		old.Aliases = keep
		return old, nil
	})
	if err != nil {
		return nil, err
	}
	return nil, nil
}

func (s *Service) rollback(r *http.Request) (any, error) {
	var req api.RollbackFunctionRequest
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	if req.Alias == "" {
		req.Alias = store.AliasLatest
	}
	return s.change(r, func(old store.Function) (store.Function, error) {
		a, ok := old.Alias(req.Alias)
		if !ok {
			return old, httpapi.Invalid(httpapi.Field("alias", fmt.Sprintf("the function has no alias %q", req.Alias)))
		}
		var ts []store.AliasTarget
		switch {
		case req.Version != 0:
			if req.Version < 1 || req.Version > old.LatestVersion {
				return old, httpapi.Invalid(httpapi.Field("version", fmt.Sprintf("version %d does not exist (the latest is %d)", req.Version, old.LatestVersion)))
			}
			ts = []store.AliasTarget{{Version: req.Version, Weight: 100}}
		case len(a.Previous) == 0:
			return old, httpapi.Invalid(httpapi.Field("version", fmt.Sprintf("alias %s has pointed at nothing else yet; name a version", req.Alias)))
		default:
			ts = a.Previous
		}
		moveAlias(&old, req.Alias, ts)
		return old, nil
	})
}

func (s *Service) secrets(r *http.Request) (any, error) {
	var req api.FunctionSecretsRequest
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	var errs []api.FieldError
	for k, v := range req.Set {
		if !envRE.MatchString(k) || strings.HasPrefix(strings.ToUpper(k), "HKS_") {
			errs = append(errs, httpapi.Field("set."+k, "a name is letters, digits and _, not starting with a digit nor HKS_"))
		}
		if len(v) > 32<<10 {
			errs = append(errs, httpapi.Field("set."+k, "a value is at most 32 KiB"))
		}
	}
	if len(errs) > 0 {
		return nil, httpapi.Invalid(errs...)
	}
	_, fn, err := s.scope(r, authz.Develop)
	if err != nil {
		return nil, err
	}
	sealed := map[string][]byte{}
	for k, v := range req.Set {
		b, err := s.cfg.Sealer.Seal([]byte(v), secretAD(fn.ID, k))
		if err != nil {
			return nil, fmt.Errorf("seal secret: %w", err)
		}
		sealed[k] = b
	}
	return s.change(r, func(old store.Function) (store.Function, error) {
		if old.Secrets == nil {
			old.Secrets = map[string][]byte{}
		}
		for _, k := range req.Remove {
			delete(old.Secrets, k)
		}
		for k, b := range sealed {
			old.Secrets[k] = b
		}
		if len(old.Secrets) > 50 {
			return old, httpapi.Invalid(httpapi.Field("set", "a function has at most 50 secrets"))
		}
		return old, nil
	})
}

// secretAD binds a sealed secret to its function and name.
func secretAD(functionID, name string) []byte {
	return []byte("function-secret:" + functionID + ":" + name)
}
