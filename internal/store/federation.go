package store

// FederationStore holds links between users and federated identities (issue 3).
type FederationStore interface {
}
