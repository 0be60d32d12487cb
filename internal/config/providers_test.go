package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestProviders(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "hks.yaml")
	yaml := `providers:
- id: corp
  name: Corp SSO
  issuer: https://sso.corp.example
  clientID: hks
  clientSecretEnv: CORP_SECRET
  linkByVerifiedEmail: true
- type: github
  clientID: gh
  clientSecret: s3cret
`
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := load(t, []string{"--config", file}, map[string]string{"CORP_SECRET": "from-env"})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Providers) != 2 {
		t.Fatalf("providers: %+v", c.Providers)
	}
	corp, gh := c.Providers[0], c.Providers[1]
	if corp.Type != "oidc" || corp.ClientSecret != "from-env" || !corp.LinkByVerifiedEmail || strings.Join(corp.Scopes, " ") != "openid email profile" {
		t.Errorf("corp: %+v", corp)
	}
	if gh.ID != "github" || gh.Name != "github" || gh.GitHubURL != "https://github.com" || gh.GitHubAPIURL != "https://api.github.com" || gh.ClientSecret != "s3cret" {
		t.Errorf("github: %+v", gh)
	}
}

func TestBadProviders(t *testing.T) {
	ok := Provider{ID: "corp", Issuer: "https://sso.example", ClientID: "hks", ClientSecret: "x"}
	with := func(f func(p *Provider)) []Provider {
		p := ok
		f(&p)
		return []Provider{p}
	}
	tests := []struct {
		name      string
		providers []Provider
		env       map[string]string
		want      string
	}{
		{"http issuer", with(func(p *Provider) { p.Issuer = "http://sso.example" }), nil, "config: providers[0].issuer: must be an https URL (http only for localhost or 127.0.0.1)"},
		{"issuer missing", with(func(p *Provider) { p.Issuer = "" }), nil, "config: providers[0].issuer: is required"},
		{"issuer query", with(func(p *Provider) { p.Issuer = "https://sso.example/?a=b" }), nil, "config: providers[0].issuer: must be an https URL without query or fragment"},
		{"bad id", with(func(p *Provider) { p.ID = "Corp SSO" }), nil, `config: providers[0].id: "Corp SSO" must be 1 to 32 lowercase letters, digits and dashes`},
		{"duplicate id", append(with(func(*Provider) {}), ok), nil, `config: providers[1].id: "corp" is used by another provider`},
		{"bad type", with(func(p *Provider) { p.Type = "saml" }), nil, `config: providers[0].type: "saml" must be oidc or github`},
		{"no client id", with(func(p *Provider) { p.ClientID = "" }), nil, "config: providers[0].clientID: is required"},
		{"no secret", with(func(p *Provider) { p.ClientSecret = "" }), nil, "config: providers[0].clientSecret: is required"},
		{"secret env unset", with(func(p *Provider) { p.ClientSecret, p.ClientSecretEnv = "", "NOPE" }), nil, "config: providers[0].clientSecretEnv: environment variable NOPE is not set"},
		{"secret and env", with(func(p *Provider) { p.ClientSecretEnv = "X" }), map[string]string{"X": "y"}, "config: providers[0].clientSecretEnv: set clientSecret or clientSecretEnv, not both"},
		{"no openid scope", with(func(p *Provider) { p.Scopes = []string{"email"} }), nil, "config: providers[0].scopes: must include openid"},
		{"bad scope", with(func(p *Provider) { p.Scopes = []string{"openid", "a b"} }), nil, `config: providers[0].scopes: "a b" is not a scope`},
		{"github with issuer", with(func(p *Provider) { p.Type = "github" }), nil, "config: providers[0].issuer: is only for type oidc"},
		{"github http api", with(func(p *Provider) { p.Type, p.Issuer, p.GitHubAPIURL = "github", "", "http://api.example" }), nil, "config: providers[0].githubAPIURL: must be an https URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			c.Providers = tt.providers
			err := c.resolveProviderSecrets(func(k string) string { return tt.env[k] })
			if err == nil {
				err = c.Validate()
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("error = %v, want prefix %q", err, tt.want)
			}
		})
	}
	// Loopback http issuers are allowed (tests, local development).
	for _, iss := range []string{"http://127.0.0.1:5556", "http://localhost:5556/dex", "http://[::1]:80"} {
		t.Run("loopback issuer "+iss, func(t *testing.T) {
			c := Default()
			c.Providers = with(func(p *Provider) { p.Issuer = iss })
			if err := c.Validate(); err != nil {
				t.Errorf("issuer %s: %v", iss, err)
			}
		})
	}
}
