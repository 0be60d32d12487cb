// Package issuer makes the platform an OpenID Connect issuer for its
// workspaces: it serves the discovery document, issues short-lived
// workspace ID tokens (aud = the workspace, groups = the user's workspace
// groups and role markers) signed with the platform keys that identity
// manages and serves as JWKS, and owns the OAuth token endpoint
// (/auth/token), a dispatcher on grant_type to which grants are registered.
//
// Workspace tokens carry the workspace issuer as iss (Config.WorkspaceIssuer,
// by default the platform's issuer). When the platform's URL is plain http,
// which Kubernetes refuses as an issuer, it is the workspace issuer
// endpoint (WorkspaceEndpoint): an https listener on loopback with a CA of
// its own, whose address is kept in the data dir, serving
// WorkspaceDiscovery and the JWKS and nothing else.
//
// WorkspaceGroups is the one mapping from platform roles to Kubernetes
// groups; the control-plane reconciler binds RBAC to the same names.
package issuer
