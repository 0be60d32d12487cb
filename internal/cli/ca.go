package cli

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"
)

// HTTPClient returns an HTTP client that, when caPEM is set, trusts that
// CA (the server's own CA of --tls=auto) in addition to the system roots.
func HTTPClient(caPEM string, timeout time.Duration) (*http.Client, error) {
	c := &http.Client{Timeout: timeout}
	if caPEM == "" {
		return c, nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM([]byte(caPEM)) {
		return nil, errors.New("the CA is not a PEM certificate")
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	c.Transport = t
	return c, nil
}

// ReadCAFile reads a PEM CA bundle for --ca-file and checks it parses.
func ReadCAFile(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("--ca-file: %w", err)
	}
	if !x509.NewCertPool().AppendCertsFromPEM(b) {
		return "", fmt.Errorf("--ca-file: %s holds no PEM certificate", path)
	}
	return string(b), nil
}
