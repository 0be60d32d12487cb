package identity

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"time"

	"github.com/hexabase/hexabase-ai/internal/httpapi"
)

// DeviceCookie holds a browser's device token (HttpOnly, Path=/auth,
// SameSite=Strict, Secure when the issuer is https).
const DeviceCookie = "hks_device"

// DefaultDeviceTokenTTL is how long a device token is valid; every
// sign-in with the right password renews it.
const DefaultDeviceTokenTTL = 30 * 24 * time.Hour

// maxDeviceTokenLen bounds what is worth opening.
const maxDeviceTokenLen = 512

// deviceTokenAD binds sealed device tokens to their use.
var deviceTokenAD = []byte("hks:device-token:v1")

// deviceClaims are the sealed contents of a device token (OWASP's device
// cookie): the user it was issued to, the device's id (the key of its
// failures) and its expiry.
type deviceClaims struct {
	UserID  string `json:"u"`
	ID      string `json:"d"`
	Expires int64  `json:"e"`
}

// newDeviceToken seals a device token of userID for the device id (""
// for a new device): whoever holds it has signed in as userID before.
func (s *Service) newDeviceToken(userID, id string) (string, error) {
	if id == "" {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", err
		}
		id = hex.EncodeToString(b[:])
	}
	pt, err := json.Marshal(deviceClaims{UserID: userID, ID: id, Expires: s.clock().Add(s.deviceTTL).Unix()})
	if err != nil {
		return "", err
	}
	sealed, err := s.sealer.Seal(pt, deviceTokenAD)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(sealed), nil
}

// deviceID is the device id of token if it is a device token this server
// issued to userID and it has not expired; "" otherwise (no token, a
// forged or expired one, or one of another user: no exemption).
func (s *Service) deviceID(token, userID string) string {
	if token == "" || userID == "" || len(token) > maxDeviceTokenLen {
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
	if json.Unmarshal(pt, &c) != nil || c.UserID != userID || c.ID == "" || !s.clock().Before(time.Unix(c.Expires, 0)) {
		return ""
	}
	return c.ID
}

// DeviceTokenCookie is the cookie that gives a browser its device token.
func (s *Service) DeviceTokenCookie(token string) *http.Cookie {
	return &http.Cookie{Name: DeviceCookie, Value: token, Path: "/auth", MaxAge: int(s.deviceTTL / time.Second),
		HttpOnly: true, Secure: httpapi.IsHTTPSURL(s.issuer), SameSite: http.SameSiteStrictMode}
}

// RequestDeviceToken is the device token a browser's request carries in
// DeviceCookie ("" if none).
func RequestDeviceToken(r *http.Request) string {
	if c, err := r.Cookie(DeviceCookie); err == nil {
		return c.Value
	}
	return ""
}
