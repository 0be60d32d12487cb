package identity

import (
	"errors"
	"strings"
	"testing"

	"github.com/hexabase/hexabase-ai/internal/testutil"
)

func TestPasswordRoundTrip(t *testing.T) {
	h, err := HashPassword("correct horse battery", testArgon2)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=1024,t=1,p=1$") {
		t.Fatalf("hash %q is not the expected PHC string", h)
	}
	for _, tt := range []struct {
		name, pw string
		want     bool
	}{
		{"same", "correct horse battery", true},
		{"one letter's case", "correct horse batterY", false},
		{"empty", "", false},
		{"trailing space", "correct horse battery ", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := VerifyPassword(tt.pw, h)
			if err != nil || ok != tt.want {
				t.Errorf("VerifyPassword(%q) = %v, %v; want %v", tt.pw, ok, err, tt.want)
			}
		})
	}
	h2, _ := HashPassword("correct horse battery", testArgon2)
	if h == h2 {
		t.Error("two hashes of one password are equal: salt not random")
	}
	if NeedsRehash(h, testArgon2) {
		t.Error("NeedsRehash with the same parameters")
	}
	stronger := testArgon2
	stronger.Time = 2
	if !NeedsRehash(h, stronger) {
		t.Error("NeedsRehash false although t changed")
	}
	if !NeedsRehash("garbage", testArgon2) {
		t.Error("NeedsRehash false for a malformed hash")
	}
	def, err := HashPassword("x", DefaultArgon2Params())
	if err != nil || !strings.HasPrefix(def, "$argon2id$v=19$m=65536,t=2,p=2$") {
		t.Errorf("default parameters: %q, %v", def, err)
	}
}

func TestHashPasswordRejectsBadParams(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    Argon2Params
	}{
		{"zero", Argon2Params{}},
		{"time 0", Argon2Params{Memory: 1024, Time: 0, Threads: 1, SaltLen: 16, KeyLen: 32}},
		{"memory too small", Argon2Params{Memory: 4, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}},
		{"memory too large", Argon2Params{Memory: 1 << 30, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}},
		{"salt too short", Argon2Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 4, KeyLen: 32}},
		{"key too short", Argon2Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 8}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := HashPassword("password", tc.p); err == nil {
				t.Errorf("HashPassword accepted %+v", tc.p)
			}
		})
	}
}

func TestVerifyPasswordMalformedHashes(t *testing.T) {
	good, err := HashPassword("password1", testArgon2)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$") // "", argon2id, v=19, m=..., salt, hash
	join := func(p ...string) string { return strings.Join(p, "$") }
	bad := map[string]string{
		"empty":            "",
		"dollar":           "$",
		"bcrypt":           "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
		"argon2i":          join("", "argon2i", parts[2], parts[3], parts[4], parts[5]),
		"no leading $":     strings.TrimPrefix(good, "$"),
		"missing hash":     join("", parts[1], parts[2], parts[3], parts[4]),
		"extra field":      good + "$x",
		"version 16":       join("", parts[1], "v=16", parts[3], parts[4], parts[5]),
		"no version":       join("", parts[1], parts[3], parts[4], parts[5]),
		"params reordered": join("", parts[1], parts[2], "t=1,m=1024,p=1", parts[4], parts[5]),
		"params missing":   join("", parts[1], parts[2], "m=1024,t=1", parts[4], parts[5]),
		"params extra":     join("", parts[1], parts[2], "m=1024,t=1,p=1,k=2", parts[4], parts[5]),
		"param empty":      join("", parts[1], parts[2], "m=,t=1,p=1", parts[4], parts[5]),
		"param negative":   join("", parts[1], parts[2], "m=-1,t=1,p=1", parts[4], parts[5]),
		"param overflow":   join("", parts[1], parts[2], "m=99999999999999999999,t=1,p=1", parts[4], parts[5]),
		"param leading 0":  join("", parts[1], parts[2], "m=01024,t=1,p=1", parts[4], parts[5]),
		"t zero":           join("", parts[1], parts[2], "m=1024,t=0,p=1", parts[4], parts[5]),
		"p zero":           join("", parts[1], parts[2], "m=1024,t=1,p=0", parts[4], parts[5]),
		"p 256":            join("", parts[1], parts[2], "m=1024,t=1,p=256", parts[4], parts[5]),
		"memory huge":      join("", parts[1], parts[2], "m=4294967295,t=1,p=1", parts[4], parts[5]),
		"time huge":        join("", parts[1], parts[2], "m=1024,t=4294967295,p=1", parts[4], parts[5]),
		"memory tiny":      join("", parts[1], parts[2], "m=1,t=1,p=1", parts[4], parts[5]),
		"salt not base64":  join("", parts[1], parts[2], parts[3], "!!!!", parts[5]),
		"salt padded":      join("", parts[1], parts[2], parts[3], parts[4]+"==", parts[5]),
		"salt empty":       join("", parts[1], parts[2], parts[3], "", parts[5]),
		"salt short":       join("", parts[1], parts[2], parts[3], "AAAA", parts[5]),
		"hash empty":       join("", parts[1], parts[2], parts[3], parts[4], ""),
		"hash short":       join("", parts[1], parts[2], parts[3], parts[4], "AAAA"),
		"hash not base64":  join("", parts[1], parts[2], parts[3], parts[4], "***"),
		"too long":         good + strings.Repeat("A", 1000),
		"spaces":           " " + good,
	}
	for name, h := range bad {
		t.Run(name, func(t *testing.T) {
			ok, err := VerifyPassword("password1", h)
			if ok || !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("VerifyPassword = %v, %v; want ErrMalformedHash", ok, err)
			}
		})
	}
}

func FuzzParsePHC(f *testing.F) {
	good, _ := HashPassword("password1", testArgon2)
	for _, s := range []string{good, "", "$argon2id$v=19$m=1,t=1,p=1$$", "$argon2id$v=19$m=65536,t=2,p=2$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, salt, key, err := parsePHC(s)
		if err != nil {
			if !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("error %v is not ErrMalformedHash", err)
			}
			return
		}
		if p.validate() != nil || len(salt) == 0 || len(key) == 0 {
			t.Fatalf("accepted invalid %q", s)
		}
	})
}

func TestValidatePassword(t *testing.T) {
	tests := []struct {
		pw string
		ok bool
	}{
		{"", false},
		{"1234567", false},
		{"12345678", true},
		{"ééééééé", false}, // 7 characters, 14 bytes
		{"éééééééé", true},
		{strings.Repeat("a", 256), true},
		{strings.Repeat("a", 257), false},
		{strings.Repeat("日", 256), true},
		{"abcdefg\xff", false},
	}
	for _, tt := range tests {
		t.Run(testutil.CaseName(tt.pw), func(t *testing.T) {
			err := ValidatePassword(tt.pw)
			var fe *FieldError
			if tt.ok != (err == nil) || (err != nil && (!errors.As(err, &fe) || fe.Field != "password")) {
				t.Errorf("ValidatePassword(%q) = %v, want ok=%v", tt.pw, err, tt.ok)
			}
		})
	}
}

func TestNormalizeEmail(t *testing.T) {
	tests := []struct {
		in, want string // want "" = invalid
	}{
		{"alice@example.com", "alice@example.com"},
		{"  Alice@Example.COM\n", "Alice@Example.COM"},
		{"root@localhost", "root@localhost"},
		{"a.b+tag@sub.example.org", "a.b+tag@sub.example.org"},
		{"", ""},
		{"   ", ""},
		{"alice", ""},
		{"alice@", ""},
		{"@example.com", ""},
		{"Alice <alice@example.com>", ""},
		{"<alice@example.com>", ""},
		{"alice@example.com (comment)", ""},
		{"alice@example.com, bob@example.com", ""},
		{"ali ce@example.com", ""},
		{"alice@exa\x00mple.com", ""},
		{strings.Repeat("a", 64) + "@" + strings.Repeat("b", 186) + ".com", ""}, // 255 bytes
		{strings.Repeat("a", 64) + "@" + strings.Repeat("b", 59) + "." + strings.Repeat("c", 59) + "." + strings.Repeat("d", 59) + ".com", strings.Repeat("a", 64) + "@" + strings.Repeat("b", 59) + "." + strings.Repeat("c", 59) + "." + strings.Repeat("d", 59) + ".com"},
	}
	for _, tt := range tests {
		t.Run(testutil.CaseName(tt.in), func(t *testing.T) {
			got, err := NormalizeEmail(tt.in)
			if tt.want == "" {
				var fe *FieldError
				if !errors.As(err, &fe) || fe.Field != "email" {
					t.Errorf("NormalizeEmail(%q) = %q, %v; want an email FieldError", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("NormalizeEmail(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}
