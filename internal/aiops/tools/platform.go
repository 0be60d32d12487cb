package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// What a tool's requests go to (Tool.Target, Proposal.Target).
const (
	// TargetWorkspace is the workspace cluster's API server, reached
	// with Target.Client (the default: "").
	TargetWorkspace = store.PlanTargetWorkspace
	// TargetPlatform is the platform's own API (the functions routes),
	// reached with Target.Platform as the caller.
	TargetPlatform = store.PlanTargetPlatform
)

// maxPlatformAnswer bounds what a tool reads of one platform answer.
const maxPlatformAnswer = 8 << 20

// platformPrefix is where every platform request of a tool goes.
const platformPrefix = "/api/v1/"

// platformPath reports whether p is a path of the platform's API a tool
// may send to.
func platformPath(p string) bool {
	return strings.HasPrefix(p, platformPrefix) && !strings.Contains(p, "..") && !strings.Contains(p, "//")
}

func (t *Target) checkPlatform() error {
	if t == nil || t.Platform == nil {
		return fmt.Errorf("tools: the target has no platform API: %w", ErrNotAvailable)
	}
	return nil
}

// checkFor checks that t offers what a tool reaching target needs.
func (t *Target) checkFor(target string) error {
	if target == TargetPlatform {
		return t.checkPlatform()
	}
	return t.check()
}

// platformDo sends method to path (an API path with its query) with body
// (JSON, nil for none) to the platform's API as the caller: the request
// carries the caller's principal (httpapi.AsCaller), never a credential
// of the platform's own, so the API's middleware (tenancy's resolution
// and project visibility, audit, per-user limits) and the handler's own
// role checks decide as for an HTTP call of the caller. It answers the
// answer's body; a problem (status >= 400) is a *ClusterError with
// Platform set, its detail and fields as the platform said them.
func (t *Target) platformDo(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	if err := t.checkPlatform(); err != nil {
		return nil, err
	}
	u, err := url.Parse(path)
	if err != nil || u.Host != "" || u.Scheme != "" || !platformPath(u.Path) {
		return nil, fmt.Errorf("tools: %q is not a path of the platform's API", path)
	}
	var rd io.Reader = http.NoBody
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(httpapi.AsCaller(ctx, t.Scope.Principal), method, path, rd)
	if err != nil {
		return nil, fmt.Errorf("platform request: %w", err)
	}
	req.RequestURI = u.RequestURI()
	// The caller's own address, so that per-address limits and logs see
	// them rather than the platform.
	ip := httpapi.ClientIP(ctx)
	if net.ParseIP(ip) == nil {
		ip = "127.0.0.1"
	}
	req.RemoteAddr = net.JoinHostPort(ip, "0")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "hks-assistant")
	if rid := httpapi.RequestID(ctx); rid != "" {
		req.Header.Set("X-Request-Id", rid)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := &answer{header: http.Header{}}
	t.Platform.ServeHTTP(rec, req)
	if rec.code == 0 {
		rec.code = http.StatusOK
	}
	if rec.over {
		return nil, fmt.Errorf("platform %s %s: the answer is larger than %d bytes", method, u.Path, maxPlatformAnswer)
	}
	if rec.code >= 400 {
		return nil, platformError(rec.code, rec.body.Bytes())
	}
	return rec.body.Bytes(), nil
}

// platformError is a problem of the platform's API as a *ClusterError.
func platformError(status int, body []byte) error {
	var p api.Problem
	_ = json.Unmarshal(body, &p)
	if status == http.StatusUnauthorized {
		return fmt.Errorf("the platform refused the caller's credentials: %s", p.Detail)
	}
	msg := p.Detail
	if msg == "" {
		msg = p.Title
	}
	for _, f := range p.Errors {
		if f.Field != "" && !strings.Contains(msg, f.Message) {
			msg += "; " + f.Field + ": " + f.Message
		}
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	reason := p.Title
	if reason == "" {
		reason = http.StatusText(status)
	}
	return &ClusterError{Status: status, Reason: reason, Message: Cap(Scrub(msg), 2048), Platform: true}
}

// answer records a handler's answer in memory, up to maxPlatformAnswer.
type answer struct {
	header http.Header
	code   int
	body   bytes.Buffer
	over   bool
}

func (a *answer) Header() http.Header { return a.header }

func (a *answer) WriteHeader(code int) {
	if a.code == 0 && code >= 200 {
		a.code = code
	}
}

func (a *answer) Write(b []byte) (int, error) {
	a.WriteHeader(http.StatusOK)
	if a.body.Len()+len(b) > maxPlatformAnswer {
		a.over = true
		return 0, errors.New("answer too large")
	}
	return a.body.Write(b)
}

// Flush lets handlers that flush do so.
func (a *answer) Flush() {}

// platformGet reads path from the platform's API as the caller into v.
func (t *Target) platformGet(ctx context.Context, path string, v any) error {
	b, err := t.platformDo(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}

// checkPlatformRequest checks a platform plan's request: a write method
// to a path of the platform's API, without a dry_run of its own.
func checkPlatformRequest(method, path string) error {
	ok := false
	for _, m := range writeMethods {
		ok = ok || m == method
	}
	if !ok {
		return fmt.Errorf("tools: a plan's method is POST, PUT, PATCH or DELETE, not %q", method)
	}
	u, err := url.Parse(path)
	if err != nil || !platformPath(u.Path) || u.Host != "" || u.Scheme != "" {
		return fmt.Errorf("tools: a platform plan's path is a path of the platform's API, not %q", path)
	}
	if u.Query().Has("dry_run") {
		return errors.New("tools: a plan's path does not choose dry_run")
	}
	return nil
}

// withQuery is path with key=value added to its query.
func withQuery(path, key, value string) string {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + url.QueryEscape(key) + "=" + url.QueryEscape(value)
}

// preparePlatform makes the plan of a platform proposal: no Kubernetes
// dry run; the platform's own dry run (?dry_run=true: validation and the
// runtime's build or syntax check as the caller, nothing stored) when the
// proposal asks for one, so that a deploy the platform would refuse (a
// syntax error, a viewer's deploy) is refused at planning with the
// platform's words; the diff of the proposal's texts before and after.
func preparePlatform(ctx context.Context, t *Target, p Proposal) (Prepared, error) {
	if err := t.checkPlatform(); err != nil {
		return Prepared{}, err
	}
	if err := checkPlatformRequest(p.Method, p.Path); err != nil {
		return Prepared{}, err
	}
	if p.DryRun {
		body := p.Body
		if p.DryRunBody != nil {
			body = p.DryRunBody
		}
		if _, err := t.platformDo(ctx, p.Method, withQuery(p.Path, "dry_run", "true"), body); err != nil {
			return Prepared{}, fmt.Errorf("dry run: %w", staleOr(err))
		}
	}
	out := Prepared{Proposal: p, Hash: HashFor(TargetPlatform, p.Method, p.Path, p.Body)}
	out.Summary = Scrub(p.Summary)
	out.BeforeYAML, out.AfterYAML = Scrub(p.BeforeText), Scrub(p.AfterText)
	out.Diff = Scrub(unifiedDiff("before", "after", out.BeforeYAML, out.AfterYAML))
	return out, nil
}

// platformGuard checks a platform plan's guard: the object at GuardPath
// must still have resource_version GuardResourceVersion, or, when that is
// "", must still not exist.
func platformGuard(ctx context.Context, t *Target, pl store.Plan) error {
	if pl.GuardPath == "" {
		return nil
	}
	if !platformPath(pl.GuardPath) {
		return fmt.Errorf("execute: guard %q is not a path of the platform's API", pl.GuardPath)
	}
	var obj struct {
		ResourceVersion string `json:"resource_version"`
	}
	err := t.platformGet(ctx, pl.GuardPath, &obj)
	var ce *ClusterError
	switch {
	case errors.As(err, &ce) && ce.Status == http.StatusNotFound:
		if pl.GuardResourceVersion == "" {
			return nil
		}
		return fmt.Errorf("%w: it is gone", ErrStale)
	case err != nil:
		return fmt.Errorf("execute: read the object: %w", err)
	case pl.GuardResourceVersion == "":
		return fmt.Errorf("%w: it exists now", ErrStale)
	case obj.ResourceVersion != pl.GuardResourceVersion:
		return fmt.Errorf("%w: resource_version %s, planned against %s", ErrStale, obj.ResourceVersion, pl.GuardResourceVersion)
	}
	return nil
}
