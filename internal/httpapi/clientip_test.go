package httpapi

import (
	"net/http/httptest"
	"testing"
)

// TestClientIPOfTrustedProxies: X-Forwarded-For is believed only from a
// trusted proxy, walked from the right past trusted proxies; the first
// untrusted entry is the client, and a malformed one stops the walk at
// the last trusted hop.
func TestClientIPOfTrustedProxies(t *testing.T) {
	trusted, err := ParseTrustedProxies([]string{"10.0.0.0/8", "192.0.2.7", "2001:db8:ffff::/48"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"no proxy: the peer", "198.51.100.1:1234", nil, "198.51.100.1"},
		{"untrusted peer: its header is ignored", "198.51.100.1:1234", []string{"203.0.113.9"}, "198.51.100.1"},
		{"trusted peer, no header: the peer", "10.1.2.3:1234", nil, "10.1.2.3"},
		{"trusted peer: the client it names", "10.1.2.3:1234", []string{"203.0.113.9"}, "203.0.113.9"},
		{"a client-written left part is not believed", "10.1.2.3:1234", []string{"1.1.1.1, 203.0.113.9"}, "203.0.113.9"},
		{"trusted hops are skipped", "10.1.2.3:1234", []string{"203.0.113.9, 192.0.2.7, 10.9.9.9"}, "203.0.113.9"},
		{"several headers are one list", "10.1.2.3:1234", []string{"1.1.1.1, 203.0.113.9", "10.9.9.9"}, "203.0.113.9"},
		{"malformed entry: the last trusted hop", "10.1.2.3:1234", []string{"203.0.113.9, junk, 10.9.9.9"}, "10.9.9.9"},
		{"malformed last entry: the peer", "10.1.2.3:1234", []string{"203.0.113.9, 203.0.113.9:80"}, "10.1.2.3"},
		{"only trusted entries: the leftmost", "10.1.2.3:1234", []string{"10.2.2.2, 10.3.3.3"}, "10.2.2.2"},
		{"IPv6 proxy and client", "[2001:db8:ffff::1]:443", []string{"2001:db8:1::5"}, "2001:db8:1::5"},
		{"IPv4-mapped entries are IPv4", "10.1.2.3:1234", []string{"::ffff:203.0.113.9"}, "203.0.113.9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.peer
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := ClientIPOf(r, trusted); got != tc.want {
				t.Fatalf("client %q, want %q", got, tc.want)
			}
		})
	}
	for _, bad := range []string{"10.0.0.0/33", "proxy.example.com", "", "fe80::1%eth0", "::ffff:10.0.0.0/104"} {
		if _, err := ParseTrustedProxies([]string{bad}); err == nil {
			t.Errorf("ParseTrustedProxies(%q): no error", bad)
		}
	}
}
