package config

import (
	"strings"
	"testing"
)

func TestProtectionSettings(t *testing.T) {
	c, err := load(t, []string{"--tls", "auto", "--cors-allowed-origins", "https://a.example.com, http://localhost:3000",
		"--ip-rate-limit", "2.5", "--ip-rate-burst", "7"}, map[string]string{"HKS_LOGIN_LOCKOUT_THRESHOLD": "3"})
	if err != nil {
		t.Fatal(err)
	}
	if c.TLS != "auto" || c.ExternalURL != "https://127.0.0.1:8080" || len(c.CORSAllowedOrigins) != 2 ||
		c.CORSAllowedOrigins[1] != "http://localhost:3000" || c.IPRateLimit != 2.5 || c.IPRateBurst != 7 || c.LoginLockoutThreshold != 3 {
		t.Fatalf("settings not applied: %+v", c)
	}
	d, err := load(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.TLS != "off" || d.IPRateLimit != 100 || d.IPRateBurst != 1000 || d.UserRateLimit != 50 || d.LoginLockoutThreshold != 5 {
		t.Fatalf("defaults: %+v", d)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--tls", "on"}, `config: tls: "on" must be off, auto or files`},
		{[]string{"--tls", "files"}, "config: tlsCert: required with tls: files"},
		{[]string{"--tls", "files", "--tls-cert", "c.pem"}, "config: tlsKey: required with tls: files"},
		{[]string{"--tls-cert", "c.pem"}, "config: tlsCert: only used with tls: files"},
		{[]string{"--cors-allowed-origins", "*"}, "config: corsAllowedOrigins:"},
		{[]string{"--cors-allowed-origins", "https://a.example.com/path"}, "config: corsAllowedOrigins:"},
		{[]string{"--cors-allowed-origins", "a.example.com"}, "config: corsAllowedOrigins:"},
		{[]string{"--ip-rate-limit", "-1"}, "config: ipRateLimit:"},
		{[]string{"--ip-rate-limit", "fast"}, "config: --ip-rate-limit: must be a number"},
		{[]string{"--user-rate-burst", "0"}, "config: userRateBurst:"},
		{[]string{"--ip-rate-burst", "x"}, "config: --ip-rate-burst: must be an integer"},
		{[]string{"--login-lockout-threshold", "0"}, "config: loginLockoutThreshold:"},
		{[]string{"--ip-login-lockout-threshold", "0"}, "config: ipLoginLockoutThreshold:"},
		{[]string{"--login-lockout-base", "0s"}, "config: loginLockoutBase:"},
		{[]string{"--login-lockout-max", "30s"}, "config: loginLockoutMax:"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, err := load(t, tc.args, nil)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("%v: error %v, want %q", tc.args, err, tc.want)
			}
		})
	}
}
