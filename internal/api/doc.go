// Package api holds the wire types of every route: the request and
// response bodies the handlers decode and encode, the CLI sends and
// decodes, and the OpenAPI generator describes (and from which the
// console's TypeScript types are generated). A field renamed here breaks
// the build of every client in this repository, not a user.
//
// It holds data only: no validation, no conversion from store types, and
// no dependencies on other packages of this module.
package api
