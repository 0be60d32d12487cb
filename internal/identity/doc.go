// Package identity owns local accounts and the platform's own tokens: the
// argon2id password hashes and the password and email policy, first-run
// setup (the one-time setup token that creates the first platform admin),
// sessions with rotating refresh tokens and reuse detection, the RS256
// signing keys (sealed at rest with package seal, served as a JWKS) and the
// issuance and verification of access tokens.
//
// It also owns what guards a sign-in: the sign-in lockout (failed
// passwords per account and source, per device token and per source lock;
// per account across sources they only delay; consulted by every check of
// a password, PasswordSignIn and the password that disables 2FA), device
// tokens that exempt a client that completed a sign-in before from the
// account's delay and its source's lock, two-factor
// authentication (TOTP enrolment, backup codes, the second-factor
// challenge and its per-user lockout), and organizations' require_2fa
// (CheckOrgMFA, and the RequireOrgMFA route middleware).
//
// The domain methods return typed errors (ErrInvalidCredentials,
// ErrInvalidToken, ErrSessionRevoked, ErrSetupDone, ErrInvalidSetupToken,
// ErrTooManyAttempts, the 2FA errors, *FieldError and the store
// sentinels). The package mounts its own routes (Routes, MFARoutes, in
// routes.go and mfa_routes.go), which decode requests and map those errors
// to responses.
//
// Revocation is not instant for access tokens: Verify caches each session's
// state for Config.RevocationCacheTTL (5 s by default), so a session revoked
// through another process stops authenticating within that window; one
// revoked through this Service stops at once.
package identity
