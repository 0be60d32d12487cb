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
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/fsutil"
	"github.com/hexabase/hexabase-ai/internal/kubeconfig"
)

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

// workspaceToken is the answer of POST …/workspaces/{workspace}/token, and what
// the token cache holds.
type workspaceToken = api.WorkspaceToken

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

// KubectlToken returns a workspace token for s's workspace, from the cache
// while it has more than tokenRefreshMargin left, else from the API (the
// client refreshes the platform session silently when needed).
func KubectlToken(ctx context.Context, o *Options, s *scope, now func() time.Time) (workspaceToken, error) {
	c, err := NewClient(o.Server)
	if err != nil {
		return workspaceToken{}, err
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
	wt, err := apiCall[workspaceToken](ctx, c, http.MethodPost, s.wsPath()+"/token", nil)
	if err != nil {
		return workspaceToken{}, fmt.Errorf("get a workspace token: %w", err)
	}
	if wt.Token == "" {
		return workspaceToken{}, errors.New("get a workspace token: the server sent no token")
	}
	b, err := json.Marshal(wt)
	if err != nil {
		return workspaceToken{}, err
	}
	if err := fsutil.WritePrivate(cache, b); err != nil {
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
			ec := ExecCredential{APIVersion: kubeconfig.ExecAPIVersion, Kind: "ExecCredential",
				Status: ExecCredentialStatus{Token: wt.Token, ExpirationTimestamp: wt.ExpiresAt.UTC().Format(time.RFC3339)}}
			enc := json.NewEncoder(cmd.OutOrStdout())
			return enc.Encode(ec)
		},
	}
	s.wsFlag(cmd)
	return cmd
}

func kubeconfigCmd(o *Options) *cobra.Command {
	s := &scope{}
	var outFile, command, target string
	cmd := &cobra.Command{
		Use:   "kubeconfig",
		Short: "Add a workspace to your kubeconfig; kubectl then signs in with your own identity",
		Long: `kubeconfig gets the workspace's kubeconfig from the API: the workspace's URL
on the platform's gateway (<external URL>/k8s/<workspace id>; on a plain-http
platform, its https loopback endpoint) and the platform's CA (--tls=auto), and a user that runs "hks kubectl-token" for a short-lived token of your
own identity (no credential is stored). By default it is merged into your
kubeconfig ($KUBECONFIG, else ~/.kube/config; other entries are kept, the
file is written with mode 0600) and its context becomes the current one.
-o - (or -o yaml, -o json) prints it instead; --output-file writes it alone
to a file. The workspace may be running, sleeping or waking: the first kubectl
request wakes a sleeping one.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if outFile != "" && target != "" {
				return errors.New("give --output-file (a file of its own) or --kubeconfig (merge into it), not both")
			}
			c, err := NewClient(o.Server)
			if err != nil {
				return err
			}
			kc, err := apiCall[kubeconfig.Kubeconfig](cmd.Context(), c, http.MethodGet, s.wsPath()+"/kubeconfig?format=json", nil)
			if err != nil {
				return fmt.Errorf("get the workspace's kubeconfig: %w", err)
			}
			if !cmd.Flags().Changed("hks-command") {
				command = selfCommand()
			}
			if command != "" && command != kubeconfig.DefaultCommand {
				kc.SetCommand(command)
			}
			return writeKubeconfig(cmd, o.Output, outFile, target, kc)
		},
	}
	s.wsFlag(cmd)
	cmd.Flags().StringVar(&target, "kubeconfig", "", "kubeconfig file to merge into (default: $KUBECONFIG, else ~/.kube/config)")
	cmd.Flags().StringVar(&outFile, "output-file", "", "write the kubeconfig alone to this file (mode 0600) instead of merging it")
	cmd.Flags().StringVar(&command, "hks-command", kubeconfig.DefaultCommand, "the hks command kubectl runs for tokens")
	return cmd
}

// selfCommand is the command kubectl should run for tokens: "hks" when
// that finds this very binary on PATH, else this binary's absolute path
// (e.g. ./bin/hks in a source tree), so the kubeconfig works as written.
func selfCommand() string {
	self, err := os.Executable()
	if err != nil {
		return kubeconfig.DefaultCommand
	}
	if onPath, err := exec.LookPath(kubeconfig.DefaultCommand); err == nil {
		if a, err1 := filepath.EvalSymlinks(onPath); err1 == nil {
			if b, err2 := filepath.EvalSymlinks(self); err2 == nil && a == b {
				return kubeconfig.DefaultCommand
			}
		}
	}
	return self
}

// writeKubeconfig prints kc (format "-", "yaml" or "json"), writes it to
// outFile, or merges it into target (default: the kubeconfig kubectl
// uses).
func writeKubeconfig(cmd *cobra.Command, format, outFile, target string, kc kubeconfig.Kubeconfig) error {
	switch format {
	case "-", "yaml":
		b, err := kc.YAML()
		if err != nil {
			return err
		}
		_, err = cmd.OutOrStdout().Write(b)
		return err
	case "json":
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		return enc.Encode(kc)
	case "table", "":
	default:
		return fmt.Errorf("unknown output %q: use -o - (or yaml, json) to print the kubeconfig", format)
	}
	if outFile != "" {
		b, err := kc.YAML()
		if err != nil {
			return err
		}
		if err := fsutil.WritePrivate(outFile, b); err != nil {
			return fmt.Errorf("write %s: %w", outFile, err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "Wrote %s (context %s)\n", outFile, kc.CurrentContext)
		return nil
	}
	if target == "" {
		var err error
		if target, err = kubeconfig.DefaultPath(); err != nil {
			return err
		}
	}
	if err := kubeconfig.MergeFile(target, kc); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "Merged context %s into %s and made it the current context\n", kc.CurrentContext, target)
	return nil
}
