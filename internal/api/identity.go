package api

import "time"

// LoginRequest is the body of POST /auth/login.
type LoginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	// DeviceToken is the device_token of an earlier sign-in of this
	// client (a browser sends its hks_device cookie instead).
	DeviceToken string `json:"device_token,omitempty" doc:"the device_token of an earlier sign-in of this client: exempts it from the account's lockout by other clients' failures"`
	// Session "cookie" asks for a browser session (see SessionCookie).
	Session string `json:"session,omitempty" doc:"cookie: start a browser session; the tokens are set as HttpOnly cookies (with the CSRF double-submit cookie) and left out of the answer"`
}

// SessionCookie is the Session value of a sign-in that starts a browser
// session: the tokens go into HttpOnly cookies, never into the page.
const SessionCookie = "cookie"

// RefreshRequest is the body of POST /auth/refresh.
type RefreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// SetupRequest is the body of POST /auth/setup.
type SetupRequest struct {
	Token    string `json:"token" doc:"the one-time setup token hks server printed"`
	Email    string `json:"email"`
	Password string `json:"password" doc:"8 to 256 characters"`
}

// Me is the signed-in user.
type Me struct {
	ID            string    `json:"id"`
	Email         string    `json:"email"`
	PlatformAdmin bool      `json:"platform_admin"`
	SessionID     string    `json:"session_id,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
}

// TokenPair is what a login or refresh returns to the client.
type TokenPair struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"` // "Bearer"
	ExpiresIn    int    `json:"expires_in"` // seconds until AccessToken expires
}

// SessionInfo is one of the caller's sessions as GET /auth/sessions shows it.
type SessionInfo struct {
	ID         string     `json:"id"`
	CreatedAt  time.Time  `json:"created_at"`
	LastIP     string     `json:"last_ip" doc:"the client address of the last sign-in or refresh"`
	LastSeenAt *time.Time `json:"last_seen_at,omitempty" doc:"when the session was last refreshed"`
	UserAgent  string     `json:"user_agent"`
	Current    bool       `json:"current" doc:"true for the session of the token that made this request"`
	ExpiresAt  time.Time  `json:"expires_at"`
}

// RevokeAllRequest is the body of POST /auth/sessions/revoke-all.
type RevokeAllRequest struct {
	KeepCurrent bool `json:"keep_current" doc:"keep the session of the token that made this request"`
}

// RevokeAllResult lists the sessions POST /auth/sessions/revoke-all ended.
type RevokeAllResult struct {
	Revoked []string `json:"revoked"`
}

// JSONWebKey is an RSA public key in RFC 7517 form.
type JSONWebKey struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
}

// JSONWebKeySet is an RFC 7517 key set.
type JSONWebKeySet struct {
	Keys []JSONWebKey `json:"keys"`
}

// MFAStatus is the answer of GET /auth/2fa.
type MFAStatus struct {
	Enabled         bool       `json:"enabled"`
	Pending         bool       `json:"pending" doc:"an enrolment waits for POST /auth/2fa/verify"`
	EnabledAt       *time.Time `json:"enabled_at,omitempty"`
	BackupCodesLeft int        `json:"backup_codes_left"`
	Methods         []string   `json:"methods" doc:"second factors accepted at sign-in"`
}

// TOTPEnrollment is the answer of POST /auth/2fa/enroll.
type TOTPEnrollment struct {
	Secret     string `json:"secret" doc:"the TOTP key in base32, for manual entry"`
	OTPAuthURI string `json:"otpauth_uri" doc:"otpauth://totp/ URI (Key Uri Format)"`
	QRPNG      string `json:"qr_png" doc:"base64 of a PNG QR code of otpauth_uri (also GET /auth/2fa/qr.png)"`
}

// MFACodeRequest carries a TOTP code or a backup code.
type MFACodeRequest struct {
	Code string `json:"code" doc:"a 6-digit TOTP code, or a backup code"`
}

// DisableMFARequest is the body of POST /auth/2fa/disable: one of a
// current code and the account password.
type DisableMFARequest struct {
	Code     string `json:"code,omitempty" doc:"a 6-digit TOTP code or a backup code"`
	Password string `json:"password,omitempty" doc:"the account password (instead of code)"`
}

// BackupCodes are shown once; only their hashes are kept.
type BackupCodes struct {
	BackupCodes []string `json:"backup_codes" doc:"ten single-use codes; they are not shown again"`
}

// LoginMFARequest is the body of POST /auth/login/mfa.
type LoginMFARequest struct {
	MFAToken string `json:"mfa_token" doc:"from the mfa_required answer of POST /auth/login"`
	Code     string `json:"code" doc:"a 6-digit TOTP code, or a backup code"`
	// DeviceToken is LoginRequest's.
	DeviceToken string `json:"device_token,omitempty" doc:"the device_token of an earlier sign-in of this client, renewed in the answer (a browser sends its hks_device cookie instead)"`
	// Session is LoginRequest's.
	Session string `json:"session,omitempty" doc:"cookie: finish a browser session (see POST /auth/login)"`
}

// LoginResponse is the answer of POST /auth/login: the tokens, or, for a
// user with two-factor authentication, mfa_required with an mfa_token to
// complete at POST /auth/login/mfa.
type LoginResponse struct {
	AccessToken  string   `json:"access_token,omitempty"`
	RefreshToken string   `json:"refresh_token,omitempty"`
	TokenType    string   `json:"token_type,omitempty"`
	ExpiresIn    int      `json:"expires_in,omitempty"`
	MFARequired  bool     `json:"mfa_required,omitempty"`
	MFAToken     string   `json:"mfa_token,omitempty" doc:"single use, valid 5 minutes, 5 attempts"`
	Methods      []string `json:"methods,omitempty" doc:"second factors accepted: totp, backup_code"`
	DeviceToken  string   `json:"device_token,omitempty" doc:"after a completed sign-in (password, and the second factor if the account has one): send it as device_token at later sign-ins of this client (also set as the hks_device cookie); valid 30 days, renewed at each sign-in, void when the password changes"`
}
