package cronexpr

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
)

// robfigParse is cron.ParseStandard, with a panic (it has some, for
// instance on "TZ=UTC" without a space) turned into an error.
func robfigParse(expr string) (sched cron.Schedule, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return cron.ParseStandard(expr)
}

// FuzzParse checks that Parse never panics, that its errors are *Error,
// and that every expression it accepts is accepted by robfig/cron (and so
// by the Kubernetes CronJob controller) with the same activations.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"* * * * *", "*/15 9-17 * * 1-5", "0 2 * * *", "30 2 * * *", "0 1 * * 0",
		"0 0 29 2 *", "0 0 1,15 * 1", "@hourly", "@weekly", "@every 5m", "5 4 * * SUN",
		"0 */2 * * *", "61 * * * *", "* * *", "* * * * * *", "*/0 * * * *", "5-1 * * * *",
		"* 24 * * *", "* * 0 * *", "* * * 13 *", "* * * * 8", "* * * * 7", "* * * FOO *",
		"CRON_TZ=UTC * * * * *", "TZ=UTC", "", " ", "1,,2 * * * *", "*-5 * * * *",
		"?/2 ? ? ? ?", "MON/2 * * * MON/2", "0 0 13 * */1", "0 0 30 2 *", "00 07 01 01 00",
		"@daily ", "@DAILY", "+5 * * * *", "99999999999999999999 * * * *", "\t1\n2 3 4 5",
		"0 0 31 2,4 0-6", "1-59/60 */24 */31 */12 */7",
	} {
		f.Add(seed)
	}
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		f.Fatal(err)
	}
	starts := []time.Time{
		time.Date(2026, 3, 7, 23, 59, 30, 0, ny),          // before spring forward
		time.Date(2026, 10, 31, 23, 0, 0, 0, ny),          // before fall back
		time.Date(2026, 6, 15, 12, 34, 56, 789, time.UTC), // no change
	}
	f.Fuzz(func(t *testing.T, expr string) {
		s, err := Parse(expr)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Field == "" || e.Reason == "" {
				t.Fatalf("Parse(%q): error %#v is not a complete *Error", expr, err)
			}
			if len(e.Value) > MaxScheduleLength {
				t.Fatalf("Parse(%q): Value of %d bytes", expr, len(e.Value))
			}
			_ = err.Error()
			return
		}
		sched, rerr := robfigParse(expr)
		if rerr != nil {
			t.Fatalf("Parse accepts %q, robfig refuses it: %v", expr, rerr)
		}
		for _, from := range starts {
			got := s.NextN(from, from.Location(), 3)
			var want []time.Time
			for at := from; len(want) < 3; {
				if at = sched.Next(at); at.IsZero() {
					break
				}
				want = append(want, at)
			}
			if !sameTimes(got, want) {
				t.Fatalf("%q from %s:\ngot%s\nrobfig%s", expr, from.Format(time.RFC3339), formatTimes(got), formatTimes(want))
			}
		}
	})
}
