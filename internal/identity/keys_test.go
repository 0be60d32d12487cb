package identity

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/seal"
)

// RFC 7638 §3.1 example.
func TestThumbprintRFC7638(t *testing.T) {
	n, err := base64.RawURLEncoding.DecodeString("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
	if err != nil {
		t.Fatal(err)
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537}
	if got, want := Thumbprint(pub), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; got != want {
		t.Fatalf("Thumbprint = %s, want %s", got, want)
	}
}

type jwksDoc struct {
	Keys []map[string]string `json:"keys"`
}

func jwks(t *testing.T, s *Service) jwksDoc {
	t.Helper()
	b, err := s.JWKS(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var d jwksDoc
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("JWKS %s: %v", b, err)
	}
	return d
}

func kidOf(t *testing.T, token string) string {
	t.Helper()
	var hdr map[string]any
	mustDecodeSeg(t, strings.Split(token, ".")[0], &hdr)
	return hdr["kid"].(string)
}

func TestJWKS(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	if err := e.svc.EnsureSigningKey(ctx); err != nil {
		t.Fatal(err)
	}
	p := e.signedIn(t, "alice@example.com")

	d := jwks(t, e.svc)
	if len(d.Keys) != 1 {
		t.Fatalf("JWKS has %d keys, want 1", len(d.Keys))
	}
	k := d.Keys[0]
	if len(k) != 6 || k["kty"] != "RSA" || k["use"] != "sig" || k["alg"] != "RS256" || k["e"] != "AQAB" || k["kid"] != kidOf(t, p.AccessToken) {
		t.Fatalf("JWK %v", k)
	}
	// The published key verifies the token on its own, and its kid is
	// its RFC 7638 thumbprint.
	nb, _ := base64.RawURLEncoding.DecodeString(k["n"])
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(nb), E: 65537}
	if pub.N.BitLen() != 2048 || Thumbprint(pub) != k["kid"] {
		t.Fatalf("bits %d, thumbprint %s, kid %s", pub.N.BitLen(), Thumbprint(pub), k["kid"])
	}
	if _, err := jwt.Parse(p.AccessToken, func(*jwt.Token) (any, error) { return pub, nil }, jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(e.clock.Now)); err != nil {
		t.Fatalf("token does not verify with the JWKS key: %v", err)
	}
}

func TestKeysSurviveRestart(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	p := e.signedIn(t, "alice@example.com")
	kid := kidOf(t, p.AccessToken)

	// A restart: a new Service on the same store and the same master key.
	restarted := e.service(t, newSealer(t, 1))
	if err := restarted.EnsureSigningKey(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := restarted.Verify(ctx, p.AccessToken); err != nil {
		t.Fatalf("old token after restart: %v", err)
	}
	p2, err := restarted.Login(ctx, "alice@example.com", "correct horse battery", testMeta)
	if err != nil {
		t.Fatal(err)
	}
	if got := kidOf(t, p2.AccessToken); got != kid {
		t.Fatalf("restart created a new key %s, want to keep %s", got, kid)
	}
	if keys, _ := e.st.ListSigningKeys(ctx); len(keys) != 1 {
		t.Fatalf("%d keys in the store, want 1", len(keys))
	}
	// The private key is sealed, not stored in the clear.
	keys, _ := e.st.ListSigningKeys(ctx)
	if _, err := newSealer(t, 1).Open(keys[0].PrivateKey, []byte(sealADPrefix+kid)); err != nil {
		t.Fatalf("stored private key does not open with the master key: %v", err)
	}

	// A restart with another master key fails clearly.
	wrong := e.service(t, newSealer(t, 2))
	err = wrong.EnsureSigningKey(ctx)
	if !errors.Is(err, seal.ErrWrongKey) || !strings.Contains(err.Error(), "master key") {
		t.Fatalf("EnsureSigningKey with another master key: %v", err)
	}
}

func TestRotateSigningKey(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	p1 := e.signedIn(t, "alice@example.com")
	kid1 := kidOf(t, p1.AccessToken)

	e.clock.Advance(time.Minute)
	kid2, err := e.svc.RotateSigningKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p2 := e.login(t, "alice@example.com")
	if kidOf(t, p2.AccessToken) != kid2 || kid2 == kid1 {
		t.Fatalf("after rotation signed with %s, want %s", kidOf(t, p2.AccessToken), kid2)
	}
	for _, p := range []api.TokenPair{p1, p2} {
		if _, err := e.svc.Verify(ctx, p.AccessToken); err != nil {
			t.Fatalf("verify after rotation: %v", err)
		}
	}
	// Another process still on the old key picks up the new one within
	// keyReloadInterval, and verifies both meanwhile.
	if got := len(jwks(t, e.svc).Keys); got != 2 {
		t.Fatalf("JWKS after rotation has %d keys, want 2", got)
	}
	// Once every token of the old key has expired, it is no longer served.
	e.clock.Advance(DefaultAccessTTL + keyReloadInterval + DefaultLeeway + time.Second)
	d := jwks(t, e.svc)
	if len(d.Keys) != 1 || d.Keys[0]["kid"] != kid2 {
		t.Fatalf("JWKS long after rotation: %v", d.Keys)
	}
}

// Two processes starting on an empty store: both end with a usable key, each
// verifies the other's tokens, and both soon sign with the same key.
func TestEnsureSigningKeyRace(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.user(t, "alice@example.com")
	svcs := []*Service{e.svc, e.service(t, e.sealer), e.service(t, e.sealer)}
	var wg sync.WaitGroup
	for _, s := range svcs {
		wg.Go(func() {
			if err := s.EnsureSigningKey(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	tokens := make([]string, len(svcs))
	for i, s := range svcs {
		p, err := s.Login(ctx, "alice@example.com", "correct horse battery", testMeta)
		if err != nil {
			t.Fatal(err)
		}
		tokens[i] = p.AccessToken
	}
	e.clock.Advance(keyMissReloadInterval)
	for i, s := range svcs {
		for j, tok := range tokens {
			if _, err := s.Verify(ctx, tok); err != nil {
				t.Errorf("service %d refuses the token of service %d: %v", i, j, err)
			}
		}
	}
	e.clock.Advance(keyReloadInterval)
	kids := map[string]bool{}
	for _, s := range svcs {
		p, err := s.Login(ctx, "alice@example.com", "correct horse battery", testMeta)
		if err != nil {
			t.Fatal(err)
		}
		kids[kidOf(t, p.AccessToken)] = true
	}
	if len(kids) != 1 {
		t.Fatalf("processes sign with %d different keys after a reload, want 1", len(kids))
	}
}
