package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hexabase/hexabase-ai/internal/api"
)

// maxFunctionSource is the largest file `hks fn deploy` sends (the
// server's limit of one source file).
const maxFunctionSource = 4 << 20

var fnCols = []Column{{"NAME", "name"}, {"RUNTIME", "runtime"}, {"ACCESS", "access"}, {"LATEST", "latest"}, {"ALIASES", "aliases"},
	{"INSTANCES", "instances"}, {"URL", "url"}}

// fnView is the table row of a function.
func fnView(f api.Function) map[string]any {
	return map[string]any{"name": f.Name, "runtime": f.Runtime, "access": f.Access, "latest": "v" + itoa(f.LatestVersion),
		"aliases": aliasesText(f.Aliases), "instances": itoa(f.Instances), "url": f.URL}
}

// aliasesText is "latest=v3 prod=v1:90,v2:10".
func aliasesText(as []api.FunctionAlias) string {
	parts := make([]string, len(as))
	for i, a := range as {
		parts[i] = a.Name + "=" + targetsText(a.Targets)
	}
	return strings.Join(parts, " ")
}

// targetsText is "v3", or "v1:90,v2:10" for a split.
func targetsText(ts []api.FunctionAliasTarget) string {
	if len(ts) == 1 && ts[0].Weight == 100 {
		return "v" + itoa(ts[0].Version)
	}
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = "v" + itoa(t.Version) + ":" + itoa(t.Weight)
	}
	return strings.Join(parts, ",")
}

// printFnDetail prints what a function's row leaves out.
func printFnDetail(w io.Writer, f api.Function) {
	fmt.Fprintln(w)
	if f.Description != "" {
		fmt.Fprintf(w, "Description:  %s\n", f.Description)
	}
	l := f.Limits
	fmt.Fprintf(w, "Limits:       memory %d MB, timeout %ds, concurrency %d, max instances %d\n", l.MemoryMB, l.TimeoutSeconds, l.Concurrency, l.MaxInstances)
	if len(f.Secrets) > 0 {
		fmt.Fprintf(w, "Secrets:      %s\n", strings.Join(f.Secrets, " "))
	}
	if f.ExpiresAt != nil {
		fmt.Fprintf(w, "Expires:      %s\n", timeText(*f.ExpiresAt))
	}
	fmt.Fprintln(w, "Aliases:")
	for _, a := range f.Aliases {
		u := f.URL
		if a.Name != "latest" {
			u += "/" + url.PathEscape(a.Name)
		}
		fmt.Fprintf(w, "  %-10s %-16s %s\n", a.Name, targetsText(a.Targets), u)
	}
}

var fnVersionCols = []Column{{"VERSION", "version"}, {"RUNTIME", "runtime"}, {"FILENAME", "filename"}, {"SIZE", "size"},
	{"MEMORY", "memory"}, {"TIMEOUT", "timeout"}, {"DIGEST", "digest"}, {"BUILD", "build"}, {"CREATED", "created_at"}, {"BY", "created_by"}}

func fnVersionView(v api.FunctionVersion) map[string]any {
	digest := strings.TrimPrefix(v.Digest, "sha256:")
	if len(digest) > 12 {
		digest = digest[:12]
	}
	return map[string]any{"version": itoa(v.Version), "runtime": v.Runtime, "filename": v.Filename, "size": itoa(v.SizeBytes),
		"memory": itoa(v.Limits.MemoryMB) + "MB", "timeout": itoa(v.Limits.TimeoutSeconds) + "s", "digest": digest,
		"build": (time.Duration(v.BuildMillis) * time.Millisecond).String(), "created_at": timeText(v.CreatedAt), "created_by": v.CreatedBy}
}

var invocationCols = []Column{{"ID", "id"}, {"VERSION", "version"}, {"ALIAS", "alias"}, {"TRIGGER", "trigger"}, {"STATUS", "status"},
	{"EXIT-REASON", "exit_reason"}, {"COLD", "cold"}, {"STARTED", "started_at"}, {"DURATION", "duration"}}

func invocationView(inv api.Invocation) map[string]any {
	return map[string]any{"id": inv.ID, "version": "v" + itoa(inv.Version), "alias": inv.Alias, "trigger": inv.Trigger, "status": inv.Status,
		"exit_reason": inv.ExitReason, "cold": yesNo(inv.ColdStart), "started_at": timeText(inv.StartedAt), "duration": durationText(inv.DurationMS)}
}

// durationText is a duration in milliseconds as 12.3ms or 1.2s.
func durationText(ms float64) string {
	d := time.Duration(ms * float64(time.Millisecond))
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(100 * time.Microsecond).String()
	}
	return d.Round(10 * time.Millisecond).String()
}

var runtimeCols = []Column{{"NAME", "name"}, {"AVAILABLE", "available"}, {"VERSION", "version"}, {"SANDBOX", "sandbox"}, {"ENTRY", "entry"}, {"REASON", "reason"}}

func runtimeView(r api.FunctionRuntime) map[string]any {
	return map[string]any{"name": r.Name, "available": yesNo(r.Available), "version": r.Version, "sandbox": r.Sandbox, "entry": r.Entry, "reason": r.Reason}
}

var triggerCols = []Column{{"NAME", "name"}, {"KIND", "kind"}, {"SCHEDULE", "schedule"}, {"TIMEZONE", "time_zone"}, {"TOPIC", "topic"}, {"ALIAS", "alias"}, {"CREATED", "created_at"}}

func triggerView(t api.FunctionTrigger) map[string]any {
	return map[string]any{"name": t.Name, "kind": t.Kind, "schedule": t.Schedule, "time_zone": t.TimeZone, "topic": t.Topic, "alias": t.Alias,
		"created_at": timeText(t.CreatedAt)}
}

var deadLetterCols = []Column{{"ID", "id"}, {"TRIGGER", "trigger"}, {"TOPIC", "topic"}, {"EVENT", "event_id"}, {"ATTEMPTS", "attempts"},
	{"CREATED", "created_at"}, {"LAST-ERROR", "last_error"}}

func deadLetterView(d api.DeadLetter) map[string]any {
	return map[string]any{"id": d.ID, "trigger": d.Trigger, "topic": d.Topic, "event_id": d.EventID, "attempts": itoa(d.Attempts),
		"created_at": timeText(d.CreatedAt), "last_error": abbreviate(firstLine(d.LastError), 80)}
}

// firstLine is s up to its first line break.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func fnCmd(o *Options) *cobra.Command {
	s := &scope{}
	p := inProject{o: o, s: s, coll: "functions", what: "function", word: "fn"}
	cmd := &cobra.Command{Use: "fn", Aliases: []string{"function", "functions"},
		Short: "Manage the functions of a project: deploy code, invoke it, versions, aliases, triggers and logs",
		Long: `Functions are handlers (node, python, go or wasm) the platform runs on demand
in a sandbox: deploy a file, call it through its URL or with ` + "`hks fn invoke`" + `,
and see each invocation's logs. docs/functions.md has the handler contract of
each runtime.`,
		Example: `  hks fn deploy handler.py --project backend --access public
  hks fn invoke handler --data '{"name":"ada"}'
  hks fn logs handler -f`}
	runtimes := fnRuntimesCmd(o)
	trigger := &cobra.Command{Use: "trigger", Short: "Run a function on a schedule (cron) or on the events of a topic",
		Example: `  hks fn trigger create report nightly --cron "0 2 * * *" --tz Europe/Berlin
  hks fn trigger list report`}
	trigger.AddCommand(fnTriggerCreateCmd(p), fnTriggerListCmd(p), fnTriggerDeleteCmd(p))
	cmd.AddCommand(fnDeployCmd(p), listCmd(p, fnCols, fnView),
		getCmd(p, "Show a function with its limits, secrets' names and aliases", "handler", fnCols, fnView, printFnDetail),
		fnInvokeCmd(p), fnLogsCmd(p), fnInvocationsCmd(p),
		subListCmd(p, "versions", "List a function's versions, newest first (each deploy that changed something is one)",
			p.example("versions", "handler"), "versions", fnVersionCols, fnVersionView),
		fnCodeCmd(p), fnAliasCmd(p), fnRollbackCmd(p), fnSecretsCmd(p),
		p.deleteCmd("Delete a function with its versions, triggers, invocations and logs", "handler"),
		runtimes, trigger, fnPublishCmd(p), fnDeadLettersCmd(p))
	// Every command but runtimes works in a project.
	for _, sub := range cmd.Commands() {
		if sub != runtimes {
			s.projectFlag(sub)
		}
	}
	return cmd
}

// runtimeOf is the runtime a file's name implies: .js/.mjs node, .py
// python, .go go, .wasm wasm; an archive, or a name without one of these
// endings, needs --runtime.
func runtimeOf(filename string) (string, error) {
	name := strings.ToLower(filepath.Base(filename))
	switch filepath.Ext(name) {
	case ".js", ".mjs", ".cjs":
		return "node", nil
	case ".py":
		return "python", nil
	case ".go":
		return "go", nil
	case ".wasm":
		return "wasm", nil
	}
	if isArchive(name) {
		return "", fmt.Errorf("%s is an archive: give its runtime with --runtime (node, python, go or wasm)", filepath.Base(filename))
	}
	return "", fmt.Errorf("cannot tell the runtime of %s from its name: give --runtime (node, python, go or wasm)", filepath.Base(filename))
}

// isArchive tells whether a file name is a zip or gzipped tar archive.
func isArchive(name string) bool {
	name = strings.ToLower(name)
	return strings.HasSuffix(name, ".zip") || strings.HasSuffix(name, ".tar.gz") || strings.HasSuffix(name, ".tgz")
}

// functionName is the default name of the function of a file: its base
// name without its extension (code.tar.gz → code).
func functionName(filename string) string {
	base := filepath.Base(filename)
	lower := strings.ToLower(base)
	for _, ext := range []string{".tar.gz", ".tgz"} {
		if strings.HasSuffix(lower, ext) {
			return base[:len(base)-len(ext)]
		}
	}
	return strings.TrimSuffix(base, filepath.Ext(base))
}

// fnDeployFlags are the flags of `hks fn deploy`.
type fnDeployFlags struct {
	name, runtime, access, ttl, description string
	env                                     []string
	memory, concurrency, maxInstances       int
	timeout                                 time.Duration
}

// request is the deploy request of file (its bytes content) and the
// flags given.
func (f *fnDeployFlags) request(cmd *cobra.Command, file string, content []byte) (string, api.DeployFunctionRequest, error) {
	var req api.DeployFunctionRequest
	name := f.name
	if name == "" {
		name = functionName(file)
	}
	runtime := f.runtime
	if runtime == "" {
		var err error
		if runtime, err = runtimeOf(file); err != nil {
			return "", req, err
		}
	}
	switch f.access {
	case "", "private", "public":
	default:
		return "", req, fmt.Errorf("--access %q: want private or public", f.access)
	}
	if f.ttl != "" {
		if _, err := time.ParseDuration(f.ttl); err != nil {
			return "", req, fmt.Errorf("--ttl %q: want a duration such as 30m, 1h or 720h", f.ttl)
		}
	}
	var env map[string]string
	for _, kv := range f.env {
		k, v, err := pair("env", kv)
		if err != nil {
			return "", req, err
		}
		if env == nil {
			env = map[string]string{}
		}
		env[k] = v
	}
	var limits api.FunctionLimits
	changed := cmd.Flags().Changed
	for _, n := range []struct {
		flag string
		v    int
		dst  *int
	}{{"memory", f.memory, &limits.MemoryMB}, {"concurrency", f.concurrency, &limits.Concurrency}, {"max-instances", f.maxInstances, &limits.MaxInstances}} {
		if !changed(n.flag) {
			continue
		}
		if n.v < 1 {
			return "", req, fmt.Errorf("--%s %d: want 1 or more", n.flag, n.v)
		}
		*n.dst = n.v
	}
	if changed("timeout") {
		if f.timeout < time.Second || f.timeout%time.Second != 0 {
			return "", req, fmt.Errorf("--timeout %s: want whole seconds, at least 1s", f.timeout)
		}
		limits.TimeoutSeconds = int(f.timeout / time.Second)
	}
	req = api.DeployFunctionRequest{Runtime: runtime, Source: api.FunctionSource{Filename: filepath.Base(file), Content: content},
		Access: f.access, Env: env, TTL: f.ttl, Description: f.description}
	if limits != (api.FunctionLimits{}) {
		req.Limits = &limits
	}
	return name, req, nil
}

// carryForward fills what a redeploy's flags leave out from the function as
// it is: the API's PUT replaces the settings (what a request leaves out
// returns to its default), a redeploy from the CLI keeps them, as
// `fission fn update` does: access, description, limits and environment
// of the latest version, and the time left of a ttl.
func carryForward(cmd *cobra.Command, p inProject, name string, req *api.DeployFunctionRequest) error {
	cur, err := callAs[api.Function](cmd.Context(), p, http.MethodGet, url.PathEscape(name), nil)
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return nil // a new function
	}
	if err != nil {
		return err
	}
	changed := cmd.Flags().Changed
	if !changed("access") {
		req.Access = cur.Access
	}
	if !changed("description") {
		req.Description = cur.Description
	}
	l := cur.Limits
	if req.Limits != nil {
		for _, f := range []struct {
			flag     string
			from, to *int
		}{{"memory", &req.Limits.MemoryMB, &l.MemoryMB}, {"timeout", &req.Limits.TimeoutSeconds, &l.TimeoutSeconds},
			{"concurrency", &req.Limits.Concurrency, &l.Concurrency}, {"max-instances", &req.Limits.MaxInstances, &l.MaxInstances}} {
			if changed(f.flag) {
				*f.to = *f.from
			}
		}
	}
	req.Limits = &l
	if !changed("env") && cur.LatestVersion > 0 {
		vs, err := callAs[api.List[api.FunctionVersion]](cmd.Context(), p, http.MethodGet, url.PathEscape(name)+"/versions?limit=1", nil)
		if err != nil {
			return err
		}
		for _, v := range vs.Items {
			if v.Version == cur.LatestVersion {
				req.Env = v.Env
			}
		}
	}
	if !changed("ttl") && cur.ExpiresAt != nil {
		left := time.Until(*cur.ExpiresAt).Round(time.Minute)
		if left < time.Minute {
			left = time.Minute
		}
		req.TTL = left.String()
	}
	return nil
}

func fnDeployCmd(p inProject) *cobra.Command {
	f := &fnDeployFlags{}
	cmd := &cobra.Command{
		Use:   "deploy FILE",
		Short: "Deploy a file (or a zip / tar.gz archive) as a function, or as a new version of it",
		Long: `Deploy FILE as the function NAME (default: the file's name without its
extension). The runtime comes from the extension (.js/.mjs node, .py python,
.go go, .wasm wasm); an archive needs --runtime and holds the runtime's entry
file (see ` + "`hks fn runtimes`" + `). Deploying the same code and settings again
makes no new version; anything else makes one, and the alias latest moves
to it.`,
		Example: `  hks fn deploy handler.py --project backend
  hks fn deploy index.js --name hello --access public --env GREETING=hi --memory 256 --timeout 30s
  hks fn deploy code.tar.gz --runtime python --ttl 24h --description "preview build"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			file := args[0]
			fi, err := os.Stat(file)
			if err != nil {
				return fmt.Errorf("read the code: %w", err)
			}
			if fi.IsDir() {
				return fmt.Errorf("%s is a directory: deploy one file, or a zip or tar.gz archive of it", file)
			}
			if fi.Size() > maxFunctionSource {
				return fmt.Errorf("%s has %d bytes: at most %d (4 MiB) can be deployed", file, fi.Size(), maxFunctionSource)
			}
			// The name and flags are checked before the file is read.
			name, req, err := f.request(cmd, file, nil)
			if err != nil {
				return err
			}
			if req.Source.Content, err = os.ReadFile(file); err != nil {
				return fmt.Errorf("read the code: %w", err)
			}
			if err := carryForward(cmd, p, name, &req); err != nil {
				return err
			}
			return sendAs(cmd, p, http.MethodPut, url.PathEscape(name), req, fnCols, fnView)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.name, "name", "", "the function's name (default: the file's name without its extension)")
	fl.StringVar(&f.runtime, "runtime", "", "node, python, go or wasm (default: from the file's extension; required for an archive)")
	fl.StringVar(&f.access, "access", "", "private (default: callers need a platform token with developer access to the project) or public (anyone with the URL)")
	fl.StringArrayVar(&f.env, "env", nil, "environment variable NAME=VALUE of the version (repeatable)")
	fl.IntVar(&f.memory, "memory", 0, "memory of one instance in MB (default 128, at most 1024)")
	fl.DurationVar(&f.timeout, "timeout", 0, "wall-clock limit of one invocation, e.g. 10s (default 10s, at most 5m)")
	fl.IntVar(&f.concurrency, "concurrency", 0, "invocations one instance serves at once (default 1)")
	fl.IntVar(&f.maxInstances, "max-instances", 0, "instances at once (default 4); calls beyond them queue, then get 429")
	fl.StringVar(&f.ttl, "ttl", "", "delete the function this long after the deploy, e.g. 1h (at least 1m, at most 720h)")
	fl.StringVar(&f.description, "description", "", "shown in lists")
	return cmd
}

// fnInvokeFlags are the flags of `hks fn invoke`.
type fnInvokeFlags struct {
	data, dataFile, method, path, alias string
	version                             int
	async                               bool
	headers                             []string
}

// request is the invoke request of the flags; stdin is read for
// --data-file -.
func (f *fnInvokeFlags) request(cmd *cobra.Command, stdin io.Reader) (api.InvokeFunctionRequest, error) {
	var req api.InvokeFunctionRequest
	changed := cmd.Flags().Changed
	if changed("data") && changed("data-file") {
		return req, errors.New("give --data or --data-file, not both")
	}
	if f.alias != "" && changed("version") {
		return req, errors.New("give --alias or --version, not both")
	}
	if changed("version") && f.version < 1 {
		return req, fmt.Errorf("--version %d: want 1 or more", f.version)
	}
	req.Body = f.data
	switch f.dataFile {
	case "":
	case "-":
		b, err := io.ReadAll(io.LimitReader(stdin, 1<<20+1))
		if err != nil {
			return req, fmt.Errorf("read standard input: %w", err)
		}
		req.Body = string(b)
	default:
		b, err := os.ReadFile(f.dataFile)
		if err != nil {
			return req, fmt.Errorf("read the data: %w", err)
		}
		req.Body = string(b)
	}
	if len(req.Body) > 1<<20 {
		return req, errors.New("the request body is larger than 1 MiB, the most a function takes")
	}
	req.Method = strings.ToUpper(f.method)
	req.Alias, req.Async = f.alias, f.async
	if changed("version") {
		req.Version = f.version
	}
	path, rawQuery, _ := strings.Cut(f.path, "?")
	if path != "" && !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	req.Path = path
	if rawQuery != "" {
		q, err := url.ParseQuery(rawQuery)
		if err != nil {
			return req, fmt.Errorf("--path %q: bad query: %w", f.path, err)
		}
		req.Query = q
	}
	for _, h := range f.headers {
		k, v, ok := strings.Cut(h, ":")
		k = strings.TrimSpace(k)
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return req, fmt.Errorf("--header %q: want NAME: VALUE", h)
		}
		if req.Headers == nil {
			req.Headers = map[string][]string{}
		}
		k = http.CanonicalHeaderKey(k)
		req.Headers[k] = append(req.Headers[k], strings.TrimSpace(v))
	}
	return req, nil
}

// errInvocationFailed is wrapped by the error of a failed invocation.
var errInvocationFailed = errors.New("invocation failed")

// invocationError is the error of a failed invocation: its status, exit
// reason and error, or nil when it did not fail.
func invocationError(inv api.Invocation) error {
	if inv.Status != "failed" {
		return nil
	}
	msg := fmt.Sprintf("invocation %s of %s v%d failed", inv.ID, inv.Function, inv.Version)
	if inv.ExitReason != "" {
		msg += ": " + inv.ExitReason
	}
	if inv.Response != nil && inv.Response.Status != 0 {
		msg += fmt.Sprintf(" (status %d)", inv.Response.Status)
	}
	if inv.Error != "" {
		msg += ": " + inv.Error
	}
	return fmt.Errorf("%w: %s", errInvocationFailed, termSafeString(msg))
}

func fnInvokeCmd(p inProject) *cobra.Command {
	f := &fnInvokeFlags{}
	var showLogs bool
	cmd := &cobra.Command{
		Use:   "invoke NAME",
		Short: "Call a function and print its answer's body; a failed call exits non-zero",
		Long: `Call a function through the API (as its developer: private functions too)
and print the body of its answer on standard output. When the invocation
fails (the handler threw, answered 5xx, ran out of time or memory, crashed, or
the function was too busy) its status and exit reason go to standard error
and hks exits with status 1. -o json prints the whole invocation record.`,
		Example: `  hks fn invoke hello
  hks fn invoke hello --data '{"name":"ada"}' --header "Content-Type: application/json"
  echo '{"n":1}' | hks fn invoke hello --data-file - --method PUT --path /items?x=1 --alias prod
  hks fn invoke hello --version 2 --async`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := f.request(cmd, cmd.InOrStdin())
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			c, base, err := p.client(ctx)
			if err != nil {
				return err
			}
			// An invocation may take minutes (its timeout): the context
			// bounds the call, not the client's timeout.
			hc := *c.HTTP
			hc.Timeout = 0
			c.HTTP = &hc
			var inv api.Invocation
			if err := c.Do(ctx, http.MethodPost, item(base, args[0])+"/invoke", req, &inv); err != nil {
				return err
			}
			out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
			if !tableOutput(p.o) {
				termSafe(&inv.Logs)
				termSafe(&inv.Error)
				if err := printTree(out, p.o.Output, inv); err != nil {
					return err
				}
				return invocationError(inv)
			}
			if req.Async {
				fmt.Fprintf(out, "invocation %s %s (see `hks fn invocations %s`)\n", inv.ID, inv.Status, args[0])
				return nil
			}
			if showLogs && inv.Logs != "" {
				fmt.Fprint(errOut, termSafeString(inv.Logs))
				if !strings.HasSuffix(inv.Logs, "\n") {
					fmt.Fprintln(errOut)
				}
			}
			if inv.Response != nil {
				body := inv.Response.Body
				if isTerminal(out) {
					body = termSafeString(body)
				}
				fmt.Fprint(out, body)
				if isTerminal(out) && body != "" && !strings.HasSuffix(body, "\n") {
					fmt.Fprintln(out)
				}
			}
			return invocationError(inv)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.data, "data", "d", "", "the request body")
	fl.StringVar(&f.dataFile, "data-file", "", "read the request body from a file (- for standard input)")
	fl.StringVarP(&f.method, "method", "X", "", "the request's method (default POST)")
	fl.StringVar(&f.path, "path", "", "the request's path, with a query if any (default /)")
	fl.StringVar(&f.alias, "alias", "", "call the version(s) of this alias (default latest)")
	fl.IntVar(&f.version, "version", 0, "call this version instead of an alias")
	fl.BoolVar(&f.async, "async", false, "do not wait: print the invocation's id (its result is in `hks fn invocations`)")
	fl.StringArrayVarP(&f.headers, "header", "H", nil, "a request header NAME: VALUE (repeatable)")
	fl.BoolVar(&showLogs, "logs", false, "print the invocation's logs on standard error")
	return cmd
}

// printInvocation prints an invocation's line (time, id, version, status,
// duration) and its logs indented below it, made safe for a terminal.
func printInvocation(w io.Writer, inv api.Invocation) {
	termSafe(&inv)
	line := fmt.Sprintf("%s  %s  v%d  %s  %s", inv.StartedAt.UTC().Format("2006-01-02T15:04:05.000Z"), inv.ID, inv.Version, inv.Status, durationText(inv.DurationMS))
	if inv.ExitReason != "" {
		line += "  " + inv.ExitReason
	}
	if inv.ColdStart {
		line += "  cold"
	}
	if inv.Trigger != "" {
		line += "  (" + inv.Trigger + ")"
	}
	fmt.Fprintln(w, line)
	if inv.Error != "" {
		fmt.Fprintf(w, "  error: %s\n", inv.Error)
	}
	for _, l := range strings.Split(strings.TrimRight(inv.Logs, "\n"), "\n") {
		if l != "" {
			fmt.Fprintf(w, "  %s\n", l)
		}
	}
}

// decodeInvocations reads the logs answer: a JSON list of invocations,
// bare or as a page.
func decodeInvocations(b []byte) ([]api.Invocation, error) {
	var list []api.Invocation
	if err := json.Unmarshal(b, &list); err == nil {
		return list, nil
	}
	var page api.List[api.Invocation]
	if err := json.Unmarshal(b, &page); err != nil {
		return nil, fmt.Errorf("decode the logs: %w", err)
	}
	return page.Items, nil
}

func fnLogsCmd(p inProject) *cobra.Command {
	var follow bool
	var limit int
	cmd := &cobra.Command{
		Use:   "logs NAME",
		Short: "Print the logs of a function's latest invocations, oldest first; -f prints each invocation as it finishes",
		Example: `  hks fn logs hello
  hks fn logs hello --limit 5
  hks fn logs hello -f`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, base, err := p.client(ctx)
			if err != nil {
				return err
			}
			path := item(base, args[0]) + "/logs"
			out := cmd.OutOrStdout()
			print := func(inv api.Invocation) error {
				if tableOutput(p.o) {
					printInvocation(out, inv)
					return nil
				}
				termSafe(&inv)
				b, err := json.Marshal(inv)
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(out, "%s\n", b)
				return err
			}
			if !follow {
				if limit < 1 || limit > 500 {
					return fmt.Errorf("--limit %d: want 1 to 500", limit)
				}
				var raw json.RawMessage
				if err := c.Do(ctx, http.MethodGet, path+query("limit", itoaIf(cmd, "limit", limit)), nil, &raw); err != nil {
					return err
				}
				invs, err := decodeInvocations(raw)
				if err != nil {
					return err
				}
				sort.SliceStable(invs, func(i, j int) bool { return invs[i].StartedAt.Before(invs[j].StartedAt) })
				if !tableOutput(p.o) {
					termSafe(&invs)
					return printTree(out, p.o.Output, invs)
				}
				for _, inv := range invs {
					printInvocation(out, inv)
				}
				return nil
			}
			return followInvocations(ctx, c, path+"?follow=true", print, cmd.ErrOrStderr())
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing invocations as they finish, until interrupted (-o json: one JSON object a line)")
	cmd.Flags().IntVar(&limit, "limit", 50, "how many of the last invocations (1 to 500; without -f)")
	return cmd
}

// firstReopen is the pause before the logs' stream is opened again.
var firstReopen = time.Second

// followInvocations reads the event stream at path and calls fn with each
// invocation until ctx ends; a stream that drops (or a server that is
// restarting) is opened again, and an invocation seen before is not
// passed twice; each new reason it failed is told on notes. A refusal
// (4xx) or fn's error ends it.
func followInvocations(ctx context.Context, c *Client, path string, fn func(api.Invocation) error, notes io.Writer) error {
	seen := map[string]bool{}
	said := ""
	for {
		var resp *http.Response
		err := c.withToken(ctx, func() (err error) {
			resp, err = c.openStream(ctx, path)
			return err
		})
		var fnErr error
		if err == nil {
			_ = readFrames(resp.Body, func(f frame) error {
				if f.name != "" && f.name != "invocation" {
					return nil
				}
				var inv api.Invocation
				if err := json.Unmarshal(f.data, &inv); err != nil {
					fnErr = fmt.Errorf("read the logs: bad event: %w", err)
					return fnErr
				}
				if inv.ID != "" && seen[inv.ID] {
					return nil
				}
				seen[inv.ID] = true
				fnErr = fn(inv)
				return fnErr
			})
			resp.Body.Close()
		}
		if ctx.Err() != nil {
			return nil
		}
		if fnErr != nil {
			return fnErr
		}
		var ae *APIError
		if errors.As(err, &ae) && ae.Status < 500 {
			ae.nameReference(path)
			return err
		}
		if err != nil && strings.Contains(err.Error(), "not an event stream") {
			return err
		}
		// A server error or a dropped connection: say so once, then
		// open the stream again.
		if err != nil && err.Error() != said {
			said = err.Error()
			fmt.Fprintf(notes, "the logs' stream failed (%s); opening it again\n", termSafeString(said))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(firstReopen):
		}
	}
}

func fnInvocationsCmd(p inProject) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "invocations NAME",
		Short: "List a function's invocations, newest first",
		Example: `  hks fn invocations hello
  hks fn invocations hello --limit 200 -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 1 {
				return fmt.Errorf("--limit %d: want 1 or more", limit)
			}
			ctx := cmd.Context()
			c, base, err := p.client(ctx)
			if err != nil {
				return err
			}
			invs := []api.Invocation{}
			cursor := ""
			for len(invs) < limit {
				path := item(base, args[0]) + "/invocations" + query("limit", strconv.Itoa(min(limit-len(invs), 500)), "cursor", cursor)
				var page api.List[api.Invocation]
				if err := c.Do(ctx, http.MethodGet, path, nil, &page); err != nil {
					return err
				}
				invs = append(invs, page.Items...)
				if page.NextCursor == "" || len(page.Items) == 0 {
					break
				}
				cursor = page.NextCursor
			}
			if len(invs) > limit {
				invs = invs[:limit]
			}
			termSafe(&invs)
			return printList(cmd.OutOrStdout(), p.o.Output, invs, invocationCols, invocationView)
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 50, "at most this many")
	return cmd
}

func fnCodeCmd(p inProject) *cobra.Command {
	var version int
	cmd := &cobra.Command{
		Use:   "code NAME",
		Short: "Print the code of a function's version (default: the latest); an archive is written as it is",
		Example: `  hks fn code hello
  hks fn code hello --version 2 > handler.v2.py`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if cmd.Flags().Changed("version") && version < 1 {
				return fmt.Errorf("--version %d: want 1 or more", version)
			}
			if version == 0 {
				f, err := callAs[api.Function](ctx, p, http.MethodGet, url.PathEscape(args[0]), nil)
				if err != nil {
					return err
				}
				version = f.LatestVersion
			}
			code, err := callAs[api.FunctionCode](ctx, p, http.MethodGet, url.PathEscape(args[0])+"/versions/"+strconv.Itoa(version)+"/code", nil)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if !tableOutput(p.o) {
				return printTree(out, p.o.Output, code)
			}
			if isTerminal(out) {
				if isArchive(code.Filename) {
					return fmt.Errorf("v%d is the archive %s: redirect the output to a file", code.Version, code.Filename)
				}
				_, err = fmt.Fprint(out, termSafeString(string(code.Content)))
				return err
			}
			_, err = out.Write(code.Content)
			return err
		},
	}
	cmd.Flags().IntVar(&version, "version", 0, "the version (default: the latest)")
	return cmd
}

// parseAliasTargets reads an alias's targets: "v1=90 v2=10" (or 1=90),
// or one version "v3" for all of its calls. The weights add up to 100
// and no version comes twice.
func parseAliasTargets(args []string) ([]api.FunctionAliasTarget, error) {
	if len(args) == 0 {
		return nil, errors.New("give the alias's versions: VERSION (all calls) or VERSION=WEIGHT ... adding up to 100, e.g. v1=90 v2=10")
	}
	var out []api.FunctionAliasTarget
	total := 0
	for _, a := range args {
		v, w, split := strings.Cut(a, "=")
		n, err := strconv.Atoi(strings.TrimPrefix(strings.ToLower(v), "v"))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q: want a version such as v2 or 2, then =WEIGHT", a)
		}
		weight := 100
		if split {
			if weight, err = strconv.Atoi(w); err != nil || weight < 1 || weight > 100 {
				return nil, fmt.Errorf("%q: the weight is a percent from 1 to 100", a)
			}
		} else if len(args) > 1 {
			return nil, fmt.Errorf("%q: give each version's weight (v1=90 v2=10) when the alias has several", a)
		}
		if slices.ContainsFunc(out, func(t api.FunctionAliasTarget) bool { return t.Version == n }) {
			return nil, fmt.Errorf("version %d is given twice", n)
		}
		total += weight
		out = append(out, api.FunctionAliasTarget{Version: n, Weight: weight})
	}
	if total != 100 {
		return nil, fmt.Errorf("the weights add up to %d, not 100", total)
	}
	return out, nil
}

func fnAliasCmd(p inProject) *cobra.Command {
	var del bool
	cmd := &cobra.Command{
		Use:   "alias NAME ALIAS [VERSION | VERSION=WEIGHT ...]",
		Short: "Point an alias at a version, or split its calls between versions by weight (--delete removes it)",
		Long: `Point the alias ALIAS of a function at one version (v3), or split its calls
between versions by percent (v1=90 v2=10, adding up to 100). Its URL is the
function's URL followed by /ALIAS. latest is moved by every deploy; setting
it pins it until the next one.`,
		Example: `  hks fn alias hello prod v3
  hks fn alias hello prod v3=90 v4=10
  hks fn alias hello canary --delete`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, alias := args[0], args[1]
			rel := url.PathEscape(name) + "/aliases/" + url.PathEscape(alias)
			if del {
				if len(args) > 2 {
					return errors.New("--delete takes no versions")
				}
				c, base, err := p.client(cmd.Context())
				if err != nil {
					return err
				}
				if err := c.Do(cmd.Context(), http.MethodDelete, base+"/"+rel, nil, nil); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "alias %s of function %s deleted\n", alias, name)
				return nil
			}
			targets, err := parseAliasTargets(args[2:])
			if err != nil {
				return err
			}
			return sendAs(cmd, p, http.MethodPut, rel, api.SetFunctionAliasRequest{Targets: targets}, fnCols, fnView)
		},
	}
	cmd.Flags().BoolVar(&del, "delete", false, "delete the alias (latest cannot be deleted)")
	return cmd
}

func fnRollbackCmd(p inProject) *cobra.Command {
	var alias string
	var to int
	cmd := &cobra.Command{
		Use:   "rollback NAME",
		Short: "Point an alias (default latest) back at the version it had before its last change, or at --to",
		Example: `  hks fn rollback hello
  hks fn rollback hello --alias prod --to 2`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("to") && to < 1 {
				return fmt.Errorf("--to %d: want a version, 1 or more", to)
			}
			return sendAs(cmd, p, http.MethodPost, url.PathEscape(args[0])+"/rollback", api.RollbackFunctionRequest{Alias: alias, Version: to}, fnCols, fnView)
		},
	}
	cmd.Flags().StringVar(&alias, "alias", "", "the alias (default latest)")
	cmd.Flags().IntVar(&to, "to", 0, "the version (default: the one before the alias's last change)")
	return cmd
}

// secretsRequest is the request of --set and --remove.
func secretsRequest(set, remove []string) (api.FunctionSecretsRequest, error) {
	var req api.FunctionSecretsRequest
	if len(set) == 0 && len(remove) == 0 {
		return req, errors.New("nothing to change: give --set NAME=VALUE or --remove NAME")
	}
	for _, kv := range set {
		k, v, err := pair("set", kv)
		if err != nil {
			return req, err
		}
		if req.Set == nil {
			req.Set = map[string]string{}
		}
		req.Set[k] = v
	}
	for _, k := range remove {
		if k == "" {
			return req, errors.New("--remove: want a secret's name")
		}
		if _, ok := req.Set[k]; ok {
			return req, fmt.Errorf("%s is both set and removed", k)
		}
		req.Remove = append(req.Remove, k)
	}
	return req, nil
}

func fnSecretsCmd(p inProject) *cobra.Command {
	var set, remove []string
	cmd := &cobra.Command{
		Use:   "secrets NAME",
		Short: "Set or remove a function's secrets: environment variables of its instances, sealed at rest and never shown again",
		Example: `  hks fn secrets hello --set API_KEY="$API_KEY"
  hks fn secrets hello --remove OLD_TOKEN`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := secretsRequest(set, remove)
			if err != nil {
				return err
			}
			out, err := callAs[api.Function](cmd.Context(), p, http.MethodPost, url.PathEscape(args[0])+"/secrets", req)
			if err != nil {
				return err
			}
			if !tableOutput(p.o) {
				return printTree(cmd.OutOrStdout(), p.o.Output, out)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "secrets of %s: %s\n", out.Name, strings.Join(out.Secrets, " "))
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&set, "set", nil, "set a secret NAME=VALUE (repeatable)")
	cmd.Flags().StringArrayVar(&remove, "remove", nil, "remove the secret NAME (repeatable)")
	return cmd
}

func fnRuntimesCmd(o *Options) *cobra.Command {
	return &cobra.Command{
		Use: "runtimes", Short: "List the runtimes functions can use on this platform, with their entry file", Args: cobra.NoArgs,
		Example: "  hks fn runtimes",
		RunE: withClient(o, func(cmd *cobra.Command, c *Client, _ []string) error {
			rs, err := apiCall[[]api.FunctionRuntime](cmd.Context(), c, http.MethodGet, "/api/v1/functions/runtimes", nil)
			if err != nil {
				return err
			}
			return printList(cmd.OutOrStdout(), o.Output, rs, runtimeCols, runtimeView)
		}),
	}
}

// triggerRequest is the request of `hks fn trigger create`'s flags.
func triggerRequest(name, cron, tz, topic, alias string) (api.CreateFunctionTriggerRequest, error) {
	req := api.CreateFunctionTriggerRequest{Name: name, Alias: alias}
	switch {
	case cron != "" && topic != "":
		return req, errors.New("give --cron or --topic, not both")
	case cron != "":
		req.Kind, req.Schedule, req.TimeZone = "cron", cron, tz
	case topic != "":
		if tz != "" {
			return req, errors.New("--tz is for a --cron trigger")
		}
		req.Kind, req.Topic = "event", topic
	default:
		return req, errors.New("give --cron SCHEDULE or --topic TOPIC")
	}
	return req, nil
}

func fnTriggerCreateCmd(p inProject) *cobra.Command {
	var cron, tz, topic, alias string
	cmd := &cobra.Command{
		Use:   "create NAME TRIGGER (--cron SCHEDULE [--tz ZONE] | --topic TOPIC)",
		Short: "Run a function on a schedule, or on each event published to a topic of the project",
		Long: `Create the trigger TRIGGER of the function NAME: --cron runs it on a
schedule (a missed fire runs once when the platform is back, if it is at
most 5 minutes late); --topic runs it on each event published to the topic
(` + "`hks fn publish`" + `), at least once, up to 3 attempts, then the event is a dead
letter (` + "`hks fn deadletters`" + `).`,
		Example: `  hks fn trigger create report nightly --cron "0 2 * * *" --tz Europe/Berlin
  hks fn trigger create report tick --cron "*/1 * * * *" --alias prod
  hks fn trigger create resize on-upload --topic uploads`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := triggerRequest(args[1], cron, tz, topic, alias)
			if err != nil {
				return err
			}
			return sendAs(cmd, p, http.MethodPost, url.PathEscape(args[0])+"/triggers", req, triggerCols, triggerView)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&cron, "cron", "", `5-field cron schedule, e.g. "*/5 * * * *" or @hourly`)
	fl.StringVar(&tz, "tz", "", "IANA time zone of the schedule (default UTC)")
	fl.StringVar(&topic, "topic", "", "the project's topic whose events run the function")
	fl.StringVar(&alias, "alias", "", "the alias it calls (default latest)")
	return cmd
}

func fnTriggerListCmd(p inProject) *cobra.Command {
	return subListCmd(p, "list", "List a function's triggers", "  hks fn trigger list report", "triggers", triggerCols, triggerView)
}

func fnTriggerDeleteCmd(p inProject) *cobra.Command {
	return &cobra.Command{
		Use: "delete NAME TRIGGER", Short: "Delete a trigger of a function", Args: cobra.ExactArgs(2),
		Example: "  hks fn trigger delete report nightly",
		RunE: func(cmd *cobra.Command, args []string) error {
			c, base, err := p.client(cmd.Context())
			if err != nil {
				return err
			}
			if err := c.Do(cmd.Context(), http.MethodDelete, item(base, args[0])+"/triggers/"+url.PathEscape(args[1]), nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "trigger %s of function %s deleted\n", args[1], args[0])
			return nil
		},
	}
}

func fnPublishCmd(p inProject) *cobra.Command {
	var data, dataFile, contentType string
	cmd := &cobra.Command{
		Use:   "publish TOPIC",
		Short: "Publish an event to a topic of the project: each function with a trigger on it runs (at least once)",
		Example: `  hks fn publish uploads --data '{"key":"a.png"}'
  hks fn publish uploads --data-file event.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("data") && dataFile != "" {
				return errors.New("give --data or --data-file, not both")
			}
			body := []byte(data)
			switch dataFile {
			case "":
			case "-":
				b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 256<<10+1))
				if err != nil {
					return fmt.Errorf("read standard input: %w", err)
				}
				body = b
			default:
				b, err := os.ReadFile(dataFile)
				if err != nil {
					return fmt.Errorf("read the data: %w", err)
				}
				body = b
			}
			if len(body) > 256<<10 {
				return errors.New("the event is larger than 256 KiB, the most a topic takes")
			}
			ct := contentType
			if ct == "" {
				ct = "text/plain"
				if json.Valid(body) {
					ct = "application/json"
				}
			}
			ctx := cmd.Context()
			c, err := NewClient(p.o.Server)
			if err != nil {
				return err
			}
			pp, err := p.s.projectPath(ctx, c)
			if err != nil {
				return err
			}
			var out api.PublishEventResponse
			if err := c.doRaw(ctx, http.MethodPost, pp+"/events/"+url.PathEscape(args[0]), ct, body, &out); err != nil {
				return err
			}
			if !tableOutput(p.o) {
				return printTree(cmd.OutOrStdout(), p.o.Output, out)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "event %s published to %s (%s)\n", out.ID, out.Topic, plural(out.Handlers, "handler"))
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&data, "data", "d", "", "the event's payload")
	fl.StringVar(&dataFile, "data-file", "", "read the payload from a file (- for standard input)")
	fl.StringVar(&contentType, "content-type", "", "the payload's media type (default: application/json when it is JSON, else text/plain)")
	return cmd
}

// doRaw sends body as is with the media type ct and decodes a JSON answer
// of any 2xx status into out.
func (c *Client) doRaw(ctx context.Context, method, path, ct string, body []byte, out any) error {
	return c.withToken(ctx, func() error {
		req, err := http.NewRequestWithContext(ctx, method, c.Creds.Server+path, strings.NewReader(string(body)))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Authorization", "Bearer "+c.Creds.AccessToken)
		resp, err := c.HTTP.Do(req)
		if err != nil {
			return fmt.Errorf("call %s: %w", c.Creds.Server, err)
		}
		defer resp.Body.Close()
		printWarnings(c.Warnings, resp.Header)
		b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			return fmt.Errorf("read answer: %w", err)
		}
		if resp.StatusCode >= 400 {
			ae := apiErrorOf(resp, b)
			ae.nameReference(path)
			return ae
		}
		if out != nil && len(b) > 0 {
			if err := json.Unmarshal(b, out); err != nil {
				return fmt.Errorf("decode answer: %w", err)
			}
		}
		return nil
	})
}

func fnDeadLettersCmd(p inProject) *cobra.Command {
	return &cobra.Command{
		Use: "deadletters NAME", Short: "List the events a function failed to handle after its last attempt",
		Example: "  hks fn deadletters resize\n  hks fn deadletters resize -o json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			items, err := itemsOf[api.DeadLetter](cmd.Context(), p, url.PathEscape(args[0])+"/deadletters")
			if err != nil {
				return err
			}
			termSafe(&items)
			return printList(cmd.OutOrStdout(), p.o.Output, items, deadLetterCols, deadLetterView)
		},
	}
}
