package server

import (
	"bytes"
	"context"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/cli"
	"github.com/hexabase/hexabase-ai/internal/identity"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/store/sqlstore"
)

var pngMagic = []byte("\x89PNG\r\n\x1a\n")

// loginAnswer is the union answer of POST /auth/login.
type loginAnswer struct {
	AccessToken  string   `json:"access_token"`
	RefreshToken string   `json:"refresh_token"`
	MFARequired  bool     `json:"mfa_required"`
	MFAToken     string   `json:"mfa_token"`
	Methods      []string `json:"methods"`
}

// doUA is do with a User-Agent (the device fingerprint of sessions and
// mfa tokens).
func (ts *testServer) doUA(method, path, token, ua string, body any) answer {
	ts.t.Helper()
	return ts.doWith(method, path, token, body, http.Header{"User-Agent": {ua}})
}

// code is the TOTP code of secret at the server's clock, moved by steps.
func (ts *testServer) code(secret []byte, steps int) string {
	return identity.TOTPCode(secret, ts.now().Add(time.Duration(steps)*identity.TOTPPeriod))
}

// nextStep moves the server's clock to the next TOTP step, so that a fresh
// code is not a replay of the last one.
func (ts *testServer) nextStep() { ts.offset.Add(int64(identity.TOTPPeriod)) }

// enrol enrols and confirms TOTP for the holder of token; it returns the
// secret and the backup codes.
func (ts *testServer) enrol(token string) ([]byte, []string) {
	t := ts.t
	t.Helper()
	a := ts.do("POST", "/auth/2fa/enroll", token, nil)
	if a.status != 200 {
		t.Fatalf("enroll: %d %s", a.status, a.body)
	}
	var e struct {
		Secret     string `json:"secret"`
		OTPAuthURI string `json:"otpauth_uri"`
		QRPNG      string `json:"qr_png"`
	}
	a.json(t, &e)
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(e.Secret)
	if err != nil || len(secret) != 20 {
		t.Fatalf("secret %q: %v", e.Secret, err)
	}
	a = ts.do("POST", "/auth/2fa/verify", token, map[string]string{"code": ts.code(secret, 0)})
	if a.status != 200 {
		t.Fatalf("verify: %d %s", a.status, a.body)
	}
	var bc struct {
		BackupCodes []string `json:"backup_codes"`
	}
	a.json(t, &bc)
	return secret, bc.BackupCodes
}

func (ts *testServer) passwordLogin(email, ua string) loginAnswer {
	ts.t.Helper()
	a := ts.doUA("POST", "/auth/login", "", ua, map[string]string{"email": email, "password": "password-" + email})
	if a.status != 200 {
		ts.t.Fatalf("login %s: %d %s", email, a.status, a.body)
	}
	var la loginAnswer
	a.json(ts.t, &la)
	return la
}

// wantProblem checks status, the problem type suffix and (if field is not
// empty) that the problem names field.
func wantProblem(t *testing.T, a answer, status int, typ, field string) {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d: %s", a.status, status, a.body)
	}
	p := a.problem(t)
	if typ != "" && p["type"] != "https://hexabase.ai/problems/"+typ {
		t.Fatalf("problem type %v, want %s: %s", p["type"], typ, a.body)
	}
	if field != "" && !strings.Contains(string(a.body), `"field":"`+field+`"`) {
		t.Fatalf("problem does not name field %q: %s", field, a.body)
	}
}

func TestTwoFactorFlow(t *testing.T) {
	ts := startServer(t, "")
	const email, ua = "alice@example.com", "hks-test/1"
	u, tok := ts.user(email)
	db := ts.st.(*sqlstore.Store).DB()

	// Every 2FA route needs a signed-in caller.
	for _, r := range [][2]string{{"GET", "/auth/2fa"}, {"POST", "/auth/2fa/enroll"}, {"GET", "/auth/2fa/qr.png"},
		{"POST", "/auth/2fa/verify"}, {"POST", "/auth/2fa/disable"}, {"POST", "/auth/2fa/backup-codes"}} {
		if a := ts.do(r[0], r[1], "", nil); a.status != 401 {
			t.Errorf("%s %s without token: %d", r[0], r[1], a.status)
		}
	}

	var st api.MFAStatus
	ts.do("GET", "/auth/2fa", tok, nil).json(t, &st)
	if st.Enabled || st.Pending {
		t.Fatalf("fresh user status %+v", st)
	}
	wantProblem(t, ts.do("POST", "/auth/2fa/verify", tok, map[string]string{"code": "123456"}), 409, "conflict", "")
	wantProblem(t, ts.do("GET", "/auth/2fa/qr.png", tok, nil), 404, "not-found", "")
	wantProblem(t, ts.do("POST", "/auth/2fa/backup-codes", tok, map[string]string{"code": "123456"}), 409, "conflict", "")

	// Enrolment: secret, otpauth URI and QR code, the secret sealed at rest.
	a := ts.do("POST", "/auth/2fa/enroll", tok, nil)
	if a.status != 200 || a.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("enroll: %d %v %s", a.status, a.header, a.body)
	}
	var e api.TOTPEnrollment
	a.json(t, &e)
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(e.Secret)
	if err != nil || len(secret) != identity.TOTPSecretLen {
		t.Fatalf("secret %q: %v", e.Secret, err)
	}
	if e.OTPAuthURI != identity.TOTPURI(secret, email) || !strings.HasPrefix(e.OTPAuthURI, "otpauth://totp/Hexabase%20AI:alice@example.com?") {
		t.Fatalf("otpauth uri %s", e.OTPAuthURI)
	}
	if png, err := base64.StdEncoding.DecodeString(e.QRPNG); err != nil || !bytes.HasPrefix(png, pngMagic) {
		t.Fatalf("qr_png is not a base64 PNG: %v", err)
	}
	a = ts.do("GET", "/auth/2fa/qr.png", tok, nil)
	if a.status != 200 || a.header.Get("Content-Type") != "image/png" || !bytes.HasPrefix(a.body, pngMagic) {
		t.Fatalf("qr.png: %d %s", a.status, a.header.Get("Content-Type"))
	}
	var raw []byte
	if err := db.QueryRowContext(t.Context(), "SELECT secret FROM user_mfa WHERE user_id = ?", u.ID).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if len(raw) == 0 || bytes.Contains(raw, secret) || bytes.Contains(raw, []byte(e.Secret)) || bytes.Contains(bytes.ToUpper(raw), []byte(e.Secret)) {
		t.Fatalf("the TOTP secret is stored in clear: %x", raw)
	}
	ts.do("GET", "/auth/2fa", tok, nil).json(t, &st)
	if st.Enabled || !st.Pending {
		t.Fatalf("pending status %+v", st)
	}

	// Confirmation: bad input, a wrong code, then the right one.
	wantProblem(t, ts.do("POST", "/auth/2fa/verify", tok, map[string]string{}), 422, "validation", "code")
	wantProblem(t, ts.do("POST", "/auth/2fa/verify", tok, map[string]any{"code": 123456}), 422, "validation", "code")
	wantProblem(t, ts.do("POST", "/auth/2fa/verify", tok, map[string]string{"code": ts.code(secret, 5)}), 422, "invalid-mfa-code", "code")
	a = ts.do("POST", "/auth/2fa/verify", tok, map[string]string{"code": ts.code(secret, 0)})
	if a.status != 200 || a.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("verify: %d %s", a.status, a.body)
	}
	var bc api.BackupCodes
	a.json(t, &bc)
	seen := map[string]bool{}
	for _, c := range bc.BackupCodes {
		if len(c) != 11 || c[5] != '-' || seen[c] {
			t.Fatalf("backup codes %v", bc.BackupCodes)
		}
		seen[c] = true
	}
	if len(seen) != identity.BackupCodeCount {
		t.Fatalf("%d backup codes, want 10", len(seen))
	}
	rows, err := db.QueryContext(t.Context(), "SELECT code_hash FROM mfa_backup_codes WHERE user_id = ?", u.ID)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			t.Fatal(err)
		}
		n++
		for c := range seen {
			if strings.Contains(h, c) || strings.Contains(h, strings.ReplaceAll(c, "-", "")) {
				t.Fatalf("backup code %s stored in clear", c)
			}
		}
	}
	rows.Close()
	if n != 10 {
		t.Fatalf("%d stored backup codes", n)
	}
	wantProblem(t, ts.do("POST", "/auth/2fa/enroll", tok, nil), 409, "conflict", "")
	wantProblem(t, ts.do("GET", "/auth/2fa/qr.png", tok, nil), 404, "not-found", "")
	ts.do("GET", "/auth/2fa", tok, nil).json(t, &st)
	if !st.Enabled || st.Pending || st.BackupCodesLeft != 10 || len(st.Methods) != 2 {
		t.Fatalf("enabled status %+v", st)
	}

	// A correct password no longer gives tokens.
	la := ts.passwordLogin(email, ua)
	if !la.MFARequired || la.MFAToken == "" || la.AccessToken != "" || la.RefreshToken != "" ||
		strings.Join(la.Methods, ",") != "totp,backup_code" {
		t.Fatalf("login with 2FA: %+v", la)
	}
	if _, err := ts.identity.Login(context.Background(), email, "password-"+email, identity.ClientMeta{UserAgent: ua}); !errors.Is(err, identity.ErrMFARequired) {
		t.Fatalf("Login for a 2FA user: %v, want ErrMFARequired", err)
	}
	mfa := func(token, code string) answer {
		return ts.doUA("POST", "/auth/login/mfa", "", ua, map[string]string{"mfa_token": token, "code": code})
	}
	// The code that confirmed the enrolment is spent: a replay.
	wantProblem(t, mfa(la.MFAToken, ts.code(secret, 0)), 401, "invalid-mfa-code", "code")
	wantProblem(t, mfa(la.MFAToken, ts.code(secret, 5)), 401, "invalid-mfa-code", "code")
	wantProblem(t, ts.doUA("POST", "/auth/login/mfa", "", ua, map[string]string{}), 422, "validation", "mfa_token")
	wantProblem(t, ts.doUA("POST", "/auth/login/mfa", "", ua, map[string]string{"mfa_token": la.MFAToken}), 422, "validation", "code")
	wantProblem(t, mfa("not-a-token", "123456"), 401, "unauthorized", "mfa_token")
	// Another client cannot use the token.
	ts.nextStep()
	code := ts.code(secret, 0)
	a = ts.doUA("POST", "/auth/login/mfa", "", "other-agent/2", map[string]string{"mfa_token": la.MFAToken, "code": code})
	wantProblem(t, a, 401, "unauthorized", "mfa_token")
	a = mfa(la.MFAToken, code)
	if a.status != 200 || a.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("login/mfa: %d %s", a.status, a.body)
	}
	var tp api.TokenPair
	a.json(t, &tp)
	if tp.AccessToken == "" || tp.RefreshToken == "" {
		t.Fatalf("tokens %+v", tp)
	}
	if a := ts.do("GET", "/auth/me", tp.AccessToken, nil); a.status != 200 {
		t.Fatalf("me with the 2FA session: %d", a.status)
	}
	// The mfa_token is single use; the same code is a replay.
	wantProblem(t, mfa(la.MFAToken, ts.code(secret, 1)), 401, "unauthorized", "mfa_token")
	la = ts.passwordLogin(email, ua)
	a = mfa(la.MFAToken, code)
	wantProblem(t, a, 401, "invalid-mfa-code", "code")
	if !strings.Contains(string(a.body), "used already") {
		t.Fatalf("replay detail: %s", a.body)
	}

	// A backup code works once, in any case and without the dash.
	backup := bc.BackupCodes[0]
	a = mfa(la.MFAToken, strings.ToUpper(strings.ReplaceAll(backup, "-", "")))
	if a.status != 200 {
		t.Fatalf("backup code: %d %s", a.status, a.body)
	}
	la = ts.passwordLogin(email, ua)
	wantProblem(t, mfa(la.MFAToken, backup), 401, "invalid-mfa-code", "code")
	ts.do("GET", "/auth/2fa", tok, nil).json(t, &st)
	if st.BackupCodesLeft != 9 {
		t.Fatalf("backup codes left %d, want 9", st.BackupCodesLeft)
	}

	// Five attempts kill a token, even for the right code after them
	// (la has had one).
	for range identity.MaxMFAAttempts - 1 {
		wantProblem(t, mfa(la.MFAToken, "000000x"), 401, "invalid-mfa-code", "code")
	}
	ts.nextStep()
	wantProblem(t, mfa(la.MFAToken, ts.code(secret, 0)), 401, "unauthorized", "mfa_token")

	// Tokens expire after five minutes.
	la = ts.passwordLogin(email, ua)
	ts.offset.Add(int64(identity.MFAChallengeTTL + time.Second))
	wantProblem(t, mfa(la.MFAToken, ts.code(secret, 0)), 401, "unauthorized", "mfa_token")

	// New backup codes need a current code and replace the old ones.
	wantProblem(t, ts.do("POST", "/auth/2fa/backup-codes", tok, map[string]string{"code": "zzzzz-zzzzz"}), 422, "invalid-mfa-code", "code")
	ts.nextStep()
	a = ts.do("POST", "/auth/2fa/backup-codes", tok, map[string]string{"code": ts.code(secret, 0)})
	if a.status != 200 {
		t.Fatalf("backup-codes: %d %s", a.status, a.body)
	}
	var bc2 api.BackupCodes
	a.json(t, &bc2)
	if len(bc2.BackupCodes) != 10 || bc2.BackupCodes[0] == bc.BackupCodes[1] {
		t.Fatalf("new backup codes %v", bc2.BackupCodes)
	}
	la = ts.passwordLogin(email, ua)
	wantProblem(t, mfa(la.MFAToken, bc.BackupCodes[1]), 401, "invalid-mfa-code", "code")

	// The CLI asks for the second factor.
	hc := &http.Client{Timeout: 30 * time.Second}
	if _, err := cli.Login(t.Context(), hc, ts.URL(), email, "password-"+email); !errors.Is(err, cli.ErrOTPRequired) {
		t.Fatalf("cli.Login for a 2FA account: %v, want ErrOTPRequired", err)
	}
	if _, err := cli.LoginWithOTP(t.Context(), hc, ts.URL(), email, "password-"+email, "", func() (string, error) { return "000000", nil }); err == nil {
		t.Fatal("cli login with a wrong code succeeded")
	}
	ts.nextStep()
	creds, err := cli.LoginWithOTP(t.Context(), hc, ts.URL(), email, "password-"+email, "", func() (string, error) { return ts.code(secret, 0), nil })
	if err != nil || creds.AccessToken == "" || creds.RefreshToken == "" {
		t.Fatalf("cli login with otp: %+v %v", creds, err)
	}
	if a := ts.do("GET", "/auth/me", creds.AccessToken, nil); a.status != 200 {
		t.Fatalf("me with the cli's token: %d", a.status)
	}

	// Disabling needs a current code, a backup code or the password.
	wantProblem(t, ts.do("POST", "/auth/2fa/disable", tok, map[string]string{}), 422, "validation", "code")
	wantProblem(t, ts.do("POST", "/auth/2fa/disable", tok, map[string]string{"code": "123456", "password": "x"}), 422, "validation", "code")
	wantProblem(t, ts.do("POST", "/auth/2fa/disable", tok, map[string]string{"password": "wrong password"}), 422, "invalid-credentials", "password")
	wantProblem(t, ts.do("POST", "/auth/2fa/disable", tok, map[string]string{"code": ts.code(secret, 0)}), 422, "invalid-mfa-code", "code") // spent step
	wantProblem(t, ts.do("POST", "/auth/2fa/disable", tok, map[string]string{"code": bc.BackupCodes[2]}), 422, "invalid-mfa-code", "code")  // replaced
	if a := ts.do("POST", "/auth/2fa/disable", tok, map[string]string{"password": "password-" + email}); a.status != 204 {
		t.Fatalf("disable with password: %d %s", a.status, a.body)
	}
	ts.do("GET", "/auth/2fa", tok, nil).json(t, &st)
	if st.Enabled || st.Pending || st.BackupCodesLeft != 0 {
		t.Fatalf("disabled status %+v", st)
	}
	wantProblem(t, ts.do("POST", "/auth/2fa/disable", tok, map[string]string{"password": "password-" + email}), 409, "conflict", "")
	if la := ts.passwordLogin(email, ua); la.MFARequired || la.AccessToken == "" {
		t.Fatalf("login after disabling 2FA: %+v", la)
	}

	// Disabling with a backup code, after enrolling again.
	_, codes := ts.enrol(tok)
	if a := ts.do("POST", "/auth/2fa/disable", tok, map[string]string{"code": codes[9]}); a.status != 204 {
		t.Fatalf("disable with backup code: %d %s", a.status, a.body)
	}
}

func TestOrganizationRequires2FA(t *testing.T) {
	ts := startServer(t, "")
	_, ownerTok := ts.user("owner@example.com")
	admin, adminTok := ts.user("admin@example.com")
	member, memberTok := ts.user("member@example.com")
	_, outsiderTok := ts.user("outsider@example.com")

	var org struct {
		ID         string `json:"id"`
		Require2FA bool   `json:"require_2fa"`
	}
	ts.do("POST", "/api/v1/organizations", ownerTok, map[string]string{"name": "Strict Co", "slug": "strict"}).decode(t, 201, &org)
	if org.Require2FA {
		t.Fatal("new organization requires 2FA")
	}
	now := time.Now().UTC()
	for _, m := range []store.OrgMember{{UserID: admin.ID, Role: store.RoleAdmin}, {UserID: member.ID, Role: store.RoleMember}} {
		m.OrgID, m.CreatedAt = org.ID, now
		if err := ts.st.AddOrgMember(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	path := "/api/v1/organizations/" + org.ID
	on := map[string]any{"require_2fa": true}

	wantProblem(t, ts.do("PATCH", path, adminTok, on), 403, "forbidden", "")
	wantProblem(t, ts.do("PATCH", path, ownerTok, map[string]any{"require_2fa": "yes"}), 422, "validation", "require_2fa")
	// The owner must have 2FA before requiring it.
	wantProblem(t, ts.do("PATCH", path, ownerTok, on), 422, "validation", "require_2fa")
	ts.enrol(ownerTok)
	ts.do("PATCH", path, ownerTok, on).decode(t, 200, &org)
	if !org.Require2FA {
		t.Fatalf("require_2fa not set: %+v", org)
	}

	// A member without 2FA may read the organization (to learn why) and
	// nothing else in it; an outsider still sees nothing.
	a := ts.do("GET", path, memberTok, nil)
	if a.status != 200 || !strings.Contains(string(a.body), `"require_2fa":true`) {
		t.Fatalf("member reads the organization: %d %s", a.status, a.body)
	}
	for _, r := range [][2]string{{"GET", path + "/members"}, {"GET", path + "/workspaces"}, {"PATCH", path}} {
		var body any
		if r[0] == "PATCH" {
			body = map[string]string{"name": "x"}
		}
		a := ts.do(r[0], r[1], memberTok, body)
		wantProblem(t, a, 403, "mfa-required", "")
		if !strings.Contains(a.problem(t)["detail"].(string), "requires two-factor authentication") {
			t.Fatalf("detail: %s", a.body)
		}
	}
	wantProblem(t, ts.do("GET", path+"/members", outsiderTok, nil), 404, "not-found", "")
	wantProblem(t, ts.do("GET", path+"/members", adminTok, nil), 403, "mfa-required", "")
	if a := ts.do("GET", path+"/members", ownerTok, nil); a.status != 200 {
		t.Fatalf("owner with 2FA: %d %s", a.status, a.body)
	}
	// Listing organizations is not an organization's resource.
	if a := ts.do("GET", "/api/v1/organizations", memberTok, nil); a.status != 200 {
		t.Fatalf("list organizations: %d", a.status)
	}

	// Enrolling admits the member.
	ts.enrol(memberTok)
	if a := ts.do("GET", path+"/members", memberTok, nil); a.status != 200 {
		t.Fatalf("member after enrolling: %d %s", a.status, a.body)
	}

	// A member without 2FA may leave; removing someone else is refused.
	other, _ := ts.user("leaver@example.com")
	if err := ts.st.AddOrgMember(context.Background(), store.OrgMember{OrgID: org.ID, UserID: other.ID, Role: store.RoleMember, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	wantProblem(t, ts.do("DELETE", path+"/members/"+other.ID, adminTok, nil), 403, "mfa-required", "")
	if a := ts.do("DELETE", path+"/members/"+admin.ID, adminTok, nil); a.status != 204 {
		t.Fatalf("admin without 2FA leaves: %d %s", a.status, a.body)
	}
	if a := ts.do("GET", path+"/members", adminTok, nil); a.status != 404 {
		t.Fatalf("former member: %d %s", a.status, a.body)
	}

	// The owner turns it off again; a member without 2FA is admitted.
	a = ts.do("PATCH", path, ownerTok, map[string]any{"require_2fa": false})
	if a.status != 200 || !strings.Contains(string(a.body), `"require_2fa":false`) {
		t.Fatalf("turn off: %d %s", a.status, a.body)
	}
	if a := ts.do("DELETE", path+"/members/"+other.ID, ownerTok, nil); a.status != 204 {
		t.Fatalf("owner removes a member: %d %s", a.status, a.body)
	}
	if err := ts.st.AddOrgMember(context.Background(), store.OrgMember{OrgID: org.ID, UserID: admin.ID, Role: store.RoleAdmin, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if a := ts.do("GET", path+"/members", adminTok, nil); a.status != 200 {
		t.Fatalf("admin after require_2fa off: %d %s", a.status, a.body)
	}
}
