package federation

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"golang.org/x/oauth2"
)

// maxAPIBody bounds what is read from a provider's API.
const maxAPIBody = 1 << 20

// exchangeGitHub trades the code for a GitHub access token and reads the
// user's id and primary verified email from the REST API (GitHub is OAuth
// 2.0, not OIDC: there is no ID token).
func (s *Service) exchangeGitHub(ctx context.Context, p *provider, code string, st flowState) (external, error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, s.client)
	tok, err := p.oauth.Exchange(ctx, code, oauth2.VerifierOption(st.Verifier))
	if err != nil {
		return external{}, exchangeError(err)
	}
	api := strings.TrimSuffix(p.cfg.GitHubAPIURL, "/")
	client := p.oauth.Client(ctx, tok)
	var user struct {
		ID int64 `json:"id"`
	}
	if err := getJSON(ctx, client, api+"/user", &user); err != nil {
		return external{}, badGateway("GitHub's user API failed; try again later", err)
	}
	if user.ID <= 0 {
		return external{}, badGateway("GitHub did not identify the user", nil)
	}
	var emails []struct {
		Email    string `json:"email"`
		Primary  bool   `json:"primary"`
		Verified bool   `json:"verified"`
	}
	if err := getJSON(ctx, client, api+"/user/emails", &emails); err != nil {
		return external{}, badGateway("GitHub's email API failed (the user:email scope is needed); try again later", err)
	}
	ext := external{Subject: strconv.FormatInt(user.ID, 10)}
	for _, e := range emails {
		if e.Primary {
			ext.Email, ext.EmailVerified = e.Email, e.Verified
		}
	}
	return ext, nil
}

func getJSON(ctx context.Context, client *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAPIBody))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	return nil
}
