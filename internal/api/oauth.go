package api

// DeviceCodeRequest documents the parameters of POST /auth/device/code
// (a form, or a JSON object of strings).
type DeviceCodeRequest struct {
	ClientID string `json:"client_id" doc:"hks-cli"`
	Scope    string `json:"scope,omitempty" doc:"space-separated: openid email groups offline_access"`
}

// DeviceTokenRequest documents the form of POST /auth/device/token.
type DeviceTokenRequest struct {
	GrantType  string `json:"grant_type,omitempty" doc:"urn:ietf:params:oauth:grant-type:device_code (optional)"`
	ClientID   string `json:"client_id" doc:"hks-cli"`
	DeviceCode string `json:"device_code"`
}

// DeviceAuthorization is the answer of POST /auth/device/code (RFC 8628
// §3.2).
type DeviceAuthorization struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code" doc:"8 letters shown as XXXX-XXXX"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int    `json:"expires_in"`
	Interval                int    `json:"interval"`
}
