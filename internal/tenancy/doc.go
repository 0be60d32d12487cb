// Package tenancy owns organizations, their members and invitations,
// workspaces, projects, workspace members, groups and role bindings: the
// validation of their names and specs, the authorization of every call
// (through package authz) and the HTTP routes under /api/v1/organizations,
// among them a workspace's kubeconfig and its Server-Sent Events stream.
// It asks the workspaces' control planes through the ControlPlane
// interface, which internal/controlplane implements.
package tenancy
