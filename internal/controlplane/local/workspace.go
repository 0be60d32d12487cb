package local

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/yaml"

	"github.com/hexabase/hexabase-ai/internal/controlplane"
)

// Cluster networks of every local workspace (they are separate clusters,
// so they can all use the same ranges; nothing routes to them anyway).
const (
	serviceCIDR       = "10.96.0.0/16"
	kubernetesService = "10.96.0.1"
	saIssuer          = "https://kubernetes.default.svc.cluster.local"
)

// wsPorts are the loopback ports of one workspace's processes, kept in
// ports.json.
type wsPorts struct {
	APIServer         int `json:"apiserver"`
	ControllerManager int `json:"controllerManager"`
	Scheduler         int `json:"scheduler"`
	Kwok              int `json:"kwok"`
}

// wsFiles are the paths of a workspace's generated files.
type wsFiles struct {
	dir                            string
	ca                             *authority
	servingCert, servingKey        string
	adminCert, adminKey            string
	adminCertPEM, adminKeyPEM      []byte // read once: see adminConfig
	saKey, saPub                   string
	authConfig                     string
	admissionConfig                string
	kcmKubeconfig, schedKubeconfig string
	kwokKubeconfig, kwokConfigFile string
	kwokCert, kwokKey              string
	admissionPlugins               []string
	ports                          wsPorts
}

func (p *Provider) wsDir(id string) string { return filepath.Join(p.dataDir, "workspaces", id) }

// serverURL is the API server's address.
func (f *wsFiles) serverURL() string { return "https://127.0.0.1:" + strconv.Itoa(f.ports.APIServer) }

// prepare writes (or reuses) everything a workspace's processes need. It
// is idempotent: keys and certificates that exist and are valid are kept.
func (p *Provider) prepare(spec controlplane.Spec) (*wsFiles, error) {
	dir := p.wsDir(spec.WorkspaceID)
	pki := filepath.Join(dir, "pki")
	for _, d := range []string{pki, filepath.Join(dir, "logs"), filepath.Join(dir, "run")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	f := &wsFiles{dir: dir}
	portsFile := filepath.Join(dir, "ports.json")
	ports := []*int{&f.ports.APIServer, &f.ports.ControllerManager, &f.ports.Scheduler, &f.ports.Kwok}
	if err := loadPorts(portsFile, &f.ports, ports...); err != nil {
		return nil, err
	}
	// A workspace that slept keeps its ports, but nothing reserved them
	// meanwhile: one that another process now listens on is replaced.
	if changed, err := replaceTakenPorts(ports...); err != nil {
		return nil, err
	} else if changed {
		b, err := json.Marshal(f.ports)
		if err != nil {
			return nil, err
		}
		if err := writeFileAtomic(portsFile, b, 0o600); err != nil {
			return nil, err
		}
	}
	now := p.now()
	var err error
	if f.ca, err = loadOrCreateCA(pki, "hks-workspace-"+spec.WorkspaceID, now); err != nil {
		return nil, fmt.Errorf("workspace CA: %w", err)
	}
	if f.servingCert, f.servingKey, err = f.ca.issue(certRequest{name: "apiserver", cn: "kube-apiserver", server: true,
		dns: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		ips: []net.IP{net.IPv4(127, 0, 0, 1), net.ParseIP(kubernetesService)}}, now); err != nil {
		return nil, err
	}
	// kwok's simulated kubelet endpoint, which the API server verifies
	// with this CA (--kubelet-certificate-authority).
	if f.kwokCert, f.kwokKey, err = f.ca.issue(certRequest{name: "kwok-serving", cn: "hks:kwok-kubelet", server: true,
		ips: []net.IP{net.ParseIP(kwokNodeIP)}}, now); err != nil {
		return nil, err
	}
	// The platform's own access (system:masters); never handed to users.
	if f.adminCert, f.adminKey, err = f.ca.issue(certRequest{name: "admin", cn: "hks:platform", orgs: []string{"system:masters"}, client: true}, now); err != nil {
		return nil, err
	}
	if f.adminCertPEM, err = os.ReadFile(f.adminCert); err != nil {
		return nil, err
	}
	if f.adminKeyPEM, err = os.ReadFile(f.adminKey); err != nil {
		return nil, err
	}
	if f.saKey, f.saPub, err = ensureSigningKey(pki, "sa"); err != nil {
		return nil, err
	}
	clients := []struct {
		name, cn, orgs string
		path           *string
	}{
		{"controller-manager", "system:kube-controller-manager", "", &f.kcmKubeconfig},
		{"scheduler", "system:kube-scheduler", "", &f.schedKubeconfig},
		// kwok writes node and pod status for every simulated node.
		{"kwok", "hks:kwok", "system:masters", &f.kwokKubeconfig},
	}
	for _, c := range clients {
		var orgs []string
		if c.orgs != "" {
			orgs = []string{c.orgs}
		}
		cert, key, err := f.ca.issue(certRequest{name: c.name, cn: c.cn, orgs: orgs, client: true}, now)
		if err != nil {
			return nil, err
		}
		*c.path = filepath.Join(dir, c.name+".kubeconfig")
		if err := writeKubeconfig(*c.path, f.serverURL(), f.ca.caFile(), cert, key); err != nil {
			return nil, err
		}
	}
	if err := p.writeAuthConfig(f, spec); err != nil {
		return nil, err
	}
	files, admName, plugins, err := workspaceAdmission(spec.WorkspaceID, spec.Plan)
	if err != nil {
		return nil, err
	}
	for name, b := range files {
		if err := writeFileAtomic(filepath.Join(dir, name), b, 0o600); err != nil {
			return nil, err
		}
	}
	if admName != "" {
		f.admissionConfig = filepath.Join(dir, admName)
	}
	f.admissionPlugins = plugins
	logFile := ContainerLogFile(p.dataDir, spec.WorkspaceID)
	if err := os.MkdirAll(filepath.Dir(logFile), 0o700); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(logFile, kwokContainerLogContent(now), 0o600); err != nil {
		return nil, err
	}
	kwokCfg, err := kwokConfig(logFile, f.ports.Kwok)
	if err != nil {
		return nil, err
	}
	f.kwokConfigFile = filepath.Join(dir, "kwok-stages.yaml")
	if err := writeFileAtomic(f.kwokConfigFile, kwokCfg, 0o600); err != nil {
		return nil, err
	}
	return f, nil
}

// authenticationConfig is the structured AuthenticationConfiguration
// (apiserver.config.k8s.io/v1) of a workspace API server.
type authenticationConfig struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	JWT        []jwtCfg `json:"jwt"`
}

type jwtCfg struct {
	Issuer struct {
		URL                  string   `json:"url"`
		Audiences            []string `json:"audiences"`
		CertificateAuthority string   `json:"certificateAuthority,omitempty"`
	} `json:"issuer"`
	ClaimMappings struct {
		Username claimMapping `json:"username"`
		Groups   claimMapping `json:"groups"`
	} `json:"claimMappings"`
}

type claimMapping struct {
	Claim  string `json:"claim"`
	Prefix string `json:"prefix"`
}

// writeAuthConfig writes the workspace API server's trust in the platform
// issuer: audience = this workspace, username from email, groups from
// groups, both prefixed. The API server reloads the file when it changes.
func (p *Provider) writeAuthConfig(f *wsFiles, spec controlplane.Spec) error {
	if !strings.HasPrefix(spec.Issuer.URL, "https://") {
		return fmt.Errorf("the workspace issuer %q is not https; Kubernetes trusts only https issuers", spec.Issuer.URL)
	}
	var j jwtCfg
	j.Issuer.URL = spec.Issuer.URL
	j.Issuer.Audiences = []string{spec.WorkspaceID}
	j.Issuer.CertificateAuthority = string(spec.Issuer.CAPEM)
	j.ClaimMappings.Username = claimMapping{Claim: "email", Prefix: controlplane.UsernamePrefix}
	j.ClaimMappings.Groups = claimMapping{Claim: "groups", Prefix: controlplane.GroupsPrefix}
	b, err := yaml.Marshal(authenticationConfig{APIVersion: "apiserver.config.k8s.io/v1", Kind: "AuthenticationConfiguration", JWT: []jwtCfg{j}})
	if err != nil {
		return err
	}
	f.authConfig = filepath.Join(f.dir, "authentication.yaml")
	if old, err := os.ReadFile(f.authConfig); err == nil && string(old) == string(b) {
		return nil
	}
	return writeFileAtomic(f.authConfig, b, 0o600)
}

func writeKubeconfig(path, server, caFile, certFile, keyFile string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["workspace"] = &clientcmdapi.Cluster{Server: server, CertificateAuthority: caFile}
	cfg.AuthInfos["hks"] = &clientcmdapi.AuthInfo{ClientCertificate: certFile, ClientKey: keyFile}
	cfg.Contexts["workspace"] = &clientcmdapi.Context{Cluster: "workspace", AuthInfo: "hks"}
	cfg.CurrentContext = "workspace"
	b, err := clientcmd.Write(*cfg)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, b, 0o600)
}

// procSpecs are the workspace's processes, in start order.
func (p *Provider) procSpecs(id string, f *wsFiles) []procSpec {
	run := filepath.Join(f.dir, "run")
	logs := filepath.Join(f.dir, "logs")
	spec := func(name, path string, args []string) procSpec {
		return procSpec{name: name, path: path, args: args, env: p.procEnv(name),
			logPath: filepath.Join(logs, name+".log"), pidPath: filepath.Join(run, name+".pid")}
	}
	apiArgs := []string{
		"--etcd-servers=" + p.etcd.url(),
		"--etcd-cafile=" + p.etcd.ca.caFile(),
		"--etcd-certfile=" + p.etcd.certFile,
		"--etcd-keyfile=" + p.etcd.keyFile,
		"--etcd-prefix=" + etcdPrefix(id),
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(f.ports.APIServer),
		"--cert-dir=" + filepath.Join(f.dir, "pki"),
		"--tls-cert-file=" + f.servingCert,
		"--tls-private-key-file=" + f.servingKey,
		"--client-ca-file=" + f.ca.caFile(),
		"--service-account-issuer=" + saIssuer,
		"--api-audiences=" + saIssuer,
		"--service-account-key-file=" + f.saPub,
		"--service-account-signing-key-file=" + f.saKey,
		// A TokenRequest gets at most this lifetime; without the second
		// flag, one bound to a pod asking for exactly 3607 s would get a
		// year regardless (the extension meant for kubelets migrating off
		// legacy tokens; kwok runs no kubelet).
		"--service-account-max-token-expiration=" + controlplane.MaxServiceAccountTokenLifetime.String(),
		"--service-account-extend-token-expiration=false",
		"--service-cluster-ip-range=" + serviceCIDR,
		"--authorization-mode=RBAC",
		"--authentication-config=" + f.authConfig,
		"--anonymous-auth=false",
		"--profiling=false",
		// Nodes are reached on their InternalIP (kwokNodeIP; a node's
		// hostname resolves nowhere) and their kubelet endpoint, kwok's,
		// must have a certificate of this workspace's CA. No kubelet
		// client certificate: kwok checks none (docs/security.md).
		"--kubelet-preferred-address-types=InternalIP",
		"--kubelet-certificate-authority=" + f.ca.caFile(),
	}
	apiArgs = append(apiArgs, leanAPIServerFlags...)
	if len(f.admissionPlugins) > 0 {
		apiArgs = append(apiArgs, "--enable-admission-plugins="+strings.Join(f.admissionPlugins, ","))
	}
	if f.admissionConfig != "" {
		apiArgs = append(apiArgs, "--admission-control-config-file="+f.admissionConfig)
	}
	kcmArgs := componentArgs(f.kcmKubeconfig, f.ports.ControllerManager, filepath.Join(run, "controller-manager-certs"),
		"--use-service-account-credentials=true",
		"--service-account-private-key-file="+f.saKey,
		"--root-ca-file="+f.ca.caFile(),
		"--cluster-name="+id,
	)
	kcmArgs = append(kcmArgs, leanControllerManagerFlags...)
	schedArgs := componentArgs(f.schedKubeconfig, f.ports.Scheduler, filepath.Join(run, "scheduler-certs"))
	return []procSpec{
		spec("kube-apiserver", p.bins.APIServer, apiArgs),
		spec("kube-controller-manager", p.bins.ControllerManager, kcmArgs),
		spec("kube-scheduler", p.bins.Scheduler, schedArgs),
		spec("kwok", p.bins.Kwok, kwokArgs(f.kwokKubeconfig, f.kwokConfigFile, f.ports.Kwok, f.kwokCert, f.kwokKey)),
	}
}

// componentArgs are the flags kube-controller-manager and kube-scheduler
// share: their kubeconfig, a secure port on loopback with certificates in
// certDir, no leader election and no profiling; then extra.
func componentArgs(kubeconfig string, port int, certDir string, extra ...string) []string {
	return append([]string{
		"--kubeconfig=" + kubeconfig,
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--cert-dir=" + certDir,
		"--leader-elect=false",
		"--profiling=false",
	}, extra...)
}

// adminConfig is the platform's cluster-admin client configuration. The
// certificate is inline rather than named by file: client-go watches a
// named certificate file for rotation and keeps complaining once a deleted
// workspace's directory is gone; prepare reissues it anyway.
func (f *wsFiles) adminConfig() *rest.Config {
	return &rest.Config{
		Host: f.serverURL(),
		TLSClientConfig: rest.TLSClientConfig{
			CAData:   f.ca.pem,
			CertData: f.adminCertPEM,
			KeyData:  f.adminKeyPEM,
		},
		QPS:       50,
		Burst:     100,
		UserAgent: "hks",
	}
}

// probeClient is an HTTP client for the health endpoints of the
// controller manager and scheduler, which serve a self-signed certificate
// of their own on loopback.
var probeClient = &http.Client{Transport: &http.Transport{
	TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // loopback health probe of our own child process; no credentials are sent
}}
