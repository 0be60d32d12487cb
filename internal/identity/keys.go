package identity

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/store"
)

const (
	signingAlg    = "RS256"
	rsaKeyBits    = 2048
	sealADPrefix  = "hks/signing-key/"
	maxKeysServed = 16
	// keyReloadInterval is how often signing and JWKS look for keys that
	// another process created, rotated or retired.
	keyReloadInterval = 10 * time.Second
	// keyMissReloadInterval is the minimum time between two reloads caused
	// by tokens naming an unknown kid (a key created elsewhere moments ago),
	// so that garbage kids cannot hammer the store.
	keyMissReloadInterval = time.Second
)

// signingKey is one public key as loaded from the store.
type signingKey struct {
	kid string
	pub *rsa.PublicKey
}

// keyring is the in-memory view of the signing keys.
type keyring struct {
	mu       sync.RWMutex
	byKid    map[string]*signingKey // keys served and accepted
	active   *signingKey
	priv     *rsa.PrivateKey // private part of active
	jwks     []byte
	loadedAt time.Time // zero: never loaded

	reloadMu sync.Mutex // one reload at a time
}

func (k *keyring) lookup(kid string) *signingKey {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.byKid[kid]
}

func (k *keyring) signer() (*signingKey, *rsa.PrivateKey, time.Time) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.active, k.priv, k.loadedAt
}

func rsaJWK(pub *rsa.PublicKey) (n, e string) {
	n = base64.RawURLEncoding.EncodeToString(pub.N.Bytes())
	e = base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes())
	return n, e
}

// Thumbprint returns the RFC 7638 JWK thumbprint of an RSA public key,
// base64url without padding; it is the key's kid.
func Thumbprint(pub *rsa.PublicKey) string {
	n, e := rsaJWK(pub)
	// Required members only, lexicographic order, no white space.
	sum := sha256.Sum256([]byte(`{"e":"` + e + `","kty":"RSA","n":"` + n + `"}`))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// EnsureSigningKey loads the signing keys and makes the newest unretired
// one current, creating a key first if there is none. Processes racing on
// an empty store may each create one; each then signs with the newest, and
// every process accepts both. A key whose private part cannot be unsealed
// (different master key) is a clear error.
func (s *Service) EnsureSigningKey(ctx context.Context) error {
	if err := s.reloadKeys(ctx, 0); err != nil {
		return err
	}
	if active, _, _ := s.keys.signer(); active != nil {
		return nil
	}
	if _, err := s.createSigningKey(ctx); err != nil {
		return err
	}
	return s.reloadKeys(ctx, 0)
}

// RotateSigningKey creates a new signing key and makes it current. Older
// keys are still accepted and served in the JWKS until every token they
// signed has expired. It returns the new kid.
func (s *Service) RotateSigningKey(ctx context.Context) (string, error) {
	kid, err := s.createSigningKey(ctx)
	if err != nil {
		return "", err
	}
	if err := s.reloadKeys(ctx, 0); err != nil {
		return "", err
	}
	return kid, nil
}

// JWKS returns the RFC 7517 JSON of every key that verifies live tokens:
// {"keys":[{"kty":"RSA","kid":…,"use":"sig","alg":"RS256","n":…,"e":…}]}.
// It rereads the keys from the store at most every 10 s.
func (s *Service) JWKS(ctx context.Context) ([]byte, error) {
	if err := s.reloadKeys(ctx, s.keyReload); err != nil {
		return nil, err
	}
	s.keys.mu.RLock()
	defer s.keys.mu.RUnlock()
	return s.keys.jwks, nil
}

func (s *Service) createSigningKey(ctx context.Context) (string, error) {
	priv, err := rsa.GenerateKey(rand.Reader, rsaKeyBits)
	if err != nil {
		return "", fmt.Errorf("generate signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", fmt.Errorf("marshal signing key: %w", err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return "", fmt.Errorf("marshal signing key: %w", err)
	}
	kid := Thumbprint(&priv.PublicKey)
	sealed, err := s.sealer.Seal(der, []byte(sealADPrefix+kid))
	if err != nil {
		return "", fmt.Errorf("seal signing key: %w", err)
	}
	k := store.SigningKey{ID: kid, Algorithm: signingAlg, PrivateKey: sealed, PublicKey: pubDER, CreatedAt: s.clock()}
	if err := s.st.CreateSigningKey(ctx, k); err != nil {
		return "", fmt.Errorf("store signing key: %w", err)
	}
	s.log.InfoContext(ctx, "created signing key", "kid", kid)
	return kid, nil
}

// reloadKeys rereads the keys from the store unless they were loaded less
// than maxAge ago (0: always).
func (s *Service) reloadKeys(ctx context.Context, maxAge time.Duration) error {
	fresh := func() bool {
		_, _, at := s.keys.signer()
		age := s.now().Sub(at)
		return !at.IsZero() && age >= 0 && age < maxAge
	}
	if fresh() {
		return nil
	}
	s.keys.reloadMu.Lock()
	defer s.keys.reloadMu.Unlock()
	if fresh() { // another goroutine reloaded meanwhile
		return nil
	}
	rows, err := s.st.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("list signing keys: %w", err)
	}
	now := s.clock()
	// Newest first, deterministically, so every process picks the same.
	slices.SortFunc(rows, func(a, b store.SigningKey) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	type parsed struct {
		row store.SigningKey
		pub *rsa.PublicKey
	}
	var (
		usable []parsed
		active = -1 // index in usable of the newest unretired key, which signs
	)
	for _, r := range rows {
		if r.Algorithm != signingAlg {
			s.log.WarnContext(ctx, "skipping signing key with unsupported algorithm", "kid", r.ID, "alg", r.Algorithm)
			continue
		}
		pub, err := parseRSAPublic(r.PublicKey)
		if err == nil && Thumbprint(pub) != r.ID {
			err = errors.New("kid is not the key's thumbprint")
		}
		if err != nil {
			s.log.ErrorContext(ctx, "skipping malformed signing key", "kid", r.ID, "err", err)
			continue
		}
		usable = append(usable, parsed{r, pub})
		if active < 0 && r.RetiredAt == nil {
			active = len(usable) - 1
		}
	}
	byKid := make(map[string]*signingKey, len(usable))
	set := api.JSONWebKeySet{Keys: []api.JSONWebKey{}}
	var activeKey *signingKey
	for i, p := range usable {
		// A key stops signing when retired, or when a newer key becomes
		// current; tokens it signed live keysKeepFor longer.
		var until time.Time
		if p.row.RetiredAt != nil {
			until = *p.row.RetiredAt
		} else if active >= 0 && i != active {
			until = usable[active].row.CreatedAt
		}
		if !until.IsZero() && now.Sub(until) > s.keysKeepFor {
			continue
		}
		if len(byKid) == maxKeysServed {
			s.log.WarnContext(ctx, "too many live signing keys; serving the newest", "max", maxKeysServed, "skipped", len(usable)-i)
			break
		}
		k := &signingKey{kid: p.row.ID, pub: p.pub}
		byKid[k.kid] = k
		if i == active {
			activeKey = k
		}
		n, e := rsaJWK(p.pub)
		set.Keys = append(set.Keys, api.JSONWebKey{Kty: "RSA", Kid: k.kid, Use: "sig", Alg: signingAlg, N: n, E: e})
	}
	jwks, err := json.Marshal(set)
	if err != nil {
		return fmt.Errorf("marshal jwks: %w", err)
	}

	var priv *rsa.PrivateKey
	if activeKey != nil {
		cur, curPriv, _ := s.keys.signer()
		if cur != nil && cur.kid == activeKey.kid {
			priv = curPriv
		} else if priv, err = s.unsealPrivate(usable[active].row); err != nil {
			return err
		}
	}

	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	if prev := s.keys.active; prev != nil && activeKey != nil && prev.kid != activeKey.kid {
		s.log.InfoContext(ctx, "signing with a new key", "kid", activeKey.kid, "previous_kid", prev.kid)
	}
	s.keys.byKid = byKid
	s.keys.active = activeKey
	s.keys.priv = priv
	s.keys.jwks = jwks
	s.keys.loadedAt = s.now()
	return nil
}

func (s *Service) unsealPrivate(r store.SigningKey) (*rsa.PrivateKey, error) {
	der, err := s.sealer.Open(r.PrivateKey, []byte(sealADPrefix+r.ID))
	if err != nil {
		return nil, fmt.Errorf("unseal signing key %s (is the master key the one it was created with?): %w", r.ID, err)
	}
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse signing key %s: %w", r.ID, err)
	}
	priv, ok := key.(*rsa.PrivateKey)
	if !ok || Thumbprint(&priv.PublicKey) != r.ID {
		return nil, fmt.Errorf("signing key %s: private key does not match its kid", r.ID)
	}
	return priv, nil
}

func parseRSAPublic(der []byte) (*rsa.PublicKey, error) {
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, err
	}
	pub, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("not an RSA key")
	}
	if pub.N.BitLen() < rsaKeyBits {
		return nil, fmt.Errorf("RSA key of %d bits is too short", pub.N.BitLen())
	}
	return pub, nil
}
