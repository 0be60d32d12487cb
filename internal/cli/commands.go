package cli

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/hexabase/hexabase-ai/internal/api"
)

// Options are the CLI's global flags.
type Options struct {
	Server string
	Output string
}

// AddCommands adds the client commands to root.
func AddCommands(root *cobra.Command) {
	o := &Options{}
	root.PersistentFlags().StringVar(&o.Server, "server", os.Getenv("HKS_SERVER"), "API server URL (env HKS_SERVER; default: the one you logged in to)")
	root.PersistentFlags().StringVarP(&o.Output, "output", "o", "table", "output format: json, yaml or table")
	// The output format is checked before any command runs, so a typo
	// never leaves a created object behind an error.
	prev := root.PersistentPreRunE
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		// kubeconfig also takes "-" (print instead of merging into a file).
		if o.Output != "-" || cmd.Name() != "kubeconfig" {
			if err := validOutput(o.Output); err != nil {
				return err
			}
		}
		if isClient(cmd) {
			if err := checkRequired(cmd); err != nil {
				return err
			}
		}
		if prev != nil {
			return prev(cmd, args)
		}
		return nil
	}
	cmds := []*cobra.Command{loginCmd(o), logoutCmd(o), orgCmd(o), workspaceCmd(o), projectCmd(o), groupCmd(o), rolebindingCmd(o), appCmd(o), cronCmd(o), fnCmd(o), kubectlTokenCmd(o), kubeconfigCmd(o), aiCmd(o)}
	for _, c := range cmds {
		if c.Annotations == nil {
			c.Annotations = map[string]string{}
		}
		c.Annotations[clientAnnotation] = "true"
	}
	root.AddCommand(cmds...)
	for _, c := range cmds {
		addExamples(c)
	}
}

// clientAnnotation marks the commands AddCommands adds.
const clientAnnotation = "hks_client"

// isClient tells whether cmd is one of the client commands or below one.
func isClient(cmd *cobra.Command) bool {
	for c := cmd; c != nil; c = c.Parent() {
		if c.Annotations[clientAnnotation] != "" {
			return true
		}
	}
	return false
}

func loginCmd(o *Options) *cobra.Command {
	var email, otp, caFile string
	var stdin, device bool
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Sign in and store the tokens in the user config dir (mode 0600)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			server := o.Server
			if server == "" {
				server = "http://127.0.0.1:8080"
			}
			if _, err := url.ParseRequestURI(server); err != nil {
				return fmt.Errorf("--server: %q is not a URL", server)
			}
			if email == "" || device {
				if email != "" || stdin || otp != "" {
					return errors.New("--email, --password-stdin and --otp are for password sign-in; the browser and --device sign-ins ask in the browser")
				}
				return browserLogin(cmd, server, caFile, device)
			}
			pw, err := readPassword(cmd, stdin)
			if err != nil {
				return err
			}
			// The device token of this server's earlier sign-in, if any.
			var device string
			if prev, err := LoadCredentials(); err == nil && prev.Server == strings.TrimSuffix(server, "/") {
				device = prev.DeviceToken
			}
			creds, err := signIn(caFile, func(hc *http.Client) (Credentials, error) {
				return LoginWithOTP(cmd.Context(), hc, server, email, pw, device, func() (string, error) { return readOTP(cmd, otp) })
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Logged in to %s as %s\n", creds.Server, email)
			return nil
		},
	}
	cmd.Flags().StringVar(&email, "email", "", "account email: sign in with a password (without it, sign in in the browser)")
	cmd.Flags().BoolVar(&device, "device", false, "sign in on another device's browser with a code (OAuth device grant), for machines without a browser")
	cmd.Flags().BoolVar(&stdin, "password-stdin", false, "read the password from standard input")
	cmd.Flags().StringVar(&caFile, "ca-file", "", "PEM CA to trust for the server (GET /ca.crt of a server run with --tls=auto); remembered with the credentials")
	cmd.Flags().StringVar(&otp, "otp", "", "two-factor code (TOTP or backup code), if the account has 2FA; asked for on a terminal otherwise")
	return cmd
}

// signIn runs login with an HTTP client that trusts the CA of caFile
// (none: the system's), and stores the credentials it returns with that
// CA.
func signIn(caFile string, login func(*http.Client) (Credentials, error)) (Credentials, error) {
	ca, err := ReadCAFile(caFile)
	if err != nil {
		return Credentials{}, err
	}
	hc, err := HTTPClient(ca, 30*time.Second)
	if err != nil {
		return Credentials{}, fmt.Errorf("--ca-file: %w", err)
	}
	creds, err := login(hc)
	if err != nil {
		return Credentials{}, fmt.Errorf("login: %w", err)
	}
	creds.CA = ca
	return creds, SaveCredentials(creds)
}

// readOTP returns the --otp code, or asks for one on a terminal.
func readOTP(cmd *cobra.Command, flag string) (string, error) {
	if flag != "" {
		return strings.TrimSpace(flag), nil
	}
	f, ok := cmd.InOrStdin().(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", ErrOTPRequired
	}
	fmt.Fprint(cmd.ErrOrStderr(), "Two-factor code: ")
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read two-factor code: %w", err)
	}
	return strings.TrimSpace(line), nil
}

func readPassword(cmd *cobra.Command, stdin bool) (string, error) {
	in := cmd.InOrStdin()
	if f, ok := in.(*os.File); ok && !stdin && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(cmd.ErrOrStderr(), "Password: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(cmd.ErrOrStderr())
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		return string(b), nil
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("no password given on standard input")
	}
	return pw, nil
}

func logoutCmd(o *Options) *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "End the session and forget the stored tokens",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if c, err := NewClient(o.Server); err == nil {
				_ = c.Do(cmd.Context(), http.MethodPost, "/auth/logout", nil, nil)
			}
			return RemoveCredentials()
		},
	}
}

// envAnnotation names the environment variable that gives a flag's
// default.
const envAnnotation = "hks_env"

// scope holds the --org/--workspace/--project flags of nested commands.
// Each is sent in the path as given: the server resolves an id or a name
// (a slug for organizations).
type scope struct{ org, workspace, project string }

func (s *scope) orgFlag(cmd *cobra.Command) {
	envFlag(cmd, &s.org, "org", "HKS_ORG", "organization id or slug")
}

func (s *scope) wsFlag(cmd *cobra.Command) {
	s.orgFlag(cmd)
	envFlag(cmd, &s.workspace, "workspace", "HKS_WORKSPACE", "workspace id or name")
}

func (s *scope) projectFlag(cmd *cobra.Command) {
	s.wsFlag(cmd)
	envFlag(cmd, &s.project, "project", "HKS_PROJECT", "project id or name")
}

// envFlag adds the required persistent flag name whose default is the
// environment variable env.
func envFlag(cmd *cobra.Command, p *string, name, env, usage string) {
	cmd.PersistentFlags().StringVar(p, name, os.Getenv(env), usage+" (env "+env+")")
	_ = cmd.MarkPersistentFlagRequired(name)
	_ = cmd.PersistentFlags().SetAnnotation(name, envAnnotation, []string{env})
}

// scopeOrder is the order in which missing scope flags are named: the
// outermost first.
var scopeOrder = []string{"org", "workspace", "project"}

// checkRequired runs before cobra's own check of required flags: a flag
// given by its environment variable counts as set, and the first one
// missing is named as users know it ("--org is required (or set
// HKS_ORG)").
func checkRequired(cmd *cobra.Command) error {
	fs := cmd.Flags()
	var missing []*pflag.Flag
	fs.VisitAll(func(f *pflag.Flag) {
		if req := f.Annotations[cobra.BashCompOneRequiredFlag]; len(req) == 0 || req[0] != "true" || f.Changed {
			return
		}
		if len(f.Annotations[envAnnotation]) > 0 && f.Value.String() != "" {
			_ = fs.Set(f.Name, f.Value.String())
			return
		}
		missing = append(missing, f)
	})
	rank := func(f *pflag.Flag) int {
		if i := slices.Index(scopeOrder, f.Name); i >= 0 {
			return i
		}
		return len(scopeOrder)
	}
	// A scope flag given as '' would name nothing: the request could
	// only fail.
	var empty []*pflag.Flag
	fs.VisitAll(func(f *pflag.Flag) {
		if len(f.Annotations[envAnnotation]) > 0 && f.Changed && f.Value.String() == "" {
			empty = append(empty, f)
		}
	})
	if len(empty) > 0 {
		f := slices.MinFunc(empty, func(a, b *pflag.Flag) int { return cmp.Compare(rank(a), rank(b)) })
		return fmt.Errorf("--%s must not be empty", f.Name)
	}
	if len(missing) == 0 {
		return nil
	}
	f := slices.MinFunc(missing, func(a, b *pflag.Flag) int { return cmp.Compare(rank(a), rank(b)) })
	msg := "--" + f.Name + " is required"
	if env := f.Annotations[envAnnotation]; len(env) > 0 {
		msg += " (or set " + env[0] + ")"
	}
	return errors.New(msg)
}

func (s *scope) orgPath() string { return "/api/v1/organizations/" + url.PathEscape(s.org) }

func (s *scope) wsPath() string { return s.orgPath() + "/workspaces/" + url.PathEscape(s.workspace) }

// projectPath is the path of --project; ctx and c are unused (the server
// resolves every reference).
func (s *scope) projectPath(context.Context, *Client) (string, error) {
	return s.wsPath() + "/projects/" + url.PathEscape(s.project), nil
}

// itemPath is the path of the member ref of the collection at base.
func itemPath(base, ref string) string { return base + "/" + url.PathEscape(ref) }

// listPages follows next_cursor through every page; an empty list is an
// empty slice (JSON []).
func listPages[T any](ctx context.Context, c *Client, path string) ([]T, error) {
	all := []T{}
	cursor := ""
	for {
		p := path + "?limit=500"
		if cursor != "" {
			p += "&cursor=" + url.QueryEscape(cursor)
		}
		var page api.List[T]
		if err := c.Do(ctx, http.MethodGet, p, nil, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Items...)
		if page.NextCursor == "" {
			return all, nil
		}
		cursor = page.NextCursor
	}
}

// apiCall sends in (nil: no body) and decodes the answer as T.
func apiCall[T any](ctx context.Context, c *Client, method, path string, in any) (T, error) {
	var out T
	err := c.Do(ctx, method, path, in, &out)
	return out, err
}

// idOf is the id of the resource at path: the server resolves the name in
// it.
func idOf(ctx context.Context, c *Client, path string) (string, error) {
	v, err := apiCall[struct {
		ID string `json:"id"`
	}](ctx, c, http.MethodGet, path, nil)
	return v.ID, err
}

// withClient is the RunE of a command that calls the API.
func withClient(o *Options, run func(cmd *cobra.Command, c *Client, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		c, err := NewClient(o.Server)
		if err != nil {
			return err
		}
		return run(cmd, c, args)
	}
}

// sendAndPrint is the RunE of a command that sends one request and prints
// its answer, of type T, in cols; req builds the path and body.
func sendAndPrint[T any](o *Options, method string, cols []Column, req func(ctx context.Context, c *Client, args []string) (string, any, error)) func(*cobra.Command, []string) error {
	return withClient(o, func(cmd *cobra.Command, c *Client, args []string) error {
		path, body, err := req(cmd.Context(), c, args)
		if err != nil {
			return err
		}
		out, err := apiCall[T](cmd.Context(), c, method, path, body)
		if err != nil {
			return err
		}
		return Print(cmd.OutOrStdout(), o.Output, out, cols)
	})
}

// listAndPrint is the RunE of a list command: every page of the
// collection at path, printed in cols.
func listAndPrint[T any](o *Options, cols []Column, path func(args []string) string) func(*cobra.Command, []string) error {
	return withClient(o, func(cmd *cobra.Command, c *Client, args []string) error {
		items, err := listPages[T](cmd.Context(), c, path(args))
		if err != nil {
			return err
		}
		return Print(cmd.OutOrStdout(), o.Output, items, cols)
	})
}

// resource describes one kind of resource for the generic commands.
type resource[T any] struct {
	use, short string
	// noun names one resource in prose ("organization"; default use).
	noun    string
	aliases []string
	cols    []Column
	// flags adds the scope flags.
	flags func(*cobra.Command)
	// base returns the collection path.
	base func() string
	// create is the create command.
	create *cobra.Command
	// detail, if set, prints more of one resource after its table row
	// (get with table output).
	detail func(w io.Writer, item T)
}

// aNoun is noun with its indefinite article: "a workspace", "an
// organization".
func aNoun(noun string) string {
	if strings.ContainsRune("aeiou", rune(noun[0])) {
		return "an " + noun
	}
	return "a " + noun
}

func (rs resource[T]) command(o *Options) *cobra.Command {
	cmd := &cobra.Command{Use: rs.use, Short: rs.short, Aliases: rs.aliases}
	noun := rs.noun
	if noun == "" {
		noun = rs.use
	}
	if rs.flags != nil {
		rs.flags(cmd)
	}
	cmd.AddCommand(rs.create,
		&cobra.Command{
			Use: "list", Short: "List " + noun + "s", Args: cobra.NoArgs,
			RunE: listAndPrint[T](o, rs.cols, func([]string) string { return rs.base() }),
		},
		&cobra.Command{
			Use: "get ID|NAME", Short: "Show one " + noun, Args: cobra.ExactArgs(1),
			RunE: withClient(o, func(cmd *cobra.Command, c *Client, args []string) error {
				out, err := apiCall[T](cmd.Context(), c, http.MethodGet, itemPath(rs.base(), args[0]), nil)
				if err != nil {
					return err
				}
				if err := Print(cmd.OutOrStdout(), o.Output, out, rs.cols); err != nil {
					return err
				}
				if rs.detail != nil && (o.Output == "table" || o.Output == "") {
					rs.detail(cmd.OutOrStdout(), out)
				}
				return nil
			}),
		},
		&cobra.Command{
			Use: "delete ID|NAME", Short: "Delete " + aNoun(noun), Args: cobra.ExactArgs(1),
			RunE: withClient(o, func(cmd *cobra.Command, c *Client, args []string) error {
				out, err := apiCall[*T](cmd.Context(), c, http.MethodDelete, itemPath(rs.base(), args[0]), nil)
				if err != nil {
					return err
				}
				if out != nil {
					return Print(cmd.OutOrStdout(), o.Output, out, rs.cols)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s deleted\n", rs.use, args[0])
				return nil
			}),
		})
	return cmd
}

// createCmd is `create NAME` posting the body built by build to base and
// printing the answer, of type T.
func createCmd[T any](o *Options, base func() string, cols []Column, short string, build func(ctx context.Context, c *Client, name string) (any, error)) *cobra.Command {
	return &cobra.Command{
		Use: "create NAME", Short: short, Args: cobra.ExactArgs(1),
		RunE: sendAndPrint[T](o, http.MethodPost, cols, func(ctx context.Context, c *Client, args []string) (string, any, error) {
			body, err := build(ctx, c, args[0])
			return base(), body, err
		}),
	}
}

// parentID is the id of --parent in the collection at base ("" without
// one).
func parentID(ctx context.Context, c *Client, base, parent string) (string, error) {
	if parent == "" {
		return "", nil
	}
	return idOf(ctx, c, itemPath(base, parent))
}

var orgCols = []Column{{"ID", "id"}, {"NAME", "name"}, {"SLUG", "slug"}, {"ROLE", "role"}}

func orgCmd(o *Options) *cobra.Command {
	var req api.CreateOrganizationRequest
	create := createCmd[api.Organization](o, func() string { return "/api/v1/organizations" }, orgCols, "Create an organization (you become its owner)",
		func(_ context.Context, _ *Client, name string) (any, error) {
			req.Name = name
			return req, nil
		})
	create.Flags().StringVar(&req.Slug, "slug", "", "URL-safe unique slug (default: from the name)")
	create.Flags().StringVar(&req.BillingEmail, "billing-email", "", "billing contact")
	cmd := resource[api.Organization]{use: "org", noun: "organization", short: "Manage organizations", aliases: []string{"orgs", "organization"}, cols: orgCols,
		base: func() string { return "/api/v1/organizations" }, create: create}.command(o)
	cmd.AddCommand(orgInviteCmds(o)...)
	return cmd
}

func workspaceCmd(o *Options) *cobra.Command {
	cols := []Column{{"ID", "id"}, {"NAME", "name"}, {"PLAN", "plan"}, {"STATUS", "status"}, {"ROLE", "role"}}
	s := &scope{}
	base := func() string { return s.orgPath() + "/workspaces" }
	var plan string
	var wait bool
	var timeout time.Duration
	create := &cobra.Command{
		Use: "create NAME", Short: "Create a workspace; --wait follows its provisioning until it runs", Args: cobra.ExactArgs(1),
		RunE: withClient(o, func(cmd *cobra.Command, c *Client, args []string) error {
			out, err := apiCall[api.Workspace](cmd.Context(), c, http.MethodPost, base(), api.CreateWorkspaceRequest{Name: args[0], Plan: plan})
			if err != nil {
				return err
			}
			if err := Print(cmd.OutOrStdout(), o.Output, out, cols); err != nil {
				return err
			}
			if !wait {
				return nil
			}
			if out.ID == "" {
				return errors.New("the server answered no workspace id to follow")
			}
			return waitForWorkspace(cmd.Context(), c, itemPath(base(), out.ID), args[0], timeout, cmd.ErrOrStderr())
		}),
	}
	create.Flags().StringVar(&plan, "plan", "shared", "shared or dedicated")
	create.Flags().BoolVar(&wait, "wait", false, "follow the workspace until it runs; fail with the reason if it fails")
	create.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "with --wait, how long to wait")
	cmd := resource[api.Workspace]{use: "workspace", short: "Manage workspaces", aliases: []string{"workspaces", "ws"}, cols: cols,
		flags: s.orgFlag, base: base, create: create, detail: func(w io.Writer, ws api.Workspace) {
			printControlPlane(w, ws)
			printSleep(w, ws)
		}}.command(o)
	cmd.AddCommand(usageCmd(o, "workspace", base))
	cmd.AddCommand(workspacePowerCmds(o, base, cols)...)
	return cmd
}

// printControlPlane prints a workspace's control-plane health, if the
// answer has it.
func printControlPlane(w io.Writer, ws api.Workspace) {
	cp := ws.ControlPlane
	if cp == nil {
		return
	}
	state := "not ready"
	if cp.Ready {
		state = "ready"
	}
	line := "\nControl plane: " + state
	if cp.Version != "" {
		line += ", Kubernetes " + cp.Version
	}
	if !cp.CheckedAt.IsZero() {
		line += " (checked " + cp.CheckedAt.Format(time.RFC3339Nano) + ")"
	}
	fmt.Fprintln(w, line)
	if len(cp.Components) == 0 {
		return
	}
	rows := make([]map[string]any, 0, len(cp.Components))
	for _, c := range cp.Components {
		rows = append(rows, map[string]any{"name": c.Name, "healthy": yesNo(c.Healthy), "restarts": c.Restarts, "message": c.Message})
	}
	_ = Print(w, "table", rows, []Column{{"COMPONENT", "name"}, {"HEALTHY", "healthy"}, {"RESTARTS", "restarts"}, {"MESSAGE", "message"}})
}

func projectCmd(o *Options) *cobra.Command {
	cols := []Column{{"ID", "id"}, {"NAME", "name"}, {"PARENT", "parent_id"}, {"CPU", "quota.cpu"}, {"MEMORY", "quota.memory"}, {"STORAGE", "quota.storage"}, {"PODS", "quota.pods"}, {"POD SECURITY", "pod_security"}}
	s := &scope{}
	base := func() string { return s.wsPath() + "/projects" }
	var parent, podSecurity string
	var quota api.Quota
	create := createCmd[api.Project](o, base, cols, "Create a project",
		func(ctx context.Context, c *Client, name string) (any, error) {
			pid, err := parentID(ctx, c, base(), parent)
			return api.CreateProjectRequest{Name: name, ParentID: pid, Quota: &quota, PodSecurity: podSecurity}, err
		})
	create.Flags().StringVar(&parent, "parent", "", "parent project id or name")
	create.Flags().StringVar(&podSecurity, "pod-security", "", "Pod Security Standard enforced in the namespace: baseline (the default) or restricted")
	create.Flags().StringVar(&quota.CPU, "cpu", "", "CPU quota, e.g. 2 or 500m")
	create.Flags().StringVar(&quota.Memory, "memory", "", "memory quota, e.g. 4Gi")
	create.Flags().StringVar(&quota.Storage, "storage", "", "storage quota, e.g. 100Gi")
	create.Flags().IntVar(&quota.Pods, "pods", 0, "pod count quota")
	cmd := resource[api.Project]{use: "project", short: "Manage projects (namespaces) of a workspace", aliases: []string{"projects"}, cols: cols,
		flags: s.wsFlag, base: base, create: create}.command(o)
	cmd.AddCommand(projectUpdateCmd(o, base, cols), usageCmd(o, "project", base))
	return cmd
}

// projectUpdateCmd is `project update NAME`: a merge patch of the flags
// given, and of nothing else (a quota flag left out keeps its value).
func projectUpdateCmd(o *Options, base func() string, cols []Column) *cobra.Command {
	var parent, podSecurity, cpu, memory, storage string
	var pods int
	cmd := &cobra.Command{
		Use: "update NAME", Short: "Change a project's parent, quota or Pod Security level (only the flags given)", Args: cobra.ExactArgs(1),
	}
	cmd.RunE = sendAndPrint[api.Project](o, http.MethodPatch, cols, func(ctx context.Context, c *Client, args []string) (string, any, error) {
		doc, quota := map[string]any{}, map[string]any{}
		changed := cmd.Flags().Changed
		if changed("parent") {
			pid, err := parentID(ctx, c, base(), parent)
			if err != nil {
				return "", nil, err
			}
			doc["parent_id"] = pid
		}
		if changed("pod-security") {
			doc["pod_security"] = podSecurity
		}
		for flag, v := range map[string]any{"cpu": cpu, "memory": memory, "storage": storage, "pods": pods} {
			if changed(flag) {
				quota[flag] = v
			}
		}
		if len(quota) > 0 {
			doc["quota"] = quota
		}
		if len(doc) == 0 {
			return "", nil, errors.New("nothing to change: give --parent, --pod-security, --cpu, --memory, --storage or --pods")
		}
		return itemPath(base(), args[0]), doc, nil
	})
	cmd.Flags().StringVar(&parent, "parent", "", `new parent project id or name ("" makes it top-level)`)
	cmd.Flags().StringVar(&podSecurity, "pod-security", "", `Pod Security Standard enforced in the namespace: baseline or restricted ("" resets to baseline; new pods only, running ones stay)`)
	cmd.Flags().StringVar(&cpu, "cpu", "", `CPU quota, e.g. 2 or 500m ("" removes the limit)`)
	cmd.Flags().StringVar(&memory, "memory", "", `memory quota, e.g. 4Gi ("" removes the limit)`)
	cmd.Flags().StringVar(&storage, "storage", "", `storage quota, e.g. 100Gi ("" removes the limit)`)
	cmd.Flags().IntVar(&pods, "pods", 0, "pod count quota (0 removes the limit)")
	return cmd
}

func groupCmd(o *Options) *cobra.Command {
	cols := []Column{{"ID", "id"}, {"NAME", "name"}, {"PARENT", "parent_id"}}
	s := &scope{}
	base := func() string { return s.wsPath() + "/groups" }
	var parent string
	create := createCmd[api.Group](o, base, cols, "Create a group",
		func(ctx context.Context, c *Client, name string) (any, error) {
			pid, err := parentID(ctx, c, base(), parent)
			return api.CreateGroupRequest{Name: name, ParentID: pid}, err
		})
	create.Flags().StringVar(&parent, "parent", "", "parent group id or name")
	cmd := resource[api.Group]{use: "group", short: "Manage groups of a workspace", aliases: []string{"groups"}, cols: cols,
		flags: s.wsFlag, base: base, create: create}.command(o)
	cmd.AddCommand(groupMemberCmds(o, base)...)
	return cmd
}
