package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	utilnet "k8s.io/apimachinery/pkg/util/net"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/fsutil"
)

// Credentials are what `hks login` stores.
type Credentials struct {
	Server       string    `json:"server"`
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token"`
	ExpiresAt    time.Time `json:"expires_at"`
	// CA is the PEM of the server's CA, from `hks login --ca-file`.
	CA string `json:"ca,omitempty"`
	// DeviceToken is the server's device token of this client, sent at
	// the next password sign-in: it exempts this client from the
	// account's lockout by other clients' failures.
	DeviceToken string `json:"device_token,omitempty"`
}

// ConfigDir is where the CLI keeps its files: $HKS_CONFIG_DIR, or hks in the
// user config dir.
func ConfigDir() (string, error) {
	if d := os.Getenv("HKS_CONFIG_DIR"); d != "" {
		return d, nil
	}
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the user config dir: %w", err)
	}
	return filepath.Join(d, "hks"), nil
}

func credentialsPath() (string, error) {
	d, err := ConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "credentials.json"), nil
}

// LoadCredentials reads the stored credentials.
func LoadCredentials() (Credentials, error) {
	var c Credentials
	p, err := credentialsPath()
	if err != nil {
		return c, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return c, errors.New("not logged in: run `hks login` first")
	}
	if err != nil {
		return c, fmt.Errorf("read credentials: %w", err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("read credentials %s: %w", p, err)
	}
	return c, nil
}

// SaveCredentials writes credentials with mode 0600 (dir 0700), atomically.
func SaveCredentials(c Credentials) error {
	p, err := credentialsPath()
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	if err := fsutil.WritePrivate(p, b); err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	return nil
}

// RemoveCredentials deletes the stored credentials.
func RemoveCredentials() error {
	p, err := credentialsPath()
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// APIError is a problem+json answer.
type APIError struct {
	Status int
	Type   string `json:"type"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
	Errors []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
	RequestID string `json:"request_id"`
	// Location is the answer's Location header: a 409 for a stale plan
	// names the fresh plan there.
	Location string `json:"-"`
}

func (e *APIError) Error() string {
	msg := e.Detail
	if msg == "" {
		msg = e.Title
	}
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	// The field errors follow, but not one that only repeats the detail
	// (a single invalid field is the detail itself).
	var parts []string
	for _, fe := range e.Errors {
		text := fe.Message
		if fe.Field != "" {
			text = fe.Field + ": " + fe.Message
		}
		if fe.Message == e.Detail || text == e.Detail || (len(fe.Message) >= 20 && strings.Contains(e.Detail, fe.Message)) {
			continue // a build error's message is already the detail's
		}
		parts = append(parts, text)
	}
	if len(parts) > 0 {
		msg += " (" + strings.Join(parts, "; ") + ")"
	}
	if e.Status >= 500 && e.RequestID != "" {
		// The answer asks to quote it.
		return fmt.Sprintf("%s (HTTP %d, request id %s)", msg, e.Status, e.RequestID)
	}
	return fmt.Sprintf("%s (HTTP %d)", msg, e.Status)
}

// Client calls the hks API with stored credentials, refreshing them when
// the access token has expired.
type Client struct {
	HTTP  *http.Client
	Creds Credentials
	// Save persists refreshed credentials (SaveCredentials by default).
	Save func(Credentials) error
	// Warnings receives the answers' warnings (Warning headers) as
	// `Warning: text` lines, as kubectl prints them (os.Stderr by
	// default; nil drops them).
	Warnings io.Writer
}

// NewClient loads the stored credentials; server, if set, overrides theirs.
func NewClient(server string) (*Client, error) {
	c, err := LoadCredentials()
	if err != nil {
		return nil, err
	}
	if server != "" && strings.TrimSuffix(server, "/") != c.Server {
		return nil, fmt.Errorf("logged in to %s, not %s: run `hks login --server %s`", c.Server, server, server)
	}
	hc, err := HTTPClient(c.CA, 60*time.Second)
	if err != nil {
		return nil, fmt.Errorf("stored credentials: %w", err)
	}
	return &Client{HTTP: hc, Creds: c, Save: SaveCredentials, Warnings: os.Stderr}, nil
}

// ErrOTPRequired: the account has two-factor authentication and no code
// was given.
var ErrOTPRequired = errors.New("this account has two-factor authentication: give a code with --otp CODE (a TOTP or backup code)")

// Login signs in with email and password and returns credentials. It
// fails with ErrOTPRequired for an account with two-factor authentication;
// see LoginWithOTP.
func Login(ctx context.Context, hc *http.Client, server, email, password string) (Credentials, error) {
	return LoginWithOTP(ctx, hc, server, email, password, "", nil)
}

// LoginWithOTP is Login that sends deviceToken (the DeviceToken of earlier
// credentials, may be "") and, when the server asks for the second
// factor, calls otp for a TOTP or backup code (nil otp: ErrOTPRequired).
func LoginWithOTP(ctx context.Context, hc *http.Client, server, email, password, deviceToken string, otp func() (string, error)) (Credentials, error) {
	server = strings.TrimSuffix(server, "/")
	var tr api.LoginResponse
	if err := do(ctx, hc, server, http.MethodPost, "/auth/login", "", api.LoginRequest{Email: email, Password: password, DeviceToken: deviceToken}, &tr); err != nil {
		return Credentials{}, err
	}
	if tr.MFARequired {
		if otp == nil {
			return Credentials{}, ErrOTPRequired
		}
		code, err := otp()
		if err != nil {
			return Credentials{}, err
		}
		if code == "" {
			return Credentials{}, ErrOTPRequired
		}
		// The device token comes with the completed sign-in.
		req := api.LoginMFARequest{MFAToken: tr.MFAToken, Code: code, DeviceToken: deviceToken}
		tr = api.LoginResponse{}
		if err := do(ctx, hc, server, http.MethodPost, "/auth/login/mfa", "", req, &tr); err != nil {
			return Credentials{}, err
		}
	}
	device := tr.DeviceToken
	if device == "" {
		device = deviceToken // an older server: keep the one we had
	}
	return Credentials{Server: server, AccessToken: tr.AccessToken, RefreshToken: tr.RefreshToken,
		ExpiresAt: time.Now().Add(time.Duration(tr.ExpiresIn) * time.Second), DeviceToken: device}, nil
}

func (c *Client) refresh(ctx context.Context) error {
	if c.Save != nil {
		// Several hks processes (kubectl runs its credential plugin in
		// parallel) share one credentials file. A refresh token is spent
		// on use and a second use revokes the session, so refresh under
		// an exclusive lock, and take another process's fresh tokens
		// instead of refreshing again.
		unlock, err := lockCredentials()
		if err != nil {
			return err
		}
		defer unlock()
		if cur, err := LoadCredentials(); err == nil && cur.Server == c.Creds.Server &&
			cur.RefreshToken != c.Creds.RefreshToken && time.Until(cur.ExpiresAt) > 30*time.Second {
			c.Creds = cur
			return nil
		}
	}
	var tr api.TokenPair
	if err := do(ctx, c.HTTP, c.Creds.Server, http.MethodPost, "/auth/refresh", "", api.RefreshRequest{RefreshToken: c.Creds.RefreshToken}, &tr); err != nil {
		return fmt.Errorf("refresh the session (run `hks login` again): %w", err)
	}
	c.Creds.AccessToken, c.Creds.RefreshToken = tr.AccessToken, tr.RefreshToken
	c.Creds.ExpiresAt = time.Now().Add(time.Duration(tr.ExpiresIn) * time.Second)
	if c.Save != nil {
		return c.Save(c.Creds)
	}
	return nil
}

// Do calls the API; out, if non-nil, receives the JSON answer. A 404 for
// an organization, workspace, project or group names the reference the
// path gave.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	err := c.withToken(ctx, func() error {
		return do(ctx, c.HTTP, c.Creds.Server, method, path, c.Creds.AccessToken, in, out, c.Warnings)
	})
	var ae *APIError
	if errors.As(err, &ae) {
		ae.nameReference(path)
	}
	return err
}

// withToken runs call with a fresh access token: it refreshes the session
// first when the token is about to expire, and once more, calling again,
// when the server answers 401.
func (c *Client) withToken(ctx context.Context, call func() error) error {
	if time.Until(c.Creds.ExpiresAt) < 30*time.Second {
		if err := c.refresh(ctx); err != nil {
			return err
		}
	}
	err := call()
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
		if rerr := c.refresh(ctx); rerr != nil {
			return rerr
		}
		err = call()
	}
	return err
}

// collections are the path segments before a reference to each kind the
// server resolves by id or name.
var collections = map[string]string{"organization": "organizations", "workspace": "workspaces", "project": "projects", "group": "groups", "function": "functions"}

// nameReference rewrites the server's "workspace not found" as
// `workspace "web" not found`, with the reference path gave for it (an id
// or a name, as the user typed it).
func (e *APIError) nameReference(path string) {
	what, ok := strings.CutSuffix(e.Detail, " not found")
	coll := collections[what]
	if e.Status != http.StatusNotFound || !ok || coll == "" {
		return
	}
	path, _, _ = strings.Cut(path, "?")
	segs := strings.Split(path, "/")
	for i := len(segs) - 2; i >= 0; i-- {
		if segs[i] == coll {
			ref, err := url.PathUnescape(segs[i+1])
			if err != nil {
				ref = segs[i+1]
			}
			e.Detail = fmt.Sprintf("%s %q not found", what, ref)
			return
		}
	}
}

// do calls the API; the answer's warnings, if warnings is not nil, are
// written to it.
func do(ctx context.Context, hc *http.Client, server, method, path, token string, in, out any, warnings ...io.Writer) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	u, err := url.Parse(server + path)
	if err != nil {
		return fmt.Errorf("server URL: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("call %s: %w", server, err)
	}
	defer resp.Body.Close()
	for _, w := range warnings {
		printWarnings(w, resp.Header)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode >= 400 {
		return apiErrorOf(resp, b)
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("decode answer: %w", err)
		}
	}
	return nil
}

// apiError is the APIError of an error answer with body b.
func apiError(status int, b []byte) *APIError {
	ae := &APIError{Status: status}
	_ = json.Unmarshal(b, ae)
	return ae
}

// apiErrorOf is the APIError of the error answer resp, whose body is b.
func apiErrorOf(resp *http.Response, b []byte) *APIError {
	ae := apiError(resp.StatusCode, b)
	ae.Location = resp.Header.Get("Location")
	return ae
}

// printWarnings writes the Warning headers of h (RFC 7234 form, as the
// Kubernetes API and hks send them: `299 - "text"`) to w, one
// `Warning: text` line each, as kubectl does. A header that cannot be
// read is printed as it came.
func printWarnings(w io.Writer, h http.Header) {
	if w == nil {
		return
	}
	for _, v := range h.Values("Warning") {
		ws, errs := utilnet.ParseWarningHeaders([]string{v})
		if len(errs) > 0 || len(ws) == 0 {
			fmt.Fprintf(w, "Warning: %s\n", v)
			continue
		}
		for _, x := range ws {
			fmt.Fprintf(w, "Warning: %s\n", x.Text)
		}
	}
}
