// Package identity owns local accounts and the platform's own tokens: the
// argon2id password hashes and the password and email policy, first-run
// setup (the one-time setup token that creates the first platform admin),
// sessions with rotating refresh tokens and reuse detection, the RS256
// signing keys (sealed at rest with package seal, served as a JWKS) and the
// issuance and verification of access tokens.
//
// It speaks no HTTP: the handlers in front of it map its typed errors
// (ErrInvalidCredentials, ErrInvalidToken, ErrSessionRevoked, ErrSetupDone,
// ErrInvalidSetupToken, *FieldError and the store sentinels) to responses.
//
// Revocation is not instant for access tokens: Verify caches each session's
// state for Config.RevocationCacheTTL (5 s by default), so a session revoked
// through another process stops authenticating within that window; one
// revoked through this Service stops at once.
package identity
