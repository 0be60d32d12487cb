// Package cli owns the client side of the hks command: sign-in and stored
// credentials, an API client that refreshes tokens, and the resource
// commands (org, workspace, project, group, and app and cron for a
// project's applications and CronJobs) with json, yaml and table output,
// following a workspace's events (create --wait), and the kubectl side:
// kubeconfig merging and the kubectl-token credential plugin.
package cli
