package tlsutil

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hexabase/hexabase-ai/internal/required"
)

// Lifetimes and renewal margins of the auto-generated certificates.
const (
	CAValidity      = 10 * 365 * 24 * time.Hour
	ServingValidity = 365 * 24 * time.Hour
	// RenewBefore: a serving certificate expiring within this is replaced
	// at start; so is a CA (together with the serving certificate).
	RenewBefore = 30 * 24 * time.Hour
)

// File names in the auto directory.
const (
	CACertFile = "ca.crt"
	CAKeyFile  = "ca.key"
	CertFile   = "server.crt"
	KeyFile    = "server.key"
)

// AutoConfig configures Auto.
type AutoConfig struct {
	// Dir holds the CA and the serving certificate (created 0700).
	Dir string
	// Hosts are DNS names and IP addresses the serving certificate must
	// name; localhost, 127.0.0.1 and ::1 are always added.
	Hosts  []string
	Logger *slog.Logger
	Now    func() time.Time
}

// Material is what the server serves with.
type Material struct {
	// Certificate is the serving certificate chain and key.
	Certificate tls.Certificate
	// CAPEM is the PEM of the CA that signed it (auto mode), nil in files
	// mode.
	CAPEM []byte
}

// TLSConfig returns a server tls.Config for m (TLS 1.2 or later).
func (m *Material) TLSConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{m.Certificate}}
}

// LoadFiles loads an operator's certificate chain and key (PEM files).
func LoadFiles(certFile, keyFile string) (*Material, error) {
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: load %s and %s: %w", certFile, keyFile, err)
	}
	return &Material{Certificate: c}, nil
}

// Auto loads the CA and serving certificate from cfg.Dir, creating or
// renewing what is missing, near expiry or no longer matching the hosts.
func Auto(cfg AutoConfig) (*Material, error) {
	if err := required.Fields("tlsutil", cfg, "Dir", "Logger", "Now"); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("tls: create %s: %w", cfg.Dir, err)
	}
	now := cfg.Now()
	dns, ips := splitHosts(cfg.Hosts)

	caCert, caKey, err := LoadPair(filepath.Join(cfg.Dir, CACertFile), filepath.Join(cfg.Dir, CAKeyFile))
	if err != nil || !caCert.IsCA || now.Add(RenewBefore).After(caCert.NotAfter) {
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			cfg.Logger.Warn("tls: the stored CA is unusable; creating a new one", "error", err)
		}
		if caCert, caKey, err = newCA(now); err != nil {
			return nil, err
		}
		if err := writePair(cfg.Dir, CACertFile, CAKeyFile, caCert, caKey); err != nil {
			return nil, err
		}
		cfg.Logger.Info("tls: created a certificate authority", "dir", cfg.Dir, "not_after", caCert.NotAfter)
	}
	leaf, leafKey, err := LoadPair(filepath.Join(cfg.Dir, CertFile), filepath.Join(cfg.Dir, KeyFile))
	if err != nil || !validLeaf(leaf, caCert, dns, ips, now) {
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			cfg.Logger.Warn("tls: the stored serving certificate is unusable; creating a new one", "error", err)
		}
		if leaf, leafKey, err = newLeaf(now, caCert, caKey, dns, ips); err != nil {
			return nil, err
		}
		if err := writePair(cfg.Dir, CertFile, KeyFile, leaf, leafKey); err != nil {
			return nil, err
		}
		cfg.Logger.Info("tls: created a serving certificate", "dns", dns, "ips", ips, "not_after", leaf.NotAfter)
	}
	caPEM := CertPEM(caCert.Raw)
	return &Material{
		Certificate: tls.Certificate{Certificate: [][]byte{leaf.Raw, caCert.Raw}, PrivateKey: leafKey, Leaf: leaf},
		CAPEM:       caPEM,
	}, nil
}

func splitHosts(hosts []string) (dns []string, ips []net.IP) {
	seen := map[string]bool{}
	for _, h := range append([]string{"localhost", "127.0.0.1", "::1"}, hosts...) {
		h = strings.TrimSpace(strings.Trim(h, "[]"))
		if h == "" || seen[h] {
			continue
		}
		if ip := net.ParseIP(h); ip != nil {
			if ip.IsUnspecified() || seen[ip.String()] {
				continue
			}
			seen[ip.String()] = true
			ips = append(ips, ip)
			continue
		}
		seen[h] = true
		dns = append(dns, strings.ToLower(h))
	}
	slices.Sort(dns)
	slices.SortFunc(ips, func(a, b net.IP) int { return strings.Compare(a.String(), b.String()) })
	return dns, ips
}

// validLeaf: signed by ca, not near expiry, naming exactly the hosts.
func validLeaf(leaf, ca *x509.Certificate, dns []string, ips []net.IP, now time.Time) bool {
	if leaf.CheckSignatureFrom(ca) != nil || now.Add(RenewBefore).After(leaf.NotAfter) || now.Before(leaf.NotBefore) {
		return false
	}
	got := slices.Clone(leaf.DNSNames)
	slices.Sort(got)
	if !slices.Equal(got, dns) || len(leaf.IPAddresses) != len(ips) {
		return false
	}
	for _, ip := range ips {
		if !slices.ContainsFunc(leaf.IPAddresses, ip.Equal) {
			return false
		}
	}
	return true
}

func newCA(now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	c, k, err := NewCA(pkix.Name{CommonName: "hks local CA", Organization: []string{"Hexabase AI"}}, now, CAValidity)
	if err != nil {
		return nil, nil, fmt.Errorf("tls: %w", err)
	}
	return c, k, nil
}

func newLeaf(now time.Time, ca *x509.Certificate, caKey *ecdsa.PrivateKey, dns []string, ips []net.IP) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	cn := "localhost"
	if len(dns) > 0 {
		cn = dns[0]
	}
	c, k, err := SignLeaf(ca, caKey, Leaf{Subject: pkix.Name{CommonName: cn, Organization: []string{"Hexabase AI"}},
		DNSNames: dns, IPs: ips, Server: true, Validity: ServingValidity}, now)
	if err != nil {
		return nil, nil, fmt.Errorf("tls: serving certificate: %w", err)
	}
	return c, k, nil
}

// writePair writes the key (0600) and the certificate atomically.
func writePair(dir, certName, keyName string, cert *x509.Certificate, key *ecdsa.PrivateKey) error {
	if err := WritePair(filepath.Join(dir, certName), filepath.Join(dir, keyName), cert, key); err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	return nil
}
