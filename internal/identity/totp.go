package identity

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // RFC 6238 TOTP as authenticator apps implement it is HMAC-SHA1
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"net/url"
	"time"
)

// TOTP parameters (RFC 6238 with the defaults every authenticator app
// supports): HMAC-SHA1, 6 digits, 30-second steps from the Unix epoch.
const (
	TOTPDigits     = 6
	TOTPPeriod     = 30 * time.Second
	TOTPSecretLen  = 20 // bytes, the HMAC-SHA1 block-output size RFC 4226 recommends
	TOTPIssuer     = "Hexabase AI"
	totpSkewSteps  = 1 // codes of the previous and next step are accepted
	totpDigitsMod  = 1_000_000
	totpCodeFormat = "%06d"
)

// totpStep is the RFC 6238 time step T of t.
func totpStep(t time.Time) int64 {
	return t.Unix() / int64(TOTPPeriod/time.Second)
}

// hotp is RFC 4226 HOTP with dynamic truncation, as a 6-digit string.
func hotp(secret []byte, counter uint64) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	m := hmac.New(sha1.New, secret)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf(totpCodeFormat, bin%totpDigitsMod)
}

// TOTPCode returns the code of secret at time t.
func TOTPCode(secret []byte, t time.Time) string {
	return hotp(secret, uint64(totpStep(t)))
}

// matchTOTP returns the step of the code among the steps around t
// (±totpSkewSteps) whose code equals code, comparing in constant time, and
// whether one matched. Steps at or before notAfter are not considered.
func matchTOTP(secret []byte, code string, t time.Time, notAfter int64) (int64, bool) {
	if !validTOTPCode(code) {
		return 0, false
	}
	now := totpStep(t)
	var (
		found int64
		ok    bool
	)
	for step := now - totpSkewSteps; step <= now+totpSkewSteps; step++ {
		if step <= notAfter || step < 0 {
			continue
		}
		if subtle.ConstantTimeCompare([]byte(hotp(secret, uint64(step))), []byte(code)) == 1 && !ok {
			found, ok = step, true
		}
	}
	return found, ok
}

// matchTOTPAny is matchTOTP without the replay floor, to tell a replayed
// code from a wrong one.
func matchTOTPAny(secret []byte, code string, t time.Time) bool {
	_, ok := matchTOTP(secret, code, t, -1)
	return ok
}

func validTOTPCode(code string) bool {
	if len(code) != TOTPDigits {
		return false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return false
		}
	}
	return true
}

// totpSecretText is the secret in the unpadded base32 of the Key Uri Format.
func totpSecretText(secret []byte) string {
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret)
}

// TOTPURI is the otpauth:// URI of secret for account, in Google
// Authenticator's Key Uri Format: otpauth://totp/ISSUER:ACCOUNT?secret=…&
// issuer=ISSUER&algorithm=SHA1&digits=6&period=30.
func TOTPURI(secret []byte, account string) string {
	q := url.Values{}
	q.Set("secret", totpSecretText(secret))
	q.Set("issuer", TOTPIssuer)
	q.Set("algorithm", "SHA1")
	q.Set("digits", fmt.Sprint(TOTPDigits))
	q.Set("period", fmt.Sprint(int(TOTPPeriod/time.Second)))
	u := url.URL{Scheme: "otpauth", Host: "totp", Path: "/" + TOTPIssuer + ":" + account, RawQuery: q.Encode()}
	return u.String()
}
