package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/spf13/cobra"
)

// rolebindingCmd manages role bindings: a role for a group, workspace-wide
// or in one project.
func rolebindingCmd(o *Options) *cobra.Command {
	s := &scope{}
	cols := []Column{{"ID", "id"}, {"GROUP", "group_id"}, {"ROLE", "role"}, {"PROJECT", "project_id"}}
	cmd := &cobra.Command{Use: "rolebinding", Aliases: []string{"rolebindings", "rb"}, Short: "Bind workspace roles to groups"}
	s.wsFlag(cmd)
	var group, role, project string
	create := &cobra.Command{
		Use: "create", Short: "Give a group a role (workspace-admin, developer or viewer), workspace-wide or in --project", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, wp, err := s.wsClient(cmd.Context(), o)
			if err != nil {
				return err
			}
			if group == "" || role == "" {
				return errors.New("--group and --role are required")
			}
			gid, err := resolve(cmd.Context(), c, wp+"/groups", group, "group", "name")
			if err != nil {
				return err
			}
			body := map[string]string{"group_id": gid, "role": role}
			if project != "" {
				if body["project_id"], err = resolve(cmd.Context(), c, wp+"/projects", project, "project", "name"); err != nil {
					return err
				}
			}
			var out map[string]any
			if err := c.Do(cmd.Context(), http.MethodPost, wp+"/rolebindings", body, &out); err != nil {
				return err
			}
			return Print(cmd.OutOrStdout(), o.Output, out, cols)
		},
	}
	create.Flags().StringVar(&group, "group", "", "group id or name")
	create.Flags().StringVar(&role, "role", "", "workspace-admin, developer or viewer")
	create.Flags().StringVar(&project, "project", "", "project id or name (default: the whole workspace)")
	list := &cobra.Command{
		Use: "list", Short: "List role bindings", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, wp, err := s.wsClient(cmd.Context(), o)
			if err != nil {
				return err
			}
			items, err := listAll(cmd.Context(), c, wp+"/rolebindings")
			if err != nil {
				return err
			}
			return Print(cmd.OutOrStdout(), o.Output, items, cols)
		},
	}
	del := &cobra.Command{
		Use: "delete ID", Short: "Delete a role binding", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, wp, err := s.wsClient(cmd.Context(), o)
			if err != nil {
				return err
			}
			if err := c.Do(cmd.Context(), http.MethodDelete, wp+"/rolebindings/"+args[0], nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "rolebinding %s deleted\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(create, list, del)
	return cmd
}

// groupMemberCmds are `hks group add-member` and `hks group members`.
func groupMemberCmds(o *Options, s *scope) []*cobra.Command {
	var email string
	add := &cobra.Command{
		Use: "add-member GROUP", Short: "Add an organization member to a group (by --email)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, wp, err := s.wsClient(cmd.Context(), o)
			if err != nil {
				return err
			}
			if email == "" {
				return errors.New("--email is required")
			}
			gid, err := resolve(cmd.Context(), c, wp+"/groups", args[0], "group", "name")
			if err != nil {
				return err
			}
			var out map[string]any
			if err := c.Do(cmd.Context(), http.MethodPost, wp+"/groups/"+gid+"/members", map[string]string{"email": email}, &out); err != nil {
				return err
			}
			return Print(cmd.OutOrStdout(), o.Output, out, []Column{{"USER", "user_id"}, {"EMAIL", "email"}})
		},
	}
	add.Flags().StringVar(&email, "email", "", "email of the member to add")
	members := &cobra.Command{
		Use: "members GROUP", Short: "List a group's members", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, wp, err := s.wsClient(cmd.Context(), o)
			if err != nil {
				return err
			}
			gid, err := resolve(cmd.Context(), c, wp+"/groups", args[0], "group", "name")
			if err != nil {
				return err
			}
			items, err := listAll(cmd.Context(), c, wp+"/groups/"+gid+"/members")
			if err != nil {
				return err
			}
			return Print(cmd.OutOrStdout(), o.Output, items, []Column{{"USER", "user_id"}, {"EMAIL", "email"}})
		},
	}
	return []*cobra.Command{add, members}
}

func (s *scope) wsClient(ctx context.Context, o *Options) (*Client, string, error) {
	c, err := NewClient(o.Server)
	if err != nil {
		return nil, "", err
	}
	wp, err := s.wsPath(ctx, c)
	return c, wp, err
}

// orgInviteCmds are `hks org invite` and `hks org join`.
func orgInviteCmds(o *Options, s *scope) []*cobra.Command {
	var role string
	invite := &cobra.Command{
		Use: "invite EMAIL", Short: "Invite an email address into the organization; prints the token to pass on", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := NewClient(o.Server)
			if err != nil {
				return err
			}
			op, err := s.orgPath(cmd.Context(), c)
			if err != nil {
				return err
			}
			var out map[string]any
			if err := c.Do(cmd.Context(), http.MethodPost, op+"/invitations", map[string]string{"email": args[0], "role": role}, &out); err != nil {
				return err
			}
			return Print(cmd.OutOrStdout(), o.Output, out, []Column{{"EMAIL", "email"}, {"ROLE", "role"}, {"EXPIRES", "expires_at"}, {"TOKEN", "token"}})
		},
	}
	invite.Flags().StringVar(&role, "role", "member", "owner, admin or member")
	join := &cobra.Command{
		Use: "join TOKEN", Short: "Accept an invitation sent to your email", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := NewClient(o.Server)
			if err != nil {
				return err
			}
			var out map[string]any
			if err := c.Do(cmd.Context(), http.MethodPost, "/api/v1/invitations/accept", map[string]string{"token": args[0]}, &out); err != nil {
				return err
			}
			return Print(cmd.OutOrStdout(), o.Output, out, []Column{{"ID", "id"}, {"NAME", "name"}, {"SLUG", "slug"}, {"ROLE", "role"}})
		},
	}
	return []*cobra.Command{invite, join}
}
