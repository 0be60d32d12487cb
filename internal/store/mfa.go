package store

// MFAStore holds TOTP enrolments and backup codes (issue 3).
type MFAStore interface {
}
