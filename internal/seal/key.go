package seal

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the size of the master key in bytes (AES-256).
const KeySize = 32

// KeyFileName is the name of the master key file inside the data directory.
const KeyFileName = "master.key"

// LoadOrCreateKey returns the master key. If envValue (HKS_MASTER_KEY) is not
// empty it must be the base64 encoding (standard or URL alphabet, padded or
// not) of exactly KeySize bytes. Otherwise the key is read from
// <dataDir>/master.key, which is created if absent: dataDir with mode 0700,
// the file with mode 0600, written to a temporary file first and then linked
// into place, so the file appears complete or not at all and, of two
// processes starting together, exactly one creates it and both use its key.
func LoadOrCreateKey(dataDir string, envValue string) ([]byte, error) {
	if v := strings.TrimSpace(envValue); v != "" {
		key, err := decodeKey(v)
		if err != nil {
			return nil, fmt.Errorf("HKS_MASTER_KEY: %w", err)
		}
		return key, nil
	}
	if dataDir == "" {
		return nil, errors.New("master key: no data directory and HKS_MASTER_KEY is not set")
	}
	path := filepath.Join(dataDir, KeyFileName)
	key, err := readKeyFile(path)
	if err == nil {
		return key, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("master key: create data directory: %w", err)
	}
	key = make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("master key: generate: %w", err)
	}
	created, err := createExclusive(path, key)
	if err != nil {
		return nil, err
	}
	if !created {
		// Another process won the race; use its key.
		return readKeyFile(path)
	}
	return key, nil
}

// decodeKey accepts the four base64 variants and insists on KeySize bytes.
func decodeKey(v string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if key, err := enc.DecodeString(v); err == nil {
			if len(key) != KeySize {
				return nil, fmt.Errorf("decodes to %d bytes, want %d (generate one with: head -c 32 /dev/urandom | base64)", len(key), KeySize)
			}
			return key, nil
		}
	}
	return nil, errors.New("is not valid base64 (generate one with: head -c 32 /dev/urandom | base64)")
}

func readKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("master key: read %s: %w", path, err)
	}
	if len(b) != KeySize {
		return nil, fmt.Errorf("master key: %s holds %d bytes, want %d", path, len(b), KeySize)
	}
	return b, nil
}

// createExclusive writes key to path unless path already exists, in which
// case it reports created == false. The content is written and synced in a
// temporary file that is then hard-linked to path: link(2) fails with EEXIST
// if path exists, so creation is exclusive like O_EXCL, and a reader never
// sees a partly written file. Where hard links are not supported it falls
// back to O_CREATE|O_EXCL on path itself.
func createExclusive(path string, key []byte) (created bool, err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".master.key.*") // O_EXCL, mode 0600
	if err != nil {
		return false, fmt.Errorf("master key: create temporary file: %w", err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	if err := writeSync(tmp, key); err != nil {
		return false, fmt.Errorf("master key: write %s: %w", tmpName, err)
	}
	err = os.Link(tmpName, path)
	switch {
	case err == nil:
	case errors.Is(err, fs.ErrExist):
		return false, nil
	default:
		f, oerr := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(oerr, fs.ErrExist) {
			return false, nil
		}
		if oerr != nil {
			return false, fmt.Errorf("master key: create %s: %w", path, errors.Join(err, oerr))
		}
		if err := writeSync(f, key); err != nil {
			return false, fmt.Errorf("master key: write %s: %w", path, err)
		}
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // make the new directory entry durable; best effort
		_ = d.Close()
	}
	return true, nil
}

func writeSync(f *os.File, b []byte) error {
	_, err := f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
