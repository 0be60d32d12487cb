package store

// OAuthStore holds authorization codes and device codes of the platform's own OAuth endpoints, session-wide revocation and key retirement (issue 3).
type OAuthStore interface {
}
