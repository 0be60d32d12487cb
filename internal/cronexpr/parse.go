package cronexpr

import (
	"fmt"
	"strings"
	"time"
)

// MaxScheduleLength is the longest schedule expression Parse accepts, in bytes.
const MaxScheduleLength = 256

// Field names used in Error.Field.
const (
	FieldSchedule   = "schedule"
	FieldMinute     = "minute"
	FieldHour       = "hour"
	FieldDayOfMonth = "day of month"
	FieldMonth      = "month"
	FieldDayOfWeek  = "day of week"
	FieldTimeZone   = "time zone"
)

// Error is a schedule problem a person can act on.
type Error struct {
	// Field is FieldSchedule for problems with the whole expression,
	// FieldMinute, FieldHour, FieldDayOfMonth, FieldMonth or FieldDayOfWeek
	// for a problem in one field, and FieldTimeZone for time zones.
	Field string
	// Value is the offending text: the field's text, or the whole
	// expression (or zone name). Very long input is shortened.
	Value string
	// Reason says what is wrong, and where it helps, what to write instead.
	Reason string

	// expr is the whole expression, for the message of a field error.
	expr string
}

// Error formats the problem, such as
// `schedule "61 * * * *": minute "61": 61 is above the maximum 59`.
func (e *Error) Error() string {
	switch {
	case e.Field == FieldSchedule || e.Field == FieldTimeZone || e.Field == "":
		field := e.Field
		if field == "" {
			field = FieldSchedule
		}
		return fmt.Sprintf("%s %q: %s", field, e.Value, e.Reason)
	case e.expr != "":
		return fmt.Sprintf("%s %q: %s %q: %s", FieldSchedule, e.expr, e.Field, e.Value, e.Reason)
	default:
		return fmt.Sprintf("%s %q: %s", e.Field, e.Value, e.Reason)
	}
}

// Schedule is a parsed cron expression. Its methods may be called from
// several goroutines at once. The zero Schedule never activates.
type Schedule struct {
	// One bit per allowed value: minute 0-59, hour 0-23, day of month
	// 1-31, month 1-12, day of week 0-6 (Sunday is 0).
	minute, hour, dom, month, dow uint64
	// domStar and dowStar record whether the field was written as
	// unrestricted ("*", "?" or "*/1" among its items). Only when neither
	// is does a day match on either field instead of on both.
	domStar, dowStar bool
	// days[w] has the bits of the days 1-31 that match both day fields in
	// a month whose first day is weekday w.
	days [7]uint64
}

type fieldSpec struct {
	name     string
	min, max int
	names    []string // lower-case names of min, min+1, ...
	kind     string   // what a name names, for messages
	nameHint string   // the range of names, for messages
}

var fieldSpecs = [5]fieldSpec{
	{name: FieldMinute, min: 0, max: 59},
	{name: FieldHour, min: 0, max: 23},
	{name: FieldDayOfMonth, min: 1, max: 31},
	{name: FieldMonth, min: 1, max: 12, kind: "month", nameHint: "JAN-DEC",
		names: []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
	{name: FieldDayOfWeek, min: 0, max: 6, kind: "day", nameHint: "SUN-SAT",
		names: []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
}

// descriptors maps each supported descriptor to the expression it stands for.
var descriptors = map[string]string{
	"@yearly":   "0 0 1 1 *",
	"@annually": "0 0 1 1 *",
	"@monthly":  "0 0 1 * *",
	"@weekly":   "0 0 * * 0",
	"@daily":    "0 0 * * *",
	"@midnight": "0 0 * * *",
	"@hourly":   "0 * * * *",
}

const descriptorList = "@yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly"

var monthNames = [13]string{"", "January", "February", "March", "April", "May", "June",
	"July", "August", "September", "October", "November", "December"}

// longestMonth is the most days each month can have.
var longestMonth = [13]int{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

// Parse parses a standard 5-field expression (minute hour day-of-month month
// day-of-week) or a descriptor (@yearly, @annually, @monthly, @weekly,
// @daily, @midnight, @hourly).
//
// Fields accept *, ?, numbers, ranges a-b, steps */n, a-b/n and a/n (which
// means a to the field's maximum, every n), and lists of these separated by
// commas. Months may be named JAN-DEC and days of the week SUN-SAT, in any
// case. Day-of-week runs from 0 (Sunday) to 6; 7 is refused, as the
// Kubernetes CronJob controller refuses it. The package documentation lists
// what Parse refuses although the controller would accept it.
//
// Problems are reported as *Error.
func Parse(expr string) (*Schedule, error) {
	whole := func(reason string) error {
		return &Error{Field: FieldSchedule, Value: clip(expr), Reason: reason}
	}
	if len(expr) > MaxScheduleLength {
		return nil, whole(fmt.Sprintf("too long: %d bytes, at most %d", len(expr), MaxScheduleLength))
	}
	text := strings.TrimSpace(expr)
	if text == "" {
		return nil, whole("empty: write 5 fields (minute hour day-of-month month day-of-week) or a descriptor such as @daily")
	}
	if strings.Contains(strings.ToUpper(text), "TZ=") { // TZ=... or CRON_TZ=...
		return nil, whole("a time zone in the schedule (TZ= or CRON_TZ=) is not supported: set the time_zone field instead")
	}
	if strings.HasPrefix(text, "@") {
		return parseDescriptor(expr, text)
	}

	fields := strings.Fields(expr)
	switch n := len(fields); {
	case n == 6:
		return nil, whole("expected 5 fields (minute hour day-of-month month day-of-week), got 6: seconds are not supported")
	case n != 5:
		return nil, whole(fmt.Sprintf("expected 5 fields (minute hour day-of-month month day-of-week), got %d", n))
	}

	var s Schedule
	var sets [5]uint64
	var stars [5]bool
	for i, f := range fields {
		set, star, reason := fieldSpecs[i].parse(f)
		if reason != "" {
			return nil, &Error{Field: fieldSpecs[i].name, Value: f, Reason: reason, expr: expr}
		}
		sets[i], stars[i] = set, star
	}
	s.minute, s.hour, s.dom, s.month, s.dow = sets[0], sets[1], sets[2], sets[3], sets[4]
	s.domStar, s.dowStar = stars[2], stars[4]

	if reason := s.neverRuns(); reason != "" {
		return nil, &Error{Field: FieldDayOfMonth, Value: fields[2], Reason: reason, expr: expr}
	}
	s.fillDays()
	return &s, nil
}

func parseDescriptor(expr, text string) (*Schedule, error) {
	whole := func(reason string) error {
		return &Error{Field: FieldSchedule, Value: clip(expr), Reason: reason}
	}
	lower := strings.ToLower(text)
	if strings.HasPrefix(lower, "@every") {
		return nil, whole("@every is not supported: use a 5-field expression or @hourly, @daily, @weekly, @monthly, @yearly")
	}
	if spec, ok := descriptors[text]; ok {
		if text != expr {
			return nil, whole(fmt.Sprintf("remove the whitespace around %s", text))
		}
		s, err := Parse(spec)
		if err != nil { // cannot happen: the table holds valid expressions
			return nil, whole(err.Error())
		}
		return s, nil
	}
	if _, ok := descriptors[lower]; ok {
		return nil, whole(fmt.Sprintf("descriptors are written in lower case: %s", lower))
	}
	return nil, whole("unknown descriptor: use " + descriptorList)
}

// parse parses one field's text into a bit set, reporting whether it was
// written as unrestricted, or returns a reason it is invalid.
func (f *fieldSpec) parse(text string) (set uint64, star bool, reason string) {
	for _, item := range strings.Split(text, ",") {
		// in names the list item in messages, when the field has several.
		in := ""
		if item != text {
			in = fmt.Sprintf(" (in %q)", item)
		}
		if item == "" {
			return 0, false, "empty item in the list"
		}
		rng, stepText, hasStep := strings.Cut(item, "/")
		if hasStep && strings.Contains(stepText, "/") {
			return 0, false, `more than one "/"` + in
		}
		var lo, hi int
		itemStar := false
		switch {
		case rng == "*" || rng == "?":
			lo, hi, itemStar = f.min, f.max, true
		case rng == "":
			return 0, false, `missing a value before "/"` + in
		case strings.ContainsAny(rng, "*?"):
			return 0, false, `"*" and "?" stand alone or take a step (*/n); they cannot be part of a range` + in
		default:
			loText, hiText, isRange := strings.Cut(rng, "-")
			if isRange && strings.Contains(hiText, "-") {
				return 0, false, `more than one "-" (negative numbers are not allowed)` + in
			}
			if loText == "" {
				return 0, false, `missing the start of the range (negative numbers are not allowed)` + in
			}
			if isRange && hiText == "" {
				return 0, false, `missing the end of the range` + in
			}
			if lo, reason = f.value(loText); reason != "" {
				return 0, false, reason
			}
			hi = lo
			if isRange {
				if hi, reason = f.value(hiText); reason != "" {
					return 0, false, reason
				}
			} else if hasStep {
				hi = f.max // "a/n" means a to the maximum, every n
			}
			if lo > f.max {
				return 0, false, f.aboveMax(loText)
			}
			if hi > f.max {
				return 0, false, f.aboveMax(hiText)
			}
			if lo < f.min {
				return 0, false, fmt.Sprintf("%s is below the minimum %d", loText, f.min)
			}
			if hi < f.min {
				return 0, false, fmt.Sprintf("%s is below the minimum %d", hiText, f.min)
			}
			if lo > hi {
				reason := fmt.Sprintf("range %s runs backwards: ranges cannot wrap around", rng)
				if !hasStep {
					reason += fmt.Sprintf(", write %d-%d,%d-%d instead", lo, f.max, f.min, hi)
				}
				return 0, false, reason
			}
		}
		step := 1
		if hasStep {
			if step, reason = f.step(stepText); reason != "" {
				return 0, false, reason
			}
			if step > 1 {
				itemStar = false
			}
		}
		for v := lo; v <= hi; v += step {
			set |= 1 << uint(v)
		}
		star = star || itemStar
	}
	return set, star, ""
}

func (f *fieldSpec) aboveMax(text string) string {
	reason := fmt.Sprintf("%s is above the maximum %d", text, f.max)
	if f.name == FieldDayOfWeek && text == "7" {
		reason += " (Sunday is 0 or SUN)"
	}
	return reason
}

// tooBig stands for any number too large for a field; numbers are
// never used above it.
const tooBig = 1 << 20

// value parses a number or, in the month and day-of-week fields, a name.
func (f *fieldSpec) value(tok string) (int, string) {
	if n, ok := number(tok); ok {
		return n, ""
	}
	if f.names != nil && len(tok) == 3 {
		for i, name := range f.names {
			if asciiEqualFold(tok, name) {
				return f.min + i, ""
			}
		}
	}
	if f.names != nil {
		return 0, fmt.Sprintf("%q is not a %s name (%s) or a number %d-%d", tok, f.kind, f.nameHint, f.min, f.max)
	}
	return 0, fmt.Sprintf("%q is not a number", tok)
}

// step parses the step after "/": a number from 1 to the number of values
// of the field.
func (f *fieldSpec) step(tok string) (int, string) {
	if tok == "" {
		return 0, `missing the step after "/"`
	}
	n, ok := number(tok)
	if !ok {
		return 0, fmt.Sprintf("step %q is not a number", tok)
	}
	if n == 0 {
		return 0, "step 0 is not allowed: use a step of 1 or more"
	}
	if span := f.max - f.min + 1; n > span {
		return 0, fmt.Sprintf("step %s is above the maximum %d (the field has only %d values)", tok, span, span)
	}
	return n, ""
}

// number parses a string of ASCII digits; values above tooBig come back as
// tooBig.
func number(tok string) (int, bool) {
	if tok == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n < tooBig {
			n = n*10 + int(c-'0')
		}
	}
	return min(n, tooBig), true
}

func asciiEqualFold(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// neverRuns explains why no day can ever match, or returns "". Days can only
// be missing when day-of-week is unrestricted, so that the day-of-month field
// alone decides, and the chosen days are beyond the end of every chosen month.
func (s *Schedule) neverRuns() string {
	if !s.dowStar {
		return ""
	}
	var months []string
	for m := 1; m <= 12; m++ {
		if s.month&(1<<uint(m)) == 0 {
			continue
		}
		if s.dom&daysUpTo(longestMonth[m]) != 0 {
			return ""
		}
		months = append(months, monthNames[m])
	}
	list := months[0]
	if n := len(months); n > 1 {
		list = strings.Join(months[:n-1], ", ") + " or " + months[n-1]
	}
	var chosen []string
	for d := 1; d <= 31; d++ {
		if s.dom&(1<<uint(d)) != 0 {
			chosen = append(chosen, fmt.Sprint(d))
		}
	}
	if len(chosen) == 1 {
		return fmt.Sprintf("never runs: day %s never occurs in %s", chosen[0], list)
	}
	return fmt.Sprintf("never runs: days %s never occur in %s", strings.Join(chosen, ","), list)
}

func (s *Schedule) fillDays() {
	for w := 0; w < 7; w++ {
		var dowDays uint64
		for d := 1; d <= 31; d++ {
			if s.dow&(1<<uint((w+d-1)%7)) != 0 {
				dowDays |= 1 << uint(d)
			}
		}
		if s.domStar || s.dowStar {
			s.days[w] = s.dom & dowDays
		} else {
			s.days[w] = s.dom | dowDays
		}
	}
}

// daysUpTo is the bit set of the days 1 to n.
func daysUpTo(n int) uint64 { return (1<<uint(n+1) - 1) &^ 1 }

// clip shortens over-long input (beyond MaxScheduleLength) for error messages.
func clip(s string) string {
	const keep = 64
	if len(s) <= MaxScheduleLength {
		return s
	}
	cut := keep
	for cut > 0 && s[cut]&0xC0 == 0x80 { // do not split a UTF-8 sequence
		cut--
	}
	return s[:cut] + "..."
}

// LoadTimeZone validates an IANA time zone name as Kubernetes validates a
// CronJob's spec.timeZone, and loads it. The empty name stands for the
// controller's own zone, which is UTC. "Local" is refused, as are names with
// leading or trailing spaces and names that are not IANA-style (components
// of up to 14 letters, digits, '.', '-', '_' or '+'). Problems are reported
// as *Error with Field FieldTimeZone.
func LoadTimeZone(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	fail := func(reason string) error {
		return &Error{Field: FieldTimeZone, Value: clip(name), Reason: reason}
	}
	const example = `use an IANA name such as "Europe/Berlin" or "UTC"`
	switch {
	case len(name) > MaxScheduleLength:
		return nil, fail("too long")
	case strings.TrimSpace(name) != name:
		return nil, fail("remove the leading and trailing spaces")
	case strings.EqualFold(name, "Local"):
		return nil, fail(`"Local" is not allowed: ` + example)
	case !zoneName(name):
		return nil, fail("unknown time zone: " + example)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fail("unknown time zone: " + example)
	}
	return loc, nil
}

// zoneName reports whether name has the shape Kubernetes requires of a
// time zone name.
func zoneName(name string) bool {
	for _, part := range strings.Split(name, "/") {
		if part == "" || len(part) > 14 || part == "." || part == ".." || part[0] == '-' {
			return false
		}
		for i := 0; i < len(part); i++ {
			c := part[i]
			ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
				c == '.' || c == '-' || c == '_' || c == '+'
			if !ok {
				return false
			}
		}
	}
	return true
}
