package identity

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Default argon2id parameters: m = 64 MiB, t = 2 passes, p = 2 lanes,
// 16-byte salt, 32-byte hash. That is above the OWASP minimums (19 MiB/t=2,
// 46 MiB/t=1) and near RFC 9106's second recommendation (64 MiB, t=3, p=4)
// with fewer passes and lanes to suit a 2-core machine, where one hash takes
// about 110 ms (t=1 would take about 55 ms; see BenchmarkPasswordHash).
// Memory is bounded by Config.MaxConcurrentHashes × 64 MiB. Changing the
// parameters later is safe: NeedsRehash upgrades each stored hash at its
// user's next login.
const (
	DefaultArgon2Memory  = 64 * 1024 // KiB
	DefaultArgon2Time    = 2
	DefaultArgon2Threads = 2
	DefaultArgon2SaltLen = 16
	DefaultArgon2KeyLen  = 32
)

// Bounds on parameters read back from a stored hash, so a corrupt or hostile
// row cannot make a login allocate gigabytes or spin for minutes.
const (
	maxArgon2Memory  = 1024 * 1024 // 1 GiB in KiB
	maxArgon2Time    = 64
	minArgon2SaltLen = 8
	maxArgon2SaltLen = 64
	minArgon2KeyLen  = 16
	maxArgon2KeyLen  = 128
	maxPHCLen        = 512
)

// Argon2Params are argon2id cost parameters.
type Argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8  // lanes
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// DefaultArgon2Params returns the default parameters (see the constants).
func DefaultArgon2Params() Argon2Params {
	return Argon2Params{
		Memory:  DefaultArgon2Memory,
		Time:    DefaultArgon2Time,
		Threads: DefaultArgon2Threads,
		SaltLen: DefaultArgon2SaltLen,
		KeyLen:  DefaultArgon2KeyLen,
	}
}

func (p Argon2Params) validate() error {
	switch {
	case p.Time < 1 || p.Time > maxArgon2Time:
		return fmt.Errorf("argon2 time %d out of range 1..%d", p.Time, maxArgon2Time)
	case p.Threads < 1:
		return fmt.Errorf("argon2 threads must be at least 1")
	case p.Memory < 8*uint32(p.Threads) || p.Memory > maxArgon2Memory:
		return fmt.Errorf("argon2 memory %d KiB out of range %d..%d", p.Memory, 8*uint32(p.Threads), maxArgon2Memory)
	case p.SaltLen < minArgon2SaltLen || p.SaltLen > maxArgon2SaltLen:
		return fmt.Errorf("argon2 salt length %d out of range %d..%d", p.SaltLen, minArgon2SaltLen, maxArgon2SaltLen)
	case p.KeyLen < minArgon2KeyLen || p.KeyLen > maxArgon2KeyLen:
		return fmt.Errorf("argon2 key length %d out of range %d..%d", p.KeyLen, minArgon2KeyLen, maxArgon2KeyLen)
	}
	return nil
}

// HashPassword hashes password with argon2id and a random salt and returns
// it as a PHC string: $argon2id$v=19$m=65536,t=2,p=2$<salt>$<hash>, salt and
// hash in unpadded standard base64.
func HashPassword(password string, p Argon2Params) (string, error) {
	if err := p.validate(); err != nil {
		return "", err
	}
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// VerifyPassword reports whether password matches the PHC argon2id hash
// encoded, comparing in constant time. A hash it cannot parse yields
// ErrMalformedHash.
func VerifyPassword(password, encoded string) (bool, error) {
	p, salt, key, err := parsePHC(encoded)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// NeedsRehash reports whether encoded was made with parameters other than p
// (or cannot be parsed), so the caller should hash the password again after
// a successful login.
func NeedsRehash(encoded string, p Argon2Params) bool {
	got, _, _, err := parsePHC(encoded)
	return err != nil || got != p
}

// parsePHC parses $argon2id$v=19$m=<m>,t=<t>,p=<p>$<salt>$<hash>. It never
// panics and refuses parameters outside the bounds above.
func parsePHC(encoded string) (p Argon2Params, salt, key []byte, err error) {
	bad := func(why string) (Argon2Params, []byte, []byte, error) {
		return Argon2Params{}, nil, nil, fmt.Errorf("%w: %s", ErrMalformedHash, why)
	}
	if len(encoded) > maxPHCLen {
		return bad("too long")
	}
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" {
		return bad("want 5 $-separated fields")
	}
	if parts[1] != "argon2id" {
		return bad("algorithm is not argon2id")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return bad("unsupported version")
	}
	kv := strings.Split(parts[3], ",")
	if len(kv) != 3 {
		return bad("want parameters m, t, p")
	}
	var vals [3]uint64
	for i, name := range []string{"m", "t", "p"} {
		v, ok := strings.CutPrefix(kv[i], name+"=")
		if !ok || v == "" || (len(v) > 1 && v[0] == '0') {
			return bad("want parameters m, t, p")
		}
		n, perr := strconv.ParseUint(v, 10, 32)
		if perr != nil {
			return bad("parameter " + name + " is not a number")
		}
		vals[i] = n
	}
	if vals[2] > 255 {
		return bad("parameter p out of range")
	}
	if salt, err = base64.RawStdEncoding.Strict().DecodeString(parts[4]); err != nil {
		return bad("salt is not base64")
	}
	if key, err = base64.RawStdEncoding.Strict().DecodeString(parts[5]); err != nil {
		return bad("hash is not base64")
	}
	p = Argon2Params{Memory: uint32(vals[0]), Time: uint32(vals[1]), Threads: uint8(vals[2]), SaltLen: uint32(len(salt)), KeyLen: uint32(len(key))}
	if verr := p.validate(); verr != nil {
		return bad(verr.Error())
	}
	return p, salt, key, nil
}
