// Package kubeconfig builds the kubeconfigs hks hands out (one workspace,
// its API server, and a user that runs the `hks kubectl-token` exec
// credential plugin, never an embedded credential) and merges them into a
// user's kubeconfig file without disturbing its other entries.
package kubeconfig
