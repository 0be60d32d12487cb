package required

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

type store interface{ Get() string }

type memStore struct{}

func (*memStore) Get() string { return "" }

type config struct {
	Store  store
	Logger *slog.Logger
	Now    func() time.Time
	Dir    string
	Limit  int
}

func TestFields(t *testing.T) {
	full := config{Store: &memStore{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now, Dir: "/tmp", Limit: 1}
	names := []string{"Store", "Logger", "Now", "Dir"}
	for _, tc := range []struct {
		name string
		mod  func(*config)
		want string
	}{
		{"all there", func(*config) {}, ""},
		{"nil interface", func(c *config) { c.Store = nil }, "comp: Store is required"},
		{"nil pointer", func(c *config) { c.Logger = nil }, "comp: Logger is required"},
		{"nil func", func(c *config) { c.Now = nil }, "comp: Now is required"},
		{"empty string", func(c *config) { c.Dir = "" }, "comp: Dir is required"},
		{"the first missing in the order given", func(c *config) { c.Now, c.Store = nil, nil }, "comp: Store is required"},
		{"unnamed fields are not checked", func(c *config) { c.Limit = 0 }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := full
			tc.mod(&c)
			err := Fields("comp", c, names...)
			if got := ""; err != nil {
				got = err.Error()
				if got != tc.want {
					t.Fatalf("error %q, want %q", got, tc.want)
				}
			} else if tc.want != "" {
				t.Fatalf("no error, want %q", tc.want)
			}
			if perr := Fields("comp", &c, names...); (perr == nil) != (err == nil) {
				t.Fatalf("through a pointer: %v, directly: %v", perr, err)
			}
		})
	}
}

func TestFieldsPanicsOnCallerMistakes(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  any
		want string
	}{
		{"unknown field", config{}, "has no field Stor"},
		{"not a struct", 42, "is not a struct"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if p, _ := recover().(string); !strings.Contains(p, tc.want) {
					t.Fatalf("panic %q, want %q", p, tc.want)
				}
			}()
			_ = Fields("comp", tc.cfg, "Stor")
		})
	}
}
