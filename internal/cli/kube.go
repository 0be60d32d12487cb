package cli

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"
)

// ExecCredential API version kubeconfigs from `hks kubeconfig` ask for.
const execAPIVersion = "client.authentication.k8s.io/v1"

// tokenRefreshMargin: a cached workspace token is used only while it has
// more than this left, so that kubectl never sends one that expires in
// flight.
const tokenRefreshMargin = 2 * time.Minute

// ExecCredential is the client-go exec credential plugin answer.
type ExecCredential struct {
	APIVersion string               `json:"apiVersion"`
	Kind       string               `json:"kind"`
	Status     ExecCredentialStatus `json:"status"`
}

// ExecCredentialStatus carries the token and its expiry.
type ExecCredentialStatus struct {
	Token               string `json:"token"`
	ExpirationTimestamp string `json:"expirationTimestamp"`
}

// workspaceToken is the answer of POST …/workspaces/{ws}/token, and what
// the token cache holds.
type workspaceToken struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// tokenCachePath is the cache file of one workspace's token on one server
// for one user.
func tokenCachePath(server, user, org, ws string) (string, error) {
	d, err := ConfigDir()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(server + "\x00" + user + "\x00" + org + "\x00" + ws))
	return filepath.Join(d, "kube-tokens", hex.EncodeToString(sum[:16])+".json"), nil
}

// subjectOf returns the sub claim of the stored access token, read without
// verification (the file is the user's own; the server verifies tokens),
// or "" if it cannot be read.
func subjectOf(accessToken string) string {
	parts := strings.Split(accessToken, ".")
	if len(parts) != 3 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		Sub string `json:"sub"`
	}
	if json.Unmarshal(b, &c) != nil {
		return ""
	}
	return c.Sub
}

func readCachedToken(path string, now time.Time) (workspaceToken, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return workspaceToken{}, false
	}
	var wt workspaceToken
	if json.Unmarshal(b, &wt) != nil || wt.Token == "" || wt.ExpiresAt.Sub(now) <= tokenRefreshMargin {
		return workspaceToken{}, false
	}
	return wt, true
}

// writePrivate writes b to path with mode 0600 (dir 0700), atomically.
func writePrivate(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// KubectlToken returns a workspace token for s's workspace, from the cache
// while it has more than tokenRefreshMargin left, else from the API (the
// client refreshes the platform session silently when needed).
func KubectlToken(ctx context.Context, o *Options, s *scope, now func() time.Time) (workspaceToken, error) {
	c, err := NewClient(o.Server)
	if err != nil {
		return workspaceToken{}, err
	}
	if s.org == "" {
		return workspaceToken{}, errors.New("--org is required (or set HKS_ORG)")
	}
	if s.workspace == "" {
		return workspaceToken{}, errors.New("--workspace is required (or set HKS_WORKSPACE)")
	}
	// The cache is per user: signing in as someone else never reuses
	// another user's token. Without credentials (logged out) NewClient
	// failed above, so a cached token is never used after logout.
	cache, err := tokenCachePath(c.Creds.Server, subjectOf(c.Creds.AccessToken), s.org, s.workspace)
	if err != nil {
		return workspaceToken{}, err
	}
	if wt, ok := readCachedToken(cache, now()); ok {
		return wt, nil
	}
	path, err := s.wsPath(ctx, c)
	if err != nil {
		return workspaceToken{}, err
	}
	var wt workspaceToken
	if err := c.Do(ctx, http.MethodPost, path+"/token", nil, &wt); err != nil {
		return workspaceToken{}, fmt.Errorf("get a workspace token: %w", err)
	}
	if wt.Token == "" {
		return workspaceToken{}, errors.New("get a workspace token: the server sent no token")
	}
	b, err := json.Marshal(wt)
	if err != nil {
		return workspaceToken{}, err
	}
	if err := writePrivate(cache, b); err != nil {
		return workspaceToken{}, fmt.Errorf("cache the workspace token: %w", err)
	}
	return wt, nil
}

func kubectlTokenCmd(o *Options) *cobra.Command {
	s := &scope{}
	cmd := &cobra.Command{
		Use:   "kubectl-token",
		Short: "Print a workspace token as a client-go ExecCredential (kubectl exec credential plugin)",
		Long: `kubectl-token prints an ExecCredential (client.authentication.k8s.io/v1)
holding a short-lived workspace ID token for your own identity. Kubeconfigs
from "hks kubeconfig" run it; kubectl calls it whenever it needs a token.
The token is cached in the user config dir (mode 0600) until shortly before
it expires; the platform session is refreshed silently.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			wt, err := KubectlToken(cmd.Context(), o, s, time.Now)
			if err != nil {
				return err
			}
			ec := ExecCredential{APIVersion: execAPIVersion, Kind: "ExecCredential",
				Status: ExecCredentialStatus{Token: wt.Token, ExpirationTimestamp: wt.ExpiresAt.UTC().Format(time.RFC3339)}}
			enc := json.NewEncoder(cmd.OutOrStdout())
			return enc.Encode(ec)
		},
	}
	s.wsFlag(cmd)
	return cmd
}

// placeholderServer is the cluster address written while the workspace's
// API server is not known: the .invalid TLD never resolves (RFC 2606).
func placeholderServer(wsName string) string { return "https://" + wsName + ".invalid" }

// Kubeconfig renders a kubeconfig for one workspace whose user runs
// `<hksCommand> kubectl-token`. apiServer "" writes a placeholder server
// and says so in a comment. No credential is embedded.
func Kubeconfig(server, orgID, orgSlug, wsID, wsName, apiServer, caData, hksCommand string) ([]byte, error) {
	name := "hks-" + orgSlug + "-" + wsName
	cluster := map[string]any{"server": apiServer}
	header := fmt.Sprintf("# kubeconfig for workspace %s (%s) of organization %s, written by `hks kubeconfig`.\n"+
		"# kubectl gets a short-lived token for your own identity from `%s kubectl-token`;\n"+
		"# no credential is stored in this file.\n", wsName, wsID, orgSlug, hksCommand)
	if apiServer == "" {
		cluster["server"] = placeholderServer(wsName)
		header += "# PLACEHOLDER: the workspace's API server address is not known yet (it is not\n" +
			"# running as a cluster). Replace clusters[0].cluster.server once it is.\n"
	}
	if caData != "" {
		cluster["certificate-authority-data"] = caData
	}
	cfg := map[string]any{
		"apiVersion":      "v1",
		"kind":            "Config",
		"current-context": name,
		"clusters":        []any{map[string]any{"name": name, "cluster": cluster}},
		"contexts":        []any{map[string]any{"name": name, "context": map[string]any{"cluster": name, "user": name}}},
		"users": []any{map[string]any{"name": name, "user": map[string]any{
			"exec": map[string]any{
				"apiVersion":         execAPIVersion,
				"command":            hksCommand,
				"args":               []string{"kubectl-token", "--server", server, "--org", orgID, "--workspace", wsID},
				"interactiveMode":    "Never",
				"provideClusterInfo": false,
				"installHint":        "hks is the Hexabase AI CLI; sign in with `hks login --server " + server + "`.",
			},
		}}},
	}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	return append([]byte(header), b...), nil
}

func kubeconfigCmd(o *Options) *cobra.Command {
	s := &scope{}
	var outFile, command string
	cmd := &cobra.Command{
		Use:   "kubeconfig",
		Short: "Write a kubeconfig for a workspace that signs kubectl in with your own identity",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			c, err := NewClient(o.Server)
			if err != nil {
				return err
			}
			op, err := s.orgPath(ctx, c)
			if err != nil {
				return err
			}
			wp, err := s.wsPath(ctx, c)
			if err != nil {
				return err
			}
			var org, ws map[string]any
			if err := c.Do(ctx, http.MethodGet, op, nil, &org); err != nil {
				return err
			}
			if err := c.Do(ctx, http.MethodGet, wp, nil, &ws); err != nil {
				return err
			}
			str := func(m map[string]any, k string) string { v, _ := m[k].(string); return v }
			b, err := Kubeconfig(c.Creds.Server, str(org, "id"), str(org, "slug"), str(ws, "id"), str(ws, "name"),
				str(ws, "api_server"), str(ws, "certificate_authority_data"), command)
			if err != nil {
				return err
			}
			if outFile == "" {
				_, err := cmd.OutOrStdout().Write(b)
				return err
			}
			if err := writePrivate(outFile, b); err != nil {
				return fmt.Errorf("write %s: %w", outFile, err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "Wrote %s\n", outFile)
			if str(ws, "api_server") == "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "Note: the workspace's API server is not known yet; the server in %s is a placeholder (%s).\n", outFile, placeholderServer(str(ws, "name")))
			}
			return nil
		},
	}
	s.wsFlag(cmd)
	cmd.Flags().StringVar(&outFile, "output-file", "", "write the kubeconfig to this file (mode 0600) instead of standard output")
	cmd.Flags().StringVar(&command, "hks-command", "hks", "the hks command kubectl runs for tokens")
	return cmd
}
