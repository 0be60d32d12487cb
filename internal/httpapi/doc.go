// Package httpapi owns the HTTP surface shared by every domain: the route
// table type each domain fills in, the one wrapper that writes every response
// (JSON or RFC 9457 problem+json), strict JSON decoding, middleware (request
// id, real IP, logging, body limit, timeouts, per-route metrics,
// authentication) and the OpenAPI 3.1 document built from the route table.
//
// Success statuses follow one convention, and a route's Status field is the
// one place that sets it: handlers return the body, and a *Response only to
// add headers (or for a route whose status depends on the request, such as
// a redirect). GET, PUT and PATCH answer 200 with the resource; a POST
// that creates a resource answers 201 with it; a POST that acts on a
// resource or the session and finishes at once (scale, suspend, accept an
// invitation, login, refresh) answers 200 with the result; a request that
// starts a durable task (creating or deleting a workspace, a rolling
// restart) answers 202 with the resource as it stands and the task to
// follow; a DELETE that finishes at once, and an action with nothing to
// return (logout, disabling 2FA), answers 204 with no body.
package httpapi
