package kube

import (
	"net/http"

	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// ListPage is a page of a list the cluster hands out: at most Limit
// objects after the cluster's own continue token.
type ListPage struct {
	Limit    int64
	Continue string
}

// PageOf reads ?limit= and ?cursor= for a list of the cluster (the
// cursors are the cluster's continue tokens).
func PageOf(r *http.Request) (ListPage, error) {
	page, err := httpapi.PageFromQuery(r)
	if err != nil {
		return ListPage{}, err
	}
	limit := int64(page.Limit)
	if limit <= 0 {
		limit = store.DefaultLimit
	}
	return ListPage{Limit: limit, Continue: page.After}, nil
}
