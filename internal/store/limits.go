package store

// LimitStore holds login failure counters and lockouts (issue 3).
type LimitStore interface {
}
