package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Provider types.
const (
	ProviderOIDC   = "oidc"
	ProviderGitHub = "github"
)

// Provider is one federated sign-in provider: an OpenID Connect provider
// (type "oidc", the default) or GitHub (type "github", OAuth 2.0).
//
//	providers:
//	- id: corp
//	  name: Corp SSO
//	  issuer: https://sso.corp.example
//	  clientID: hks
//	  clientSecretEnv: HKS_CORP_SECRET
//	  linkByVerifiedEmail: true
//	- id: github
//	  type: github
//	  clientID: Iv1.abc
//	  clientSecretEnv: HKS_GITHUB_SECRET
type Provider struct {
	// ID names the provider in URLs (/auth/login/{id}) and in identity
	// links: lowercase letters, digits and dashes, at most 32.
	ID string `json:"id"`
	// Name is shown on the sign-in page (default: the id).
	Name string `json:"name,omitempty"`
	Type string `json:"type,omitempty"`
	// Issuer is the OIDC issuer URL (https; http only for localhost).
	Issuer       string `json:"issuer,omitempty"`
	ClientID     string `json:"clientID"`
	ClientSecret string `json:"clientSecret,omitempty"`
	// ClientSecretEnv names an environment variable holding the secret,
	// read when the configuration is loaded (instead of ClientSecret).
	ClientSecretEnv string `json:"clientSecretEnv,omitempty"`
	// Scopes requested (OIDC default: openid email profile; GitHub
	// default: read:user user:email).
	Scopes []string `json:"scopes,omitempty"`
	// LinkByVerifiedEmail links a first sign-in to an existing user with
	// the same email when the provider says the email is verified. Only
	// for providers trusted to verify email ownership.
	LinkByVerifiedEmail bool `json:"linkByVerifiedEmail,omitempty"`
	// GitHubURL and GitHubAPIURL override https://github.com and
	// https://api.github.com (GitHub Enterprise, tests).
	GitHubURL    string `json:"githubURL,omitempty"`
	GitHubAPIURL string `json:"githubAPIURL,omitempty"`
}

var providerID = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// resolveProviderSecrets reads clientSecretEnv variables.
func (c *Config) resolveProviderSecrets(getenv func(string) string) error {
	for i := range c.Providers {
		p := &c.Providers[i]
		if p.ClientSecretEnv == "" {
			continue
		}
		if p.ClientSecret != "" {
			return fmt.Errorf("config: providers[%d].clientSecretEnv: set clientSecret or clientSecretEnv, not both", i)
		}
		p.ClientSecret = getenv(p.ClientSecretEnv)
		if p.ClientSecret == "" {
			return fmt.Errorf("config: providers[%d].clientSecretEnv: environment variable %s is not set", i, p.ClientSecretEnv)
		}
	}
	return nil
}

// validateProviders checks the providers and fills defaults.
func (c *Config) validateProviders() error {
	seen := map[string]bool{}
	for i := range c.Providers {
		p := &c.Providers[i]
		bad := func(field, msg string) error { return fmt.Errorf("config: providers[%d].%s: %s", i, field, msg) }
		if p.Type == "" {
			p.Type = ProviderOIDC
		}
		if p.Type != ProviderOIDC && p.Type != ProviderGitHub {
			return bad("type", fmt.Sprintf("%q must be oidc or github", p.Type))
		}
		if p.ID == "" && p.Type == ProviderGitHub {
			p.ID = "github"
		}
		if !providerID.MatchString(p.ID) {
			return bad("id", fmt.Sprintf("%q must be 1 to 32 lowercase letters, digits and dashes", p.ID))
		}
		if seen[p.ID] {
			return bad("id", fmt.Sprintf("%q is used by another provider", p.ID))
		}
		seen[p.ID] = true
		if p.Name == "" {
			p.Name = p.ID
		}
		if len(p.Name) > 64 {
			return bad("name", "must be at most 64 characters")
		}
		if strings.TrimSpace(p.ClientID) == "" {
			return bad("clientID", "is required")
		}
		if p.ClientSecret == "" {
			return bad("clientSecret", "is required (or clientSecretEnv naming an environment variable that holds it)")
		}
		for _, sc := range p.Scopes {
			if sc == "" || strings.ContainsAny(sc, " \t\r\n\"\\") {
				return bad("scopes", fmt.Sprintf("%q is not a scope", sc))
			}
		}
		switch p.Type {
		case ProviderOIDC:
			if p.Issuer == "" {
				return bad("issuer", "is required")
			}
			if msg := checkProviderURL(p.Issuer); msg != "" {
				return bad("issuer", msg)
			}
			if p.GitHubURL != "" || p.GitHubAPIURL != "" {
				return bad("githubURL", "is only for type github")
			}
			if len(p.Scopes) == 0 {
				p.Scopes = []string{"openid", "email", "profile"}
			} else if !slices.Contains(p.Scopes, "openid") {
				return bad("scopes", "must include openid")
			}
		case ProviderGitHub:
			if p.Issuer != "" {
				return bad("issuer", "is only for type oidc")
			}
			if p.GitHubURL == "" {
				p.GitHubURL = "https://github.com"
			}
			if p.GitHubAPIURL == "" {
				p.GitHubAPIURL = "https://api.github.com"
			}
			if msg := checkProviderURL(p.GitHubURL); msg != "" {
				return bad("githubURL", msg)
			}
			if msg := checkProviderURL(p.GitHubAPIURL); msg != "" {
				return bad("githubAPIURL", msg)
			}
			if len(p.Scopes) == 0 {
				p.Scopes = []string{"read:user", "user:email"}
			}
		}
	}
	return nil
}

// checkProviderURL returns why u is not a usable provider URL, or "".
func checkProviderURL(u string) string {
	pu, err := url.Parse(u)
	if err != nil || pu.Host == "" || pu.User != nil || pu.RawQuery != "" || pu.Fragment != "" {
		return "must be an https URL without query or fragment"
	}
	switch pu.Scheme {
	case "https":
		return ""
	case "http":
		h := pu.Hostname()
		if h == "localhost" || (net.ParseIP(h) != nil && net.ParseIP(h).IsLoopback()) {
			return ""
		}
	}
	return "must be an https URL (http only for localhost or 127.0.0.1)"
}
