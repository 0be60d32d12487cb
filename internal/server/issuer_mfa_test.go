package server

import (
	"context"
	"net/url"
	"testing"

	"github.com/hexabase/hexabase-ai/internal/issuer"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// TestWorkspaceTokenRequiresOrgMFA: an organization that requires
// two-factor authentication refuses workspace tokens to members without it
// on every path: the API route and the token endpoint's token exchange.
func TestWorkspaceTokenRequiresOrgMFA(t *testing.T) {
	ts := startServer(t, "")
	_, tok := ts.user("admin@example.com")
	var org, ws struct{ ID string }
	ts.do("POST", "/api/v1/organizations", tok, map[string]string{"name": "Strict"}).json(t, &org)
	ts.do("POST", "/api/v1/organizations/"+org.ID+"/workspaces", tok, map[string]string{"name": "web"}).json(t, &ws)
	path := "/api/v1/organizations/" + org.ID + "/workspaces/" + ws.ID + "/token"
	exch := url.Values{"grant_type": {issuer.GrantTokenExchange}, "subject_token": {tok},
		"subject_token_type": {issuer.TokenTypeAccessToken}, "audience": {ws.ID}}

	// Before the requirement both paths answer.
	if a := ts.do("POST", path, tok, nil); a.status != 200 {
		t.Fatalf("route before require_2fa: %d %s", a.status, a.body)
	}
	if a := ts.form("/auth/token", exch); a.status != 200 {
		t.Fatalf("exchange before require_2fa: %d %s", a.status, a.body)
	}

	ctx := context.Background()
	_, err := ts.st.UpdateOrganization(ctx, org.ID, func(o store.Organization) (store.Organization, error) {
		o.Require2FA = true
		return o, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if a := ts.do("POST", path, tok, nil); a.status != 403 {
		t.Fatalf("route with require_2fa: %d %s", a.status, a.body)
	}
	a := ts.form("/auth/token", exch)
	if a.status != 400 {
		t.Fatalf("exchange with require_2fa: %d %s", a.status, a.body)
	}
	var e struct{ Error string }
	a.json(t, &e)
	if e.Error != "invalid_target" {
		t.Fatalf("exchange error %q: %s", e.Error, a.body)
	}
}
