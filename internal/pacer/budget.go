package pacer

import "time"

// budget is a tenant's share of the API's windows: the log of all calls and the log of writes,
// against Limits.
type budget struct {
	limits        Limits
	window        time.Duration
	reads, writes windowLog
}

func newBudget(l Limits) budget { return budget{limits: l, window: l.window()} }

// booking is what a running job booked and has not sent yet.
type booking struct{ reads, writes int }

// bookingOf is what a job of kind books before it starts.
func bookingOf(k Kind) booking {
	if k == Write {
		return booking{reads: WriteRequests, writes: 1}
	}
	return booking{reads: 1}
}

func (b *budget) expire(now time.Time) {
	b.reads.expire(now, b.window)
	b.writes.expire(now, b.window)
}

// admits reports whether a job of kind may start at now. lead is how much before the write window
// has room a write job may start (it reads first: its write goes a round trip later);
// writesWaiting says a write waits in line, whose share of the reads stays free for it. When it
// may not, retry is when to look again; the zero time means when a job ends.
func (b *budget) admits(now time.Time, kind Kind, lead time.Duration, writesWaiting bool) (ok bool, retry time.Time) {
	b.expire(now)
	if kind == Write {
		w, okW := b.writes.roomAt(now, b.window, b.limits.Writes, 1)
		r, okR := b.reads.roomAt(now, b.window, b.limits.Requests, WriteRequests)
		if !okW || !okR {
			return false, time.Time{}
		}
		if at := later(w.Add(-lead), r); at.After(now) {
			return false, at
		}
		return true, time.Time{}
	}
	r, ok := b.reads.roomAt(now, b.window, b.readLimit(writesWaiting), 1)
	switch {
	case !ok:
		return false, time.Time{}
	case r.After(now):
		return false, r
	}
	return true, time.Time{}
}

// readLimit is how much of the request budget reads may take: while writes wait, what the writes
// of a whole window need stays free for them.
func (b *budget) readLimit(writesWaiting bool) int {
	if !writesWaiting {
		return b.limits.Requests
	}
	return max(b.limits.Requests/2, b.limits.Requests-WriteRequests*b.limits.Writes)
}

func (b *budget) book(bk booking) {
	b.reads.book(bk.reads)
	b.writes.book(bk.writes)
}

func (b *budget) release(bk booking) {
	b.reads.release(bk.reads)
	b.writes.release(bk.writes)
}

// send records a call of a job's booking bk (nil: a call outside any job) as it is sent at now,
// and returns the time it was recorded at. A booked write that would arrive before the write
// window has room (its job started a round trip early, and its read came back sooner) gets the
// wait until then instead. A write that bk did not book goes only when no write waits in line and
// the window has room at once for it and for the read that follows it, which it books in bk;
// else ErrBudgetExhausted. A call outside any job is recorded and never refused.
func (b *budget) send(now time.Time, bk *booking, write, writesWaiting bool) (time.Time, time.Duration, error) {
	b.expire(now)
	if write {
		booked := bk != nil && bk.writes > 0
		switch {
		case booked:
			if at := b.writes.sentRoomAt(b.window, b.limits.Writes); at.After(now) {
				return time.Time{}, at.Sub(now), nil
			}
			bk.writes--
		case bk != nil:
			// The write, and the read that reads it back: both or neither.
			if writesWaiting || b.writes.room(b.limits.Writes) < 1 || b.reads.room(b.limits.Requests) < 2 {
				return time.Time{}, 0, ErrBudgetExhausted
			}
			bk.reads += 2 // the write's own, taken below, and the read back's
			b.reads.book(2)
		}
		now = b.writes.send(now, booked)
	}
	booked := bk != nil && bk.reads > 0
	if booked {
		bk.reads--
	}
	return b.reads.send(now, booked), 0, nil
}

// unsend drops a call recorded at at (of writes too, for a write).
func (b *budget) unsend(at time.Time, write bool) {
	if write {
		b.writes.unsend(at)
	}
	b.reads.unsend(at)
}

// counted moves a call recorded at at to arrived, when the API most likely counted it.
func (b *budget) counted(at time.Time, write bool, arrived time.Time) {
	if write {
		b.writes.move(at, arrived)
	}
	b.reads.move(at, arrived)
}

// margin is how much longer than the API's window the budget counts a call.
func (b *budget) margin() time.Duration { return b.window - b.limits.Per }

// empty reports whether nothing is booked or in the window at now.
func (b *budget) empty(now time.Time) bool {
	b.expire(now)
	return b.reads.empty() && b.writes.empty()
}

// expiresAt is when the last call leaves the window (reads log every call).
func (b *budget) expiresAt() time.Time { return b.reads.expiresAt(b.window) }

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// earliest returns the earlier of two times, where the zero time means none.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}
