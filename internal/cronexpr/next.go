package cronexpr

import (
	"math"
	"math/bits"
	"time"
)

// Next returns the first activation strictly after t, in t's location, or
// the zero time if there is none within five years (from t's year).
//
// Like the Kubernetes CronJob controller, Next works in wall-clock time: a
// time that a daylight-saving change skips does not run that day (and a day
// whose midnight is skipped may be passed over), and a time that a change
// repeats runs at both occurrences.
func (s *Schedule) Next(t time.Time) time.Time {
	var w zoneWindow
	return s.next(t, &w)
}

// NextN returns the next n activations after t, computed in loc (in t's own
// location when loc is nil). It returns fewer when the schedule ends within
// the five-year search limit, and nil when n <= 0.
func (s *Schedule) NextN(t time.Time, loc *time.Location, n int) []time.Time {
	if n <= 0 {
		return nil
	}
	if loc != nil {
		t = t.In(loc)
	}
	out := make([]time.Time, 0, min(n, 64))
	var w zoneWindow
	for len(out) < n {
		t = s.next(t, &w)
		if t.IsZero() {
			break
		}
		out = append(out, t)
	}
	return out
}

func (s *Schedule) next(t time.Time, w *zoneWindow) time.Time {
	if s == nil || s.minute == 0 { // the zero Schedule
		return time.Time{}
	}
	// Candidates are whole seconds after t; only second 0 matches.
	t = t.Add(time.Second - time.Duration(t.Nanosecond()))
	if r, ok := s.fast(t, w); ok {
		return r
	}
	return s.walk(t)
}

// The search is the controller's (robfig/cron v3 SpecSchedule.Next): it
// checks month, day, hour, minute and second in turn, and advances the first
// field that does not match with time.Date, Time.AddDate and Time.Add, going
// back to the month whenever a field wraps around. Where the wall clock
// jumps (daylight saving, changes of a zone's offset) what it finds depends
// on how those functions resolve wall times that do not exist or exist
// twice, so near such jumps walk repeats that search step by step. Anywhere
// else the wall clock is a fixed offset from UTC, the search finds the
// earliest matching wall time, and fast computes that directly.

// zoneWindow is a span of time in one location in which the UTC offset is
// constant and stays so for a margin on each side; within it every wall
// time maps to one instant, which time.Date finds.
type zoneWindow struct {
	loc    *time.Location
	lo, hi int64 // Unix seconds, [lo, hi)
	offset int64 // seconds east of UTC
	valid  bool
}

// windowMargin exceeds, with room to spare, the largest UTC offset (under 16
// hours, in historical zones), which time.Date's first guess may be off by,
// and the largest difference between two offsets of one zone (about a day),
// so that no wall time inside a window also exists outside it.
const windowMargin = 48 * 3600

// cover reports whether t is in the window, recomputing it for t if needed.
func (w *zoneWindow) cover(t time.Time) bool {
	u := t.Unix()
	if w.valid && w.loc == t.Location() && w.lo <= u && u < w.hi {
		return true
	}
	_, offset := t.Zone()
	start, end := t.ZoneBounds()
	// Periods of one offset may be split, for example at New Year when the
	// zone's rules are computed per year; join such neighbours.
	for i := 0; i < 4 && !end.IsZero(); i++ {
		if _, o := end.Zone(); o != offset {
			break
		}
		s2, e2 := end.ZoneBounds()
		if s2.After(end) || (!e2.IsZero() && !e2.After(end)) {
			break
		}
		end = e2
	}
	for i := 0; i < 4 && !start.IsZero(); i++ {
		before := start.Add(-time.Second)
		if _, o := before.Zone(); o != offset {
			break
		}
		s2, e2 := before.ZoneBounds()
		if e2.IsZero() || e2.Before(start) || (!s2.IsZero() && s2.After(before)) {
			break
		}
		start = s2
	}
	*w = zoneWindow{loc: t.Location(), lo: math.MinInt64, hi: math.MaxInt64, offset: int64(offset), valid: true}
	if !start.IsZero() {
		w.lo = start.Unix() + windowMargin
	}
	if !end.IsZero() {
		w.hi = end.Unix() - windowMargin
	}
	return w.lo <= u && u < w.hi
}

// fast computes the activation after t (a whole second) by calendar
// arithmetic when the controller's search stays within a window of constant
// offset; ok is false when it cannot tell.
func (s *Schedule) fast(t time.Time, w *zoneWindow) (next time.Time, ok bool) {
	if !w.cover(t) || w.offset%60 != 0 {
		return time.Time{}, false
	}
	local := t.Unix() + w.offset
	day := floorDiv(local, 86400)
	y, mo, d := civil(day)
	if y < 1 || y > 1_000_000 {
		return time.Time{}, false
	}
	sec := local - day*86400
	h, mi := int(sec/3600), int(sec/60%60)
	if sec%60 != 0 {
		mi++
	}
	// The search may step back to the start of the current month (when the
	// month does not match) or day; that must be inside the window too.
	restart := day
	if s.month&(1<<uint(mo)) == 0 {
		restart = daysFromCivil(y, mo, 1)
	}
	if restart*86400-w.offset < w.lo {
		return time.Time{}, false
	}
	ry, rmo, rd, rh, rmi, found := s.search(y, mo, d, h, mi, y+5)
	if !found {
		// The search runs to the end of its five years; only a window
		// without end covers that.
		return time.Time{}, w.hi == math.MaxInt64
	}
	u := daysFromCivil(ry, rmo, rd)*86400 + int64(rh*3600+rmi*60) - w.offset
	if u >= w.hi {
		return time.Time{}, false
	}
	return time.Unix(u, 0).In(t.Location()), true
}

// search finds the earliest matching wall time at or after the given minute
// (whose fields may overflow by one) up to the end of year limit.
func (s *Schedule) search(y, mo, d, h, mi, limit int) (int, int, int, int, int, bool) {
	for y <= limit {
		m, ok := nextBit(s.month, mo)
		if !ok {
			y, mo, d, h, mi = y+1, 1, 1, 0, 0
			continue
		}
		if m != mo {
			mo, d, h, mi = m, 1, 0, 0
		}
		dd, ok := nextBit(s.monthDays(y, mo), d)
		if !ok {
			mo, d, h, mi = mo+1, 1, 0, 0
			continue
		}
		if dd != d {
			d, h, mi = dd, 0, 0
		}
		hh, ok := nextBit(s.hour, h)
		if !ok {
			d, h, mi = d+1, 0, 0
			continue
		}
		if hh != h {
			h, mi = hh, 0
		}
		mm, ok := nextBit(s.minute, mi)
		if !ok {
			h, mi = h+1, 0
			continue
		}
		return y, mo, d, h, mm, true
	}
	return 0, 0, 0, 0, 0, false
}

// monthDays is the bit set of the matching days of month mo of year y.
func (s *Schedule) monthDays(y, mo int) uint64 {
	first := daysFromCivil(y, mo, 1)
	wd := floorMod(first+4, 7) // 1970-01-01 was a Thursday
	return s.days[wd] & daysUpTo(daysIn(y, mo))
}

// maxWalkSteps bounds walk. A search that finishes takes at most some
// thousands of steps (six years of days, and an hour's minutes and seconds
// a few times over); more means the controller's search would not return.
const maxWalkSteps = 1 << 20

// walk is the controller's search, step by step, from t (a whole second).
// It differs only where that search would never return: across a day that
// the zone skips entirely it steps to the following day, and if it still
// has not finished after maxWalkSteps it gives up with the zero time.
func (s *Schedule) walk(t time.Time) time.Time {
	loc := t.Location()
	limit := t.Year() + 5
	// Until some field has to advance, t keeps its smaller units; the first
	// advance clears them (to the start of the month, day, hour or minute).
	moved := false
	steps := 0
search:
	for {
		if t.Year() > limit {
			return time.Time{}
		}
		for s.month&(1<<uint(t.Month())) == 0 {
			if steps++; steps > maxWalkSteps {
				return time.Time{}
			}
			if !moved {
				moved = true
				t = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, loc)
			}
			t = t.AddDate(0, 1, 0)
			if t.Month() == time.January {
				continue search
			}
		}
		for !s.dayMatches(t) {
			if steps++; steps > maxWalkSteps {
				return time.Time{}
			}
			if !moved {
				moved = true
				y, m, d := t.Date()
				t = time.Date(y, m, d, 0, 0, 0, 0, loc)
			}
			prev := t
			t = nearMidnight(t.AddDate(0, 0, 1))
			if t.Equal(prev) {
				// The zone skips the whole next day (Pacific/Apia skipped
				// 2011-12-30) and time.Date resolves it to this same
				// midnight: the controller's search goes round for ever
				// here. Step over the missing day instead.
				t = nearMidnight(prev.Add(24 * time.Hour))
			}
			if t.Day() == 1 {
				continue search
			}
		}
		for s.hour&(1<<uint(t.Hour())) == 0 {
			if steps++; steps > maxWalkSteps {
				return time.Time{}
			}
			if !moved {
				moved = true
				y, m, d := t.Date()
				t = time.Date(y, m, d, t.Hour(), 0, 0, 0, loc)
			}
			t = t.Add(time.Hour)
			if t.Hour() == 0 {
				continue search
			}
		}
		for s.minute&(1<<uint(t.Minute())) == 0 {
			if steps++; steps > maxWalkSteps {
				return time.Time{}
			}
			if !moved {
				moved = true
				t = t.Truncate(time.Minute)
			}
			t = t.Add(time.Minute)
			if t.Minute() == 0 {
				continue search
			}
		}
		if t.Second() != 0 {
			if !moved {
				moved = true
				t = t.Truncate(time.Second)
			}
			for {
				if steps++; steps > maxWalkSteps {
					return time.Time{}
				}
				t = t.Add(time.Second)
				if t.Second() == 0 {
					continue search
				}
			}
		}
		return t.In(loc)
	}
}

// nearMidnight moves t, which time.Date gave for a midnight, to the hour
// boundary nearest that midnight: where midnight does not exist, time.Date
// lands an hour or so beside it.
func nearMidnight(t time.Time) time.Time {
	switch h := t.Hour(); {
	case h > 12:
		return t.Add(time.Duration(24-h) * time.Hour)
	case h > 0:
		return t.Add(-time.Duration(h) * time.Hour)
	}
	return t
}

func (s *Schedule) dayMatches(t time.Time) bool {
	domOK := s.dom&(1<<uint(t.Day())) != 0
	dowOK := s.dow&(1<<uint(t.Weekday())) != 0
	if s.domStar || s.dowStar {
		return domOK && dowOK
	}
	return domOK || dowOK
}

// nextBit returns the lowest set bit of set at or above from.
func nextBit(set uint64, from int) (int, bool) {
	if from >= 64 {
		return 0, false
	}
	set &= ^uint64(0) << uint(from)
	if set == 0 {
		return 0, false
	}
	return bits.TrailingZeros64(set), true
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysIn(y, mo int) int {
	if mo == 2 && !isLeap(y) {
		return 28
	}
	return longestMonth[mo]
}

// daysFromCivil returns the number of days from 1970-01-01 to the given
// date of the proleptic Gregorian calendar.
func daysFromCivil(y, mo, d int) int64 {
	if mo <= 2 {
		y--
	}
	era := floorDiv(int64(y), 400)
	yoe := int64(y) - era*400          // [0, 399]
	mp := int64((mo + 9) % 12)         // March = 0
	doy := (153*mp+2)/5 + int64(d) - 1 // [0, 365]
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// civil is the inverse of daysFromCivil.
func civil(days int64) (y, mo, d int) {
	z := days + 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097                                  // [0, 146096]
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365 // [0, 399]
	doy := doe - (365*yoe + yoe/4 - yoe/100)               // [0, 365]
	mp := (5*doy + 2) / 153                                // March = 0
	d = int(doy - (153*mp+2)/5 + 1)
	mo = int(mp + 3)
	if mo > 12 {
		mo -= 12
	}
	y = int(yoe + era*400)
	if mo <= 2 {
		y++
	}
	return y, mo, d
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }
