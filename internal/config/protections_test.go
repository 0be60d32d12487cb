package config

import (
	"strings"
	"testing"
	"time"
)

func TestProtectionSettings(t *testing.T) {
	c, err := load(t, []string{"--tls", "auto", "--cors-allowed-origins", "https://a.example.com, http://localhost:3000",
		"--ip-rate-limit", "2.5", "--ip-rate-burst", "7", "--account-login-throttle-threshold", "200", "--device-token-ttl", "2160h"},
		map[string]string{"HKS_LOGIN_LOCKOUT_THRESHOLD": "3", "HKS_ACCOUNT_LOGIN_THROTTLE_MAX": "8s"})
	if err != nil {
		t.Fatal(err)
	}
	if c.TLS != "auto" || c.ExternalURL != "https://127.0.0.1:8080" || len(c.CORSAllowedOrigins) != 2 ||
		c.CORSAllowedOrigins[1] != "http://localhost:3000" || c.IPRateLimit != 2.5 || c.IPRateBurst != 7 || c.LoginLockoutThreshold != 3 ||
		c.AccountLoginThrottleThreshold != 200 || c.AccountLoginThrottleMax.Duration != 8*time.Second || c.DeviceTokenTTL.Duration != 90*24*time.Hour {
		t.Fatalf("settings not applied: %+v", c)
	}
	d, err := load(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.TLS != "off" || d.IPRateLimit != 100 || d.IPRateBurst != 1000 || d.UserRateLimit != 50 || d.LoginLockoutThreshold != 5 ||
		d.AccountLoginThrottleThreshold != 100 || d.AccountLoginThrottleMax.Duration != 5*time.Second || d.DeviceTokenTTL.Duration != 30*24*time.Hour {
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
		{[]string{"--account-login-throttle-threshold", "4"}, "config: accountLoginThrottleThreshold:"},
		{[]string{"--account-login-throttle-threshold", "100001"}, "config: accountLoginThrottleThreshold:"},
		{[]string{"--account-login-throttle-max", "0s"}, "config: accountLoginThrottleMax:"},
		{[]string{"--account-login-throttle-max", "2h"}, "config: accountLoginThrottleMax:"},
		// The throttle delays; it must stay well within a request.
		{[]string{"--account-login-throttle-max", "11s"}, "config: accountLoginThrottleMax:"},
		{[]string{"--account-login-throttle-max", "6s", "--request-timeout", "10s"}, "config: accountLoginThrottleMax:"},
		{[]string{"--trusted-proxies", "10.0.0.0/33"}, "config: trustedProxies:"},
		{[]string{"--trusted-proxies", "proxy.example.com"}, "config: trustedProxies:"},
		{[]string{"--device-token-ttl", "1m"}, "config: deviceTokenTTL:"},
		{[]string{"--device-token-ttl", "10000h"}, "config: deviceTokenTTL:"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, err := load(t, tc.args, nil)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("%v: error %v, want %q", tc.args, err, tc.want)
			}
		})
	}
}

// TestTrustedProxiesSetting: trustedProxies comes from the flag or
// HKS_TRUSTED_PROXIES (a comma list) and is empty by default.
func TestTrustedProxiesSetting(t *testing.T) {
	d, err := load(t, nil, nil)
	if err != nil || len(d.TrustedProxies) != 0 {
		t.Fatalf("default trustedProxies %v (%v), want none", d.TrustedProxies, err)
	}
	c, err := load(t, []string{"--trusted-proxies", "10.0.0.0/8,192.0.2.7"}, nil)
	if err != nil || len(c.TrustedProxies) != 2 || c.TrustedProxies[1] != "192.0.2.7" {
		t.Fatalf("flag: %v %v", c.TrustedProxies, err)
	}
	c, err = load(t, nil, map[string]string{"HKS_TRUSTED_PROXIES": "2001:db8::/32"})
	if err != nil || len(c.TrustedProxies) != 1 || c.TrustedProxies[0] != "2001:db8::/32" {
		t.Fatalf("env: %v %v", c.TrustedProxies, err)
	}
}
