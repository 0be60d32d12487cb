package kubeconfig

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/hexabase/hexabase-ai/internal/fsutil"
)

// ExecAPIVersion is the client.authentication.k8s.io version the exec
// stanza asks for (and `hks kubectl-token` answers in).
const ExecAPIVersion = "client.authentication.k8s.io/v1"

// DefaultCommand is the hks command kubectl runs for tokens.
const DefaultCommand = "hks"

// Kubeconfig is a kubeconfig (the subset hks writes), in kubectl's field names.
type Kubeconfig struct {
	APIVersion     string          `json:"apiVersion"`
	Kind           string          `json:"kind"`
	CurrentContext string          `json:"current-context"`
	Clusters       []NamedCluster  `json:"clusters"`
	Contexts       []NamedContext  `json:"contexts"`
	Users          []NamedAuthInfo `json:"users"`
}

type NamedCluster struct {
	Name    string  `json:"name"`
	Cluster Cluster `json:"cluster"`
}

type Cluster struct {
	Server string `json:"server" doc:"the workspace's URL on the platform's gateway: <external URL>/k8s/<workspace id>"`
	// CertificateAuthorityData is the PEM of the CA the platform's
	// serving certificate chains to (base64 in JSON and YAML).
	CertificateAuthorityData []byte `json:"certificate-authority-data,omitempty" doc:"base64 of the PEM CA of the platform's certificate (--tls=auto); absent: the system roots"`
}

type NamedContext struct {
	Name    string  `json:"name"`
	Context Context `json:"context"`
}

type Context struct {
	Cluster   string `json:"cluster"`
	User      string `json:"user"`
	Namespace string `json:"namespace,omitempty"`
}

type NamedAuthInfo struct {
	Name string   `json:"name"`
	User AuthInfo `json:"user"`
}

// AuthInfo holds only an exec stanza: kubectl asks hks for a short-lived
// token of the caller's own identity.
type AuthInfo struct {
	Exec *ExecConfig `json:"exec,omitempty"`
}

// ExecConfig is a client-go exec credential plugin stanza.
type ExecConfig struct {
	APIVersion         string   `json:"apiVersion"`
	Command            string   `json:"command"`
	Args               []string `json:"args"`
	InteractiveMode    string   `json:"interactiveMode" doc:"Never: the plugin never prompts; sign in with hks login first"`
	ProvideClusterInfo bool     `json:"provideClusterInfo"`
	InstallHint        string   `json:"installHint,omitempty"`
}

// Params describe one workspace's kubeconfig.
type Params struct {
	// Platform is the hks server URL `hks kubectl-token --server` calls.
	Platform string
	OrgID    string
	// OrgSlug and WorkspaceName make the cluster, context and user name.
	OrgSlug       string
	WorkspaceID   string
	WorkspaceName string
	// Server is the workspace's URL on the gateway; CAPEM the CA of the
	// platform's certificate (may be empty: the system roots).
	Server string
	CAPEM  []byte
	// Command is the hks executable kubectl runs (default "hks").
	Command string
}

// Name is the cluster, context and user name of a workspace.
func Name(orgSlug, workspaceName string) string { return "hks-" + orgSlug + "-" + workspaceName }

// ExecArgs are the arguments of the exec stanza.
func ExecArgs(platform, orgID, workspaceID string) []string {
	return []string{"kubectl-token", "--server", platform, "--org", orgID, "--workspace", workspaceID}
}

// New builds the kubeconfig of one workspace: no credential is in it.
func New(p Params) Kubeconfig {
	name := Name(p.OrgSlug, p.WorkspaceName)
	cmd := p.Command
	if cmd == "" {
		cmd = DefaultCommand
	}
	return Kubeconfig{
		APIVersion:     "v1",
		Kind:           "Config",
		CurrentContext: name,
		Clusters:       []NamedCluster{{Name: name, Cluster: Cluster{Server: p.Server, CertificateAuthorityData: p.CAPEM}}},
		Contexts:       []NamedContext{{Name: name, Context: Context{Cluster: name, User: name}}},
		Users: []NamedAuthInfo{{Name: name, User: AuthInfo{Exec: &ExecConfig{
			APIVersion:      ExecAPIVersion,
			Command:         cmd,
			Args:            ExecArgs(p.Platform, p.OrgID, p.WorkspaceID),
			InteractiveMode: "Never",
			InstallHint:     "hks is the Hexabase AI CLI; sign in with `hks login --server " + p.Platform + "`.",
		}}}},
	}
}

// SetCommand makes every exec stanza of c run command.
func (c *Kubeconfig) SetCommand(command string) {
	for i := range c.Users {
		if c.Users[i].User.Exec != nil {
			c.Users[i].User.Exec.Command = command
		}
	}
}

// YAML renders c with a comment saying what it is.
func (c Kubeconfig) YAML() ([]byte, error) {
	b, err := yaml.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("render kubeconfig: %w", err)
	}
	header := "# kubeconfig written by hks. kubectl gets a short-lived token for your own\n" +
		"# identity from `hks kubectl-token`; no credential is stored in this file.\n"
	return append([]byte(header), b...), nil
}

// Merge adds c's clusters, contexts and users to the kubeconfig existing
// (YAML or JSON; empty means none), replacing entries of the same name and
// keeping every other entry and field as it was, and makes c's current
// context the current one.
func Merge(existing []byte, c Kubeconfig) ([]byte, error) {
	doc := map[string]any{}
	if len(strings.TrimSpace(string(existing))) > 0 {
		j, err := yaml.YAMLToJSON(existing)
		if err != nil {
			return nil, fmt.Errorf("read kubeconfig: %w", err)
		}
		if string(j) != "null" {
			if err := json.Unmarshal(j, &doc); err != nil {
				return nil, fmt.Errorf("read kubeconfig: not a kubeconfig: %w", err)
			}
		}
	}
	if doc["apiVersion"] == nil {
		doc["apiVersion"] = "v1"
	}
	if doc["kind"] == nil {
		doc["kind"] = "Config"
	}
	add, err := asMap(c)
	if err != nil {
		return nil, err
	}
	for _, key := range []string{"clusters", "contexts", "users"} {
		var list []any
		if v, ok := doc[key]; ok && v != nil {
			if list, ok = v.([]any); !ok {
				return nil, fmt.Errorf("read kubeconfig: %s is not a list", key)
			}
		}
		news, _ := add[key].([]any)
		for _, n := range news {
			list = upsert(list, n.(map[string]any))
		}
		doc[key] = list
	}
	doc["current-context"] = c.CurrentContext
	j, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	return yaml.JSONToYAML(j)
}

func asMap(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(b, &m)
}

// upsert replaces the entry of list named like e, or appends e.
func upsert(list []any, e map[string]any) []any {
	for i, old := range list {
		if m, ok := old.(map[string]any); ok && m["name"] == e["name"] {
			list[i] = e
			return list
		}
	}
	return append(list, e)
}

// DefaultPath is the file kubectl writes new entries to: the one file of
// $KUBECONFIG, else the first of its files that exists, else its last;
// ~/.kube/config without $KUBECONFIG.
func DefaultPath() (string, error) {
	var files []string
	for _, f := range filepath.SplitList(os.Getenv("KUBECONFIG")) {
		if f != "" {
			files = append(files, f)
		}
	}
	switch len(files) {
	case 0:
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("find the home directory: %w", err)
		}
		return filepath.Join(home, ".kube", "config"), nil
	case 1:
		return files[0], nil
	}
	for _, f := range files {
		if _, err := os.Stat(f); err == nil {
			return f, nil
		}
	}
	return files[len(files)-1], nil
}

// MergeFile merges c into the kubeconfig file at path (created if
// missing), writing it atomically with mode 0600. A symlinked file is
// updated where it points.
func MergeFile(path string, c Kubeconfig) error {
	if target, err := filepath.EvalSymlinks(path); err == nil {
		path = target
	}
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read %s: %w", path, err)
	}
	b, err := Merge(old, c)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return fsutil.WritePrivate(path, b)
}
