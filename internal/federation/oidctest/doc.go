// Package oidctest is a small, standards-compliant OpenID Connect provider
// for tests, served over real HTTP on 127.0.0.1: discovery
// (/.well-known/openid-configuration), JWKS, an authorization endpoint that
// signs in a preset user and issues single-use codes, and a token endpoint
// that checks client authentication (client_secret_basic or
// client_secret_post), redirect_uri, PKCE S256 (RFC 7636) and code reuse,
// and issues RS256 ID tokens with iss, sub, aud, exp, iat, nonce, email and
// email_verified.
//
// Misbehaviour knobs make it issue ID tokens a relying party must refuse:
// wrong audience or issuer, expired, signed by a key not in its JWKS, wrong
// nonce, or none at all; or deny the authorization (error=access_denied).
//
// It is not a test double: it implements the protocol the code under test
// speaks, so tests exercise the real verification paths.
package oidctest
