package store

import "github.com/google/uuid"

// NewID returns a new time-ordered identifier (UUIDv7). Lists are ordered by
// ID, so newer records sort after older ones.
func NewID() string {
	return uuid.Must(uuid.NewV7()).String()
}
