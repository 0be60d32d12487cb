package store

import (
	"errors"
	"strconv"
	"testing"

	"github.com/hexabase/hexabase-ai/internal/testutil"
)

func TestCursorRoundTrip(t *testing.T) {
	for _, key := range []string{"0190b3a4-7c1e-7d2a-9f00-0123456789ab", "x", "O'Brien; --", "日本語"} {
		t.Run(testutil.CaseName(key), func(t *testing.T) {
			c := EncodeCursor(key)
			got, err := DecodeCursor(c)
			if err != nil || got != key {
				t.Errorf("DecodeCursor(EncodeCursor(%q)) = %q, %v", key, got, err)
			}
		})
	}
	if got, err := DecodeCursor(""); got != "" || err != nil {
		t.Errorf(`DecodeCursor("") = %q, %v; want "", nil`, got, err)
	}
}

func TestDecodeCursorInvalid(t *testing.T) {
	for _, c := range []string{"!", "YWJj", "YWJj=", "YzE6", EncodeCursor("a") + "=", "Yz E6YQ"} {
		t.Run(testutil.CaseName(c), func(t *testing.T) {
			if _, err := DecodeCursor(c); !errors.Is(err, ErrInvalidCursor) {
				t.Errorf("DecodeCursor(%q) error = %v, want ErrInvalidCursor", c, err)
			}
		})
	}
}

func TestEffectiveLimit(t *testing.T) {
	for _, tc := range []struct{ in, want int }{{-1, DefaultLimit}, {0, DefaultLimit}, {1, 1}, {MaxLimit, MaxLimit}, {MaxLimit + 1, MaxLimit}} {
		t.Run(strconv.Itoa(tc.in), func(t *testing.T) {
			if got := (Page{Limit: tc.in}).EffectiveLimit(); got != tc.want {
				t.Errorf("Page{Limit: %d}.EffectiveLimit() = %d, want %d", tc.in, got, tc.want)
			}
		})
	}
}

func FuzzDecodeCursor(f *testing.F) {
	f.Add("")
	f.Add(EncodeCursor("0190b3a4-7c1e-7d2a-9f00-0123456789ab"))
	f.Add("YWJj")
	f.Fuzz(func(t *testing.T, c string) {
		key, err := DecodeCursor(c)
		if err != nil {
			if !errors.Is(err, ErrInvalidCursor) {
				t.Fatalf("DecodeCursor(%q) error = %v, want ErrInvalidCursor", c, err)
			}
			return
		}
		if c != "" && EncodeCursor(key) != c {
			t.Fatalf("DecodeCursor(%q) = %q, which encodes to %q", c, key, EncodeCursor(key))
		}
	})
}
