package kube

import (
	"net/http"

	"github.com/hexabase/hexabase-ai/internal/httpapi"
)

// Objects is how the handlers of one kind of a project's objects
// (applications, CronJobs) begin: they read the object's name from the
// path, the page or the body, and resolve the project for the caller with
// a client of its workspace cluster.
type Objects struct {
	Scopes   Scopes
	Clusters Clusters
	// Param is the path parameter that names one object; a name that is
	// not Valid is a 404 of What.
	Param, What string
	Valid       func(name string) bool
}

// Project resolves the request's project (see ForProject).
func (o Objects) Project(r *http.Request) (Project, error) {
	return ForProject(r, o.Scopes, o.Clusters)
}

// Name is the object the path names.
func (o Objects) Name(r *http.Request) (string, error) {
	name := r.PathValue(o.Param)
	if !o.Valid(name) {
		return "", httpapi.NotFound(o.What)
	}
	return name, nil
}

// Target is the object the path names and the resolved project.
func (o Objects) Target(r *http.Request) (string, Project, error) {
	name, err := o.Name(r)
	return resolved(o, r, name, err)
}

// Page is the page of a list the query asks for (see PageOf) and the
// resolved project.
func (o Objects) Page(r *http.Request) (ListPage, Project, error) {
	page, err := PageOf(r)
	return resolved(o, r, page, err)
}

// Decode reads the JSON body of r into a T and resolves the project.
func Decode[T any](o Objects, r *http.Request) (T, Project, error) {
	var req T
	err := httpapi.DecodeJSON(r, &req)
	return resolved(o, r, req, err)
}

// DecodeNamed is the object the path names and the JSON body of r as a T;
// the project is left to the handler, for after it has checked the body.
func DecodeNamed[T any](o Objects, r *http.Request) (string, T, error) {
	return named(o, r, func(r *http.Request) (T, error) {
		var req T
		return req, httpapi.DecodeJSON(r, &req)
	})
}

// NamedPatch is the object the path names and the merge patch of the
// body; the project is left to the handler, as with DecodeNamed.
func (o Objects) NamedPatch(r *http.Request) (string, httpapi.MergePatch, error) {
	return named(o, r, httpapi.DecodeMergePatch)
}

// named is the object the path names and what read makes of the request,
// read only when the name is good.
func named[T any](o Objects, r *http.Request, read func(*http.Request) (T, error)) (string, T, error) {
	name, err := o.Name(r)
	if err != nil {
		var zero T
		return name, zero, err
	}
	v, err := read(r)
	return name, v, err
}

// resolved is v with the request's project, when err (of reading v) is nil.
func resolved[T any](o Objects, r *http.Request, v T, err error) (T, Project, error) {
	if err != nil {
		return v, Project{}, err
	}
	p, err := o.Project(r)
	return v, p, err
}
