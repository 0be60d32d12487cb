package tlsutil

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCertHelpers(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ca, caKey, err := NewCA(pkix.Name{CommonName: "test CA"}, now, 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !ca.IsCA || !ca.MaxPathLenZero || ca.Subject.CommonName != "test CA" || !ca.NotAfter.Equal(now.Add(48*time.Hour)) {
		t.Fatalf("CA: IsCA %v MaxPathLenZero %v CN %q NotAfter %v", ca.IsCA, ca.MaxPathLenZero, ca.Subject.CommonName, ca.NotAfter)
	}
	for _, tc := range []struct {
		name     string
		leaf     Leaf
		usages   []x509.ExtKeyUsage
		notAfter time.Time
	}{
		{"server", Leaf{Subject: pkix.Name{CommonName: "srv"}, DNSNames: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true, Validity: time.Hour},
			[]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, now.Add(time.Hour)},
		{"client", Leaf{Subject: pkix.Name{CommonName: "cli", Organization: []string{"system:masters"}}, Client: true, Validity: time.Hour},
			[]x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, now.Add(time.Hour)},
		{"both, capped at the CA's end", Leaf{Subject: pkix.Name{CommonName: "both"}, Server: true, Client: true, Validity: 365 * 24 * time.Hour},
			[]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, ca.NotAfter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, k, err := SignLeaf(ca, caKey, tc.leaf, now)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.CheckSignatureFrom(ca); err != nil {
				t.Fatalf("not signed by the CA: %v", err)
			}
			if !k.PublicKey.Equal(c.PublicKey) || c.IsCA || c.Subject.CommonName != tc.leaf.Subject.CommonName {
				t.Fatalf("leaf: key matches %v, IsCA %v, CN %q", k.PublicKey.Equal(c.PublicKey), c.IsCA, c.Subject.CommonName)
			}
			if len(c.ExtKeyUsage) != len(tc.usages) {
				t.Fatalf("usages %v, want %v", c.ExtKeyUsage, tc.usages)
			}
			for i := range tc.usages {
				if c.ExtKeyUsage[i] != tc.usages[i] {
					t.Fatalf("usages %v, want %v", c.ExtKeyUsage, tc.usages)
				}
			}
			if !c.NotAfter.Equal(tc.notAfter) || !c.NotBefore.Equal(now.Add(-time.Hour)) {
				t.Fatalf("validity %v..%v, want %v..%v", c.NotBefore, c.NotAfter, now.Add(-time.Hour), tc.notAfter)
			}
			dir := t.TempDir()
			cf, kf := filepath.Join(dir, "x.crt"), filepath.Join(dir, "x.key")
			if err := WritePair(cf, kf, c, k); err != nil {
				t.Fatal(err)
			}
			for f, mode := range map[string]os.FileMode{cf: 0o644, kf: 0o600} {
				if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != mode {
					t.Fatalf("%s: mode %v (%v), want %v", f, fi.Mode().Perm(), err, mode)
				}
			}
			gc, gk, err := LoadPair(cf, kf)
			if err != nil || !gc.Equal(c) || !gk.Equal(k) {
				t.Fatalf("LoadPair: %v", err)
			}
		})
	}
}

func TestLoadPairErrors(t *testing.T) {
	now := time.Now()
	ca, caKey, err := NewCA(pkix.Name{CommonName: "ca"}, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := WritePair(filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key"), ca, caKey); err != nil {
		t.Fatal(err)
	}
	other, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteKey(filepath.Join(dir, "other.key"), other); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "junk"), []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WritePublicKey(filepath.Join(dir, "other.pub"), other); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, cert, key, want string
	}{
		{"missing", "nope.crt", "ca.key", "no such file"},
		{"not PEM", "junk", "ca.key", "is not PEM"},
		{"key of another certificate", "ca.crt", "other.key", "does not match"},
		{"public key as private", "ca.crt", "other.pub", "parse"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := LoadPair(filepath.Join(dir, tc.cert), filepath.Join(dir, tc.key))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if tc.name == "missing" && !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("error %v does not match os.ErrNotExist", err)
			}
		})
	}
}
