package workloads

import (
	"net/http"
	"slices"
	"strings"

	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// pageOf is one page of items, which are sorted by key (unique,
// ascending): those after the page's cursor, at most its limit, and the
// cursor of the next page ("" on the last). For lists the platform puts
// together itself rather than pages the cluster hands out.
func pageOf[T any](items []T, page store.Page, key func(T) string) ([]T, string, error) {
	after, err := store.DecodeCursor(page.After)
	if err != nil {
		e := httpapi.Invalid(httpapi.Field("cursor", "not a cursor returned by this list"))
		e.Status = http.StatusBadRequest
		return nil, "", e
	}
	start := 0
	if after != "" {
		start, _ = slices.BinarySearchFunc(items, after, func(it T, k string) int { return strings.Compare(key(it), k) })
		if start < len(items) && key(items[start]) == after {
			start++
		}
	}
	end := min(len(items), start+page.EffectiveLimit())
	next := ""
	if end < len(items) {
		next = store.EncodeCursor(key(items[end-1]))
	}
	return items[start:end], next, nil
}
