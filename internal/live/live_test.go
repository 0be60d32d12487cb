package live

import "testing"

// TestOriginOf: origins compare as browsers write them (lower case,
// default ports dropped); what is not an http(s) origin matches nothing.
func TestOriginOf(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080", true},
		{"https://Console.Example.com", "https://console.example.com", true},
		{"https://example.com:443", "https://example.com", true},
		{"http://example.com:80/", "http://example.com", true},
		{"http://[::1]:8080", "http://[::1]:8080", true},
		{"null", "", false},
		{"file://", "", false},
		{"javascript:alert(1)", "", false},
		{"", "", false},
	} {
		got, ok := originOf(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("originOf(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestValidID(t *testing.T) {
	for id, want := range map[string]bool{"a": true, "org:acme-1_x.y": true, "": false, "a b": false, "é": false,
		"0123456789012345678901234567890123456789012345678901234567890123": true, "01234567890123456789012345678901234567890123456789012345678901234": false} {
		if validID(id) != want {
			t.Errorf("validID(%q) = %v", id, !want)
		}
	}
}
