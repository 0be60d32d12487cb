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
// Lockout throttles password sign-in: after repeated failures for one
// email (and, with a higher threshold, from one IP) further attempts are
// refused with exponential backoff, even with the right password, until
// the lock ends. Each attempt is reserved (counted as a failure) before the
// password is checked, atomically with the lock check, so concurrent
// guesses cannot slip under the threshold; a sign-in that issues tokens
// resets the email's counter, and an answer that is neither (such as a
// second-factor challenge) takes the attempt back. IPv6 clients are
// counted by their /64 (IPKey). Its state lives in the database
// (store.LimitStore).
//
// The middlewares here answer refusals with 429 problem+json and a
// Retry-After header in seconds.
package ratelimit
