package workloads

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/store"
)

func TestPageOf(t *testing.T) {
	var items []string
	for i := range 7 {
		items = append(items, fmt.Sprintf("p-%02d", i))
	}
	id := func(s string) string { return s }
	var got []string
	cursor := ""
	pages := 0
	for {
		page, next, err := pageOf(items, store.Page{Limit: 3, After: cursor}, id)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page...)
		pages++
		if next == "" {
			break
		}
		cursor = next
	}
	if !slices.Equal(got, items) || pages != 3 {
		t.Fatalf("walked %v in %d pages, want %v in 3", got, pages, items)
	}
	// A cursor whose item went away still resumes after it.
	c := store.EncodeCursor("p-025")
	page, _, err := pageOf(items, store.Page{Limit: 2, After: c}, id)
	if err != nil || !slices.Equal(page, []string{"p-03", "p-04"}) {
		t.Fatalf("after a vanished key: %v, %v", page, err)
	}
	// Default limit, empty list, and a cursor that is not ours.
	if page, next, err := pageOf([]string{}, store.Page{}, id); err != nil || len(page) != 0 || next != "" {
		t.Fatalf("empty: %v %q %v", page, next, err)
	}
	_, _, err = pageOf(items, store.Page{After: "bogus"}, id)
	var he *httpapi.Error
	if !errors.As(err, &he) || he.Status != 400 {
		t.Fatalf("bad cursor: %v", err)
	}
}

func TestEventKeyOrder(t *testing.T) {
	a := eventKey(mustTime("2026-12-02T10:00:00.5Z"), "z")
	b := eventKey(mustTime("2026-12-02T10:00:01Z"), "a")
	if a >= b {
		t.Fatalf("%q sorts after %q", a, b)
	}
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}
