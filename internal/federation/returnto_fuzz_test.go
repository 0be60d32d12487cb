package federation

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzParseReturnTo: whatever a browser sends as return_to, an accepted
// value is a path on this site (never another origin, never a scheme).
func FuzzParseReturnTo(f *testing.F) {
	for _, s := range []string{"", "/", "/dashboard?x=1#y", "//evil.example", "/\\evil.example", "https://evil.example", "javascript:alert(1)",
		"/%2F%2Fevil.example", "/\t/evil.example", "/a\r\nSet-Cookie: x=y", "%2F%2Fevil", "/@evil.example", "/..//evil"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseReturnTo(s)
		if err != nil {
			return
		}
		u, perr := url.Parse(got)
		if perr != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") ||
			strings.ContainsAny(got, "\\\r\n\t") {
			t.Fatalf("parseReturnTo(%q) accepted %q", s, got)
		}
		// A browser resolving it against this site stays on this site.
		base, _ := url.Parse("https://hks.example/auth/callback/x")
		if r := base.ResolveReference(u); r.Host != "hks.example" || r.Scheme != "https" {
			t.Fatalf("parseReturnTo(%q) = %q leaves the site: %s", s, got, r)
		}
	})
}
