package graph

import (
	"net/http"
	"strings"
	"time"
)

// maxRetryAfter bounds a parsed Retry-After, so that a hostile or broken
// header cannot overflow a time.Duration.
const maxRetryAfter = 24 * time.Hour

// parseRetryAfter reads a Retry-After header: a number of seconds, which
// Graph may write with a fraction ("2.128"), or an HTTP date. ok is false for
// a missing or unreadable value. The fraction is kept to the nanosecond and
// rounded up, since Retry-After is the least wait.
func parseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' {
		return parseSeconds(v)
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d = t.Sub(now)
	return min(max(d, 0), maxRetryAfter), true
}

// parseSeconds parses digits with an optional fraction, exactly (no float).
func parseSeconds(v string) (time.Duration, bool) {
	whole, frac, hasDot := strings.Cut(v, ".")
	if whole == "" || !allDigits(whole) || (hasDot && (frac == "" || !allDigits(frac))) {
		return 0, false
	}
	whole = strings.TrimLeft(whole, "0")
	if len(whole) > 6 { // over 11 days; capped below
		return maxRetryAfter, true
	}
	var secs int64
	for _, c := range whole {
		secs = secs*10 + int64(c-'0')
	}
	d := time.Duration(secs) * time.Second
	var nanos int64
	for i := 0; i < 9; i++ {
		nanos *= 10
		if i < len(frac) {
			nanos += int64(frac[i] - '0')
		}
	}
	if len(frac) > 9 && strings.Trim(frac[9:], "0") != "" {
		nanos++ // round up: never wait less than asked
	}
	return min(d+time.Duration(nanos), maxRetryAfter), true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
