// Package workloads owns applications in workspace projects: a simple
// application spec (or a raw manifest) becomes a Deployment and a Service
// in the project's namespace, with live status, scaling, restarts, pods,
// events and logs, and the per-project and per-workspace resource usage.
//
// Every call reaches the workspace cluster as the caller (the platform's
// client impersonating the caller's user and workspace groups, the same
// identity their workspace token carries), so Kubernetes RBAC decides and a
// refusal from the cluster comes back as a 403 naming what was refused
// (package kube holds that plumbing, shared with package cronjobs).
//
// PATCH applies a JSON merge patch of the simple spec to the live
// Deployment and PUT replaces what the simple spec describes; neither
// touches what the spec cannot describe (other containers, volumes, …).
// An application's resource_version is its Deployment's generation.
package workloads
