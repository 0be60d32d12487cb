// Package federation owns sign-in through federated providers: OpenID
// Connect providers and GitHub (OAuth 2.0). It runs the authorization-code
// flow with PKCE S256, a state bound to the browser by a short-lived sealed
// cookie and (for OIDC) a nonce; verifies ID tokens with coreos/go-oidc;
// links provider identities to users (by provider and subject, optionally
// by verified email) and hands the user to identity.Service.SignIn.
//
// Routes: GET /auth/providers, GET /auth/login/{provider},
// GET /auth/callback/{provider}.
package federation
