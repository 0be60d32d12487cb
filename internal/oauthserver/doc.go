// Package oauthserver is the platform's own OAuth 2.0 authorization server
// for its command-line client: the authorization code grant with PKCE S256
// on a loopback redirect (RFC 6749, RFC 7636, RFC 8252) and the device
// authorization grant (RFC 8628).
//
// It owns GET/POST /auth/authorize (a server-rendered sign-in page when the
// browser has no platform session), POST /auth/device/code and GET/POST
// /auth/device (the verification page), and registers the
// authorization_code, refresh_token and device_code grants on the issuer's
// token endpoint (/auth/token). Codes are single use and stored hashed; a
// replayed authorization code revokes the session its first exchange
// started (RFC 6749 §4.1.2).
package oauthserver
