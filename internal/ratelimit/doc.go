// Package ratelimit owns the platform's abuse limits.
//
// Limiter is a token bucket per key (client IP, user id) whose state lives
// in a NATS JetStream key-value bucket, so that every replica sharing one
// NATS draws from the same budget: each decision reads the key and writes
// it back with a compare-and-swap on its revision, retrying on conflict.
// Keys expire from the bucket once idle long enough to have refilled. If
// the key-value store cannot be reached the limiter fails open (the request
// is allowed) and logs an error: an outage of NATS must not take the API
// down with it.
//
// Concurrency caps how many things per key are open at once (long-lived
// requests per user or per workspace); it counts in one process, in
// memory, and keeps an entry only for a key with something open.
//
// IPKey is the form of a client address both limits and the sign-in
// lockout (package identity) count by: an IPv6 client counts as its /64.
//
// The middlewares here answer refusals with 429 problem+json and a
// Retry-After header in seconds.
package ratelimit
