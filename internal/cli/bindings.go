package cli

import (
	"context"
	"fmt"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/hexabase/hexabase-ai/internal/api"
)

// rolebindingCmd manages role bindings: a role for a group, workspace-wide
// or in one project.
func rolebindingCmd(o *Options) *cobra.Command {
	s := &scope{}
	cols := []Column{{"ID", "id"}, {"GROUP", "group_id"}, {"ROLE", "role"}, {"PROJECT", "project_id"}}
	cmd := &cobra.Command{Use: "rolebinding", Aliases: []string{"rolebindings", "rb"}, Short: "Bind workspace roles to groups"}
	s.wsFlag(cmd)
	var group, project string
	var req api.CreateRoleBindingRequest
	create := &cobra.Command{
		Use: "create", Short: "Give a group a role (workspace-admin, developer or viewer), workspace-wide or in --project", Args: cobra.NoArgs,
		RunE: sendAndPrint[api.RoleBinding](o, http.MethodPost, cols, func(ctx context.Context, c *Client, _ []string) (string, any, error) {
			// The body takes ids: the server resolves the names in the
			// paths of the group and the project.
			var err error
			if req.GroupID, err = idOf(ctx, c, itemPath(s.wsPath()+"/groups", group)); err != nil {
				return "", nil, err
			}
			if req.ProjectID, err = parentID(ctx, c, s.wsPath()+"/projects", project); err != nil {
				return "", nil, err
			}
			return s.wsPath() + "/rolebindings", req, nil
		}),
	}
	create.Flags().StringVar(&group, "group", "", "group id or name")
	create.Flags().StringVar(&req.Role, "role", "", "workspace-admin, developer or viewer")
	create.Flags().StringVar(&project, "project", "", "project id or name (default: the whole workspace)")
	_ = create.MarkFlagRequired("group")
	_ = create.MarkFlagRequired("role")
	list := &cobra.Command{
		Use: "list", Short: "List role bindings", Args: cobra.NoArgs,
		RunE: listAndPrint[api.RoleBinding](o, cols, func([]string) string { return s.wsPath() + "/rolebindings" }),
	}
	del := &cobra.Command{
		Use: "delete ID", Short: "Delete a role binding", Args: cobra.ExactArgs(1),
		RunE: withClient(o, func(cmd *cobra.Command, c *Client, args []string) error {
			if err := c.Do(cmd.Context(), http.MethodDelete, itemPath(s.wsPath()+"/rolebindings", args[0]), nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "rolebinding %s deleted\n", args[0])
			return nil
		}),
	}
	cmd.AddCommand(create, list, del)
	return cmd
}

var userCols = []Column{{"USER", "user_id"}, {"EMAIL", "email"}}

// groupMemberCmds are `hks group add-member` and `hks group members`; base
// is the path of the groups.
func groupMemberCmds(o *Options, base func() string) []*cobra.Command {
	var req api.AddUserRequest
	add := &cobra.Command{
		Use: "add-member GROUP", Short: "Add an organization member to a group (by --email)", Args: cobra.ExactArgs(1),
		RunE: sendAndPrint[api.User](o, http.MethodPost, userCols, func(_ context.Context, _ *Client, args []string) (string, any, error) {
			return itemPath(base(), args[0]) + "/members", req, nil
		}),
	}
	add.Flags().StringVar(&req.Email, "email", "", "email of the member to add")
	_ = add.MarkFlagRequired("email")
	members := &cobra.Command{
		Use: "members GROUP", Short: "List a group's members", Args: cobra.ExactArgs(1),
		RunE: listAndPrint[api.User](o, userCols, func(args []string) string { return itemPath(base(), args[0]) + "/members" }),
	}
	return []*cobra.Command{add, members}
}

// orgInviteCmds are `hks org invite` and `hks org join`.
func orgInviteCmds(o *Options) []*cobra.Command {
	s := &scope{}
	var req api.CreateInvitationRequest
	invite := &cobra.Command{
		Use: "invite EMAIL", Short: "Invite an email address into the organization; prints the token to pass on", Args: cobra.ExactArgs(1),
		RunE: sendAndPrint[api.Invitation](o, http.MethodPost, []Column{{"EMAIL", "email"}, {"ROLE", "role"}, {"EXPIRES", "expires_at"}, {"TOKEN", "token"}},
			func(_ context.Context, _ *Client, args []string) (string, any, error) {
				req.Email = args[0]
				return s.orgPath() + "/invitations", req, nil
			}),
	}
	invite.Flags().StringVar(&req.Role, "role", "member", "owner, admin or member")
	s.orgFlag(invite) // invite needs --org; join names no organization
	join := &cobra.Command{
		Use: "join TOKEN", Short: "Accept an invitation sent to your email", Args: cobra.ExactArgs(1),
		RunE: sendAndPrint[api.Organization](o, http.MethodPost, orgCols, func(_ context.Context, _ *Client, args []string) (string, any, error) {
			return "/api/v1/invitations/accept", api.AcceptInvitationRequest{Token: args[0]}, nil
		}),
	}
	return []*cobra.Command{invite, join}
}
