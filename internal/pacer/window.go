package pacer

import "time"

// windowLog is what one class of calls (all calls, or writes) of one tenant has spent of the
// API's sliding window: the send times of the calls of the last window, oldest first, and the
// calls booked but not sent yet. The API admits a call when fewer than its limit arrived in the
// last window, so a call may go when the booked calls and those sent within the window leave room
// for it; a booked call counts however long ago it was booked, since the API has not counted it.
type windowLog struct {
	sent    []time.Time // oldest first
	pending int         // booked, not sent yet
}

// expire drops the sends that have left the window ending at now.
func (l *windowLog) expire(now time.Time, window time.Duration) {
	i := 0
	for i < len(l.sent) && !l.sent[i].After(now.Add(-window)) {
		i++
	}
	if i > 0 {
		l.sent = append(l.sent[:0], l.sent[i:]...)
	}
}

// room returns how many more calls may be booked under limit. expire must have run for now.
func (l *windowLog) room(limit int) int {
	return limit - len(l.sent) - l.pending
}

// roomAt returns the earliest time, not before now, at which n calls fit under limit, and false
// when the booked calls alone leave no room for them: only a job that ends makes room then.
// expire must have run for now.
func (l *windowLog) roomAt(now time.Time, window time.Duration, limit, n int) (time.Time, bool) {
	over := len(l.sent) + l.pending + n - limit // sends that must leave the window first
	switch {
	case over <= 0:
		return now, true
	case over > len(l.sent):
		return time.Time{}, false
	}
	return l.sent[over-1].Add(window), true
}

// sentRoomAt returns when the sends alone leave room for one more under limit: a booked call about
// to be sent counts against the sends, not against the other bookings. The zero time means there
// is room now; expire must have run for now.
func (l *windowLog) sentRoomAt(window time.Duration, limit int) time.Time {
	over := len(l.sent) + 1 - limit
	if over <= 0 {
		return time.Time{}
	}
	return l.sent[over-1].Add(window)
}

// book books n calls.
func (l *windowLog) book(n int) { l.pending += n }

// release gives back n booked calls that were not sent.
func (l *windowLog) release(n int) { l.pending = max(0, l.pending-n) }

// send records a call sent at now, booked or not, and returns the time it was recorded at.
func (l *windowLog) send(now time.Time, booked bool) time.Time {
	if booked {
		l.release(1)
	}
	// Calls are recorded as they are sent, so now is the latest; a clock that steps back must not
	// unsort the log.
	if n := len(l.sent); n > 0 && now.Before(l.sent[n-1]) {
		now = l.sent[n-1]
	}
	l.sent = append(l.sent, now)
	return now
}

// move moves a send recorded at from to the later time to, keeping the log in order: the API
// counted the call when it arrived, which its answer shows was later than it was sent. A send
// already out of the window is left alone.
func (l *windowLog) move(from, to time.Time) {
	if !to.After(from) {
		return
	}
	for i := len(l.sent) - 1; i >= 0; i-- {
		if l.sent[i].Equal(from) {
			j := i
			for j+1 < len(l.sent) && l.sent[j+1].Before(to) {
				l.sent[j] = l.sent[j+1]
				j++
			}
			l.sent[j] = to
			return
		}
	}
}

// unsend drops a send recorded at at: it was not sent after all, or the API throttled it, which
// it does not count against the window. A send already out of the window is left alone.
func (l *windowLog) unsend(at time.Time) {
	for i := len(l.sent) - 1; i >= 0; i-- {
		if l.sent[i].Equal(at) {
			l.sent = append(l.sent[:i], l.sent[i+1:]...)
			return
		}
	}
}

// empty reports whether nothing is booked and nothing sent is still in the window. expire must
// have run for now.
func (l *windowLog) empty() bool { return len(l.sent) == 0 && l.pending == 0 }

// expiresAt is when the last send leaves the window; the zero time if none is in it.
func (l *windowLog) expiresAt(window time.Duration) time.Time {
	if len(l.sent) == 0 {
		return time.Time{}
	}
	return l.sent[len(l.sent)-1].Add(window)
}
