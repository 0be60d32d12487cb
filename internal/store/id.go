package store

import "github.com/google/uuid"

// NewID returns a new time-ordered identifier (UUIDv7). Lists are ordered by
// ID, so newer records sort after older ones.
func NewID() string {
	return uuid.Must(uuid.NewV7()).String()
}

// LooksLikeID reports whether s has the form of an id (a UUID in its
// canonical text form), which names, slugs and ids share the path
// parameters with and so must not have.
func LooksLikeID(s string) bool {
	if len(s) != 36 {
		return false
	}
	_, err := uuid.Parse(s)
	return err == nil
}
