// Package authz decides what a user may do in an organization and its
// workspaces. It owns the role model: organization roles (owner, admin,
// member), workspace roles bound to groups (workspace-admin, developer,
// viewer), inheritance of bindings down the group tree, project-scoped
// bindings inherited by child projects, and the implicit workspace-admin
// role of organization owners and admins.
package authz
