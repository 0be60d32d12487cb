package api

import "time"

// Discovery is the OpenID Provider Metadata document.
type Discovery struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	DeviceAuthorizationEndpoint       string   `json:"device_authorization_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	ScopesSupported                   []string `json:"scopes_supported"`
	ClaimsSupported                   []string `json:"claims_supported"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
}

// WorkspaceToken is a signed workspace ID token.
type WorkspaceToken struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// TokenRequest documents the token endpoint's parameters (sent as
// application/x-www-form-urlencoded, or as a JSON object of strings).
type TokenRequest struct {
	GrantType          string `json:"grant_type" doc:"urn:ietf:params:oauth:grant-type:token-exchange (more grants are registered by other parts)"`
	SubjectToken       string `json:"subject_token,omitempty" doc:"token exchange: the caller's access token"`
	SubjectTokenType   string `json:"subject_token_type,omitempty" doc:"token exchange: urn:ietf:params:oauth:token-type:access_token"`
	Audience           string `json:"audience,omitempty" doc:"token exchange: the workspace id"`
	RequestedTokenType string `json:"requested_token_type,omitempty" doc:"token exchange: urn:ietf:params:oauth:token-type:id_token (default) or …:jwt"`
}

// ExchangeResponse is the answer of the token-exchange grant (RFC 8693 §2.2
// with the workspace token also as id_token and expires_at).
type ExchangeResponse struct {
	AccessToken     string    `json:"access_token" doc:"the workspace ID token"`
	IssuedTokenType string    `json:"issued_token_type"`
	TokenType       string    `json:"token_type" doc:"N_A: the token is not an OAuth access token"`
	ExpiresIn       int       `json:"expires_in"`
	IDToken         string    `json:"id_token"`
	ExpiresAt       time.Time `json:"expires_at"`
}
