// Package kube is the plumbing that the packages acting in workspace
// clusters (workloads, cronjobs) share: a client of a workspace cluster as
// the caller (Clusters, ClientFor, ForProject) or as the platform
// (AdminClusters), the first steps of their handlers (Objects: the object
// the path names, the page or body, then the project), the mapping of the cluster's errors onto the API's
// (Error, PageError), pages of the cluster's lists (ListPage), and the
// checks and conversions of the container both describe the same way.
//
// Every client made with ClientFor reaches the workspace cluster as the
// caller (the platform's client impersonating the caller's user and
// workspace groups, the same identity their workspace token carries), so
// Kubernetes RBAC decides, and a refusal comes back as a 403 naming what
// was refused.
package kube
