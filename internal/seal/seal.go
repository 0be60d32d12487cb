package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// Sealed value layout (version 1):
//
//	version (1 byte, 0x01) | key id (4 bytes) | nonce (12 bytes) | ciphertext+tag
//
// The key id is the first 4 bytes of SHA-256("hks seal key id" || key); it
// only lets Open tell "sealed under another master key" from "corrupted".
// The 5-byte header is authenticated together with the caller's associated
// data.
const (
	version1   = 0x01
	keyIDLen   = 4
	nonceLen   = 12
	headerLen  = 1 + keyIDLen
	overhead   = headerLen + nonceLen + 16
	keyIDLabel = "hks seal key id"
)

var (
	// ErrWrongKey: the value was sealed under a different master key.
	ErrWrongKey = errors.New("sealed with a different master key")
	// ErrCorrupt: the value is malformed, was tampered with, or the
	// associated data does not match.
	ErrCorrupt = errors.New("sealed value is corrupt or was tampered with")
)

// Sealer encrypts and authenticates small secrets with AES-256-GCM. It is
// safe for concurrent use.
type Sealer struct {
	aead  cipher.AEAD
	keyID [keyIDLen]byte
}

// New returns a Sealer for a KeySize-byte master key.
func New(key []byte) (*Sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("seal: key is %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	s := &Sealer{aead: aead}
	sum := sha256.Sum256(append([]byte(keyIDLabel), key...))
	copy(s.keyID[:], sum[:keyIDLen])
	return s, nil
}

// Seal encrypts plaintext. associatedData (may be nil) is authenticated but
// not stored: Open must be given the same bytes. Bind a value to its place,
// e.g. "signing-key:<kid>", so a sealed value cannot be moved to another row.
func (s *Sealer) Seal(plaintext, associatedData []byte) ([]byte, error) {
	out := make([]byte, headerLen+nonceLen, overhead+len(plaintext))
	out[0] = version1
	copy(out[1:headerLen], s.keyID[:])
	if _, err := rand.Read(out[headerLen:]); err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}
	nonce := out[headerLen : headerLen+nonceLen]
	return s.aead.Seal(out, nonce, plaintext, s.ad(out[:headerLen], associatedData)), nil
}

// Open decrypts a value produced by Seal with the same associatedData. It
// returns ErrWrongKey if another master key sealed it and ErrCorrupt for
// every other failure.
func (s *Sealer) Open(sealed, associatedData []byte) ([]byte, error) {
	if len(sealed) < overhead {
		return nil, fmt.Errorf("seal: open: %w (too short)", ErrCorrupt)
	}
	if sealed[0] != version1 {
		return nil, fmt.Errorf("seal: open: %w (unknown format version %d)", ErrCorrupt, sealed[0])
	}
	if [keyIDLen]byte(sealed[1:headerLen]) != s.keyID {
		return nil, fmt.Errorf("seal: open: %w", ErrWrongKey)
	}
	nonce := sealed[headerLen : headerLen+nonceLen]
	pt, err := s.aead.Open(nil, nonce, sealed[headerLen+nonceLen:], s.ad(sealed[:headerLen], associatedData))
	if err != nil {
		return nil, fmt.Errorf("seal: open: %w", ErrCorrupt)
	}
	return pt, nil
}

func (s *Sealer) ad(header, associatedData []byte) []byte {
	ad := make([]byte, 0, len(header)+len(associatedData))
	return append(append(ad, header...), associatedData...)
}
