package local

import (
	"crypto/ecdsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/hexabase/hexabase-ai/internal/fsutil"
	"github.com/hexabase/hexabase-ai/internal/tlsutil"
)

// Certificate lifetimes. Control planes live as long as their workspace;
// leaves are renewed on every start when less than a third is left.
const (
	caLifetime   = 10 * 365 * 24 * time.Hour
	leafLifetime = 365 * 24 * time.Hour
)

// authority is a CA kept as ca.crt/ca.key in a directory.
type authority struct {
	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

// certRequest describes a leaf certificate.
type certRequest struct {
	name   string // file stem: <name>.crt, <name>.key
	cn     string
	orgs   []string
	dns    []string
	ips    []net.IP
	server bool
	client bool
}

// loadOrCreateCA reads dir/ca.{crt,key} or makes a new CA there.
func loadOrCreateCA(dir, cn string, now time.Time) (*authority, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	a := &authority{dir: dir}
	cert, key, err := tlsutil.LoadPair(filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key"))
	if err == nil && now.Before(cert.NotAfter) {
		a.cert, a.key, a.pem = cert, key, tlsutil.CertPEM(cert.Raw)
		return a, nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read CA in %s: %w", dir, err)
	}
	if cert, key, err = tlsutil.NewCA(pkix.Name{CommonName: cn}, now, caLifetime); err != nil {
		return nil, err
	}
	if err := tlsutil.WritePair(filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key"), cert, key); err != nil {
		return nil, err
	}
	a.cert, a.key, a.pem = cert, key, tlsutil.CertPEM(cert.Raw)
	return a, nil
}

// caFile is the path of the CA certificate.
func (a *authority) caFile() string { return filepath.Join(a.dir, "ca.crt") }

// issue makes sure <dir>/<name>.{crt,key} hold a certificate of this CA
// for r with more than a third of its lifetime left, and returns the
// paths.
func (a *authority) issue(r certRequest, now time.Time) (certFile, keyFile string, err error) {
	certFile, keyFile = filepath.Join(a.dir, r.name+".crt"), filepath.Join(a.dir, r.name+".key")
	if cert, _, err := tlsutil.LoadPair(certFile, keyFile); err == nil && cert.CheckSignatureFrom(a.cert) == nil &&
		now.Before(cert.NotAfter.Add(-leafLifetime/3)) && cert.Subject.CommonName == r.cn {
		return certFile, keyFile, nil
	}
	cert, key, err := tlsutil.SignLeaf(a.cert, a.key, tlsutil.Leaf{Subject: pkix.Name{CommonName: r.cn, Organization: r.orgs},
		DNSNames: r.dns, IPs: r.ips, Server: r.server, Client: r.client, Validity: leafLifetime}, now)
	if err != nil {
		return "", "", err
	}
	if err := tlsutil.WritePair(certFile, keyFile, cert, key); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}

// ensureSigningKey makes sure <dir>/<name>.key (private, PEM) and
// <name>.pub (public) exist: the service-account token signing key.
func ensureSigningKey(dir, name string) (keyFile, pubFile string, err error) {
	keyFile, pubFile = filepath.Join(dir, name+".key"), filepath.Join(dir, name+".pub")
	if _, err := os.Stat(pubFile); err == nil {
		if _, err := os.Stat(keyFile); err == nil {
			return keyFile, pubFile, nil
		}
	}
	key, err := tlsutil.NewKey()
	if err != nil {
		return "", "", err
	}
	if err := tlsutil.WriteKey(keyFile, key); err != nil {
		return "", "", err
	}
	if err := tlsutil.WritePublicKey(pubFile, key); err != nil {
		return "", "", err
	}
	return keyFile, pubFile, nil
}

// writeFileAtomic writes through a temporary file and a rename, so a crash
// never leaves a half-written file.
var writeFileAtomic = fsutil.WriteFileAtomic
