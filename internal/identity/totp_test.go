package identity

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rfc6238Secret is the SHA-1 seed of RFC 6238 appendix B.
var rfc6238Secret = []byte("12345678901234567890")

// TestTOTPRFC6238Vectors checks the SHA-1 test vectors of RFC 6238
// appendix B (8-digit codes there; the 6-digit code is their last six
// digits, as truncation is modulo 10^digits).
func TestTOTPRFC6238Vectors(t *testing.T) {
	for _, tt := range []struct {
		unix  int64
		step  int64
		code8 string
	}{
		{59, 0x1, "94287082"},
		{1111111109, 0x23523EC, "07081804"},
		{1111111111, 0x23523ED, "14050471"},
		{1234567890, 0x273EF07, "89005924"},
		{2000000000, 0x3F940AA, "69279037"},
		{20000000000, 0x27BC86AA, "65353130"},
	} {
		t.Run(strconv.FormatInt(tt.unix, 10), func(t *testing.T) {
			at := time.Unix(tt.unix, 0)
			if got := totpStep(at); got != tt.step {
				t.Errorf("step(%d) = %#x, want %#x", tt.unix, got, tt.step)
			}
			want := tt.code8[2:]
			if got := TOTPCode(rfc6238Secret, at); got != want {
				t.Errorf("TOTP(%d) = %s, want %s", tt.unix, got, want)
			}
		})
	}
}

func TestMatchTOTP(t *testing.T) {
	at := time.Unix(1111111111, 0)
	step := totpStep(at)
	prev, cur, next := TOTPCode(rfc6238Secret, at.Add(-TOTPPeriod)), TOTPCode(rfc6238Secret, at), TOTPCode(rfc6238Secret, at.Add(TOTPPeriod))
	far := TOTPCode(rfc6238Secret, at.Add(2*TOTPPeriod))
	for _, tt := range []struct {
		name     string
		code     string
		notAfter int64
		want     int64
		ok       bool
	}{
		{"current", cur, 0, step, true},
		{"previous step", prev, 0, step - 1, true},
		{"next step", next, 0, step + 1, true},
		{"two steps ahead", far, 0, 0, false},
		{"replayed step", cur, step, 0, false},
		{"later step after replay floor", next, step, step + 1, true},
		{"not digits", "12345a", 0, 0, false},
		{"too short", cur[:5], 0, 0, false},
		{"too long", cur + "0", 0, 0, false},
		{"empty", "", 0, 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := matchTOTP(rfc6238Secret, tt.code, at, tt.notAfter)
			if ok != tt.ok || got != tt.want {
				t.Fatalf("matchTOTP = %d, %v; want %d, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestTOTPURI(t *testing.T) {
	raw := TOTPURI(rfc6238Secret, "alice@example.com")
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "otpauth" || u.Host != "totp" {
		t.Fatalf("URI %s: want otpauth://totp/", raw)
	}
	if u.Path != "/Hexabase AI:alice@example.com" {
		t.Errorf("label %q", u.Path)
	}
	if !strings.HasPrefix(raw, "otpauth://totp/Hexabase%20AI:alice@example.com?") {
		t.Errorf("label not percent-encoded as the Key Uri Format wants: %s", raw)
	}
	q := u.Query()
	for k, want := range map[string]string{
		"secret": "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", "issuer": "Hexabase AI",
		"algorithm": "SHA1", "digits": "6", "period": "30",
	} {
		if q.Get(k) != want {
			t.Errorf("%s = %q, want %q", k, q.Get(k), want)
		}
	}
}

func FuzzMatchTOTP(f *testing.F) {
	f.Add("123456")
	f.Add("")
	f.Add("00000000000")
	f.Fuzz(func(t *testing.T, code string) {
		at := time.Unix(1234567890, 0)
		if _, ok := matchTOTP(rfc6238Secret, code, at, 0); ok && !validTOTPCode(code) {
			t.Fatalf("accepted malformed code %q", code)
		}
	})
}
