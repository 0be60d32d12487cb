package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/manifest"
)

// inProject is a collection of a project (applications, cronjobs) whose
// objects are named by the cluster's names, not ids.
type inProject struct {
	o    *Options
	s    *scope
	coll string
	what string
	// word is the command of the collection (app, cron), for examples.
	word string
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

// callAs sends method to the collection path plus rel (name, name/verb)
// and decodes the answer as T.
func callAs[T any](ctx context.Context, p inProject, method, rel string, body any) (T, error) {
	var out T
	c, base, err := p.client(ctx)
	if err != nil {
		return out, err
	}
	if rel != "" {
		base += "/" + rel
	}
	err = c.Do(ctx, method, base, body, &out)
	return out, err
}

// sendAs calls the API like callAs and prints its answer with cols and view.
func sendAs[T any](cmd *cobra.Command, p inProject, method, rel string, body any, cols []Column, view func(T) map[string]any) error {
	out, err := callAs[T](cmd.Context(), p, method, rel, body)
	if err != nil {
		return err
	}
	return printOne(cmd.OutOrStdout(), p.o.Output, out, cols, view)
}

// itemsOf GETs every page of the list at rel under the collection path
// ("": the collection itself).
func itemsOf[T any](ctx context.Context, p inProject, rel string) ([]T, error) {
	c, base, err := p.client(ctx)
	if err != nil {
		return nil, err
	}
	if rel != "" {
		base += "/" + rel
	}
	return listPages[T](ctx, c, base)
}

// patchRetries is how many times patchNamed sends a patch built from the
// object as it is before it gives up on changes made in between.
const patchRetries = 10

// firstPatchPause is the longest pause before patchNamed's first retry.
var firstPatchPause = 50 * time.Millisecond

// patchBackoff is the pause before the retry after attempt (1, 2, …):
// firstPatchPause doubling up to 1s, each drawn from its upper half so that
// clients that collided spread out.
func patchBackoff(attempt int) time.Duration {
	d := min(firstPatchPause<<min(attempt-1, 10), time.Second)
	return d/2 + rand.N(d/2+1)
}

// patchNamed PATCHes the object name with the document build makes and
// prints the answer. With current, build is given the object as it is (T,
// read first) and its document carries the version read: when someone
// else changed the object in between (412), it is read and built again
// after a short pause, up to patchRetries times in all. Without, build
// gets nil.
func patchNamed[T any](cmd *cobra.Command, p inProject, name string, current bool, build func(cur *T) (any, error), cols []Column, view func(T) map[string]any) error {
	ctx := cmd.Context()
	c, base, err := p.client(ctx)
	if err != nil {
		return err
	}
	path := item(base, name)
	for attempt := 1; ; attempt++ {
		var cur *T
		if current {
			cur = new(T)
			if err := c.Do(ctx, http.MethodGet, path, nil, cur); err != nil {
				return err
			}
		}
		doc, err := build(cur)
		if err != nil {
			return err
		}
		var out T
		err = c.Do(ctx, http.MethodPatch, path, doc, &out)
		var ae *APIError
		if current && attempt < patchRetries && errors.As(err, &ae) && ae.Status == http.StatusPreconditionFailed {
			select {
			case <-ctx.Done():
				return err
			case <-time.After(patchBackoff(attempt)):
			}
			continue
		}
		if err != nil {
			return err
		}
		return printOne(cmd.OutOrStdout(), p.o.Output, out, cols, view)
	}
}

// specFlags are the flags of the spec of a collection's objects (T as the
// API answers them), for their create and update commands.
type specFlags[T any] interface {
	register(cmd *cobra.Command)
	// create is the body of the request that creates the object args[0].
	create(cmd *cobra.Command, args []string) (any, error)
	// update makes the patch of the flags given, from the object as it is
	// when editsEnv (the env given is merged into its own), else from nil.
	update(cmd *cobra.Command, args []string) (func(cur *T) (any, error), error)
	editsEnv() bool
}

// editsEnv tells whether --env is given: an update merges it into the env
// the object has.
func (f *containerFlags) editsEnv() bool { return len(f.env) > 0 }

// specCreateCmd is the create command of the collection p: NAME, the flags f,
// of which required must be given, and the container's command after --.
func specCreateCmd[T any](p inProject, f specFlags[T], short, example string, cols []Column, view func(T) map[string]any, required ...string) *cobra.Command {
	use := "create NAME"
	for _, name := range required {
		use += " --" + name + " " + strings.ToUpper(name)
	}
	cmd := &cobra.Command{Use: use + " [flags] [-- COMMAND [ARG...]]", Short: short, Example: example, Args: nameAndCommand,
		Long: short + `.

In a project whose pod_security is restricted, the pods get a restricted
securityContext (runAsNonRoot, RuntimeDefault seccomp, no privilege
escalation, every capability dropped): the image must run as a numeric
non-root USER (docs/workloads.md, Pod security).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			body, err := f.create(cmd, args)
			if err != nil {
				return err
			}
			return sendAs(cmd, p, http.MethodPost, "", body, cols, view)
		}}
	f.register(cmd)
	for _, name := range required {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}

// specUpdateCmd is the update command of the collection p: the flags given
// replace those fields of the object's spec with a PATCH, the rest stays.
func specUpdateCmd[T any](p inProject, f specFlags[T], short, long, example string, cols []Column, view func(T) map[string]any) *cobra.Command {
	cmd := &cobra.Command{Use: "update NAME [flags] [-- COMMAND [ARG...]]", Short: short, Long: long, Example: example, Args: nameAndCommand}
	f.register(cmd)
	// The flags of the spec, in the order of --help's usage.
	var names []string
	fl := cmd.Flags()
	fl.SortFlags = false
	fl.VisitAll(func(f *pflag.Flag) { names = append(names, "--"+f.Name) })
	fl.SortFlags = true
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if !slices.ContainsFunc(names, func(n string) bool { return cmd.Flags().Changed(n[2:]) }) && commandAfterDash(cmd, args) == nil {
			return fmt.Errorf("nothing to change: give at least one of %s, or a command after --", strings.Join(names, ", "))
		}
		build, err := f.update(cmd, args)
		if err != nil {
			return err
		}
		return patchNamed(cmd, p, args[0], f.editsEnv(), build, cols, view)
	}
	return cmd
}

// example is an Example of the command use with args.
func (p inProject) example(use, args string) string {
	return "  hks " + p.word + " " + use + " " + args
}

// verb is a command that POSTs to NAME/verb and prints the answer, a T.
func verb[T any](p inProject, use, short, verb, name string, cols []Column, view func(T) map[string]any) *cobra.Command {
	return &cobra.Command{
		Use: use + " NAME", Short: short, Args: cobra.ExactArgs(1), Example: p.example(use, name),
		RunE: func(cmd *cobra.Command, args []string) error {
			return sendAs(cmd, p, http.MethodPost, url.PathEscape(args[0])+"/"+verb, nil, cols, view)
		},
	}
}

func (p inProject) deleteCmd(short, name string) *cobra.Command {
	return &cobra.Command{
		Use: "delete NAME", Short: short, Args: cobra.ExactArgs(1), Example: p.example("delete", name),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, base, err := p.client(cmd.Context())
			if err != nil {
				return err
			}
			if err := c.Do(cmd.Context(), http.MethodDelete, item(base, args[0]), nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s deleted\n", p.what, args[0])
			return nil
		},
	}
}

// listCmd lists the collection's objects, of type T.
func listCmd[T any](p inProject, cols []Column, view func(T) map[string]any) *cobra.Command {
	return &cobra.Command{
		Use: "list", Short: "List the project's " + p.coll, Args: cobra.NoArgs,
		Example: p.example("list", "--project frontend") + "\n" + p.example("list", "-o json"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			items, err := itemsOf[T](cmd.Context(), p, "")
			if err != nil {
				return err
			}
			return printList(cmd.OutOrStdout(), p.o.Output, items, cols, view)
		},
	}
}

// getCmd shows one object, a T; detail prints more of it after the table
// row.
func getCmd[T any](p inProject, short, name string, cols []Column, view func(T) map[string]any, detail func(io.Writer, T)) *cobra.Command {
	return &cobra.Command{
		Use: "get NAME", Short: short, Args: cobra.ExactArgs(1), Example: p.example("get", name) + "\n" + p.example("get", name+" -o yaml"),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, err := callAs[T](cmd.Context(), p, http.MethodGet, url.PathEscape(args[0]), nil)
			if err != nil {
				return err
			}
			if err := printOne(cmd.OutOrStdout(), p.o.Output, out, cols, view); err != nil {
				return err
			}
			if p.o.Output == "table" || p.o.Output == "" {
				detail(cmd.OutOrStdout(), out)
			}
			return nil
		},
	}
}

var appCols = []Column{{"NAME", "name"}, {"READY", "ready"}, {"UP-TO-DATE", "updated"}, {"AVAILABLE", "available"},
	{"STATUS", "status"}, {"IMAGE", "image"}, {"PORTS", "ports"}}

// appView is the table row of an application.
func appView(a api.Application) map[string]any {
	st := a.Status
	status := "not ready"
	if st.Ready {
		status = "ready"
	}
	return map[string]any{"name": a.Name, "ready": itoa(st.ReadyReplicas) + "/" + itoa(st.Replicas), "updated": itoa(st.UpdatedReplicas),
		"available": itoa(st.AvailableReplicas), "status": status, "image": a.Image, "ports": servicePorts(a.Service)}
}

// servicePorts is PORT/PROTOCOL of each port of a Service, comma separated.
func servicePorts(svc *api.ServiceInfo) string {
	if svc == nil {
		return ""
	}
	ports := make([]string, len(svc.Ports))
	for i, p := range svc.Ports {
		ports[i] = itoa(p.Port) + "/" + p.Protocol
	}
	return strings.Join(ports, ",")
}

var podCols = []Column{{"POD", "name"}, {"PHASE", "phase"}, {"READY", "ready"}, {"RESTARTS", "restarts"}, {"NODE", "node"}, {"IP", "ip"}, {"REASON", "reason"}}

func podView(p api.Pod) map[string]any {
	return map[string]any{"name": p.Name, "phase": p.Phase, "ready": yesNo(p.Ready), "restarts": itoa(p.Restarts), "node": p.Node, "ip": p.IP, "reason": p.Reason}
}

var eventCols = []Column{{"LAST-SEEN", "last_seen"}, {"TYPE", "type"}, {"REASON", "reason"}, {"OBJECT", "object"}, {"COUNT", "count"}, {"MESSAGE", "message"}}

func eventView(e api.Event) map[string]any {
	return map[string]any{"last_seen": timeText(e.LastSeen), "type": e.Type, "reason": e.Reason, "object": e.Object, "count": itoa(e.Count), "message": e.Message}
}

// printAppDetail prints an application's Service, conditions and pods
// after its row.
func printAppDetail(w io.Writer, a api.Application) {
	if a.Service != nil {
		fmt.Fprintf(w, "\nService %s: %s %s\n", a.Service.Name, a.Service.ClusterIP, servicePorts(a.Service))
	}
	if conds := a.Status.Conditions; len(conds) > 0 {
		fmt.Fprintln(w)
		_ = Print(w, "table", conds, []Column{{"CONDITION", "type"}, {"STATUS", "status"}, {"REASON", "reason"}, {"MESSAGE", "message"}})
	}
	fmt.Fprintln(w)
	if len(a.Pods) == 0 {
		fmt.Fprintln(w, "No pods.")
		return
	}
	_ = printList(w, "table", a.Pods, podCols, podView)
}

func appCmd(o *Options) *cobra.Command {
	s := &scope{}
	p := inProject{o: o, s: s, coll: "applications", what: "application", word: "app"}
	cmd := &cobra.Command{Use: "app", Aliases: []string{"apps", "application", "applications"},
		Short: "Manage the applications of a project: Deployments, with a Service for their ports",
		Example: `  hks app create web --project frontend --image nginx:1.27 --port 80
  hks app set image web nginx:1.28
  hks app logs web -f`}
	s.projectFlag(cmd)
	cmd.AddCommand(
		listCmd(p, appCols, appView),
		getCmd(p, "Show an application with its Service, conditions and pods", "web", appCols, appView, printAppDetail),
		appCreateCmd(p), appApplyCmd(p), appUpdateCmd(p), appSetCmd(p), appScaleCmd(p),
		verb(p, "restart", "Restart every pod of an application (a rolling restart)", "restart", "web", appCols, appView),
		p.deleteCmd("Delete an application, its Service and its pods", "web"), appPodsCmd(p), appEventsCmd(p), appLogsCmd(p))
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
	return specCreateCmd(p, &appSpecFlags{}, "Create an application from the simple spec: a Deployment, and a Service when it has ports",
		`  hks app create web --image nginx:1.27 --replicas 2 --port 80 --env MODE=prod --cpu 100m --memory 64Mi
  hks app create worker --image busybox:1.36 -- sh -c 'while true; do date; sleep 60; done'`,
		appCols, appView, "image")
}

func appUpdateCmd(p inProject) *cobra.Command {
	return specUpdateCmd(p, &appSpecFlags{}, "Change the fields of an application's spec that flags give (a rolling update)",
		`Change an application: the flags given replace those fields of its spec, the
rest stays (replicas, env, ports, other containers, volumes, …). --env
NAME=VALUE sets one variable and --env NAME- removes it (--label likewise);
--port replaces the ports; a command after -- replaces the command.`,
		`  hks app update web --image nginx:1.28 --env MODE=prod --env DEBUG-
  hks app update web --port 8080:80 --cpu 200m`,
		appCols, appView)
}

// create is the request that creates the application of the flags.
func (f *appSpecFlags) create(cmd *cobra.Command, args []string) (any, error) {
	spec, err := f.spec(cmd, args)
	if err != nil {
		return nil, err
	}
	return api.CreateApplicationRequest{Name: args[0], AppSpec: spec}, nil
}

// update is the patch of the flags given; when --env is given it needs
// the application as it is (its env and version).
func (f *appSpecFlags) update(cmd *cobra.Command, args []string) (func(cur *api.Application) (any, error), error) {
	var pt api.PatchApplicationRequest
	replicas, err := int32Flag(cmd, "replicas", f.replicas, 0, math.MaxInt32)
	if err != nil {
		return nil, err
	}
	pt.Replicas = replicas
	if cmd.Flags().Changed("port") {
		ports := []api.Port{}
		for _, ps := range f.ports {
			port, err := parsePort(ps)
			if err != nil {
				return nil, err
			}
			ports = append(ports, port)
		}
		pt.Ports = &ports
	}
	c, err := f.containerChange(cmd, args)
	if err != nil {
		return nil, err
	}
	pt.Image, pt.Command, pt.Args, pt.Resources, pt.Labels = c.image, c.command, c.args, c.resources, c.labels
	return func(cur *api.Application) (any, error) {
		if cur != nil {
			env, err := mergeEnv(cur.Spec.Env, "env", f.env)
			if err != nil {
				return nil, err
			}
			pt.Env, pt.ResourceVersion = &env, cur.ResourceVersion
		}
		return pt, nil
	}, nil
}

// appSetCmd groups the commands that change one thing of an application.
func appSetCmd(p inProject) *cobra.Command {
	cmd := &cobra.Command{Use: "set", Short: "Change one thing of an application: its image, env or replicas; the rest stays",
		Example: `  hks app set image web nginx:1.28
  hks app set env web MODE=prod DEBUG-
  hks app set replicas web 3`}
	cmd.AddCommand(
		&cobra.Command{
			Use: "image NAME IMAGE", Short: "Set the image of an application's (first) container", Args: cobra.ExactArgs(2),
			Example: "  hks app set image web nginx:1.28",
			RunE: func(cmd *cobra.Command, args []string) error {
				image := args[1]
				return patchNamed(cmd, p, args[0], false, func(*api.Application) (any, error) {
					return api.PatchApplicationRequest{Image: &image}, nil
				}, appCols, appView)
			},
		},
		&cobra.Command{
			Use: "env NAME NAME=VALUE... [NAME-...]", Short: "Set (NAME=VALUE) or remove (NAME-) environment variables of an application; the others stay",
			Args: cobra.MinimumNArgs(2), Example: "  hks app set env web MODE=prod LOG_LEVEL=debug\n  hks app set env web DEBUG-",
			RunE: func(cmd *cobra.Command, args []string) error {
				if _, err := mergeEnv(nil, "", args[1:]); err != nil {
					return err
				}
				return patchNamed(cmd, p, args[0], true, func(cur *api.Application) (any, error) {
					env, err := mergeEnv(cur.Spec.Env, "", args[1:])
					return api.PatchApplicationRequest{Env: &env, ResourceVersion: cur.ResourceVersion}, err
				}, appCols, appView)
			},
		},
		setReplicasCmd(p))
	return cmd
}

// setReplicasCmd is `set replicas NAME N`. Its flags are parsed up to NAME
// only, and those after it by numbersAsArgs, so that a negative N is an
// argument (and refused as one) rather than an unknown flag.
func setReplicasCmd(p inProject) *cobra.Command {
	var pos []string
	cmd := &cobra.Command{
		Use: "replicas NAME N", Short: "Set the number of an application's pods",
		Args: func(cmd *cobra.Command, args []string) error {
			var err error
			if pos, err = numbersAsArgs(cmd, args); err != nil {
				return err
			}
			return cobra.ExactArgs(2)(cmd, pos)
		},
		Example: "  hks app set replicas web 3",
		RunE: func(cmd *cobra.Command, _ []string) error {
			args := pos
			n, err := strconv.ParseInt(args[1], 10, 32)
			if err != nil {
				return fmt.Errorf("replicas %q: want a whole number, 0 or more", args[1])
			}
			if n < 0 {
				return fmt.Errorf("replicas %d: must be 0 or more", n)
			}
			replicas := int32(n)
			return patchNamed(cmd, p, args[0], false, func(*api.Application) (any, error) {
				return api.PatchApplicationRequest{Replicas: &replicas}, nil
			}, appCols, appView)
		},
	}
	cmd.Flags().SetInterspersed(false)
	return cmd
}

// numbersAsArgs parses the flags among args, the words from a command's
// first argument on, and returns the arguments: the words that are not
// flags or their values, negative numbers, and everything after --.
func numbersAsArgs(cmd *cobra.Command, args []string) ([]string, error) {
	var pos, flags []string
	for i := 0; i < len(args); i++ {
		w := args[i]
		if w == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if _, err := strconv.ParseFloat(w, 64); err == nil || !strings.HasPrefix(w, "-") || w == "-" {
			pos = append(pos, w)
			continue
		}
		flags = append(flags, w)
		// The value of a flag that takes one follows it unless attached
		// (--output=json, -ojson).
		var f *pflag.Flag
		if name, ok := strings.CutPrefix(w, "--"); ok {
			if !strings.Contains(name, "=") {
				f = cmd.Flags().Lookup(name)
			}
		} else if len(w) == 2 {
			f = cmd.Flags().ShorthandLookup(w[1:])
		}
		if f != nil && f.NoOptDefVal == "" && i+1 < len(args) {
			i++
			flags = append(flags, args[i])
		}
	}
	if err := cmd.Flags().Parse(flags); err != nil {
		return nil, cmd.FlagErrorFunc()(cmd, err)
	}
	if help, _ := cmd.Flags().GetBool("help"); help {
		return nil, pflag.ErrHelp
	}
	return pos, nil
}

func appApplyCmd(p inProject) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "apply -f FILE|-",
		Short: "Create or update an application from a Kubernetes manifest",
		Example: `  hks app apply -f web.yaml
  kubectl create deployment web --image nginx:1.27 --dry-run=client -o yaml | hks app apply -f -`,
		Long: `Create or update an application from a Kubernetes manifest: YAML or JSON,
one or more documents, with exactly one Deployment, which names the
application, and only objects of the project's namespace, of these kinds:
Deployment, Service, ConfigMap, Secret, PersistentVolumeClaim, Ingress,
HorizontalPodAutoscaler and PodDisruptionBudget (what deleting the
application removes). The cluster checks every object with a dry run first;
a refused manifest changes nothing. A manifest is judged as written: in a
restricted project its pods must already meet the restricted Pod Security
Standard (hks adjusts only the simple form of app create).`,
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
			var out api.Application
			if err := c.Do(ctx, method, path, api.UpdateApplicationRequest{Manifest: manifest}, &out); err != nil {
				return err
			}
			return printOne(cmd.OutOrStdout(), p.o.Output, out, appCols, appView)
		},
	}
	cmd.Flags().StringVarP(&file, "filename", "f", "", "the manifest file, - for standard input")
	return cmd
}

// manifestApp is the name of a manifest's one Deployment, or "" (then
// the server explains what is wrong with it).
func manifestApp(text string) string {
	objs, err := manifest.Decode(text)
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
		Example: "  hks app scale web --replicas 3\n  hks app scale web --replicas 0   # stop it",
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := int32Flag(cmd, "replicas", replicas, 0, math.MaxInt32)
			if err != nil {
				return err
			}
			return sendAs(cmd, p, http.MethodPost, url.PathEscape(args[0])+"/scale", api.ScaleRequest{Replicas: n}, appCols, appView)
		},
	}
	cmd.Flags().IntVar(&replicas, "replicas", 0, "number of pods (0 stops the application)")
	_ = cmd.MarkFlagRequired("replicas")
	return cmd
}

// subListCmd lists what the API keeps under an object (its pods, events
// or runs) at NAME/rel, every page, as T.
func subListCmd[T any](p inProject, use, short, example, rel string, cols []Column, view func(T) map[string]any) *cobra.Command {
	return &cobra.Command{
		Use: use + " NAME", Short: short, Args: cobra.ExactArgs(1), Example: example,
		RunE: func(cmd *cobra.Command, args []string) error {
			items, err := itemsOf[T](cmd.Context(), p, url.PathEscape(args[0])+"/"+rel)
			if err != nil {
				return err
			}
			return printList(cmd.OutOrStdout(), p.o.Output, items, cols, view)
		},
	}
}

func appPodsCmd(p inProject) *cobra.Command {
	return subListCmd(p, "pods", "List an application's pods", p.example("pods", "web"), "pods", podCols, podView)
}

func appEventsCmd(p inProject) *cobra.Command {
	return subListCmd(p, "events", "List the events of an application, its ReplicaSets and pods, oldest first", p.example("events", "web"),
		"events", eventCols, eventView)
}

func appLogsCmd(p inProject) *cobra.Command {
	var pod, container string
	var follow, timestamps bool
	var tail int
	var since time.Duration
	cmd := &cobra.Command{
		Use: "logs NAME", Short: "Print a pod's log (the application's first pod unless --pod); --follow streams it", Args: cobra.ExactArgs(1),
		Example: "  hks app logs web --tail 100\n  hks app logs web --pod web-5d8f7c9b4-x2x7k -c app -f --since 10m",
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
