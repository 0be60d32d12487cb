package tools

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/authz"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// The functions tools reach the platform's functions API (docs/functions.md)
// as the caller: reads GET, writes are plans whose request goes to the
// platform (Target TargetPlatform).

const (
	// maxCode bounds the code a tool deploys (the API takes more; a
	// model's code is small).
	maxCode = 256 << 10
	// maxShownBody bounds a function's answer body in a result.
	maxShownBody = 4 << 10
	// maxShownLogs bounds one invocation's logs in a result.
	maxShownLogs = 4 << 10
	// RunCodeTTL is run_code's default ttl: the backstop that deletes
	// its function if the platform stopped between the deploy and the
	// delete.
	RunCodeTTL = "15m"
	// runCodeMaxTTL bounds run_code's ttl.
	runCodeMaxTTL = 24 * time.Hour
	// tmpPrefix starts run_code's function names.
	tmpPrefix = "tmp-"
)

// entries are the default file names of a single-file deploy.
var entries = map[string]string{"python": "handler.py", "node": "index.js", "go": "main.go"}

// FunctionTools answers the functions tools: the reads list_functions,
// get_function and function_logs, and the writes (plans) deploy_function,
// invoke_function, delete_function and run_code (deploy a throwaway
// function with a ttl, invoke it once, delete it: one plan).
func FunctionTools() []Tool {
	runtime := enum("the runtime: python (def handle(req)), node (module.exports = async (req) => response) or go (func Handle(req Request) Response)", "python", "node", "go")
	name := str("the function's name (a DNS-1123 label)")
	return []Tool{
		{
			Name: "list_functions", Description: "List the functions of a project: name, runtime, access, latest version, URL, expiry.",
			Effect: Read, Target: TargetPlatform,
			Schema: object(map[string]any{"project": str(projectDesc)}),
			Read:   readListFunctions,
		},
		{
			Name: "get_function", Description: "Show one function: its settings, aliases and versions (the latest version's code with code=true).",
			Effect: Read, Target: TargetPlatform,
			Schema: object(map[string]any{"name": name, "code": boolean("also show the latest version's code"), "project": str(projectDesc)}, "name"),
			Read:   readGetFunction,
		},
		{
			Name: "function_logs", Description: "The last invocations of a function with their status, exit reason, duration and logs (newest first).",
			Effect: Read, Target: TargetPlatform,
			Schema: object(map[string]any{"name": name, "limit": integer("how many invocations (default 5)", 1, 20), "project": str(projectDesc)}, "name"),
			Read:   readFunctionLogs,
		},
		{
			Name:        "deploy_function",
			Description: "Plan to deploy a function (a new one, or a new version of one) from one source file. The plan checks the code as the platform would (build or syntax check) and shows it; changes nothing by itself.",
			Effect:      Write, Target: TargetPlatform,
			Schema: object(map[string]any{
				"name": name, "runtime": runtime,
				"code":        str("the source of the handler file"),
				"filename":    str("the file's name (default handler.py, index.js or main.go)"),
				"access":      enum("private (default: a platform token with access to the project) or public (anyone with the URL)", "private", "public"),
				"env":         map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string"}, "description": "environment variables (not secrets)"},
				"ttl":         str("delete the function this long after the deploy (Go duration, e.g. 1h; at least 1m)"),
				"description": str("one line shown in lists"),
				"project":     str(projectDesc),
			}, "name", "runtime", "code"),
			Propose: proposeDeployFunction,
		},
		{
			Name:        "invoke_function",
			Description: "Plan to invoke a function once with a request (it runs code, so it is a plan to confirm). Answers the function's response and logs when confirmed.",
			Effect:      Write, Target: TargetPlatform,
			Schema: object(map[string]any{
				"name":    name,
				"alias":   str("the alias to invoke (default latest)"),
				"version": integer("a version instead of an alias", 1, 1<<30),
				"method":  str("the request's method (default POST)"),
				"path":    str("the request's path (default /)"),
				"body":    str("the request's body"),
				"project": str(projectDesc),
			}, "name"),
			Propose: proposeInvokeFunction,
		},
		{
			Name:        "delete_function",
			Description: "Plan to delete a function with its versions, aliases and triggers. Makes a plan for the user to confirm.",
			Effect:      Write, Target: TargetPlatform,
			Schema:  object(map[string]any{"name": name, "project": str(projectDesc)}, "name"),
			Propose: proposeDeleteFunction,
		},
		{
			Name: "run_code",
			Description: "Plan to run code once: deploy it as a throwaway function (tmp-…, with a ttl), invoke it once with a request, delete it, and answer its response, logs and exit reason. " +
				"The plan shows the code and is checked like a deploy (build or syntax check). Use it to compute or try something; use deploy_function for a function that stays.",
			Effect: Write, Target: TargetPlatform,
			Schema: object(map[string]any{
				"runtime":  runtime,
				"code":     str("the source of the handler file"),
				"filename": str("the file's name (default handler.py, index.js or main.go)"),
				"method":   str("the request's method (default POST)"),
				"path":     str("the request's path (default /)"),
				"body":     str("the request's body"),
				"env":      map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string"}, "description": "environment variables (not secrets)"},
				"ttl":      str("the backstop: the function deletes itself this long after the deploy if it was not deleted (default 15m, at most 24h)"),
				"project":  str(projectDesc),
			}, "runtime", "code"),
			Propose: proposeRunCode,
			Execute: executeRunCode,
		},
	}
}

// functionsPath is the path of a project's functions (name "") or of one
// function, for the caller: the project must be one they see.
func (t *Target) functionsPath(project, name string) (string, string, error) {
	p, err := t.Namespace(project)
	if err != nil {
		return "", "", err
	}
	if p == "" {
		return "", "", &ArgError{Field: "project", Message: "is required: functions belong to a project (list_projects names those you can see)"}
	}
	org := t.Scope.Org.Slug
	if org == "" {
		org = t.Scope.Org.ID
	}
	ws := t.Scope.Workspace.Name
	if ws == "" {
		ws = t.Scope.Workspace.ID
	}
	if org == "" || ws == "" {
		return "", "", errors.New("tools: the target names no organization or workspace")
	}
	path := "/api/v1/organizations/" + url.PathEscape(org) + "/workspaces/" + url.PathEscape(ws) + "/projects/" + url.PathEscape(p) + "/functions"
	if name != "" {
		path += "/" + url.PathEscape(name)
	}
	return path, p, nil
}

// needDevelop refuses, while planning, a write the platform would refuse
// on confirm for the caller's role in project (the functions API's writes
// need developer): the refusal the platform's own check words, a 403.
// The platform still decides on confirm; this only spares a plan that
// cannot run (deploys are checked by the platform's dry run instead).
func (t *Target) needDevelop(project string) error {
	p, ok := t.project(project)
	if !ok {
		return &ArgError{Field: "project", Message: fmt.Sprintf("project %s not found", project)}
	}
	if l := t.Scope.Access.ProjectLevels(t.Scope.Projects)[p.ID]; l < authz.Develop {
		return &ClusterError{Status: http.StatusForbidden, Reason: "Forbidden", Platform: true,
			Message: fmt.Sprintf("this needs the %s role in project %s (you have %s)", authz.Develop, project, l)}
	}
	return nil
}

func functionName(field, name string) error {
	return labelName(field, name, 63)
}

func readListFunctions(ctx context.Context, t *Target, raw json.RawMessage) (Result, error) {
	var a struct {
		Project string `json:"project"`
	}
	if err := decode(raw, &a); err != nil {
		return Result{}, err
	}
	path, project, err := t.functionsPath(a.Project, "")
	if err != nil {
		return Result{}, err
	}
	var list api.List[api.Function]
	if err := t.platformGet(ctx, withQuery(path, "limit", "100"), &list); err != nil {
		return Result{}, err
	}
	if len(list.Items) == 0 {
		return Result{Text: "no functions in project " + project, Data: list.Items}, nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d functions in project %s:\n", len(list.Items), project)
	for _, f := range list.Items {
		fmt.Fprintf(&b, "- %s: %s, %s, version %d, %s", f.Name, f.Runtime, f.Access, f.LatestVersion, f.URL)
		if f.ExpiresAt != nil {
			fmt.Fprintf(&b, ", expires %s", f.ExpiresAt.UTC().Format(time.RFC3339))
		}
		if f.Description != "" {
			fmt.Fprintf(&b, " (%s)", f.Description)
		}
		b.WriteByte('\n')
	}
	if list.NextCursor != "" {
		b.WriteString("(more not shown)\n")
	}
	return Result{Text: b.String(), Data: list.Items}, nil
}

func readGetFunction(ctx context.Context, t *Target, raw json.RawMessage) (Result, error) {
	var a struct {
		Name    string `json:"name"`
		Code    bool   `json:"code"`
		Project string `json:"project"`
	}
	if err := decode(raw, &a); err != nil {
		return Result{}, err
	}
	if err := functionName("name", a.Name); err != nil {
		return Result{}, err
	}
	path, project, err := t.functionsPath(a.Project, a.Name)
	if err != nil {
		return Result{}, err
	}
	var f api.Function
	if err := t.platformGet(ctx, path, &f); err != nil {
		return Result{}, err
	}
	var vs api.List[api.FunctionVersion]
	if err := t.platformGet(ctx, path+"/versions", &vs); err != nil {
		return Result{}, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "function %s in project %s: %s, %s, latest version %d, %d warm instances\nurl: %s\n", f.Name, project, f.Runtime, f.Access, f.LatestVersion, f.Instances, f.URL)
	if f.Description != "" {
		fmt.Fprintf(&b, "description: %s\n", f.Description)
	}
	if f.ExpiresAt != nil {
		fmt.Fprintf(&b, "expires: %s\n", f.ExpiresAt.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(&b, "limits: %d MB, %ds timeout, concurrency %d, at most %d instances\n", f.Limits.MemoryMB, f.Limits.TimeoutSeconds, f.Limits.Concurrency, f.Limits.MaxInstances)
	if len(f.Secrets) > 0 {
		fmt.Fprintf(&b, "secrets (names): %s\n", strings.Join(f.Secrets, ", "))
	}
	for _, al := range f.Aliases {
		var ts []string
		for _, tg := range al.Targets {
			ts = append(ts, fmt.Sprintf("version %d (%d%%)", tg.Version, tg.Weight))
		}
		fmt.Fprintf(&b, "alias %s → %s\n", al.Name, strings.Join(ts, ", "))
	}
	fmt.Fprintf(&b, "versions (%d):\n", len(vs.Items))
	for i, v := range vs.Items {
		if i == 20 {
			b.WriteString("  (older not shown)\n")
			break
		}
		fmt.Fprintf(&b, "  %d: %s, %s, %d bytes, %s", v.Version, v.Filename, v.CreatedAt.UTC().Format(time.RFC3339), v.SizeBytes, shortDigest(v.Digest))
		if len(v.Env) > 0 {
			fmt.Fprintf(&b, ", env %s", strings.Join(sortedKeys(v.Env), ", "))
		}
		b.WriteByte('\n')
	}
	if a.Code && f.LatestVersion > 0 {
		var c api.FunctionCode
		if err := t.platformGet(ctx, path+"/versions/"+strconv.Itoa(f.LatestVersion)+"/code", &c); err != nil {
			return Result{}, err
		}
		fmt.Fprintf(&b, "code of version %d (%s):\n%s\n", c.Version, c.Filename, codeText(c.Content))
	}
	return Result{Text: b.String(), Data: map[string]any{"function": f, "versions": vs.Items}}, nil
}

func shortDigest(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// codeText is a version's code as text: binary content is named, not shown.
func codeText(b []byte) string {
	if !utf8.Valid(b) || slices.Contains(b, 0) {
		return fmt.Sprintf("(binary, %d bytes)", len(b))
	}
	return string(b)
}

func readFunctionLogs(ctx context.Context, t *Target, raw json.RawMessage) (Result, error) {
	var a struct {
		Name    string `json:"name"`
		Limit   int    `json:"limit"`
		Project string `json:"project"`
	}
	if err := decode(raw, &a); err != nil {
		return Result{}, err
	}
	if err := functionName("name", a.Name); err != nil {
		return Result{}, err
	}
	if a.Limit == 0 {
		a.Limit = 5
	}
	if err := between("limit", a.Limit, 1, 20); err != nil {
		return Result{}, err
	}
	path, _, err := t.functionsPath(a.Project, a.Name)
	if err != nil {
		return Result{}, err
	}
	b, err := t.platformDo(ctx, http.MethodGet, withQuery(path+"/logs", "limit", strconv.Itoa(a.Limit)), nil)
	if err != nil {
		return Result{}, err
	}
	invs, err := decodeInvocations(b)
	if err != nil {
		return Result{}, err
	}
	if len(invs) > a.Limit {
		invs = invs[:a.Limit]
	}
	if len(invs) == 0 {
		return Result{Text: "function " + a.Name + " has no invocations yet", Data: invs}, nil
	}
	var out strings.Builder
	fmt.Fprintf(&out, "the last %d invocations of function %s (newest first):\n", len(invs), a.Name)
	for _, inv := range invs {
		out.WriteString(invocationText(inv))
	}
	return Result{Text: out.String(), Data: invs}, nil
}

// decodeInvocations reads a list of invocations: a JSON array or a List.
func decodeInvocations(b []byte) ([]api.Invocation, error) {
	var invs []api.Invocation
	if err := json.Unmarshal(b, &invs); err == nil {
		return invs, nil
	}
	var list api.List[api.Invocation]
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("decode invocations: %w", err)
	}
	return list.Items, nil
}

// invocationText is one invocation for the model: status, exit reason,
// the response (capped) and the logs (capped).
func invocationText(inv api.Invocation) string {
	var b strings.Builder
	fmt.Fprintf(&b, "- invocation %s of version %d (%s): %s", inv.ID, inv.Version, inv.Trigger, inv.Status)
	if inv.ExitReason != "" {
		fmt.Fprintf(&b, ", exit reason %s", inv.ExitReason)
	}
	fmt.Fprintf(&b, ", %.0f ms", inv.DurationMS)
	if inv.ColdStart {
		b.WriteString(", cold start")
	}
	if !inv.StartedAt.IsZero() {
		fmt.Fprintf(&b, ", at %s", inv.StartedAt.UTC().Format(time.RFC3339))
	}
	b.WriteByte('\n')
	if inv.Error != "" {
		fmt.Fprintf(&b, "  error: %s\n", Cap(inv.Error, 1024))
	}
	if inv.Response != nil {
		fmt.Fprintf(&b, "  response status %d, body:\n%s\n", inv.Response.Status, indent(Cap(inv.Response.Body, maxShownBody)))
	}
	if inv.Logs != "" {
		fmt.Fprintf(&b, "  logs:\n%s\n", indent(Cap(inv.Logs, maxShownLogs)))
	} else {
		b.WriteString("  logs: (none)\n")
	}
	return b.String()
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}

// deployArgs are the arguments deploy_function and run_code share.
type deployArgs struct {
	Runtime  string            `json:"runtime"`
	Code     string            `json:"code"`
	Filename string            `json:"filename"`
	Env      map[string]string `json:"env"`
	TTL      string            `json:"ttl"`
}

// request checks the shared arguments and answers the deploy's request.
func (a deployArgs) request(maxTTL time.Duration) (api.DeployFunctionRequest, error) {
	if _, ok := entries[a.Runtime]; !ok {
		return api.DeployFunctionRequest{}, &ArgError{Field: "runtime", Message: "must be python, node or go"}
	}
	if strings.TrimSpace(a.Code) == "" {
		return api.DeployFunctionRequest{}, &ArgError{Field: "code", Message: "is required"}
	}
	if len(a.Code) > maxCode {
		return api.DeployFunctionRequest{}, &ArgError{Field: "code", Message: fmt.Sprintf("must be at most %d bytes", maxCode)}
	}
	fn := a.Filename
	if fn == "" {
		fn = entries[a.Runtime]
	}
	if len(fn) > 255 || strings.ContainsAny(fn, "/\\\x00") || fn == "." || fn == ".." {
		return api.DeployFunctionRequest{}, &ArgError{Field: "filename", Message: "must be a file name without a directory"}
	}
	for k := range a.Env {
		if k == "" || len(k) > 256 || strings.ContainsAny(k, "=\x00") {
			return api.DeployFunctionRequest{}, &ArgError{Field: "env", Message: fmt.Sprintf("%q is not an environment variable's name", k)}
		}
	}
	if a.TTL != "" {
		d, err := time.ParseDuration(a.TTL)
		if err != nil || d < time.Minute || d > maxTTL {
			return api.DeployFunctionRequest{}, &ArgError{Field: "ttl", Message: fmt.Sprintf("must be a Go duration from 1m to %s (e.g. 15m, 2h)", maxTTL)}
		}
	}
	return api.DeployFunctionRequest{Runtime: a.Runtime, Source: api.FunctionSource{Filename: fn, Content: []byte(a.Code)}, Env: a.Env, TTL: a.TTL}, nil
}

// deployText is what a plan shows of a function's settings and code.
func deployText(name, runtime, access, ttl, expires string, env []string, filename, code string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "function: %s\nruntime: %s\naccess: %s\n", name, runtime, access)
	if ttl != "" {
		fmt.Fprintf(&b, "ttl: %s\n", ttl)
	}
	if expires != "" {
		fmt.Fprintf(&b, "expires: %s\n", expires)
	}
	if len(env) > 0 {
		fmt.Fprintf(&b, "env: %s\n", strings.Join(env, ", "))
	}
	fmt.Fprintf(&b, "file: %s\n", filename)
	b.WriteString("---\n")
	b.WriteString(code)
	if !strings.HasSuffix(code, "\n") {
		b.WriteByte('\n')
	}
	return b.String()
}

// existing is a function as it is now, for a plan: nil when there is none.
type existing struct {
	fn       api.Function
	filename string
	env      []string
	code     string
}

// lookupFunction reads the function at path and its latest version's code
// (GET only); (nil, nil) when it does not exist.
func (t *Target) lookupFunction(ctx context.Context, path string) (*existing, error) {
	var f api.Function
	err := t.platformGet(ctx, path, &f)
	var ce *ClusterError
	if errors.As(err, &ce) && ce.Status == http.StatusNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	ex := &existing{fn: f}
	if f.LatestVersion > 0 {
		var vs api.List[api.FunctionVersion]
		if err := t.platformGet(ctx, path+"/versions", &vs); err != nil {
			return nil, err
		}
		for _, v := range vs.Items {
			if v.Version == f.LatestVersion {
				ex.filename, ex.env = v.Filename, sortedKeys(v.Env)
			}
		}
		var c api.FunctionCode
		if err := t.platformGet(ctx, path+"/versions/"+strconv.Itoa(f.LatestVersion)+"/code", &c); err != nil {
			return nil, err
		}
		ex.code = codeText(c.Content)
		if ex.filename == "" {
			ex.filename = c.Filename
		}
	}
	return ex, nil
}

func (ex *existing) text() string {
	if ex == nil {
		return ""
	}
	exp := ""
	if ex.fn.ExpiresAt != nil {
		exp = ex.fn.ExpiresAt.UTC().Format(time.RFC3339)
	}
	return deployText(ex.fn.Name, ex.fn.Runtime, ex.fn.Access, "", exp, ex.env, ex.filename, ex.code)
}

func proposeDeployFunction(ctx context.Context, t *Target, raw json.RawMessage) (Proposal, error) {
	var a struct {
		deployArgs
		Name        string `json:"name"`
		Access      string `json:"access"`
		Description string `json:"description"`
		Project     string `json:"project"`
	}
	if err := decode(raw, &a); err != nil {
		return Proposal{}, err
	}
	if err := functionName("name", a.Name); err != nil {
		return Proposal{}, err
	}
	req, err := a.request(30 * 24 * time.Hour)
	if err != nil {
		return Proposal{}, err
	}
	switch a.Access {
	case "", "private", "public":
	default:
		return Proposal{}, &ArgError{Field: "access", Message: "must be private or public"}
	}
	req.Access, req.Description = a.Access, a.Description
	path, project, err := t.functionsPath(a.Project, a.Name)
	if err != nil {
		return Proposal{}, err
	}
	ex, err := t.lookupFunction(ctx, path)
	if err != nil {
		return Proposal{}, err
	}
	summary := fmt.Sprintf("deploy a new %s function %s in %s", req.Runtime, a.Name, project)
	rv := ""
	// "0": the deploy is refused (412) if the function exists by then.
	req.ResourceVersion = "0"
	if ex != nil {
		if ex.fn.Runtime != req.Runtime {
			return Proposal{}, &ArgError{Field: "runtime", Message: fmt.Sprintf("function %s runs %s; a function's runtime cannot change", a.Name, ex.fn.Runtime)}
		}
		rv = ex.fn.ResourceVersion
		req.ResourceVersion = rv
		summary = fmt.Sprintf("deploy a new version of %s function %s in %s (now version %d)", req.Runtime, a.Name, project, ex.fn.LatestVersion)
		// What the call does not say stays as it is (a deploy sets both).
		if req.Access == "" {
			req.Access = ex.fn.Access
		}
		if req.Description == "" {
			req.Description = ex.fn.Description
		}
	}
	body, err := json.Marshal(req)
	if err != nil {
		return Proposal{}, fmt.Errorf("encode deploy: %w", err)
	}
	access := req.Access
	if access == "" {
		access = "private"
	}
	after := deployText(a.Name, req.Runtime, access, req.TTL, "", sortedKeys(req.Env), req.Source.Filename, a.Code)
	return Proposal{Target: TargetPlatform, Summary: summary, Method: http.MethodPut, Path: path, Body: body,
		GuardPath: path, GuardResourceVersion: rv, DryRun: true, BeforeText: ex.text(), AfterText: after}, nil
}

// invokeArgs are the request of invoke_function and run_code.
type invokeArgs struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	Body   string `json:"body"`
}

func (a invokeArgs) request() (api.InvokeFunctionRequest, error) {
	m := strings.ToUpper(a.Method)
	if m == "" {
		m = http.MethodPost
	}
	switch m {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
	default:
		return api.InvokeFunctionRequest{}, &ArgError{Field: "method", Message: "must be an HTTP method (GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS)"}
	}
	p := a.Path
	if p == "" {
		p = "/"
	}
	if !strings.HasPrefix(p, "/") || len(p) > 2048 || strings.ContainsAny(p, " \x00\r\n") {
		return api.InvokeFunctionRequest{}, &ArgError{Field: "path", Message: "must be a path starting with /"}
	}
	if len(a.Body) > 256<<10 {
		return api.InvokeFunctionRequest{}, &ArgError{Field: "body", Message: "must be at most 256 KiB"}
	}
	return api.InvokeFunctionRequest{Method: m, Path: p, Body: a.Body}, nil
}

func invokeText(target string, r api.InvokeFunctionRequest) string {
	var b strings.Builder
	fmt.Fprintf(&b, "invoke: %s\n%s %s\n", target, r.Method, r.Path)
	if r.Body != "" {
		b.WriteString("body:\n")
		b.WriteString(r.Body)
		if !strings.HasSuffix(r.Body, "\n") {
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func proposeInvokeFunction(ctx context.Context, t *Target, raw json.RawMessage) (Proposal, error) {
	var a struct {
		invokeArgs
		Name    string `json:"name"`
		Alias   string `json:"alias"`
		Version int    `json:"version"`
		Project string `json:"project"`
	}
	if err := decode(raw, &a); err != nil {
		return Proposal{}, err
	}
	if err := functionName("name", a.Name); err != nil {
		return Proposal{}, err
	}
	if a.Alias != "" && a.Version != 0 {
		return Proposal{}, &ArgError{Field: "version", Message: "give an alias or a version, not both"}
	}
	if a.Alias != "" {
		if err := labelName("alias", a.Alias, 63); err != nil {
			return Proposal{}, err
		}
	}
	if a.Version < 0 {
		return Proposal{}, &ArgError{Field: "version", Message: "must be positive"}
	}
	req, err := a.request()
	if err != nil {
		return Proposal{}, err
	}
	req.Alias, req.Version = a.Alias, a.Version
	path, project, err := t.functionsPath(a.Project, a.Name)
	if err != nil {
		return Proposal{}, err
	}
	if err := t.needDevelop(project); err != nil {
		return Proposal{}, err
	}
	var f api.Function
	if err := t.platformGet(ctx, path, &f); err != nil {
		return Proposal{}, err
	}
	which := "alias latest"
	switch {
	case a.Version != 0:
		which = fmt.Sprintf("version %d", a.Version)
	case a.Alias != "":
		which = "alias " + a.Alias
	}
	which = fmt.Sprintf("%s (%s, latest version %d)", which, f.Runtime, f.LatestVersion)
	body, err := json.Marshal(req)
	if err != nil {
		return Proposal{}, fmt.Errorf("encode invoke: %w", err)
	}
	return Proposal{Target: TargetPlatform, Summary: fmt.Sprintf("invoke function %s in %s once: %s %s", a.Name, project, req.Method, req.Path),
		Method: http.MethodPost, Path: path + "/invoke", Body: body, GuardPath: path, GuardResourceVersion: f.ResourceVersion,
		AfterText: invokeText(a.Name+" "+which, req)}, nil
}

func proposeDeleteFunction(ctx context.Context, t *Target, raw json.RawMessage) (Proposal, error) {
	var a struct {
		Name    string `json:"name"`
		Project string `json:"project"`
	}
	if err := decode(raw, &a); err != nil {
		return Proposal{}, err
	}
	if err := functionName("name", a.Name); err != nil {
		return Proposal{}, err
	}
	path, project, err := t.functionsPath(a.Project, a.Name)
	if err != nil {
		return Proposal{}, err
	}
	if err := t.needDevelop(project); err != nil {
		return Proposal{}, err
	}
	ex, err := t.lookupFunction(ctx, path)
	if err != nil {
		return Proposal{}, err
	}
	if ex == nil {
		return Proposal{}, &ClusterError{Status: http.StatusNotFound, Reason: "Not found", Message: fmt.Sprintf("function %s not found in project %s", a.Name, project), Platform: true}
	}
	return Proposal{Target: TargetPlatform, Summary: fmt.Sprintf("delete function %s in %s (%d versions, its aliases and triggers)", a.Name, project, ex.fn.LatestVersion),
		Method: http.MethodDelete, Path: path, GuardPath: path, GuardResourceVersion: ex.fn.ResourceVersion, BeforeText: ex.text()}, nil
}

// runPlan is the body of a run_code plan: the deploy and the invocation
// it makes, both part of the plan's hash.
type runPlan struct {
	Deploy api.DeployFunctionRequest `json:"deploy"`
	Invoke api.InvokeFunctionRequest `json:"invoke"`
}

// tmpName is a throwaway function's name: tmp- and 8 random characters.
func tmpName() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return tmpPrefix + string(b)
}

func proposeRunCode(_ context.Context, t *Target, raw json.RawMessage) (Proposal, error) {
	var a struct {
		deployArgs
		invokeArgs
		Project string `json:"project"`
	}
	if err := decode(raw, &a); err != nil {
		return Proposal{}, err
	}
	if a.TTL == "" {
		a.TTL = RunCodeTTL
	}
	dep, err := a.deployArgs.request(runCodeMaxTTL)
	if err != nil {
		return Proposal{}, err
	}
	inv, err := a.invokeArgs.request()
	if err != nil {
		return Proposal{}, err
	}
	name := tmpName()
	dep.Access, dep.Description = "private", "run_code: the assistant's throwaway function"
	dep.ResourceVersion = "0" // refused (412) if a function of its name exists by then
	path, project, err := t.functionsPath(a.Project, name)
	if err != nil {
		return Proposal{}, err
	}
	body, err := json.Marshal(runPlan{Deploy: dep, Invoke: inv})
	if err != nil {
		return Proposal{}, fmt.Errorf("encode run: %w", err)
	}
	dryRun, err := json.Marshal(dep)
	if err != nil {
		return Proposal{}, fmt.Errorf("encode deploy: %w", err)
	}
	after := deployText(name, dep.Runtime, dep.Access, dep.TTL, "", sortedKeys(dep.Env), dep.Source.Filename, a.Code) +
		"---\n" + invokeText(name+" once, then delete it", inv)
	return Proposal{Target: TargetPlatform,
		Summary: fmt.Sprintf("run %s code once in %s: deploy it as %s (ttl %s), invoke it (%s %s), delete it", dep.Runtime, project, name, dep.TTL, inv.Method, inv.Path),
		Method:  http.MethodPut, Path: path, Body: body, GuardPath: path, DryRun: true, DryRunBody: dryRun, AfterText: after}, nil
}

// executeRunCode runs a confirmed run_code plan: the deploy (its body from
// the hashed plan), one invocation, and the delete, which runs whatever
// the invocation did (and with the plan's ttl as the backstop if the
// platform stops in between).
func executeRunCode(ctx context.Context, t *Target, pl store.Plan) (Result, error) {
	var rp runPlan
	if err := json.Unmarshal([]byte(pl.Body), &rp); err != nil {
		return Result{}, fmt.Errorf("run_code: decode the plan: %w", err)
	}
	deploy, err := json.Marshal(rp.Deploy)
	if err != nil {
		return Result{}, fmt.Errorf("run_code: encode deploy: %w", err)
	}
	invoke, err := json.Marshal(rp.Invoke)
	if err != nil {
		return Result{}, fmt.Errorf("run_code: encode invoke: %w", err)
	}
	name := pl.Path[strings.LastIndexByte(pl.Path, '/')+1:]
	if _, err := t.platformDo(ctx, http.MethodPut, pl.Path, deploy); err != nil {
		return Result{}, fmt.Errorf("run_code: deploy: %w", err)
	}
	answer, ierr := t.platformDo(ctx, http.MethodPost, pl.Path+"/invoke", invoke)
	// The delete runs even when the call's context ended (the turn's
	// time, a client gone): the ttl is only the backstop.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	_, derr := t.platformDo(dctx, http.MethodDelete, pl.Path, nil)
	var b strings.Builder
	fmt.Fprintf(&b, "done: %s\n", pl.Summary)
	if derr != nil {
		fmt.Fprintf(&b, "deleting %s failed (%s): its ttl (%s) deletes it\n", name, ErrorText(derr), rp.Deploy.TTL)
	} else {
		fmt.Fprintf(&b, "%s was deployed, invoked once and deleted\n", name)
	}
	if ierr != nil {
		return Result{}, fmt.Errorf("run_code: invoke %s (%s): %w", name, strings.TrimSpace(b.String()), ierr)
	}
	var inv api.Invocation
	if err := json.Unmarshal(answer, &inv); err != nil {
		return Result{}, fmt.Errorf("run_code: decode the invocation: %w", err)
	}
	b.WriteString(invocationText(inv))
	return Result{Text: Cap(Scrub(b.String()), DefaultMaxOutput), Data: ScrubData(inv)}, nil
}

// platformAnswer is what a result says of a platform's answer to a plan:
// a function deployed, an invocation, or nothing (a delete's 204).
func platformAnswer(b []byte) (string, any) {
	var probe map[string]any
	if len(b) == 0 || json.Unmarshal(b, &probe) != nil {
		return "", nil
	}
	if _, ok := probe["trigger"]; ok {
		var inv api.Invocation
		if json.Unmarshal(b, &inv) == nil {
			return "\n" + invocationText(inv), inv
		}
	}
	if _, ok := probe["latest_version"]; ok {
		var f api.Function
		if json.Unmarshal(b, &f) == nil {
			return fmt.Sprintf(" (function %s, version %d, resource_version %s, %s)", f.Name, f.LatestVersion, f.ResourceVersion, f.URL), f
		}
	}
	return "", probe
}
