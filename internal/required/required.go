// Package required checks that a constructor's Config carries the
// dependencies it cannot do without, with one wording for every
// component: "<component>: <Field> is required".
package required

import (
	"errors"
	"fmt"
	"reflect"
)

// Fields returns an error naming the first of the named fields of cfg (a
// struct, or a pointer to one) that holds its zero value: a nil store,
// logger or clock, an empty string. component prefixes the error, as in
// "audit: Store is required". It panics if cfg is not a struct or has no
// field of a given name: that is a mistake in the caller, not in its
// configuration.
func Fields(component string, cfg any, names ...string) error {
	v := reflect.ValueOf(cfg)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		panic(fmt.Sprintf("required.Fields: %T is not a struct", cfg))
	}
	for _, n := range names {
		f := v.FieldByName(n)
		if !f.IsValid() {
			panic(fmt.Sprintf("required.Fields: %s has no field %s", v.Type(), n))
		}
		if f.IsZero() {
			return errors.New(component + ": " + n + " is required")
		}
	}
	return nil
}
