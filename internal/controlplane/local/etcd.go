package local

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// etcdQuota is etcd's backend size limit, shared by every workspace.
const etcdQuota = 4 << 30

// etcdServer is the one etcd of an hks server. Every workspace's API
// server keeps its objects under its own key prefix (etcdPrefix).
type etcdServer struct {
	dir        string
	clientPort int
	ca         *authority
	// Client certificate of the API servers and of hks itself.
	certFile, keyFile string
	proc              *proc
}

// etcdPrefix is the key prefix of one workspace.
func etcdPrefix(workspaceID string) string { return "/hks/workspaces/" + workspaceID }

func (e *etcdServer) url() string { return "https://127.0.0.1:" + strconv.Itoa(e.clientPort) }

// tlsConfig is a client configuration for etcd.
func (e *etcdServer) tlsConfig() (*tls.Config, error) {
	pair, err := tls.LoadX509KeyPair(e.certFile, e.keyFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(e.ca.cert)
	return &tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// startEtcd prepares certificates and ports in dir and starts etcd.
func (p *Provider) startEtcd(ctx context.Context) (*etcdServer, error) {
	dir := filepath.Join(p.dataDir, "etcd")
	now := p.now()
	ca, err := loadOrCreateCA(filepath.Join(dir, "pki"), "hks-etcd-ca", now)
	if err != nil {
		return nil, fmt.Errorf("etcd CA: %w", err)
	}
	srvCert, srvKey, err := ca.issue(certRequest{name: "server", cn: "hks-etcd", dns: []string{"localhost"},
		ips: []net.IP{net.IPv4(127, 0, 0, 1)}, server: true, client: true}, now)
	if err != nil {
		return nil, fmt.Errorf("etcd certificate: %w", err)
	}
	cliCert, cliKey, err := ca.issue(certRequest{name: "client", cn: "hks-etcd-client", client: true}, now)
	if err != nil {
		return nil, fmt.Errorf("etcd client certificate: %w", err)
	}
	var ports struct{ Client, Peer int }
	if err := loadPorts(filepath.Join(dir, "ports.json"), &ports, &ports.Client, &ports.Peer); err != nil {
		return nil, err
	}
	e := &etcdServer{dir: dir, clientPort: ports.Client, ca: ca, certFile: cliCert, keyFile: cliKey}
	peer := "http://127.0.0.1:" + strconv.Itoa(ports.Peer)
	spec := procSpec{
		name: "etcd",
		path: p.bins.Etcd,
		args: []string{
			"--name=hks",
			"--data-dir=" + filepath.Join(dir, "data"),
			"--listen-client-urls=" + e.url(),
			"--advertise-client-urls=" + e.url(),
			"--listen-peer-urls=" + peer,
			"--initial-advertise-peer-urls=" + peer,
			"--initial-cluster=hks=" + peer,
			"--cert-file=" + srvCert,
			"--key-file=" + srvKey,
			"--client-cert-auth",
			"--trusted-ca-file=" + ca.caFile(),
			"--quota-backend-bytes=" + strconv.Itoa(etcdQuota),
			"--snapshot-count=5000",
			"--log-level=warn",
		},
		env:     p.procEnv("etcd"),
		logPath: filepath.Join(dir, "etcd.log"),
		pidPath: filepath.Join(dir, "etcd.pid"),
	}
	if e.proc, err = startProc(spec, p.log); err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := waitFor(wctx, 50*time.Millisecond, e.healthy); err != nil {
		e.proc.stop()
		return nil, fmt.Errorf("etcd did not become healthy (see %s): %w", spec.logPath, err)
	}
	return e, nil
}

// healthy asks etcd's /health endpoint.
func (e *etcdServer) healthy(ctx context.Context) error {
	tc, err := e.tlsConfig()
	if err != nil {
		return err
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 2 * time.Second}
	defer c.CloseIdleConnections()
	resp, b, err := getBody(ctx, c, e.url()+"/health", 4096)
	if err != nil {
		return err
	}
	var h struct {
		Health string `json:"health"`
	}
	if err := json.Unmarshal(b, &h); err != nil || h.Health != "true" {
		return fmt.Errorf("etcd /health: %s %s", resp.Status, b)
	}
	return nil
}

// deletePrefix removes every key of a workspace.
func (e *etcdServer) deletePrefix(ctx context.Context, workspaceID string) error {
	tc, err := e.tlsConfig()
	if err != nil {
		return err
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{e.url()}, TLS: tc, DialTimeout: 5 * time.Second, Logger: nil})
	if err != nil {
		return err
	}
	defer cli.Close()
	// The trailing slash keeps workspace "a" from matching "ab…".
	_, err = cli.Delete(ctx, etcdPrefix(workspaceID)+"/", clientv3.WithPrefix())
	return err
}

// loadPorts reads the ports kept in path, or picks free loopback ports for
// them and keeps them there. Keeping them makes an API server reachable at
// the same address after hks restarts (kubeconfigs stay valid).
func loadPorts(path string, v any, ports ...*int) error {
	b, err := os.ReadFile(path)
	if err == nil {
		if err := json.Unmarshal(b, v); err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		ok := true
		for _, p := range ports {
			ok = ok && *p > 0
		}
		if ok {
			return nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	for _, p := range ports {
		if *p > 0 {
			continue
		}
		if *p, err = freePort(); err != nil {
			return err
		}
	}
	b, err = json.Marshal(v)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return writeFileAtomic(path, b, 0o600)
}

// replaceTakenPorts gives each of ports that cannot be listened on now a
// free one, and reports whether it changed any. The others are marked
// handed out, so that freePort does not offer them to another workspace.
func replaceTakenPorts(ports ...*int) (bool, error) {
	changed := false
	for _, p := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(*p))
		if err == nil {
			l.Close()
			handedOutMu.Lock()
			handedOut[*p] = true
			handedOutMu.Unlock()
			continue
		}
		if *p, err = freePort(); err != nil {
			return false, err
		}
		changed = true
	}
	return changed, nil
}

// handedOut are the ports freePort returned in this process: a port is
// bound only when its process starts, so the kernel could offer it again
// in between.
var (
	handedOutMu sync.Mutex
	handedOut   = map[int]bool{}
)

// freePort asks the kernel for a free loopback port not handed out before.
func freePort() (int, error) {
	handedOutMu.Lock()
	defer handedOutMu.Unlock()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("find a free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !handedOut[port] {
			handedOut[port] = true
			return port, nil
		}
	}
	return 0, errors.New("find a free port: the kernel keeps offering ports in use")
}
