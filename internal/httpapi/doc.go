// Package httpapi owns the HTTP surface shared by every domain: the route
// table type each domain fills in, the one wrapper that writes every response
// (JSON or RFC 9457 problem+json), strict JSON decoding, middleware (request
// id, real IP, logging, body limit, timeouts, per-route metrics,
// authentication) and the OpenAPI 3.1 document built from the route table.
package httpapi
