package api

// ProviderInfo describes a provider to the sign-in page.
type ProviderInfo struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Type string `json:"type" doc:"oidc or github"`
}

// CallbackAnswer is the JSON answer of a callback asked with
// "Accept: application/json": the tokens, or a second-factor challenge to
// answer at POST /auth/login/mfa.
type CallbackAnswer struct {
	AccessToken  string `json:"access_token,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	TokenType    string `json:"token_type,omitempty"`
	ExpiresIn    int    `json:"expires_in,omitempty"`
	MFARequired  bool   `json:"mfa_required,omitempty"`
	MFAToken     string `json:"mfa_token,omitempty"`
}
