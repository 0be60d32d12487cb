package tools

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// Test material: not credentials of anything.
const (
	testPEM = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ2hl\nY2sgdGhpcyBpcyBub3QgYSBjZXJ0\n-----END CERTIFICATE-----"
	testKey = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oWHMn\n-----END EC PRIVATE KEY-----"
	testJWT = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6c2hvcDpkZWZhdWx0In0.c2lnbmF0dXJlLWJ5dGVz"
	// base64 of "-----BEGIN CERTIFICATE-----\n…"
	testPEMB64 = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJzekNDQVZtZ0F3SUJBZ0lVUTJobAo="
)

// leaks are what no scrubbed text may contain.
var leaks = []string{"MIIBszCCAVmgAwIBAgIUQ2hl", "MHcCAQEEIBkg4LVWM9nuwNSk3", "c2lnbmF0dXJlLWJ5dGVz", "eyJzdWIiOiJzeXN0", "LS0tLS1CRUdJTi",
	"cGFzc3dvcmQxMjM=", "hunter2", "s3cr3t-t0k3n-value", "QUtJQQ", "Zm9vYmFy"}

func TestScrub(t *testing.T) {
	cases := []struct {
		name string
		in   string
		keep []string // what must stay
	}{
		{"pem certificate", "ca:\n" + testPEM + "\nafter", []string{"ca:", "after", "<redacted: PEM block>"}},
		{"pem private key", "key: |\n  " + strings.ReplaceAll(testKey, "\n", "\n  ") + "\n", []string{"<redacted: PEM block>"}},
		{"pem without end", "x " + testPEM[:60], []string{"x ", "<redacted: PEM block>"}},
		{"pem in a json string", `{"ca.crt":"` + strings.ReplaceAll(testPEM, "\n", `\n`) + `"}`, []string{`"ca.crt"`}},
		{"base64 pem", "certificate-authority-data: " + testPEMB64, []string{"certificate-authority-data: "}},
		{"base64 pem elsewhere", "tls.crt=" + testPEMB64, []string{"tls.crt=", "<redacted: base64 PEM block>"}},
		{"jwt", "token in the log: " + testJWT + " end", []string{"token in the log: ", " end", "<redacted: token>"}},
		{"bearer", "Authorization: Bearer s3cr3t-t0k3n-value", []string{"Authorization: Bearer <redacted>"}},
		{"bearer lowercase", "curl -H 'authorization: bearer s3cr3t-t0k3n-value'", []string{"bearer <redacted>"}},
		{"basic", "Authorization: Basic Zm9vYmFyOmJheg==", []string{"Basic <redacted>"}},
		{"kubeconfig yaml", "users:\n- name: u\n  user:\n    client-key-data: Zm9vYmFy\n    client-certificate-data: Zm9vYmFy\n    token: s3cr3t-t0k3n-value\n",
			[]string{"client-key-data: <redacted>", "client-certificate-data: <redacted>", "token: <redacted>", "- name: u"}},
		{"kubeconfig json", `{"users":[{"name":"u","user":{"token":"s3cr3t-t0k3n-value","client-key-data":"Zm9vYmFy"}}]}`,
			[]string{`"token":"<redacted>"`, `"client-key-data":"<redacted>"`}},
		{"kubeconfig in an escaped string", `{"config":"users:\n- user:\n    token: s3cr3t-t0k3n-value\n"}`, []string{`token: <redacted>`}},
		{"password flag", "connecting with password=hunter2 to db", []string{"password=<redacted>", "to db"}},
		{"api keys", "AWS AKIAIOSFODNN7EXAMPLE github ghp_0123456789abcdefghijklmnopqrstuvwxyzAB", []string{"AWS <redacted: key>", "github <redacted: key>"}},
		{"secret yaml", "apiVersion: v1\ndata:\n  password: cGFzc3dvcmQxMjM=\n  user: YWRtaW4=\nkind: Secret\nmetadata:\n  name: db\n",
			[]string{"password: '<redacted: 11 bytes>'", "user: '<redacted: 5 bytes>'", "name: db"}},
		{"secret yaml stringData block scalar", "apiVersion: v1\nkind: Secret\nstringData:\n  config: |\n    hunter2\n    more\n  k: v\n",
			[]string{"config: '<redacted: 0 bytes>'", "k: '<redacted: 1 bytes>'"}},
		{"secret in a yaml list", "items:\n- apiVersion: v1\n  data:\n    password: cGFzc3dvcmQxMjM=\n  kind: Secret\n- apiVersion: v1\n  data:\n    plain: visible\n  kind: ConfigMap\n",
			[]string{"password: '<redacted: 11 bytes>'", "plain: visible"}},
		{"configmap yaml keeps data", "apiVersion: v1\ndata:\n  plain: visible\nkind: ConfigMap\n", []string{"plain: visible"}},
		{"secret json", `{"apiVersion":"v1","kind":"Secret","data":{"password":"cGFzc3dvcmQxMjM="}}`, []string{`"password":"<redacted: 11 bytes>"`}},
		{"secret list json", `{"kind":"List","items":[{"apiVersion":"v1","kind":"Secret","stringData":{"p":"hunter2"}}]}`, []string{`"p":"<redacted: 7 bytes>"`}},
		{"last-applied in yaml", "metadata:\n  annotations:\n    kubectl.kubernetes.io/last-applied-configuration: |\n      {\"apiVersion\":\"v1\",\"data\":{\"password\":\"cGFzc3dvcmQxMjM=\"},\"kind\":\"Secret\"}\n",
			[]string{`"password":"<redacted>"`}},
		{"last-applied escaped in json", `{"metadata":{"annotations":{"x":"{\"apiVersion\":\"v1\",\"data\":{\"password\":\"cGFzc3dvcmQxMjM=\"},\"kind\":\"Secret\"}"}}}`,
			[]string{`\"password\":\"<redacted>\"`}},
		{"secret line with braces", `{"kind":"Secret","stringData":{"j":"{hunter2}"}} trailing`, []string{"<redacted: a line of a Secret>"}},
		{"plain text", "nothing to hide here: replicas 5", []string{"nothing to hide here: replicas 5"}},
		{"secret env in yaml", "    env:\n    - name: DB_PASSWORD\n      value: hunter2\n    - name: MODE\n      value: fast\n    - name: apiToken\n      value: \"s3cr3t-t0k3n-value\"\n",
			[]string{"- name: DB_PASSWORD\n      value: <redacted>\n", "value: fast", "- name: apiToken\n      value: <redacted>"}},
		{"secret env from a secret", "    - name: DB_PASSWORD\n      valueFrom:\n        secretKeyRef:\n          key: password\n", []string{"secretKeyRef:\n          key: password"}},
		{"secret env in json", `{"env":[{"name":"AWS_SECRET_ACCESS_KEY","value":"hunter2"},{"name":"MODE","value":"fast"}]}`,
			[]string{`{"name":"AWS_SECRET_ACCESS_KEY","value":"<redacted>"}`, `{"name":"MODE","value":"fast"}`}},
		// A pod_logs tail that starts inside a key: its base64 up to the
		// END line goes.
		{"headless pem", "MHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oWHMn\nQUtJQQ0123456789\n-----END EC PRIVATE KEY-----\nserver started", []string{"<redacted: PEM block>", "server started"}},
		{"headless pem indented", "x: |\n  QUtJQQ0123456789\n  -----END PRIVATE KEY-----\ny: 1", []string{"x: |", "<redacted: PEM block>", "y: 1"}},
		{"headless pem in a json string", `{"log":"cGFzc3dvcmQxMjM=\nQUtJQQ\n-----END RSA PRIVATE KEY-----\n"}`, []string{`{"log":"`, "<redacted: PEM block>"}},
		{"url userinfo", "connecting to postgres://app:hunter2@db.shop:5432/orders", []string{"postgres://app:<redacted>@db.shop:5432/orders"}},
		{"url userinfo in json", `{"dsn":"mongodb+srv://root:s3cr3t-t0k3n-value@cluster0/x"}`, []string{`mongodb+srv://root:<redacted>@cluster0/x`}},
		{"url without password", "see https://user@example.com/a and http://host:8080/p", []string{"https://user@example.com/a", "http://host:8080/p"}},
		{"env key=value", "DB_PASSWORD=hunter2 GITHUB_TOKEN=s3cr3t-t0k3n-value MY_APIKEY='QUtJQQ' aws_secret_access_key=Zm9vYmFy db_creds_credential=\"cGFzc3dvcmQxMjM=\" MODE=fast",
			[]string{"DB_PASSWORD=<redacted>", "GITHUB_TOKEN=<redacted>", "MY_APIKEY=<redacted>", "aws_secret_access_key=<redacted>", "db_creds_credential=<redacted>", "MODE=fast"}},
		{"env key=value api_key", "export STRIPE_API_KEY=hunter2; PGPASSWD=cGFzc3dvcmQxMjM=", []string{"STRIPE_API_KEY=<redacted>", "PGPASSWD=<redacted>"}},
		{"secret env in json value first", `{"env":[{"value":"hunter2","name":"DB_PASSWORD"},{"value":"fast","name":"MODE"}]}`,
			[]string{`{"name":"DB_PASSWORD","value":"<redacted>"}`, `{"name":"MODE","value":"fast"}`}},
		{"secret env in a json line value first", `log: [{"value":"hunter2","name":"DB_PASSWORD"},{"value":"fast","name":"MODE"}]`,
			[]string{`{"value":"<redacted>","name":"DB_PASSWORD"}`, `{"value":"fast","name":"MODE"}`}},
		{"secret env in yaml value first", "    env:\n    - value: hunter2\n      name: DB_PASSWORD\n    - value: fast\n      name: MODE\n",
			[]string{"- value: <redacted>\n      name: DB_PASSWORD", "- value: fast"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := Scrub(c.in)
			for _, l := range leaks {
				if strings.Contains(out, l) {
					t.Errorf("Scrub(%q) = %q: contains %q", c.in, out, l)
				}
			}
			if strings.Contains(strings.ToUpper(out), "-----BEGIN") {
				t.Errorf("Scrub(%q) = %q: a PEM header is left", c.in, out)
			}
			for _, k := range c.keep {
				if !strings.Contains(out, k) {
					t.Errorf("Scrub(%q) = %q: want %q in it", c.in, out, k)
				}
			}
			if again := Scrub(out); again != out {
				t.Errorf("Scrub is not stable: %q then %q", out, again)
			}
		})
	}
}

var pemHeader = regexp.MustCompile(`(?i)-----BEGIN`)

func FuzzScrub(f *testing.F) {
	for _, s := range []string{testPEM, testKey, testJWT, "token: x", "apiVersion: v1\ndata:\n  a: b\nkind: Secret\n", `{"kind":"Secret","data":{"a":"b"}}`,
		"-----BEGIN -----BEGIN CERT-----", "- data:\n  kind: Secret\n", "Bearer abcdefgh", "\xff-----BEGIN\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Scrub(s)
		if pemHeader.MatchString(out) {
			t.Fatalf("Scrub(%q) = %q: a PEM header is left", s, out)
		}
		if jwt.MatchString(out) {
			t.Fatalf("Scrub(%q) = %q: a JWT is left", s, out)
		}
	})
}

func TestRedactArgs(t *testing.T) {
	cases := []struct{ in, want string }{
		{`{"name":"web","replicas":5}`, `{"name":"web","replicas":5}`},
		{`{"password":"hunter2","db_password":"x","apiKey":"k","client-secret":"s","token":"t","data":{"a":"b"},"monkey":"ok"}`,
			`{"apiKey":"<redacted>","client-secret":"<redacted>","data":"<redacted>","db_password":"<redacted>","monkey":"ok","password":"<redacted>","token":"<redacted>"}`},
		{`{"command":["sh","-c","curl -H 'Authorization: Bearer s3cr3t-t0k3n-value'"]}`, `{"command":["sh","-c","curl -H 'Authorization: Bearer \u003credacted\u003e'"]}`},
		{`{"nested":{"secretRef":{"name":"x"},"kubeconfig":"apiVersion: v1"}}`, `{"nested":{"kubeconfig":"<redacted>","secretRef":"<redacted>"}}`},
		{``, `{}`},
		{`not json token: hunter2`, `not json token: <redacted>`},
		// Larger than MaxArgs: not scrubbed, not shown.
		{`{"manifest":"` + strings.Repeat("kind: Secret\\ndata:\\n", 700) + `"}`, `{"_truncated":14715}`},
	}
	for _, c := range cases {
		got := RedactArgs(json.RawMessage(c.in))
		var g, w any
		if json.Unmarshal([]byte(got), &g) == nil && json.Unmarshal([]byte(c.want), &w) == nil {
			gb, _ := json.Marshal(g)
			wb, _ := json.Marshal(w)
			if string(gb) != string(wb) {
				t.Errorf("RedactArgs(%s) = %s, want %s", Cap(c.in, 200), got, c.want)
			}
			continue
		}
		if got != c.want {
			t.Errorf("RedactArgs(%s) = %s, want %s", Cap(c.in, 200), got, c.want)
		}
	}
}

func TestCap(t *testing.T) {
	long := strings.Repeat("line of text\n", 100)
	got := Cap(long, 100)
	if len(got) > 100+40 || !strings.Contains(got, "[truncated: ") {
		t.Fatalf("Cap: %q", got)
	}
	if !strings.HasSuffix(got, "more bytes]") {
		t.Errorf("Cap: no mark at the end: %q", got)
	}
	if Cap("short", 100) != "short" {
		t.Error("Cap changed a short text")
	}
	// Never inside a UTF-8 sequence.
	if s := Cap(strings.Repeat("é", 100), 51); !strings.HasPrefix(s, strings.Repeat("é", 25)+"\n[truncated: 150 more bytes]") {
		t.Errorf("Cap in UTF-8: %q", s)
	}
}
