package seal

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func newSealer(t *testing.T) *Sealer {
	t.Helper()
	key := bytes.Repeat([]byte{7}, KeySize)
	s, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSealRoundTrip(t *testing.T) {
	s := newSealer(t)
	for _, pt := range [][]byte{nil, {}, []byte("x"), bytes.Repeat([]byte("secret"), 1000)} {
		sealed, err := s.Seal(pt, []byte("ad"))
		if err != nil {
			t.Fatal(err)
		}
		if len(pt) >= 8 && bytes.Contains(sealed, pt) {
			t.Fatal("plaintext visible in sealed value")
		}
		got, err := s.Open(sealed, []byte("ad"))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if !bytes.Equal(got, pt) {
			t.Fatalf("got %q, want %q", got, pt)
		}
	}
	a, _ := s.Seal([]byte("same"), nil)
	b, _ := s.Seal([]byte("same"), nil)
	if bytes.Equal(a, b) {
		t.Fatal("two seals of the same plaintext are identical (nonce reuse)")
	}
}

func TestOpenRefuses(t *testing.T) {
	s := newSealer(t)
	sealed, err := s.Seal([]byte("top secret"), []byte("signing-key:abc"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := New(bytes.Repeat([]byte{8}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		c := bytes.Clone(sealed)
		c[i] ^= 0x01
		return c
	}
	tests := []struct {
		name   string
		s      *Sealer
		sealed []byte
		ad     string
		want   error
	}{
		{"wrong key", other, sealed, "signing-key:abc", ErrWrongKey},
		{"wrong associated data", s, sealed, "signing-key:abd", ErrCorrupt},
		{"missing associated data", s, sealed, "", ErrCorrupt},
		{"flipped version", s, flip(0), "signing-key:abc", ErrCorrupt},
		{"flipped key id", s, flip(1), "signing-key:abc", ErrWrongKey},
		{"flipped nonce", s, flip(headerLen), "signing-key:abc", ErrCorrupt},
		{"flipped ciphertext", s, flip(headerLen + nonceLen), "signing-key:abc", ErrCorrupt},
		{"flipped tag", s, flip(len(sealed) - 1), "signing-key:abc", ErrCorrupt},
		{"truncated", s, sealed[:len(sealed)-1], "signing-key:abc", ErrCorrupt},
		{"too short", s, sealed[:overhead-1], "signing-key:abc", ErrCorrupt},
		{"empty", s, nil, "signing-key:abc", ErrCorrupt},
		{"appended byte", s, append(bytes.Clone(sealed), 0), "signing-key:abc", ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pt, err := tt.s.Open(tt.sealed, []byte(tt.ad))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open error = %v, want %v", err, tt.want)
			}
			if pt != nil {
				t.Fatal("Open returned plaintext with an error")
			}
		})
	}
}

func TestNewRejectsBadKey(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33, 64} {
		t.Run(fmt.Sprintf("%d bytes", n), func(t *testing.T) {
			if _, err := New(make([]byte, n)); err == nil {
				t.Errorf("New accepted a %d-byte key", n)
			}
		})
	}
}

func TestLoadOrCreateKeyFromEnv(t *testing.T) {
	key := bytes.Repeat([]byte{0xfb}, KeySize)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		got, err := LoadOrCreateKey("", " "+enc.EncodeToString(key)+"\n")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, key) {
			t.Fatal("env key mismatch")
		}
	}
	dir := t.TempDir()
	for _, tc := range []struct{ name, env string }{
		{"not base64", "not base64!!"},
		{"16 bytes", base64.StdEncoding.EncodeToString(make([]byte, 16))},
		{"33 bytes", base64.StdEncoding.EncodeToString(make([]byte, 33))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadOrCreateKey(dir, tc.env)
			if err == nil || !strings.Contains(err.Error(), "HKS_MASTER_KEY") {
				t.Errorf("LoadOrCreateKey(%q) error = %v, want an error naming HKS_MASTER_KEY", tc.env, err)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, KeyFileName)); err == nil {
		t.Fatal("a key file was created although HKS_MASTER_KEY was set")
	}
}

func TestLoadOrCreateKeyFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	k1, err := LoadOrCreateKey(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(k1) != KeySize {
		t.Fatalf("key is %d bytes", len(k1))
	}
	fi, err := os.Stat(filepath.Join(dir, KeyFileName))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	di, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if di.Mode().Perm() != 0o700 {
		t.Fatalf("data dir mode %v, want 0700", di.Mode().Perm())
	}
	k2, err := LoadOrCreateKey(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k1, k2) {
		t.Fatal("second load returned a different key")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("data dir holds %d entries, want only %s", len(entries), KeyFileName)
	}

	if err := os.WriteFile(filepath.Join(dir, KeyFileName), []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKey(dir, ""); err == nil || !strings.Contains(err.Error(), "want 32") {
		t.Fatalf("truncated key file: error = %v", err)
	}
}

func TestLoadOrCreateKeyRace(t *testing.T) {
	dir := t.TempDir()
	const n = 16
	keys := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { keys[i], errs[i] = LoadOrCreateKey(dir, "") })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !bytes.Equal(keys[i], keys[0]) {
			t.Fatal("racing callers got different keys")
		}
	}
	onDisk, err := os.ReadFile(filepath.Join(dir, KeyFileName))
	if err != nil || !bytes.Equal(onDisk, keys[0]) {
		t.Fatalf("key on disk differs from the returned key (err %v)", err)
	}
}
