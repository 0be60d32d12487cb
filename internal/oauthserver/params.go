package oauthserver

import (
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// The one registered client: the hks CLI, a public client (no secret) that
// must use PKCE S256 and a loopback redirect URI.
const (
	CLIClientID = "hks-cli"

	maxRedirectURILen = 512
	maxStateLen       = 512
	maxScopeLen       = 256
)

// Scopes the CLI may ask for.
var knownScopes = map[string]bool{"openid": true, "email": true, "groups": true, "offline_access": true}

// AuthorizeRequest is a validated authorization request.
type AuthorizeRequest struct {
	ClientID      string
	RedirectURI   string
	State         string
	CodeChallenge string
	Scope         string
}

// AuthorizeError is a refused authorization request. When Redirect is
// false the client or redirect URI cannot be trusted, so the refusal is
// shown to the user and never sent to the redirect URI (RFC 6749 §4.1.2.1);
// otherwise it is sent there as error and error_description.
type AuthorizeError struct {
	Redirect    bool
	Code        string // invalid_request, unauthorized_client, unsupported_response_type, invalid_scope
	Description string // safe to show
}

func (e *AuthorizeError) Error() string { return e.Code + ": " + e.Description }

var (
	// RFC 7636 §4.2: BASE64URL(SHA256(verifier)) is 43 characters.
	s256Challenge = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)
	// RFC 7636 §4.1: 43 to 128 unreserved characters.
	codeVerifier = regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`)
)

// ParseAuthorizeRequest validates the parameters of an authorization
// request (the query of GET /auth/authorize or the fields of its form).
// Every parameter may appear at most once.
func ParseAuthorizeRequest(q url.Values) (AuthorizeRequest, error) {
	single := func(k string) (string, bool) {
		vs := q[k]
		if len(vs) > 1 {
			return "", false
		}
		if len(vs) == 0 {
			return "", true
		}
		return vs[0], true
	}
	clientID, ok := single("client_id")
	if !ok || clientID == "" {
		return AuthorizeRequest{}, &AuthorizeError{Code: "invalid_request", Description: "client_id is required, once"}
	}
	if clientID != CLIClientID {
		return AuthorizeRequest{}, &AuthorizeError{Code: "invalid_client", Description: "client_id is not a client of this server"}
	}
	redirect, ok := single("redirect_uri")
	if !ok || redirect == "" {
		return AuthorizeRequest{}, &AuthorizeError{Code: "invalid_request", Description: "redirect_uri is required, once"}
	}
	if err := ValidateRedirectURI(redirect); err != nil {
		return AuthorizeRequest{}, err
	}
	req := AuthorizeRequest{ClientID: clientID, RedirectURI: redirect}
	bad := func(code, desc string) (AuthorizeRequest, error) {
		return req, &AuthorizeError{Redirect: true, Code: code, Description: desc}
	}
	// From here on, refusals go back to the (trusted) redirect URI. The
	// state is echoed only once it is valid.
	state, ok := single("state")
	if !ok || state == "" || len(state) > maxStateLen || !printableASCII(state) {
		return bad("invalid_request", "state is required: 1 to 512 printable ASCII characters, once")
	}
	req.State = state
	rt, ok := single("response_type")
	if !ok || rt == "" {
		return bad("invalid_request", "response_type is required, once")
	}
	if rt != "code" {
		return bad("unsupported_response_type", "response_type must be code")
	}
	method, ok := single("code_challenge_method")
	if !ok || method != "S256" {
		return bad("invalid_request", "code_challenge_method must be S256 (PKCE is required)")
	}
	challenge, ok := single("code_challenge")
	if !ok || !s256Challenge.MatchString(challenge) {
		return bad("invalid_request", "code_challenge is required: the base64url SHA-256 of the code verifier (43 characters)")
	}
	req.CodeChallenge = challenge
	scope, ok := single("scope")
	if !ok || len(scope) > maxScopeLen {
		return bad("invalid_scope", "scope is too long or repeated")
	}
	scopes, err := parseScope(scope)
	if err != nil {
		return bad("invalid_scope", err.Error())
	}
	req.Scope = scopes
	return req, nil
}

type scopeError string

func (e scopeError) Error() string { return string(e) }

// parseScope checks a space-separated scope and returns it normalized
// (deduplicated, in the order given).
func parseScope(scope string) (string, error) {
	var out []string
	seen := map[string]bool{}
	for _, s := range strings.Fields(scope) {
		if !knownScopes[s] {
			return "", scopeError("scope may contain only openid, email, groups and offline_access")
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return strings.Join(out, " "), nil
}

// ValidateRedirectURI accepts only loopback redirect URIs of a native app
// (RFC 8252 §7.3): http://127.0.0.1:PORT/path, http://[::1]:PORT/path or
// http://localhost:PORT/path, with a port, without user info, query or
// fragment.
func ValidateRedirectURI(s string) error {
	bad := &AuthorizeError{Code: "invalid_request", Description: "redirect_uri must be a loopback URI such as http://127.0.0.1:PORT/callback"}
	if len(s) > maxRedirectURILen || !printableASCII(s) {
		return bad
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "http" || u.Opaque != "" || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(s, "#") {
		return bad
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil || port == "" {
		return bad
	}
	if host != "localhost" {
		ip := net.ParseIP(host)
		if ip == nil || !ip.IsLoopback() || (ip.To4() != nil && host != "127.0.0.1") {
			return bad
		}
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || port[0] == '0' || port[0] == '+' {
		return bad
	}
	if u.Path != "" && !strings.HasPrefix(u.Path, "/") {
		return bad
	}
	return nil
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
