package store

import (
	"encoding/base64"
	"strings"
	"unicode/utf8"
)

// cursorPrefix marks cursors produced by EncodeCursor, so that a random
// string that happens to be valid base64 is still rejected.
const cursorPrefix = "c1:"

// EncodeCursor returns the opaque, URL-safe cursor for the last key of a page.
func EncodeCursor(lastKey string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + lastKey))
}

// DecodeCursor returns the key encoded by EncodeCursor. The empty cursor
// decodes to the empty key (the first page). Anything else that EncodeCursor
// could not have produced yields ErrInvalidCursor.
func DecodeCursor(cursor string) (string, error) {
	if cursor == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(cursor)
	if err != nil {
		return "", ErrInvalidCursor
	}
	s := string(b)
	key, ok := strings.CutPrefix(s, cursorPrefix)
	if !ok || key == "" || !utf8.ValidString(key) {
		return "", ErrInvalidCursor
	}
	return key, nil
}

// EffectiveLimit returns the page size to use: DefaultLimit when Limit <= 0,
// capped at MaxLimit.
func (p Page) EffectiveLimit() int {
	switch {
	case p.Limit <= 0:
		return DefaultLimit
	case p.Limit > MaxLimit:
		return MaxLimit
	}
	return p.Limit
}
