package cronexpr

import (
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the zones below, even on machines without a zone database

	"github.com/hexabase/hexabase-ai/internal/testutil"
	"github.com/robfig/cron/v3"
)

func mustLoad(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("LoadLocation(%q): %v", name, err)
	}
	return loc
}

func mustParse(t testing.TB, expr string) *Schedule {
	t.Helper()
	s, err := Parse(expr)
	if err != nil {
		t.Fatalf("Parse(%q): %v", expr, err)
	}
	return s
}

// robfigNextN is what the Kubernetes CronJob controller computes: n calls
// of robfig's Next, each from the previous activation.
func robfigNextN(t testing.TB, expr string, from time.Time, n int) []time.Time {
	t.Helper()
	sched, err := cron.ParseStandard(expr)
	if err != nil {
		t.Fatalf("robfig refuses %q, which Parse accepted: %v", expr, err)
	}
	done := make(chan []time.Time, 1)
	go func() {
		var out []time.Time
		for len(out) < n {
			from = sched.Next(from)
			if from.IsZero() {
				break
			}
			out = append(out, from)
		}
		done <- out
	}()
	select {
	case out := <-done:
		return out
	case <-time.After(20 * time.Second):
		// robfig's Next does not return across a day the zone skips.
		t.Fatalf("robfig's Next of %q from %s has not returned", expr, from)
		return nil
	}
}

func sameTimes(a, b []time.Time) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) || a[i].Location() != b[i].Location() {
			return false
		}
	}
	return true
}

func formatTimes(ts []time.Time) string {
	var b strings.Builder
	for _, t := range ts {
		fmt.Fprintf(&b, "\n\t%s", t.Format("2006-01-02 15:04:05 -0700 MST Mon"))
	}
	return b.String()
}

func TestParseAccepts(t *testing.T) {
	from := time.Date(2026, 3, 2, 17, 50, 0, 0, time.UTC) // a Monday
	for _, tc := range []struct {
		expr string
		next string // the first activation after from
	}{
		{"* * * * *", "2026-03-02 17:51"},
		{"*/15 9-17 * * 1-5", "2026-03-03 09:00"},
		{"0 2 * * *", "2026-03-03 02:00"},
		{"30 2 * * *", "2026-03-03 02:30"},
		{"0 1 * * 0", "2026-03-08 01:00"},
		{"0 0 29 2 *", "2028-02-29 00:00"},
		{"0 0 1,15 * 1", "2026-03-09 00:00"}, // the 1st, the 15th or any Monday
		{"@hourly", "2026-03-02 18:00"},
		{"@daily", "2026-03-03 00:00"},
		{"@midnight", "2026-03-03 00:00"},
		{"@weekly", "2026-03-08 00:00"},
		{"@monthly", "2026-04-01 00:00"},
		{"@yearly", "2027-01-01 00:00"},
		{"@annually", "2027-01-01 00:00"},
		{"5 4 * * SUN", "2026-03-08 04:05"},
		{"5 4 * * sun", "2026-03-08 04:05"},
		{"0 */2 * * *", "2026-03-02 18:00"},
		{"0 12 * JAN-MAR,dec MON-fri", "2026-03-03 12:00"},
		{"? ? ? ? ?", "2026-03-02 17:51"},
		{"*/1 * * * *", "2026-03-02 17:51"},
		{"5/20 * * * *", "2026-03-02 18:05"},
		{"10-40/15 * * * *", "2026-03-02 18:10"},
		{"0 0 * * MON/2", "2026-03-04 00:00"},  // MON-SAT every 2: Mon, Wed, Fri
		{"00 07 01 01 00", "2027-01-01 07:00"}, // Jan 1 or a Sunday in January
		{"0 0 13 * 5", "2026-03-06 00:00"},     // the 13th or a Friday
		{"0 0 13 * */1", "2026-03-13 00:00"},   // */1 is unrestricted: only the 13th
		{"0 0 13 * */2", "2026-03-03 00:00"},   // */2 is restricted: the 13th or Sun, Tue, Thu, Sat
		{"0 0 13 * 0-6", "2026-03-03 00:00"},   // 0-6 is restricted: any day
		{"0 0 * * 0-6", "2026-03-03 00:00"},    // * is unrestricted: any day
		{"0 0 13,* * 1", "2026-03-09 00:00"},   // a list with * is unrestricted: Mondays
		{"*/60 * * * *", "2026-03-02 18:00"},   // a step as long as the field: its first value
		{"0 0 31 * *", "2026-03-31 00:00"},     // months without a 31st are passed over
		{"0 0 31 2,4,5 *", "2026-05-31 00:00"}, // only May has one
		{"  1  2\t3 4 5 ", "2026-04-03 02:01"}, // Apr 3 or a Friday in April
		{"59 23 31 12 6", "2026-12-05 23:59"},  // Dec 31 or a Saturday in December
		{"0 9 * * 0,6", "2026-03-07 09:00"},
		{"15,45 */6 1-7 * *", "2026-03-02 18:15"},
	} {
		t.Run(testutil.CaseName(tc.expr), func(t *testing.T) {
			s, err := Parse(tc.expr)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.expr, err)
			}
			got := s.Next(from).Format("2006-01-02 15:04")
			if got != tc.next {
				t.Errorf("Parse(%q).Next(%s) = %s, want %s", tc.expr, from.Format(time.DateTime), got, tc.next)
			}
			if want := robfigNextN(t, tc.expr, from, 1); !sameTimes([]time.Time{s.Next(from)}, want) {
				t.Errorf("Parse(%q).Next(%s) = %s, robfig %v", tc.expr, from.Format(time.DateTime), got, want)
			}
		})
	}
}

func TestParseRefuses(t *testing.T) {
	long := strings.Repeat("1,", 200) + "1 * * * *"
	for _, tc := range []struct {
		expr   string
		field  string
		reason string // a substring of Reason
	}{
		{"61 * * * *", FieldMinute, "61 is above the maximum 59"},
		{"* * *", FieldSchedule, "expected 5 fields (minute hour day-of-month month day-of-week), got 3"},
		{"* * * * * * *", FieldSchedule, "got 7"},
		{"@every 5m", FieldSchedule, "@every is not supported: use a 5-field expression or @hourly, @daily, @weekly, @monthly, @yearly"},
		{"@every", FieldSchedule, "@every is not supported"},
		{"@every 1h30m", FieldSchedule, "@every is not supported"},
		{"* * * * * *", FieldSchedule, "seconds are not supported"},
		{"0 0 0 * * *", FieldSchedule, "got 6"},
		{"*/0 * * * *", FieldMinute, "step 0 is not allowed"},
		{"1-10/0 * * * *", FieldMinute, "step 0"},
		{"5-1 * * * *", FieldMinute, "range 5-1 runs backwards"},
		{"* 22-2 * * *", FieldHour, "write 22-23,0-2 instead"},
		{"* * * * FRI-MON", FieldDayOfWeek, "runs backwards"},
		{"* 24 * * *", FieldHour, "24 is above the maximum 23"},
		{"* * 0 * *", FieldDayOfMonth, "0 is below the minimum 1"},
		{"* * 32 * *", FieldDayOfMonth, "32 is above the maximum 31"},
		{"* * 1-0 * *", FieldDayOfMonth, "0 is below the minimum 1"},
		{"* * * 13 *", FieldMonth, "13 is above the maximum 12"},
		{"* * * 0 *", FieldMonth, "0 is below the minimum 1"},
		{"* * * * 8", FieldDayOfWeek, "8 is above the maximum 6"},
		{"* * * * 7", FieldDayOfWeek, "7 is above the maximum 6 (Sunday is 0 or SUN)"},
		{"* * * * 5-7", FieldDayOfWeek, "7 is above the maximum 6"},
		{"* * * FOO *", FieldMonth, `"FOO" is not a month name (JAN-DEC) or a number 1-12`},
		{"* * * * FUN", FieldDayOfWeek, `"FUN" is not a day name (SUN-SAT)`},
		{"* * * * MONDAY", FieldDayOfWeek, "not a day name"},
		{"* * JAN * *", FieldDayOfMonth, `"JAN" is not a number`},
		{"CRON_TZ=UTC * * * * *", FieldSchedule, "set the time_zone field instead"},
		{"TZ=Europe/Berlin 0 2 * * *", FieldSchedule, "set the time_zone field instead"},
		{"TZ=UTC", FieldSchedule, "set the time_zone field instead"},
		{"", FieldSchedule, "empty"},
		{" \t\n", FieldSchedule, "empty"},
		{long, FieldSchedule, "too long: 409 bytes, at most 256"},
		{"1,,2 * * * *", FieldMinute, "empty item"},
		{", * * * *", FieldMinute, "empty item"},
		{"1, * * * *", FieldMinute, "empty item"},
		{"*-5 * * * *", FieldMinute, "cannot be part of a range"},
		{"1-* * * * *", FieldMinute, "cannot be part of a range"},
		{"-5 * * * *", FieldMinute, "missing the start of the range"},
		{"5- * * * *", FieldMinute, "missing the end of the range"},
		{"1-2-3 * * * *", FieldMinute, `more than one "-"`},
		{"1,2-3-4 * * * *", FieldMinute, `more than one "-" (negative numbers are not allowed) (in "2-3-4")`},
		{"*/5/2 * * * *", FieldMinute, `more than one "/"`},
		{"/5 * * * *", FieldMinute, `missing a value before "/"`},
		{"*/ * * * *", FieldMinute, `missing the step after "/"`},
		{"*/x * * * *", FieldMinute, `step "x" is not a number`},
		{"*/61 * * * *", FieldMinute, "step 61 is above the maximum 60"},
		{"* */25 * * *", FieldHour, "step 25 is above the maximum 24"},
		{"+5 * * * *", FieldMinute, `"+5" is not a number`},
		{"99999999999999999999 * * * *", FieldMinute, "99999999999999999999 is above the maximum 59"},
		{"0 0 30 2 *", FieldDayOfMonth, "never runs: day 30 never occurs in February"},
		{"0 0 30,31 2 ?", FieldDayOfMonth, "never runs: days 30,31 never occur in February"},
		{"0 0 31 2,4,6 *", FieldDayOfMonth, "never occurs in February, April or June"},
		{"@DAILY", FieldSchedule, "lower case: @daily"},
		{" @daily", FieldSchedule, "remove the whitespace around @daily"},
		{"@daily\n", FieldSchedule, "remove the whitespace"},
		{"@reboot", FieldSchedule, "unknown descriptor"},
		{"@", FieldSchedule, "unknown descriptor"},
		{"* * * * FR\u0130", FieldDayOfWeek, "not a day name"},
		{"*\u00a0* * * * *", FieldSchedule, "got 6"}, // a no-break space is a separator, as for the controller
	} {
		t.Run(testutil.CaseName(tc.expr), func(t *testing.T) {
			s, err := Parse(tc.expr)
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want an error", tc.expr, s)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse(%q): error %T %v, want *Error", tc.expr, err, err)
			}
			if e.Field != tc.field || !strings.Contains(e.Reason, tc.reason) {
				t.Errorf("Parse(%q): Field %q, Reason %q; want Field %q, Reason containing %q", tc.expr, e.Field, e.Reason, tc.field, tc.reason)
			}
			if len(e.Value) > 100 {
				t.Errorf("Parse(%q): Value is %d bytes long", tc.expr, len(e.Value))
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	for _, tc := range []struct{ expr, want string }{
		{"61 * * * *", `schedule "61 * * * *": minute "61": 61 is above the maximum 59`},
		{"* * *", `schedule "* * *": expected 5 fields (minute hour day-of-month month day-of-week), got 3`},
		{"0 9 * * 1-5,9", `schedule "0 9 * * 1-5,9": day of week "1-5,9": 9 is above the maximum 6`},
	} {
		t.Run(testutil.CaseName(tc.expr), func(t *testing.T) {
			_, err := Parse(tc.expr)
			if err == nil || err.Error() != tc.want {
				t.Errorf("Parse(%q) error = %v, want %s", tc.expr, err, tc.want)
			}
		})
	}
	_, err := LoadTimeZone("Mars/Olympus")
	if want := `time zone "Mars/Olympus": unknown time zone: use an IANA name such as "Europe/Berlin" or "UTC"`; err == nil || err.Error() != want {
		t.Errorf("LoadTimeZone error = %v, want %s", err, want)
	}
}

func TestLoadTimeZone(t *testing.T) {
	for _, tc := range []struct {
		name string
		want string // the location's name, "" for an error
	}{
		{"Asia/Tokyo", "Asia/Tokyo"},
		{"America/Argentina/Buenos_Aires", "America/Argentina/Buenos_Aires"},
		{"Etc/GMT+5", "Etc/GMT+5"},
		{"UTC", "UTC"},
		{"", "UTC"},
		{"Mars/Olympus", ""},
		{"Local", ""},
		{"local", ""},
		{" Asia/Tokyo", ""},
		{"Asia/Tokyo ", ""},
		{"../../etc/passwd", ""},
		{"/etc/localtime", ""},
		{"Asia//Tokyo", ""},
		{"EST5EDT,M3.2.0,M11.1.0", ""},
		{"America/Indiana/Indianapolis_and_more", ""},
	} {
		t.Run(testutil.CaseName(tc.name), func(t *testing.T) {
			loc, err := LoadTimeZone(tc.name)
			if tc.want == "" {
				var e *Error
				if err == nil || !errors.As(err, &e) || e.Field != FieldTimeZone || e.Value != tc.name {
					t.Errorf("LoadTimeZone(%q) = %v, %v; want *Error with Field timeZone", tc.name, loc, err)
				}
				return
			}
			if err != nil || loc.String() != tc.want {
				t.Errorf("LoadTimeZone(%q) = %v, %v; want %s", tc.name, loc, err, tc.want)
			}
		})
	}
	if loc, _ := LoadTimeZone(""); loc != time.UTC {
		t.Errorf(`LoadTimeZone("") = %v, want time.UTC`, loc)
	}
}

// referenceExpressions are compared with robfig around daylight-saving
// changes.
var referenceExpressions = []string{
	"* * * * *",
	"*/15 9-17 * * 1-5",
	"0 2 * * *",
	"30 2 * * *",
	"0 3 * * *",
	"30 3 * * *",
	"0 1 * * 0",
	"30 1 * * *",
	"59 1 * * *",
	"0 0 29 2 *",
	"0 0 1,15 * 1",
	"@hourly",
	"@daily",
	"@weekly",
	"@monthly",
	"@yearly",
	"5 4 * * SUN",
	"0 */2 * * *",
	"*/5 1-3 * * *",
	"0,30 * * * *",
	"45 23 * * *",
	"0 0 * * *",
	"0 12 * * 1-5",
	"15 2 8 3 *",
	"15 2 1 11 *",
	"0 2-4 * * 0",
	"*/7 2 * * *",
	"0 0 31 * *",
	"0 0 1 */3 *",
	"0 9 1-7 * 1",
	"0 9 1-7 * */1",
	"0 9 13 * 5",
	"30 6 * * 6,0",
	"0 1-3/2 * * *",
	"10 * * APR,OCT SUN",
	"0 3 * MAR,NOV 0",
	"5/10 1,2,3 * * *",
	"59 23 31 12 *",
	"0 0 28-31 * *",
	"* 2 * * *",
	"0 0 1 1 *",
}

// transitions returns the instants in year at which loc changes its offset.
func transitions(loc *time.Location, year int) []time.Time {
	var out []time.Time
	t := time.Date(year, 1, 1, 0, 0, 0, 0, loc)
	end := time.Date(year+1, 1, 1, 0, 0, 0, 0, loc)
	_, off := t.Zone()
	for t.Before(end) {
		_, e := t.ZoneBounds()
		if e.IsZero() || !e.Before(end) {
			break
		}
		if !e.After(t) {
			// Beyond a zone's listed changes Go computes them per year,
			// and on Dec 31 of a leap year it reports a period that ended
			// before t.
			e = t.Add(time.Hour)
		}
		if _, o := e.Zone(); o != off {
			out = append(out, e)
			off = o
		}
		t = e
	}
	return out
}

func TestNextMatchesRobfigAroundDST(t *testing.T) {
	var starts []time.Time
	for _, name := range []string{"America/New_York", "Europe/Berlin", "Australia/Sydney"} {
		loc := mustLoad(t, name)
		tr := transitions(loc, 2026)
		if len(tr) != 2 {
			t.Fatalf("%s has %d transitions in 2026, want 2", name, len(tr))
		}
		for _, at := range tr {
			for _, d := range []time.Duration{-72 * time.Hour, -25 * time.Hour, -3 * time.Hour, -61 * time.Minute,
				-30 * time.Minute, -time.Second, 0, 30 * time.Minute, 59 * time.Minute, 90 * time.Minute, 21 * time.Hour} {
				starts = append(starts, at.Add(d).In(loc))
			}
		}
	}
	for _, name := range []string{"UTC", "Asia/Tokyo"} {
		loc := mustLoad(t, name)
		starts = append(starts,
			time.Date(2026, 1, 1, 0, 0, 0, 0, loc),
			time.Date(2026, 2, 28, 23, 59, 59, 999, loc),
			time.Date(2026, 12, 31, 23, 30, 0, 0, loc),
			time.Date(2028, 2, 28, 12, 0, 0, 0, loc),
			time.Date(2097, 3, 1, 0, 0, 0, 0, loc), // no Feb 29 within five years
		)
	}
	for _, expr := range referenceExpressions {
		s := mustParse(t, expr)
		for _, from := range starts {
			got := s.NextN(from, from.Location(), 20)
			want := robfigNextN(t, expr, from, 20)
			if !sameTimes(got, want) {
				t.Errorf("%q from %s:\ngot%s\nrobfig%s", expr, from.Format(time.RFC3339), formatTimes(got), formatTimes(want))
			}
		}
	}
}

func TestNextFallBackRunsTwiceSpringForwardSkips(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	from := time.Date(2026, 10, 31, 12, 0, 0, 0, ny)
	got := mustParse(t, "30 1 * * *").NextN(from, ny, 3)
	want := []string{"2026-11-01T01:30:00-04:00", "2026-11-01T01:30:00-05:00", "2026-11-02T01:30:00-05:00"}
	for i := range want {
		if i >= len(got) || got[i].Format(time.RFC3339) != want[i] {
			t.Fatalf("fall back: got%s\nwant %v", formatTimes(got), want)
		}
	}
	from = time.Date(2026, 3, 7, 12, 0, 0, 0, ny)
	got = mustParse(t, "30 2 * * *").NextN(from, ny, 2)
	want = []string{"2026-03-09T02:30:00-04:00", "2026-03-10T02:30:00-04:00"}
	for i := range want {
		if i >= len(got) || got[i].Format(time.RFC3339) != want[i] {
			t.Fatalf("spring forward: got%s\nwant %v", formatTimes(got), want)
		}
	}
}

func TestNextNLocation(t *testing.T) {
	tokyo := mustLoad(t, "Asia/Tokyo")
	s := mustParse(t, "0 9 * * *")
	from := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC) // 09:00 in Tokyo
	got := s.NextN(from, tokyo, 2)
	if len(got) != 2 || got[0].Format(time.RFC3339) != "2026-05-02T09:00:00+09:00" || got[0].Location() != tokyo {
		t.Errorf("NextN in Tokyo = %s", formatTimes(got))
	}
	if got := s.NextN(from, nil, 1); len(got) != 1 || got[0].Format(time.RFC3339) != "2026-05-01T09:00:00Z" {
		t.Errorf("NextN with nil location = %s", formatTimes(got))
	}
	if got := s.NextN(from, tokyo, 0); got != nil {
		t.Errorf("NextN(0) = %v", got)
	}
	if got := mustParse(t, "0 0 29 2 *").NextN(time.Date(2090, 1, 1, 0, 0, 0, 0, time.UTC), nil, 5); len(got) != 2 {
		// 2092 and 2096, then none within five years of 2096 (2100 is not a leap year)
		t.Errorf("NextN of Feb 29 = %s, want 2 activations", formatTimes(got))
	}
	var zero Schedule
	if got := zero.Next(from); !got.IsZero() {
		t.Errorf("zero Schedule: Next = %v", got)
	}
}

func TestNextSkippedDay(t *testing.T) {
	// Samoa went from 2011-12-29 23:59:59 -10 to 2011-12-31 00:00 +14.
	// robfig's Next (and so the CronJob controller) never returns when its
	// day-by-day search reaches 2011-12-30; Next goes on to the 31st.
	kiritimati := mustLoad(t, "Pacific/Kiritimati") // skipped 1994-12-31
	if got := mustParse(t, "59 2 18-21 */11,9/10 ?").Next(time.Date(1994, 12, 21, 2, 59, 0, 0, kiritimati)); got.Format(time.RFC3339) != "1995-01-18T02:59:00+14:00" {
		t.Errorf("Kiritimati: got %s", got.Format(time.RFC3339))
	}
	if got := mustParse(t, "0 0 31 12 *").Next(time.Date(1994, 12, 30, 1, 0, 0, 0, kiritimati)); got.Format(time.RFC3339) != "1995-12-31T00:00:00+14:00" {
		t.Errorf("Kiritimati: got %s", got.Format(time.RFC3339))
	}
	apia := mustLoad(t, "Pacific/Apia")
	from := time.Date(2011, 12, 29, 6, 0, 0, 0, apia)
	for _, tc := range []struct{ expr, want string }{
		{"0 0 31 12 *", "2011-12-31T00:00:00+14:00"},
		{"0 0 30 * *", "2012-01-30T00:00:00+14:00"},
		{"0 12 * * *", "2011-12-29T12:00:00-10:00"},
		{"0 0 * * SAT", "2011-12-31T00:00:00+14:00"},
	} {
		t.Run(testutil.CaseName(tc.expr), func(t *testing.T) {
			got := mustParse(t, tc.expr).Next(from)
			if got.Format(time.RFC3339) != tc.want {
				t.Errorf("%q from %s: got %s, want %s", tc.expr, from.Format(time.RFC3339), got.Format(time.RFC3339), tc.want)
			}
		})
	}
}

// skipsWholeDay reports whether loc moves its clocks forward by half a day
// or more (across the date line) between from and to.
func skipsWholeDay(loc *time.Location, from, to time.Time) bool {
	t := from.In(loc)
	_, off := t.Zone()
	for t.Before(to) {
		_, end := t.ZoneBounds()
		if end.IsZero() {
			return false
		}
		if !end.After(t) {
			end = t.Add(time.Hour)
		}
		_, o := end.Zone()
		if o-off >= 12*3600 {
			return true
		}
		t, off = end, o
	}
	return false
}

// zonesForRandom mixes ordinary zones with ones whose changes are unusual:
// half-hour shifts, negative daylight saving, changes at midnight, a
// skipped day, historical offsets that are not whole minutes.
var zonesForRandom = []string{
	"UTC", "Asia/Tokyo", "America/New_York", "Europe/Berlin", "Australia/Sydney",
	"Australia/Lord_Howe", "Pacific/Chatham", "Antarctica/Troll", "America/Sao_Paulo",
	"Pacific/Apia", "Africa/Casablanca", "Asia/Tehran", "Asia/Kathmandu", "Europe/Dublin",
	"Europe/Amsterdam", "Africa/Monrovia", "America/Havana", "America/Santiago", "Asia/Gaza",
	"Pacific/Kiritimati", "America/St_Johns", "Europe/London", "America/Godthab",
}

func randomField(r *rand.Rand, f fieldSpec) string {
	value := func() string {
		v := f.min + r.Intn(f.max-f.min+1)
		if f.names != nil && r.Intn(3) == 0 {
			name := f.names[v-f.min]
			if r.Intn(2) == 0 {
				name = strings.ToUpper(name)
			}
			return name
		}
		return fmt.Sprint(v)
	}
	item := func() string {
		switch r.Intn(10) {
		case 0:
			return "*"
		case 1:
			return fmt.Sprintf("*/%d", 1+r.Intn(f.max-f.min+1))
		case 2:
			return fmt.Sprintf("%s/%d", value(), 1+r.Intn(f.max-f.min+1))
		case 3, 4:
			a := f.min + r.Intn(f.max-f.min+1)
			b := a + r.Intn(f.max-a+1)
			if r.Intn(2) == 0 {
				return fmt.Sprintf("%d-%d/%d", a, b, 1+r.Intn(f.max-f.min+1))
			}
			return fmt.Sprintf("%d-%d", a, b)
		case 5:
			return "?"
		default:
			return value()
		}
	}
	switch r.Intn(4) {
	case 0:
		return "*"
	case 1:
		n := 2 + r.Intn(3)
		items := make([]string, n)
		for i := range items {
			items[i] = item()
		}
		return strings.Join(items, ",")
	default:
		return item()
	}
}

func randomExpression(r *rand.Rand) string {
	if r.Intn(20) == 0 {
		d := []string{"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
		return d[r.Intn(len(d))]
	}
	fields := make([]string, 5)
	for i := range fields {
		fields[i] = randomField(r, fieldSpecs[i])
	}
	// Often pick the minutes and the small hours that real schedules use
	// and that daylight-saving changes skip or repeat.
	if r.Intn(2) == 0 {
		m := []string{"0", "30", "0,30", "*/15", "59", "1"}
		fields[0] = m[r.Intn(len(m))]
	}
	if r.Intn(2) == 0 {
		h := []string{"0", "1", "2", "3", "1-3", "2,3", "0-2/2", "23", "*/2"}
		fields[1] = h[r.Intn(len(h))]
	}
	return strings.Join(fields, " ")
}

func TestNextMatchesRobfigRandom(t *testing.T) {
	compareRandom(t, 20260301, 3000)
}

// compareRandom compares Next with robfig for random valid expressions,
// from random times: anywhere in 1900-2045, or close to a zone's changes.
func compareRandom(t *testing.T, seed int64, exprs int) {
	r := rand.New(rand.NewSource(seed))
	locs := make([]*time.Location, len(zonesForRandom))
	for i, name := range zonesForRandom {
		locs[i] = mustLoad(t, name)
	}
	refused := 0
	for i := 0; i < exprs; i++ {
		expr := randomExpression(r)
		s, err := Parse(expr)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || !strings.HasPrefix(e.Reason, "never runs") {
				t.Fatalf("Parse(%q): %v", expr, err)
			}
			refused++
			continue
		}
		for j := 0; j < 4; j++ {
			loc := locs[r.Intn(len(locs))]
			var from time.Time
			if j == 0 {
				// Anywhere from 1900 to 2045.
				from = time.Unix(-2208988800+r.Int63n(4575744000), r.Int63n(1e9)).In(loc)
			} else {
				// Close to one of the zone's changes in a recent year.
				tr := transitions(loc, 1970+r.Intn(70))
				if len(tr) == 0 {
					from = time.Unix(r.Int63n(2e9), 0).In(loc)
				} else {
					from = tr[r.Intn(len(tr))].Add(time.Duration(r.Int63n(int64(96*time.Hour))) - 72*time.Hour).In(loc)
				}
			}
			if skipsWholeDay(loc, from, from.AddDate(30, 0, 0)) {
				continue // robfig's search may never return (see TestNextSkippedDay)
			}
			got := s.NextN(from, loc, 5)
			want := robfigNextN(t, expr, from, 5)
			if !sameTimes(got, want) {
				t.Fatalf("%q from %s (%s):\ngot%s\nrobfig%s", expr, from.Format(time.RFC3339Nano), loc, formatTimes(got), formatTimes(want))
			}
		}
	}
	if refused > exprs/10 {
		t.Errorf("%d of %d random expressions refused as never running", refused, exprs)
	}
}

func BenchmarkNextN(b *testing.B) {
	berlin := mustLoad(b, "Europe/Berlin")
	from := time.Date(2026, 3, 20, 8, 0, 0, 0, berlin)
	for _, expr := range []string{"*/15 9-17 * * 1-5", "0 2 * * *", "0 0 29 2 *"} {
		s := mustParse(b, expr)
		b.Run(expr, func(b *testing.B) {
			for b.Loop() {
				s.NextN(from, berlin, 20)
			}
		})
	}
	// The controller's own search, for comparison.
	sched, err := cron.ParseStandard("*/15 9-17 * * 1-5")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("robfig */15 9-17 * * 1-5", func(b *testing.B) {
		for b.Loop() {
			t := from
			for range 20 {
				t = sched.Next(t)
			}
		}
	})
}

// TestFastPathMatchesWalk checks the calendar arithmetic against the
// step-by-step search close to zone changes, where the window of constant
// offset that the arithmetic needs starts and ends.
func TestFastPathMatchesWalk(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	locs := make([]*time.Location, len(zonesForRandom))
	for i, name := range zonesForRandom {
		locs[i] = mustLoad(t, name)
	}
	fast, n := 0, 20000
	for i := 0; i < n; i++ {
		expr := randomExpression(r)
		s, err := Parse(expr)
		if err != nil {
			continue
		}
		loc := locs[r.Intn(len(locs))]
		from := time.Unix(r.Int63n(2e9), 0).In(loc)
		if tr := transitions(loc, 1970+r.Intn(70)); len(tr) > 0 {
			from = tr[r.Intn(len(tr))].Add(time.Duration(r.Int63n(int64(20*24*time.Hour))) - 10*24*time.Hour).In(loc)
		}
		from = from.Add(time.Second - time.Duration(from.Nanosecond()))
		var w zoneWindow
		got, ok := s.fast(from, &w)
		if !ok {
			continue
		}
		fast++
		if want := s.walk(from); !got.Equal(want) || got.Location() != want.Location() {
			t.Fatalf("%q from %s (%s): fast path %s, step by step %s", expr, from.Format(time.RFC3339), loc, got, want)
		}
	}
	if fast < n/3 {
		t.Errorf("the fast path answered only %d of %d searches", fast, n)
	}
}
