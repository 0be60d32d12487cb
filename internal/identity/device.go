package identity

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"time"

	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// DeviceCookie holds a browser's device token (HttpOnly, Path=/auth,
// SameSite=Strict, Secure when the issuer is https).
const DeviceCookie = "hks_device"

// DefaultDeviceTokenTTL is how long a device token is valid; every
// completed sign-in renews it.
const DefaultDeviceTokenTTL = 30 * 24 * time.Hour

// maxDeviceTokenLen bounds what is worth opening.
const maxDeviceTokenLen = 512

// deviceTokenAD binds sealed device tokens to their use.
var deviceTokenAD = []byte("hks:device-token:v1")

// deviceClaims are the sealed contents of a device token (OWASP's device
// cookie): the user it was issued to, the device's id (the key of its
// failures), its expiry, and a digest of the user's password hash when it
// was issued (a new password invalidates every device token of the user).
type deviceClaims struct {
	UserID   string `json:"u"`
	ID       string `json:"d"`
	Expires  int64  `json:"e"`
	Password string `json:"p"`
}

// passwordDigest is a short digest of u's stored password hash (salted
// and itself a hash) for device tokens. It is sealed with them, so only
// this server reads or makes it.
func passwordDigest(u store.User) string {
	h := sha256.Sum256([]byte("hks:device-token:password\x00" + u.ID + "\x00" + u.PasswordHash))
	return base64.RawURLEncoding.EncodeToString(h[:12])
}

// newDeviceToken seals a device token of u for the device id ("" for a
// new device): whoever holds it has signed in as u before, with u's
// current password (and second factor, if u has one).
func (s *Service) newDeviceToken(u store.User, id string) (string, error) {
	if id == "" {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", err
		}
		id = hex.EncodeToString(b[:])
	}
	pt, err := json.Marshal(deviceClaims{UserID: u.ID, ID: id, Expires: s.clock().Add(s.deviceTTL).Unix(), Password: passwordDigest(u)})
	if err != nil {
		return "", err
	}
	sealed, err := s.sealer.Seal(pt, deviceTokenAD)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(sealed), nil
}

// deviceID is the device id of the first of tokens that is a device token
// this server issued to u, under u's current password, and has not
// expired; "" if none is (no token, forged or expired ones, ones of
// another user or of an earlier password: no exemption).
func (s *Service) deviceID(tokens []string, u store.User) string {
	if u.ID == "" || u.PasswordHash == "" {
		return ""
	}
	for _, t := range tokens {
		if id := s.openDeviceToken(t, u); id != "" {
			return id
		}
	}
	return ""
}

func (s *Service) openDeviceToken(token string, u store.User) string {
	if token == "" || len(token) > maxDeviceTokenLen {
		return ""
	}
	sealed, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return ""
	}
	pt, err := s.sealer.Open(sealed, deviceTokenAD)
	if err != nil {
		return ""
	}
	var c deviceClaims
	if json.Unmarshal(pt, &c) != nil || c.UserID != u.ID || c.ID == "" || !s.clock().Before(time.Unix(c.Expires, 0)) ||
		subtle.ConstantTimeCompare([]byte(c.Password), []byte(passwordDigest(u))) != 1 {
		return ""
	}
	return c.ID
}

// DeviceTokenCookie is the cookie that gives a browser its device token.
func (s *Service) DeviceTokenCookie(token string) *http.Cookie {
	return &http.Cookie{Name: DeviceCookie, Value: token, Path: "/auth", MaxAge: int(s.deviceTTL / time.Second),
		HttpOnly: true, Secure: httpapi.IsHTTPSURL(s.issuer), SameSite: http.SameSiteStrictMode}
}

// maxDeviceCookies bounds how many DeviceCookie cookies of a request are
// tried.
const maxDeviceCookies = 8

// RequestDeviceTokens are the device tokens a browser's request carries in
// DeviceCookie cookies, in order (none: nil). A request may carry several
// of that name (a sibling subdomain can set one for the parent domain,
// which the browser may send first): every one is tried, and the first
// valid one for the account counts.
func RequestDeviceTokens(r *http.Request) []string {
	var out []string
	for _, c := range r.CookiesNamed(DeviceCookie) {
		if c.Value != "" && len(out) < maxDeviceCookies {
			out = append(out, c.Value)
		}
	}
	return out
}
