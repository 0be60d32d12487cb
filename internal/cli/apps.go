package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/workloads"
)

// inProject is a collection of a project (applications, cronjobs) whose
// objects are named by the cluster's names, not ids.
type inProject struct {
	o    *Options
	s    *scope
	coll string
	what string
}

// client returns a client and the collection's path.
func (p inProject) client(ctx context.Context) (*Client, string, error) {
	c, err := NewClient(p.o.Server)
	if err != nil {
		return nil, "", err
	}
	pp, err := p.s.projectPath(ctx, c)
	if err != nil {
		return nil, "", err
	}
	return c, pp + "/" + p.coll, nil
}

func item(base, name string) string { return base + "/" + url.PathEscape(name) }

// call sends method to the collection path plus rel (name, name/verb) and
// decodes the answer into a map (nil for 204).
func (p inProject) call(ctx context.Context, method, rel string, body any) (map[string]any, error) {
	c, base, err := p.client(ctx)
	if err != nil {
		return nil, err
	}
	path := base
	if rel != "" {
		path += "/" + rel
	}
	var out map[string]any
	if err := c.Do(ctx, method, path, body, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// send calls the API like call and prints its answer with cols and view.
func (p inProject) send(cmd *cobra.Command, method, rel string, body any, cols []Column, view func(map[string]any) map[string]any) error {
	out, err := p.call(cmd.Context(), method, rel, body)
	if err != nil {
		return err
	}
	return PrintView(cmd.OutOrStdout(), p.o.Output, out, cols, view)
}

// items GETs every page of the list at rel under the project path ("":
// the collection itself).
func (p inProject) items(ctx context.Context, rel string) ([]map[string]any, error) {
	c, base, err := p.client(ctx)
	if err != nil {
		return nil, err
	}
	if rel != "" {
		base += "/" + rel
	}
	return listAll(ctx, c, base)
}

// verb is a command that POSTs to NAME/verb and prints the answer.
func (p inProject) verb(use, short, verb string, cols []Column, view func(map[string]any) map[string]any) *cobra.Command {
	return &cobra.Command{
		Use: use + " NAME", Short: short, Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return p.send(cmd, http.MethodPost, url.PathEscape(args[0])+"/"+verb, nil, cols, view)
		},
	}
}

func (p inProject) deleteCmd(short string) *cobra.Command {
	return &cobra.Command{
		Use: "delete NAME", Short: short, Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := p.call(cmd.Context(), http.MethodDelete, url.PathEscape(args[0]), nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s deleted\n", p.what, args[0])
			return nil
		},
	}
}

func (p inProject) listCmd(cols []Column, view func(map[string]any) map[string]any) *cobra.Command {
	return &cobra.Command{
		Use: "list", Short: "List the project's " + p.coll, Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			items, err := p.items(cmd.Context(), "")
			if err != nil {
				return err
			}
			return PrintView(cmd.OutOrStdout(), p.o.Output, items, cols, view)
		},
	}
}

// getCmd shows one object; detail prints more of it after the table row.
func (p inProject) getCmd(short string, cols []Column, view func(map[string]any) map[string]any, detail func(io.Writer, map[string]any)) *cobra.Command {
	return &cobra.Command{
		Use: "get NAME", Short: short, Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, err := p.call(cmd.Context(), http.MethodGet, url.PathEscape(args[0]), nil)
			if err != nil {
				return err
			}
			if err := PrintView(cmd.OutOrStdout(), p.o.Output, out, cols, view); err != nil {
				return err
			}
			if p.o.Output == "table" || p.o.Output == "" {
				detail(cmd.OutOrStdout(), out)
			}
			return nil
		},
	}
}

var appCols = []Column{{"NAME", "name"}, {"READY", "_ready"}, {"UP-TO-DATE", "status.updated_replicas"}, {"AVAILABLE", "status.available_replicas"},
	{"STATUS", "_status"}, {"IMAGE", "image"}, {"PORTS", "_ports"}}

// appView adds the computed columns of an application.
func appView(a map[string]any) map[string]any {
	r := maps.Clone(a)
	st, _ := a["status"].(map[string]any)
	r["_ready"] = cell(st, "ready_replicas") + "/" + cell(st, "replicas")
	r["_status"] = "not ready"
	if ready, _ := st["ready"].(bool); ready {
		r["_status"] = "ready"
	}
	var ports []string
	if svc, ok := a["service"].(map[string]any); ok {
		ps, _ := svc["ports"].([]any)
		for _, p := range ps {
			if m, ok := p.(map[string]any); ok {
				ports = append(ports, cell(m, "port")+"/"+cell(m, "protocol"))
			}
		}
	}
	r["_ports"] = strings.Join(ports, ",")
	return r
}

var podCols = []Column{{"POD", "name"}, {"PHASE", "phase"}, {"READY", "_ready"}, {"RESTARTS", "restarts"}, {"NODE", "node"}, {"IP", "ip"}, {"REASON", "reason"}}

func podView(p map[string]any) map[string]any {
	r := maps.Clone(p)
	r["_ready"] = yesNo(p["ready"])
	return r
}

// printAppDetail prints an application's Service, conditions and pods
// after its row.
func printAppDetail(w io.Writer, a map[string]any) {
	if svc, ok := a["service"].(map[string]any); ok {
		fmt.Fprintf(w, "\nService %s: %s %s\n", cell(svc, "name"), cell(svc, "cluster_ip"), appView(a)["_ports"])
	}
	st, _ := a["status"].(map[string]any)
	if conds := objects(st["conditions"]); len(conds) > 0 {
		fmt.Fprintln(w)
		_ = Print(w, "table", conds, []Column{{"CONDITION", "type"}, {"STATUS", "status"}, {"REASON", "reason"}, {"MESSAGE", "message"}})
	}
	pods := objects(a["pods"])
	fmt.Fprintln(w)
	if len(pods) == 0 {
		fmt.Fprintln(w, "No pods.")
		return
	}
	_ = PrintView(w, "table", pods, podCols, podView)
}

// objects is a JSON array of objects.
func objects(v any) []map[string]any {
	list, _ := v.([]any)
	var out []map[string]any
	for _, x := range list {
		if m, ok := x.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func appCmd(o *Options) *cobra.Command {
	s := &scope{}
	p := inProject{o: o, s: s, coll: "applications", what: "application"}
	cmd := &cobra.Command{Use: "app", Aliases: []string{"apps", "application", "applications"},
		Short: "Manage the applications of a project: Deployments, with a Service for their ports"}
	s.projectFlag(cmd)
	cmd.AddCommand(
		p.listCmd(appCols, appView),
		p.getCmd("Show an application with its Service, conditions and pods", appCols, appView, printAppDetail),
		appCreateCmd(p), appApplyCmd(p), appUpdateCmd(p), appScaleCmd(p),
		p.verb("restart", "Restart every pod of an application (a rolling restart)", "restart", appCols, appView),
		p.deleteCmd("Delete an application, its Service and its pods"), appPodsCmd(p), appEventsCmd(p), appLogsCmd(p))
	return cmd
}

// appSpecFlags are the flags of the simple spec: create and update.
type appSpecFlags struct {
	containerFlags
	replicas int
	ports    []string
}

func (f *appSpecFlags) register(cmd *cobra.Command) {
	f.containerFlags.register(cmd)
	cmd.Flags().IntVar(&f.replicas, "replicas", 1, "number of pods")
	cmd.Flags().StringArrayVar(&f.ports, "port", nil, "container port CONTAINER[:SERVICE][/PROTOCOL], e.g. 8080 or 8080:80/TCP: the Service exposes it on SERVICE (default CONTAINER) (repeatable)")
}

// spec builds the simple spec of the flags; args are the command's
// arguments (the container's command comes after --).
func (f *appSpecFlags) spec(cmd *cobra.Command, args []string) (api.AppSpec, error) {
	var s api.AppSpec
	if f.image == "" {
		return s, errors.New("--image is required")
	}
	replicas, err := int32Flag(cmd, "replicas", f.replicas, 0, math.MaxInt32)
	if err != nil {
		return s, err
	}
	env, err := envVars(f.env)
	if err != nil {
		return s, err
	}
	labels, err := labelMap(f.labels)
	if err != nil {
		return s, err
	}
	s = api.AppSpec{Image: f.image, Replicas: replicas, Command: commandAfterDash(cmd, args), Args: f.args, Env: env,
		Resources: f.resources(), Labels: labels}
	for _, ps := range f.ports {
		port, err := parsePort(ps)
		if err != nil {
			return s, err
		}
		s.Ports = append(s.Ports, port)
	}
	return s, nil
}

// parsePort reads CONTAINER[:SERVICE][/PROTOCOL].
func parsePort(text string) (api.Port, error) {
	bad := fmt.Errorf("--port %q: want CONTAINER[:SERVICE][/PROTOCOL] with ports from 1 to 65535, e.g. 8080 or 8080:80/TCP", text)
	spec, proto, _ := strings.Cut(text, "/")
	cs, ss, hasService := strings.Cut(spec, ":")
	num := func(s string) (int32, bool) {
		n, err := strconv.Atoi(s)
		return int32(n), err == nil && n >= 1 && n <= 65535
	}
	var p api.Port
	var ok bool
	if p.ContainerPort, ok = num(cs); !ok {
		return p, bad
	}
	if hasService {
		if p.ServicePort, ok = num(ss); !ok {
			return p, bad
		}
	}
	switch strings.ToUpper(proto) {
	case "", "TCP", "UDP", "SCTP":
		p.Protocol = strings.ToUpper(proto)
	default:
		return p, fmt.Errorf("--port %q: the protocol must be TCP, UDP or SCTP", text)
	}
	return p, nil
}

func appCreateCmd(p inProject) *cobra.Command {
	var f appSpecFlags
	cmd := &cobra.Command{
		Use:   "create NAME --image IMAGE [flags] [-- COMMAND [ARG...]]",
		Short: "Create an application from the simple spec: a Deployment, and a Service when it has ports",
		Example: `  hks app create web --image nginx:1.27 --replicas 2 --port 80 --env MODE=prod --cpu 100m --memory 64Mi
  hks app create worker --image busybox:1.36 -- sh -c 'while true; do date; sleep 60; done'`,
		Args: nameAndCommand,
		RunE: func(cmd *cobra.Command, args []string) error {
			spec, err := f.spec(cmd, args)
			if err != nil {
				return err
			}
			return p.send(cmd, http.MethodPost, "", api.CreateApplicationRequest{Name: args[0], AppSpec: spec}, appCols, appView)
		},
	}
	f.register(cmd)
	return cmd
}

func appUpdateCmd(p inProject) *cobra.Command {
	var f appSpecFlags
	cmd := &cobra.Command{
		Use:   "update NAME --image IMAGE [flags] [-- COMMAND [ARG...]]",
		Short: "Replace an application's spec (a rolling update)",
		Long: `Replace an application's spec with the one of the flags: a rolling update.

The API replaces the whole spec, so what no flag gives returns to its
default: give every --env, --port, --cpu, … the application should keep
(ports not given remove its Service). The replicas stay as they are unless
--replicas is given. For full control, use a manifest (hks app apply).`,
		Args: nameAndCommand,
		RunE: func(cmd *cobra.Command, args []string) error {
			spec, err := f.spec(cmd, args)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if spec.Replicas == nil {
				// An update does not scale the application by accident.
				cur, err := p.call(ctx, http.MethodGet, url.PathEscape(args[0]), nil)
				if err != nil {
					return err
				}
				st, _ := cur["status"].(map[string]any)
				if n, ok := st["replicas"].(float64); ok {
					r := int32(n)
					spec.Replicas = &r
				}
			}
			return p.send(cmd, http.MethodPut, url.PathEscape(args[0]), api.UpdateApplicationRequest{AppSpec: spec}, appCols, appView)
		},
	}
	f.register(cmd)
	return cmd
}

func appApplyCmd(p inProject) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "apply -f FILE|-",
		Short: "Create or update an application from a Kubernetes manifest",
		Long: `Create or update an application from a Kubernetes manifest: YAML or JSON,
one or more documents, with exactly one Deployment, which names the
application, and only objects of the project's namespace. The cluster checks
every object with a dry run first; a refused manifest changes nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			manifest, err := readManifest(cmd, file)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			c, base, err := p.client(ctx)
			if err != nil {
				return err
			}
			method, path := http.MethodPost, base
			if name := manifestApp(manifest); name != "" {
				var ae *APIError
				switch err := c.Do(ctx, http.MethodGet, item(base, name), nil, nil); {
				case err == nil:
					method, path = http.MethodPut, item(base, name)
				case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
					// Not there yet (or no such project: the create says so).
				default:
					return err
				}
			}
			var out map[string]any
			if err := c.Do(ctx, method, path, map[string]string{"manifest": manifest}, &out); err != nil {
				return err
			}
			return PrintView(cmd.OutOrStdout(), p.o.Output, out, appCols, appView)
		},
	}
	cmd.Flags().StringVarP(&file, "filename", "f", "", "the manifest file, - for standard input")
	return cmd
}

// manifestApp is the name of a manifest's one Deployment, or "" (then
// the server explains what is wrong with it).
func manifestApp(manifest string) string {
	objs, err := workloads.DecodeManifest(manifest)
	if err != nil {
		return ""
	}
	name := ""
	for _, u := range objs {
		if u.GroupVersionKind().Group == "apps" && u.GetKind() == "Deployment" {
			if name != "" {
				return ""
			}
			name = u.GetName()
		}
	}
	return name
}

func appScaleCmd(p inProject) *cobra.Command {
	var replicas int
	cmd := &cobra.Command{
		Use: "scale NAME --replicas N", Short: "Set an application's replicas", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("replicas") {
				return errors.New("--replicas is required")
			}
			n, err := int32Flag(cmd, "replicas", replicas, 0, math.MaxInt32)
			if err != nil {
				return err
			}
			return p.send(cmd, http.MethodPost, url.PathEscape(args[0])+"/scale", api.ScaleRequest{Replicas: n}, appCols, appView)
		},
	}
	cmd.Flags().IntVar(&replicas, "replicas", 0, "number of pods (0 stops the application)")
	return cmd
}

func appPodsCmd(p inProject) *cobra.Command {
	return &cobra.Command{
		Use: "pods NAME", Short: "List an application's pods", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pods, err := p.items(cmd.Context(), url.PathEscape(args[0])+"/pods")
			if err != nil {
				return err
			}
			return PrintView(cmd.OutOrStdout(), p.o.Output, pods, podCols, podView)
		},
	}
}

func appEventsCmd(p inProject) *cobra.Command {
	return &cobra.Command{
		Use: "events NAME", Short: "List the events of an application, its ReplicaSets and pods, oldest first", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			events, err := p.items(cmd.Context(), url.PathEscape(args[0])+"/events")
			if err != nil {
				return err
			}
			return Print(cmd.OutOrStdout(), p.o.Output, events,
				[]Column{{"LAST-SEEN", "last_seen"}, {"TYPE", "type"}, {"REASON", "reason"}, {"OBJECT", "object"}, {"COUNT", "count"}, {"MESSAGE", "message"}})
		},
	}
}

func appLogsCmd(p inProject) *cobra.Command {
	var pod, container string
	var follow, timestamps bool
	var tail int
	var since time.Duration
	cmd := &cobra.Command{
		Use: "logs NAME", Short: "Print a pod's log (the application's first pod unless --pod); --follow streams it", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("tail") && tail < 1 {
				return fmt.Errorf("--tail %d: want 1 or more lines", tail)
			}
			secs, err := seconds(cmd, "since", since, false)
			if err != nil {
				return err
			}
			sinceText := ""
			if secs != nil {
				sinceText = strconv.FormatInt(*secs, 10)
			}
			ctx := cmd.Context()
			c, base, err := p.client(ctx)
			if err != nil {
				return err
			}
			q := query("pod", pod, "container", container, "follow", trueIf(follow), "tail_lines", itoaIf(cmd, "tail", tail),
				"since_seconds", sinceText, "timestamps", trueIf(timestamps))
			return c.Copy(ctx, item(base, args[0])+"/logs"+q, cmd.OutOrStdout())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&pod, "pod", "", "a pod of the application (see `hks app pods`)")
	fl.StringVarP(&container, "container", "c", "", "the container (default: the pod's only one)")
	fl.BoolVarP(&follow, "follow", "f", false, "keep streaming until the pod ends or you interrupt")
	fl.IntVar(&tail, "tail", 0, "only the last N lines")
	fl.DurationVar(&since, "since", 0, "only lines newer than this, e.g. 10m")
	fl.BoolVar(&timestamps, "timestamps", false, "prefix each line with its time")
	return cmd
}
