package tools

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hexabase/hexabase-ai/internal/store"
)

// Prepared is a proposal with its server-side dry run and diff: what a
// plan shows its user.
type Prepared struct {
	Proposal
	// Hash binds the plan to its exact request (Hash of Method, Path and
	// Body).
	Hash string
	// After is the dry run's answer (JSON, cleaned like Before: no
	// managedFields, scrubbed); nil for a delete.
	After []byte
	// BeforeYAML and AfterYAML are the object before and after without
	// the fields every write changes (managedFields, resourceVersion,
	// generation, uid, creationTimestamp; status when the write leaves it
	// as it was), and Diff their unified diff; all scrubbed.
	BeforeYAML, AfterYAML, Diff string
	// Warnings are the API server's warnings on the dry run (scrubbed).
	Warnings []string
}

// Hash is the hex SHA-256 of a request: method, path and body, each
// prefixed with its length (8 bytes, big-endian), so that no two
// requests share an encoding.
func Hash(method, path string, body []byte) string {
	h := sha256.New()
	for _, part := range [][]byte{[]byte(method), []byte(path), body} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(part)))
		h.Write(n[:])
		h.Write(part)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// HashFor is the hash of a plan's request to target: Hash for the
// workspace cluster (as plans were hashed before targets existed), and
// for the platform the same length-prefixed encoding with the target as
// a fourth part first, so that no request to one hashes as a request to
// the other (a workspace request's method is never "platform", and the
// encodings differ in their number of parts and lengths).
func HashFor(target, method, path string, body []byte) string {
	if target != TargetPlatform {
		return Hash(method, path, body)
	}
	h := sha256.New()
	for _, part := range [][]byte{[]byte(target), []byte(method), []byte(path), body} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(part)))
		h.Write(n[:])
		h.Write(part)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// writeMethods are the methods a plan may use.
var writeMethods = []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

func checkRequest(method, path string) error {
	ok := false
	for _, m := range writeMethods {
		ok = ok || m == method
	}
	if !ok {
		return fmt.Errorf("tools: a plan's method is POST, PUT, PATCH or DELETE, not %q", method)
	}
	u, err := url.Parse(path)
	if err != nil || !apiPath(u.Path) || u.Host != "" || u.Scheme != "" {
		return fmt.Errorf("tools: a plan's path is an API path, not %q", path)
	}
	if u.Query().Has("dryRun") {
		return errors.New("tools: a plan's path does not choose dryRun")
	}
	return nil
}

// Prepare makes the plan of a proposal: a server-side dry run of its
// request as the caller (dryRun=All: nothing is written) and the diff of
// the object before and after. The cluster's refusal (403 for a caller
// who may not, 404, 422, …) is a *ClusterError, except a 409 Conflict
// (the object changed since the proposal), which is ErrStale. A pod
// template the project's Pod Security level would refuse is a
// *ClusterError 422 too, as the platform's own routes refuse it.
//
// A platform proposal (Target TargetPlatform) is prepared by the
// platform's own dry run instead (see preparePlatform).
func Prepare(ctx context.Context, t *Target, p Proposal) (Prepared, error) {
	switch p.Target {
	case TargetPlatform:
		return preparePlatform(ctx, t, p)
	case "", TargetWorkspace:
	default:
		return Prepared{}, fmt.Errorf("tools: a proposal's target is workspace or platform, not %q", p.Target)
	}
	if err := t.check(); err != nil {
		return Prepared{}, err
	}
	if err := checkRequest(p.Method, p.Path); err != nil {
		return Prepared{}, err
	}
	body, err := dryRunBody(p.Method, p.Body)
	if err != nil {
		return Prepared{}, err
	}
	mark := t.Client.Warnings.Len()
	answer, err := t.do(ctx, p.Method, p.Path, body, url.Values{"dryRun": {"All"}})
	if err != nil {
		return Prepared{}, fmt.Errorf("dry run: %w", staleOr(err))
	}
	warnings := t.Client.Warnings.Since(mark)
	before, err := decodeObject(p.Before)
	if err != nil {
		return Prepared{}, err
	}
	var after map[string]any
	if p.Method != http.MethodDelete {
		if after, err = decodeObject(answer); err != nil {
			return Prepared{}, err
		}
		if err := t.checkPodSecurity(ctx, warnings, before, after); err != nil {
			return Prepared{}, err
		}
	}
	out := Prepared{Proposal: p, Hash: Hash(p.Method, p.Path, p.Body)}
	out.Target = TargetWorkspace
	out.Summary = Scrub(p.Summary)
	for _, w := range warnings {
		out.Warnings = append(out.Warnings, Scrub(w))
	}
	if after != nil {
		clean(after, false)
		if out.After, err = json.Marshal(ScrubData(after)); err != nil {
			return Prepared{}, fmt.Errorf("encode dry run: %w", err)
		}
	}
	if before != nil {
		clean(before, true)
	}
	if after != nil {
		clean(after, true)
	}
	if before != nil && after != nil && reflect.DeepEqual(before["status"], after["status"]) {
		delete(before, "status")
		delete(after, "status")
	}
	if st, ok := after["status"].(map[string]any); ok && len(st) == 0 {
		delete(after, "status") // a create's empty status
	}
	out.BeforeYAML, out.AfterYAML = Scrub(toYAML(before)), Scrub(toYAML(after))
	out.Diff = Scrub(unifiedDiff("before", "after", out.BeforeYAML, out.AfterYAML))
	return out, nil
}

// dryRunBody is the body of a proposal's dry run: a DELETE's options
// say dryRun themselves, since the API server reads a delete's options
// from its body when it has one and then ignores the query (a dry run
// in the query alone would delete).
func dryRunBody(method string, body []byte) ([]byte, error) {
	if method != http.MethodDelete || len(body) == 0 {
		return body, nil
	}
	var opts map[string]any
	if err := json.Unmarshal(body, &opts); err != nil {
		return nil, fmt.Errorf("tools: a delete's body is its options: %w", err)
	}
	opts["dryRun"] = []string{"All"}
	out, err := json.Marshal(opts)
	if err != nil {
		return nil, fmt.Errorf("encode delete options: %w", err)
	}
	return out, nil
}

// podTemplate is the pod template of a workload (Deployment, StatefulSet,
// DaemonSet, ReplicaSet, Job: spec.template; CronJob:
// spec.jobTemplate.spec.template), nil for other objects.
func podTemplate(obj map[string]any) map[string]any {
	if obj == nil {
		return nil
	}
	if tpl, ok := field(obj, "spec", "jobTemplate", "spec", "template").(map[string]any); ok {
		return tpl
	}
	switch fieldString(obj, "kind") {
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController":
		tpl, _ := field(obj, "spec", "template").(map[string]any)
		return tpl
	}
	return nil
}

// checkPodSecurity refuses a write whose new or changed pod template the
// project's enforced Pod Security level would refuse (Pod Security only
// warns about workloads; their pods would be refused later, silently),
// as the platform's workload and CronJob routes do (kube.Project's
// PodSecurityRefusal: the dry run's warnings, then a dry run of a pod).
func (t *Target) checkPodSecurity(ctx context.Context, warnings []string, before, after map[string]any) error {
	tpl := podTemplate(after)
	if tpl == nil || reflect.DeepEqual(tpl, podTemplate(before)) {
		return nil
	}
	ns := fieldString(after, "metadata", "namespace")
	kp, ok := t.projectScope(ns)
	if !ok {
		return nil
	}
	b, err := json.Marshal(tpl)
	if err != nil {
		return fmt.Errorf("encode pod template: %w", err)
	}
	var pt corev1.PodTemplateSpec
	if err := json.Unmarshal(b, &pt); err != nil {
		return fmt.Errorf("decode pod template: %w", err)
	}
	name := fieldString(after, "metadata", "name")
	if msg := kp.PodSecurityRefusal(ctx, warnings, name, &pt); msg != "" {
		return &ClusterError{Status: http.StatusUnprocessableEntity, Reason: "Invalid",
			Message: Scrub("its pods would be refused by the project's pod security level: " + msg)}
	}
	return nil
}

// staleOr answers ErrStale for the API server's 409 Conflict (a
// resourceVersion or uid precondition: the object changed), else err.
//
// A platform's 412 Precondition Failed (a deploy with a resource_version
// that is no longer the function's) is ErrStale too.
func staleOr(err error) error {
	var ce *ClusterError
	if errors.As(err, &ce) && !ce.Platform && ce.Status == http.StatusConflict && ce.Reason == string(metav1.StatusReasonConflict) {
		return fmt.Errorf("%w: %s", ErrStale, ce.Message)
	}
	if errors.As(err, &ce) && ce.Platform && ce.Status == http.StatusPreconditionFailed {
		return fmt.Errorf("%w: %s", ErrStale, ce.Message)
	}
	return err
}

// Execute runs a confirmed plan as the caller: its request must match
// its hash; the object it was made against must still have the same
// resourceVersion (else ErrStale: make a fresh plan); then the request
// is made. The cluster's refusal is a *ClusterError, except a 409
// Conflict (the object changed in between: a resourceVersion or uid
// precondition), which is ErrStale too. A 409 AlreadyExists (a create
// made twice) stays a *ClusterError.
//
// A platform plan (Target TargetPlatform) is run by the platform's API as
// the caller, its guard the object's resource_version (see Registry.Execute
// for the tools that run several requests).
func Execute(ctx context.Context, t *Target, pl store.Plan) (Result, error) {
	return executePlan(ctx, t, pl, nil)
}

// Execute runs a confirmed plan as the caller like the package's Execute,
// with the plan's tool's own Execute when it has one (checked first: the
// hash, the request, the guard).
func (r *Registry) Execute(ctx context.Context, t *Target, pl store.Plan) (Result, error) {
	tool, ok := r.Get(pl.Tool)
	if !ok || tool.Effect != Write {
		if pl.Target == TargetPlatform {
			return Result{}, fmt.Errorf("execute: no write tool %q", pl.Tool)
		}
		return executePlan(ctx, t, pl, nil) // a plan of a tool no longer offered: its one request
	}
	return executePlan(ctx, t, pl, tool.Execute)
}

func executePlan(ctx context.Context, t *Target, pl store.Plan, run func(context.Context, *Target, store.Plan) (Result, error)) (Result, error) {
	var body []byte
	if pl.Body != "" {
		body = []byte(pl.Body)
	}
	if HashFor(pl.Target, pl.Method, pl.Path, body) != pl.Hash {
		return Result{}, errors.New("execute: the plan's request does not match its hash")
	}
	if pl.Target == TargetPlatform {
		if err := t.checkPlatform(); err != nil {
			return Result{}, err
		}
		if err := checkPlatformRequest(pl.Method, pl.Path); err != nil {
			return Result{}, err
		}
		if err := platformGuard(ctx, t, pl); err != nil {
			return Result{}, err
		}
		if run != nil {
			return run(ctx, t, pl)
		}
		answer, err := t.platformDo(ctx, pl.Method, pl.Path, body)
		if err != nil {
			return Result{}, fmt.Errorf("execute: %w", staleOr(err))
		}
		text, data := platformAnswer(answer)
		return Result{Text: Cap(Scrub("done: "+pl.Summary+text), DefaultMaxOutput), Data: ScrubData(data)}, nil
	}
	if pl.Target != "" && pl.Target != TargetWorkspace {
		return Result{}, fmt.Errorf("execute: a plan's target is workspace or platform, not %q", pl.Target)
	}
	if err := t.check(); err != nil {
		return Result{}, err
	}
	if err := checkRequest(pl.Method, pl.Path); err != nil {
		return Result{}, err
	}
	if pl.GuardPath != "" {
		if !apiPath(pl.GuardPath) {
			return Result{}, fmt.Errorf("execute: guard %q is not an API path", pl.GuardPath)
		}
		_, rv, err := current(ctx, t, pl.GuardPath)
		var ce *ClusterError
		switch {
		case errors.As(err, &ce) && ce.Status == http.StatusNotFound:
			return Result{}, fmt.Errorf("%w: it is gone", ErrStale)
		case err != nil:
			return Result{}, fmt.Errorf("execute: read the object: %w", err)
		case rv != pl.GuardResourceVersion:
			return Result{}, fmt.Errorf("%w: resourceVersion %s, planned against %s", ErrStale, rv, pl.GuardResourceVersion)
		}
	}
	if run != nil {
		return run(ctx, t, pl)
	}
	answer, err := t.do(ctx, pl.Method, pl.Path, body, nil)
	if err != nil {
		return Result{}, fmt.Errorf("execute: %w", staleOr(err))
	}
	obj, _ := decodeObject(answer)
	var b strings.Builder
	fmt.Fprintf(&b, "done: %s", pl.Summary)
	if obj != nil {
		clean(obj, false)
		if k, n := fieldString(obj, "kind"), fieldString(obj, "metadata", "name"); k != "" && k != "Status" && n != "" {
			fmt.Fprintf(&b, " (%s %s", strings.ToLower(k), n)
			if rv := fieldString(obj, "metadata", "resourceVersion"); rv != "" {
				fmt.Fprintf(&b, ", resourceVersion %s", rv)
			}
			b.WriteString(")")
		}
	}
	return Result{Text: Cap(Scrub(b.String()), DefaultMaxOutput), Data: ScrubData(obj)}, nil
}
