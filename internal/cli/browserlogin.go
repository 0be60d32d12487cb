package cli

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/oauth2"
)

// CLIClientID is the OAuth client id of hks at its server.
const CLIClientID = "hks-cli"

// BrowserLoginOptions configure BrowserLogin and DeviceLogin.
type BrowserLoginOptions struct {
	Server string
	HTTP   *http.Client
	// Out receives the URL to open (and the device's user code).
	Out io.Writer
	// OpenURL opens a URL in the user's browser (default: xdg-open,
	// open or rundll32; its failure is not fatal, the URL is printed).
	OpenURL func(url string) error
	// Timeout bounds the whole sign-in (default 5 minutes; the device
	// grant also ends when its code expires).
	Timeout time.Duration
}

func (o BrowserLoginOptions) oauth2Config(redirect string) *oauth2.Config {
	s := strings.TrimSuffix(o.Server, "/")
	return &oauth2.Config{
		ClientID: CLIClientID,
		Endpoint: oauth2.Endpoint{AuthURL: s + "/auth/authorize", TokenURL: s + "/auth/token", DeviceAuthURL: s + "/auth/device/code",
			AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL: redirect,
		Scopes:      []string{"openid", "email", "groups", "offline_access"},
	}
}

func (o BrowserLoginOptions) context(ctx context.Context) (context.Context, context.CancelFunc) {
	t := o.Timeout
	if t <= 0 {
		t = 5 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, t)
	if o.HTTP != nil {
		ctx = context.WithValue(ctx, oauth2.HTTPClient, o.HTTP)
	}
	return ctx, cancel
}

func credentialsOf(server string, tok *oauth2.Token) (Credentials, error) {
	if tok.AccessToken == "" || tok.RefreshToken == "" {
		return Credentials{}, errors.New("the server answered without tokens")
	}
	exp := tok.Expiry
	if exp.IsZero() {
		exp = time.Now().Add(time.Minute)
	}
	return Credentials{Server: strings.TrimSuffix(server, "/"), AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, ExpiresAt: exp}, nil
}

// oauthError makes an OAuth refusal readable without the HTTP dump.
func oauthError(what string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.ErrorCode != "" {
		if re.ErrorDescription != "" {
			return fmt.Errorf("%s: %s: %s", what, re.ErrorCode, re.ErrorDescription)
		}
		return fmt.Errorf("%s: %s", what, re.ErrorCode)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// BrowserLogin signs in with the OAuth authorization code grant and PKCE
// S256: it listens on a loopback port, opens the server's authorization
// page in the browser (and prints its URL, for machines without one),
// waits for the redirect, checks the state and trades the code.
func BrowserLogin(ctx context.Context, o BrowserLoginOptions) (Credentials, error) {
	ctx, cancel := o.context(ctx)
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return Credentials{}, fmt.Errorf("listen for the browser: %w", err)
	}
	redirect := "http://" + ln.Addr().String() + "/callback"
	cfg := o.oauth2Config(redirect)
	verifier := oauth2.GenerateVerifier()
	state, err := randomState()
	if err != nil {
		return Credentials{}, err
	}
	type result struct {
		code string
		err  error
	}
	done := make(chan result, 1)
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" {
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query()
		var res result
		switch {
		case subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1:
			// Not our request (or forged): ignore it and keep waiting.
			http.Error(w, "This sign-in response does not belong to the hks login in progress.", http.StatusBadRequest)
			return
		case q.Get("error") != "":
			res.err = fmt.Errorf("the server refused the sign-in: %s: %s", q.Get("error"), q.Get("error_description"))
		case q.Get("code") == "":
			res.err = errors.New("the server sent no code")
		default:
			res.code = q.Get("code")
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'")
		if res.err != nil {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, "<!doctype html><title>hks login</title><p>Sign-in failed. See your terminal.</p>")
		} else {
			_, _ = io.WriteString(w, "<!doctype html><title>hks login</title><p>Signed in. You can close this window and return to your terminal.</p>")
		}
		select {
		case done <- res:
		default:
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		sctx, scancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer scancel()
		_ = srv.Shutdown(sctx)
	}()

	authURL := cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	fmt.Fprintf(out, "Opening the browser to sign in. If it does not open, visit:\n\n  %s\n\n", authURL)
	open := o.OpenURL
	if open == nil {
		open = openBrowser
	}
	if err := open(authURL); err != nil {
		fmt.Fprintf(out, "(could not open a browser: %v)\n", err)
	}
	var res result
	select {
	case res = <-done:
	case <-ctx.Done():
		return Credentials{}, fmt.Errorf("waiting for the browser: %w", ctx.Err())
	}
	if res.err != nil {
		return Credentials{}, res.err
	}
	tok, err := cfg.Exchange(ctx, res.code, oauth2.VerifierOption(verifier))
	if err != nil {
		return Credentials{}, oauthError("trade the code", err)
	}
	return credentialsOf(o.Server, tok)
}

// DeviceLogin signs in with the OAuth device authorization grant (RFC
// 8628): it prints a user code and the page to enter it at, and polls the
// server (respecting its interval and slow_down) until the user approves,
// denies, or the code expires.
func DeviceLogin(ctx context.Context, o BrowserLoginOptions) (Credentials, error) {
	if o.Timeout <= 0 {
		o.Timeout = 15 * time.Minute // the code's own expiry ends it sooner
	}
	ctx, cancel := o.context(ctx)
	defer cancel()
	cfg := o.oauth2Config("")
	da, err := cfg.DeviceAuth(ctx)
	if err != nil {
		return Credentials{}, oauthError("start device sign-in", err)
	}
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	fmt.Fprintf(out, "To sign in, visit %s and enter the code:\n\n  %s\n\n", da.VerificationURI, da.UserCode)
	if da.VerificationURIComplete != "" {
		fmt.Fprintf(out, "or open %s\n\n", da.VerificationURIComplete)
	}
	fmt.Fprintln(out, "Waiting for approval…")
	tok, err := cfg.DeviceAccessToken(ctx, da)
	if err != nil {
		return Credentials{}, oauthError("device sign-in", err)
	}
	return credentialsOf(o.Server, tok)
}

func randomState() (string, error) {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// openBrowser opens url with the platform's opener.
func openBrowser(url string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", url)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		cmd = exec.Command("xdg-open", url)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }()
	return nil
}

// browserLogin is `hks login` without --email: the browser sign-in, or the
// device sign-in with --device; it stores the credentials.
func browserLogin(cmd *cobra.Command, server, caFile string, device bool) error {
	login := BrowserLogin
	if device {
		login = DeviceLogin
	}
	creds, err := signIn(caFile, func(hc *http.Client) (Credentials, error) {
		return login(cmd.Context(), BrowserLoginOptions{Server: server, HTTP: hc, Out: cmd.ErrOrStderr()})
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "Logged in to %s\n", creds.Server)
	return nil
}
