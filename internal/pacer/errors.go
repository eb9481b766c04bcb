package pacer

import (
	"errors"
	"time"
)

// Throttled is what an error says when the API throttled a call: its calls wait until
// ThrottledUntil. A job that ends with such an error (found by errors.As) pauses its tenant until
// then (a pause is only ever extended) and, while the pause ends within the job's QuietPause,
// goes back to its place to run again. The zero time means the error is not a throttling.
type Throttled interface {
	ThrottledUntil() time.Time
}

// ErrBudgetExhausted is the error of a write that a Read job did not book and the tenant's
// budget does not admit at once (writes wait in line, or the window has no room for the write and
// the read that follows it): the caller submits a Write job for it.
var ErrBudgetExhausted = errors.New("the tenant's request budget is spent")

// ErrNotOwner is the error of a call whose key Options.Owns refused as it was sent: another
// process sends for the key now. The call was not sent and is not counted.
var ErrNotOwner = errors.New("another process sends for this tenant now")

// throttledUntil returns when err says the tenant's calls may go again; zero if it says nothing.
func throttledUntil(err error) (time.Time, bool) {
	var t Throttled
	if err == nil || !errors.As(err, &t) {
		return time.Time{}, false
	}
	until := t.ThrottledUntil()
	return until, !until.IsZero()
}
