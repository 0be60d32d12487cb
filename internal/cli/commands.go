package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
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
		if prev != nil {
			return prev(cmd, args)
		}
		return nil
	}
	root.AddCommand(loginCmd(o), logoutCmd(o), orgCmd(o), workspaceCmd(o), projectCmd(o), groupCmd(o), rolebindingCmd(o), appCmd(o), cronCmd(o), kubectlTokenCmd(o), kubeconfigCmd(o))
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
			ca, err := ReadCAFile(caFile)
			if err != nil {
				return err
			}
			hc, err := HTTPClient(ca, 30*time.Second)
			if err != nil {
				return fmt.Errorf("--ca-file: %w", err)
			}
			creds, err := LoginWithOTP(cmd.Context(), hc, server, email, pw, func() (string, error) { return readOTP(cmd, otp) })
			if err != nil {
				return fmt.Errorf("login: %w", err)
			}
			creds.CA = ca
			if err := SaveCredentials(creds); err != nil {
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
				_ = c.Do(cmd.Context(), http.MethodPost, "/auth/logout", map[string]string{"refresh_token": c.Creds.RefreshToken}, nil)
			}
			return RemoveCredentials()
		},
	}
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// listAll follows next_cursor through every page; an empty list is an
// empty slice (JSON []).
func listAll(ctx context.Context, c *Client, path string) ([]map[string]any, error) {
	all := []map[string]any{}
	cursor := ""
	for {
		p := path + "?limit=500"
		if cursor != "" {
			p += "&cursor=" + url.QueryEscape(cursor)
		}
		var page struct {
			Items      []map[string]any `json:"items"`
			NextCursor string           `json:"next_cursor"`
		}
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

// resolve turns a name (or slug) into an id by listing; ids pass through.
func resolve(ctx context.Context, c *Client, listPath, ref, what string, keys ...string) (string, error) {
	if ref == "" {
		return "", fmt.Errorf("no %s given", what)
	}
	if uuidRE.MatchString(ref) {
		return ref, nil
	}
	items, err := listAll(ctx, c, listPath)
	if err != nil {
		return "", err
	}
	for _, it := range items {
		for _, k := range keys {
			if s, _ := it[k].(string); s == ref {
				id, _ := it["id"].(string)
				return id, nil
			}
		}
	}
	return "", fmt.Errorf("no %s named %q", what, ref)
}

// scope holds the --org/--workspace/--project flags of nested commands.
type scope struct{ org, workspace, project string }

func (s *scope) orgFlag(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&s.org, "org", os.Getenv("HKS_ORG"), "organization id or slug (env HKS_ORG)")
}

func (s *scope) wsFlag(cmd *cobra.Command) {
	s.orgFlag(cmd)
	cmd.PersistentFlags().StringVar(&s.workspace, "workspace", os.Getenv("HKS_WORKSPACE"), "workspace id or name (env HKS_WORKSPACE)")
}

func (s *scope) projectFlag(cmd *cobra.Command) {
	s.wsFlag(cmd)
	cmd.PersistentFlags().StringVar(&s.project, "project", os.Getenv("HKS_PROJECT"), "project id or name (env HKS_PROJECT)")
}

func (s *scope) orgPath(ctx context.Context, c *Client) (string, error) {
	if s.org == "" {
		return "", errors.New("--org is required (or set HKS_ORG)")
	}
	id, err := resolve(ctx, c, "/api/v1/organizations", s.org, "organization", "slug", "name")
	if err != nil {
		return "", err
	}
	return "/api/v1/organizations/" + id, nil
}

func (s *scope) wsPath(ctx context.Context, c *Client) (string, error) {
	op, err := s.orgPath(ctx, c)
	if err != nil {
		return "", err
	}
	if s.workspace == "" {
		return "", errors.New("--workspace is required (or set HKS_WORKSPACE)")
	}
	id, err := resolve(ctx, c, op+"/workspaces", s.workspace, "workspace", "name")
	if err != nil {
		return "", err
	}
	return op + "/workspaces/" + id, nil
}

// projectPath is the path of --project; the API takes a project's id or
// name, so the name is not resolved here.
func (s *scope) projectPath(ctx context.Context, c *Client) (string, error) {
	switch {
	case s.org == "":
		return "", errors.New("--org is required (or set HKS_ORG)")
	case s.workspace == "":
		return "", errors.New("--workspace is required (or set HKS_WORKSPACE)")
	case s.project == "":
		return "", errors.New("--project is required (or set HKS_PROJECT)")
	}
	wp, err := s.wsPath(ctx, c)
	if err != nil {
		return "", err
	}
	return wp + "/projects/" + url.PathEscape(s.project), nil
}

// resource describes one kind of resource for the generic commands.
type resource struct {
	use, short string
	cols       []Column
	// base returns the collection path.
	base func(ctx context.Context, c *Client) (string, error)
	// nameKeys are the fields a name argument may match.
	nameKeys []string
	// create builds the create command.
	create func(o *Options, base func(context.Context, *Client) (string, error)) *cobra.Command
	// detail, if set, prints more of one resource after its table row
	// (get with table output).
	detail func(w io.Writer, item map[string]any)
}

func (rs resource) command(o *Options, flags func(*cobra.Command), aliases ...string) *cobra.Command {
	cmd := &cobra.Command{Use: rs.use, Short: rs.short, Aliases: aliases}
	flags(cmd)
	cmd.AddCommand(rs.create(o, rs.base),
		&cobra.Command{
			Use: "list", Short: "List " + rs.use + "s", Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				c, base, err := rs.client(cmd, o)
				if err != nil {
					return err
				}
				items, err := listAll(cmd.Context(), c, base)
				if err != nil {
					return err
				}
				return Print(cmd.OutOrStdout(), o.Output, items, rs.cols)
			},
		},
		&cobra.Command{
			Use: "get ID|NAME", Short: "Show one " + rs.use, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, base, err := rs.client(cmd, o)
				if err != nil {
					return err
				}
				id, err := resolve(cmd.Context(), c, base, args[0], rs.use, rs.nameKeys...)
				if err != nil {
					return err
				}
				var out map[string]any
				if err := c.Do(cmd.Context(), http.MethodGet, base+"/"+id, nil, &out); err != nil {
					return err
				}
				if err := Print(cmd.OutOrStdout(), o.Output, out, rs.cols); err != nil {
					return err
				}
				if rs.detail != nil && (o.Output == "table" || o.Output == "") {
					rs.detail(cmd.OutOrStdout(), out)
				}
				return nil
			},
		},
		&cobra.Command{
			Use: "delete ID|NAME", Short: "Delete a " + rs.use, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, base, err := rs.client(cmd, o)
				if err != nil {
					return err
				}
				id, err := resolve(cmd.Context(), c, base, args[0], rs.use, rs.nameKeys...)
				if err != nil {
					return err
				}
				var out map[string]any
				if err := c.Do(cmd.Context(), http.MethodDelete, base+"/"+id, nil, &out); err != nil {
					return err
				}
				if out != nil {
					return Print(cmd.OutOrStdout(), o.Output, out, rs.cols)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s deleted\n", rs.use, args[0])
				return nil
			},
		})
	return cmd
}

func (rs resource) client(cmd *cobra.Command, o *Options) (*Client, string, error) {
	c, err := NewClient(o.Server)
	if err != nil {
		return nil, "", err
	}
	base, err := rs.base(cmd.Context(), c)
	return c, base, err
}

// createCmd is a create command posting the body built by build.
func createCmd(o *Options, base func(context.Context, *Client) (string, error), cols []Column, short string,
	flags func(*cobra.Command), build func(ctx context.Context, c *Client, name string) (any, error)) *cobra.Command {
	cmd := &cobra.Command{
		Use: "create NAME", Short: short, Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := NewClient(o.Server)
			if err != nil {
				return err
			}
			path, err := base(cmd.Context(), c)
			if err != nil {
				return err
			}
			body, err := build(cmd.Context(), c, args[0])
			if err != nil {
				return err
			}
			var out map[string]any
			if err := c.Do(cmd.Context(), http.MethodPost, path, body, &out); err != nil {
				return err
			}
			return Print(cmd.OutOrStdout(), o.Output, out, cols)
		},
	}
	if flags != nil {
		flags(cmd)
	}
	return cmd
}

func orgCmd(o *Options) *cobra.Command {
	cols := []Column{{"ID", "id"}, {"NAME", "name"}, {"SLUG", "slug"}, {"ROLE", "role"}}
	var slug, billing string
	rs := resource{use: "org", short: "Manage organizations", cols: cols, nameKeys: []string{"slug", "name"},
		base: func(context.Context, *Client) (string, error) { return "/api/v1/organizations", nil }}
	rs.create = func(o *Options, base func(context.Context, *Client) (string, error)) *cobra.Command {
		return createCmd(o, base, cols, "Create an organization (you become its owner)",
			func(cmd *cobra.Command) {
				cmd.Flags().StringVar(&slug, "slug", "", "URL-safe unique slug (default: from the name)")
				cmd.Flags().StringVar(&billing, "billing-email", "", "billing contact")
			},
			func(_ context.Context, _ *Client, name string) (any, error) {
				return map[string]any{"name": name, "slug": slug, "billing_email": billing}, nil
			})
	}
	s := &scope{}
	cmd := rs.command(o, func(*cobra.Command) {}, "orgs", "organization")
	invites := orgInviteCmds(o, s)
	s.orgFlag(invites[0]) // invite needs --org; join names no organization
	cmd.AddCommand(invites...)
	return cmd
}

func workspaceCmd(o *Options) *cobra.Command {
	cols := []Column{{"ID", "id"}, {"NAME", "name"}, {"PLAN", "plan"}, {"STATUS", "status"}, {"ROLE", "role"}}
	s := &scope{}
	var plan string
	rs := resource{use: "workspace", short: "Manage workspaces", cols: cols, nameKeys: []string{"name"}, detail: printControlPlane,
		base: func(ctx context.Context, c *Client) (string, error) {
			op, err := s.orgPath(ctx, c)
			return op + "/workspaces", err
		}}
	var wait bool
	var timeout time.Duration
	rs.create = func(o *Options, base func(context.Context, *Client) (string, error)) *cobra.Command {
		return &cobra.Command{
			Use: "create NAME", Short: "Create a workspace; --wait follows its provisioning until it runs", Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, err := NewClient(o.Server)
				if err != nil {
					return err
				}
				path, err := base(cmd.Context(), c)
				if err != nil {
					return err
				}
				var out map[string]any
				if err := c.Do(cmd.Context(), http.MethodPost, path, map[string]any{"name": args[0], "plan": plan}, &out); err != nil {
					return err
				}
				if err := Print(cmd.OutOrStdout(), o.Output, out, cols); err != nil {
					return err
				}
				if !wait {
					return nil
				}
				id, _ := out["id"].(string)
				if id == "" {
					return errors.New("the server answered no workspace id to follow")
				}
				return waitForWorkspace(cmd.Context(), c, path+"/"+id, args[0], timeout, cmd.ErrOrStderr())
			},
		}
	}
	cmd := rs.command(o, s.orgFlag, "workspaces", "ws")
	for _, sub := range cmd.Commands() {
		if sub.Name() == "create" {
			sub.Flags().StringVar(&plan, "plan", "shared", "shared or dedicated")
			sub.Flags().BoolVar(&wait, "wait", false, "follow the workspace until it runs; fail with the reason if it fails")
			sub.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "with --wait, how long to wait")
		}
	}
	cmd.AddCommand(usageCmd(o, "workspace", rs.base))
	return cmd
}

// printControlPlane prints a workspace's control-plane health, if the
// answer has it.
func printControlPlane(w io.Writer, ws map[string]any) {
	cp, ok := ws["control_plane"].(map[string]any)
	if !ok {
		return
	}
	state := "not ready"
	if ready, _ := cp["ready"].(bool); ready {
		state = "ready"
	}
	line := "\nControl plane: " + state
	if v, _ := cp["version"].(string); v != "" {
		line += ", Kubernetes " + v
	}
	if at, _ := cp["checked_at"].(string); at != "" {
		line += " (checked " + at + ")"
	}
	fmt.Fprintln(w, line)
	comps, _ := cp["components"].([]any)
	if len(comps) == 0 {
		return
	}
	rows := make([]map[string]any, 0, len(comps))
	for _, c := range comps {
		m, ok := c.(map[string]any)
		if !ok {
			continue
		}
		row := map[string]any{"name": m["name"], "healthy": "no", "restarts": m["restarts"], "message": m["message"]}
		if h, _ := m["healthy"].(bool); h {
			row["healthy"] = "yes"
		}
		rows = append(rows, row)
	}
	_ = Print(w, "table", rows, []Column{{"COMPONENT", "name"}, {"HEALTHY", "healthy"}, {"RESTARTS", "restarts"}, {"MESSAGE", "message"}})
}

func projectCmd(o *Options) *cobra.Command {
	cols := []Column{{"ID", "id"}, {"NAME", "name"}, {"PARENT", "parent_id"}, {"CPU", "quota.cpu"}, {"MEMORY", "quota.memory"}, {"STORAGE", "quota.storage"}, {"PODS", "quota.pods"}}
	s := &scope{}
	var parent, cpu, mem, storage string
	var pods int
	rs := resource{use: "project", short: "Manage projects (namespaces) of a workspace", cols: cols, nameKeys: []string{"name"},
		base: func(ctx context.Context, c *Client) (string, error) {
			wp, err := s.wsPath(ctx, c)
			return wp + "/projects", err
		}}
	rs.create = func(o *Options, base func(context.Context, *Client) (string, error)) *cobra.Command {
		return createCmd(o, base, cols, "Create a project",
			func(cmd *cobra.Command) {
				cmd.Flags().StringVar(&parent, "parent", "", "parent project id or name")
				cmd.Flags().StringVar(&cpu, "cpu", "", "CPU quota, e.g. 2 or 500m")
				cmd.Flags().StringVar(&mem, "memory", "", "memory quota, e.g. 4Gi")
				cmd.Flags().StringVar(&storage, "storage", "", "storage quota, e.g. 100Gi")
				cmd.Flags().IntVar(&pods, "pods", 0, "pod count quota")
			},
			func(ctx context.Context, c *Client, name string) (any, error) {
				body := map[string]any{"name": name, "quota": map[string]any{"cpu": cpu, "memory": mem, "storage": storage, "pods": pods}}
				if parent != "" {
					b, err := base(ctx, c)
					if err != nil {
						return nil, err
					}
					id, err := resolve(ctx, c, b, parent, "project", "name")
					if err != nil {
						return nil, err
					}
					body["parent_id"] = id
				}
				return body, nil
			})
	}
	cmd := rs.command(o, s.wsFlag, "projects")
	cmd.AddCommand(usageCmd(o, "project", rs.base))
	return cmd
}

func groupCmd(o *Options) *cobra.Command {
	cols := []Column{{"ID", "id"}, {"NAME", "name"}, {"PARENT", "parent_id"}}
	s := &scope{}
	var parent string
	rs := resource{use: "group", short: "Manage groups of a workspace", cols: cols, nameKeys: []string{"name"},
		base: func(ctx context.Context, c *Client) (string, error) {
			wp, err := s.wsPath(ctx, c)
			return wp + "/groups", err
		}}
	rs.create = func(o *Options, base func(context.Context, *Client) (string, error)) *cobra.Command {
		return createCmd(o, base, cols, "Create a group",
			func(cmd *cobra.Command) {
				cmd.Flags().StringVar(&parent, "parent", "", "parent group id or name")
			},
			func(ctx context.Context, c *Client, name string) (any, error) {
				body := map[string]any{"name": name}
				if parent != "" {
					b, err := base(ctx, c)
					if err != nil {
						return nil, err
					}
					id, err := resolve(ctx, c, b, parent, "group", "name")
					if err != nil {
						return nil, err
					}
					body["parent_id"] = id
				}
				return body, nil
			})
	}
	cmd := rs.command(o, s.wsFlag, "groups")
	cmd.AddCommand(groupMemberCmds(o, s)...)
	return cmd
}
