package identity

import (
	"net/mail"
	"strings"
	"unicode/utf8"
)

// Password and email policy.
const (
	MinPasswordLen = 8   // characters (Unicode code points)
	MaxPasswordLen = 256 // characters
	MaxEmailLen    = 254 // bytes (RFC 5321 path limit)
)

// NormalizeEmail trims surrounding white space and checks that the result is
// a bare RFC 5322 address (no display name, no comments) of at most
// MaxEmailLen bytes. Case is kept: the store compares emails
// case-insensitively. The error is a *FieldError for "email".
func NormalizeEmail(email string) (string, error) {
	e := strings.TrimSpace(email)
	switch {
	case e == "":
		return "", &FieldError{Field: "email", Message: "is required"}
	case len(e) > MaxEmailLen:
		return "", &FieldError{Field: "email", Message: "must be at most 254 characters"}
	case !utf8.ValidString(e):
		return "", &FieldError{Field: "email", Message: "must be valid UTF-8"}
	}
	addr, err := mail.ParseAddress(e)
	if err != nil || addr.Name != "" || addr.Address != e {
		return "", &FieldError{Field: "email", Message: "must be a valid email address"}
	}
	return e, nil
}

// ValidatePassword enforces the password policy: valid UTF-8, from
// MinPasswordLen to MaxPasswordLen characters. The error is a *FieldError
// for "password".
func ValidatePassword(password string) error {
	if !utf8.ValidString(password) {
		return &FieldError{Field: "password", Message: "must be valid UTF-8"}
	}
	switch n := utf8.RuneCountInString(password); {
	case n < MinPasswordLen:
		return &FieldError{Field: "password", Message: "must be at least 8 characters"}
	case n > MaxPasswordLen:
		return &FieldError{Field: "password", Message: "must be at most 256 characters"}
	}
	return nil
}
