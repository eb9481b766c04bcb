package pacer

import "time"

// budget is a share of the API's windows, a key's or a tenant's: the log of all calls and the log
// of writes, against Limits.
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
	r, w := b.roomFor(now, kind, lead, writesWaiting)
	return admitted(now, r, w)
}

// admitted reports whether a job has room at now in both classes, r and w; when it has not, retry
// is when it has (the zero time: when a job ends).
func admitted(now time.Time, r, w room) (ok bool, retry time.Time) {
	if !r.ok || !w.ok {
		return false, time.Time{}
	}
	if at := later(r.at, w.at); at.After(now) {
		return false, at
	}
	return true, time.Time{}
}

// room is when a class of calls has room for a job: at, or, when !ok, only once a job ends
// (the calls booked alone leave none).
type room struct {
	at time.Time
	ok bool
}

// fits reports whether the room is there at now.
func (r room) fits(now time.Time) bool { return r.ok && !r.at.After(now) }

// roomFor is when a job of kind has room at the earliest, class by class: r for its requests (a
// read's under the read limit while writes wait), w for its write (lead before the write window
// has room), which a read has at once. expire must have run for now.
func (b *budget) roomFor(now time.Time, kind Kind, lead time.Duration, writesWaiting bool) (r, w room) {
	if kind == Write {
		at, ok := b.writes.roomAt(now, b.window, b.limits.Writes, 1)
		if ok {
			at = later(at.Add(-lead), now)
		}
		w = room{at, ok}
		at, ok = b.reads.roomAt(now, b.window, b.limits.Requests, WriteRequests)
		return room{at, ok}, w
	}
	at, ok := b.reads.roomAt(now, b.window, b.readLimit(writesWaiting), 1)
	return room{at, ok}, room{now, true}
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

// check reports whether a call of a job's booking bk (nil: a call outside any job) may be sent
// at now. A booked write that would arrive before the write window has room (its job started a
// round trip early, and its read came back sooner) gets the wait until then. A write that bk did
// not book goes only when no write waits in line and the window has room at once for it and for
// the read that follows it; else ErrBudgetExhausted. A call outside any job is never refused.
// expire must have run for now.
func (b *budget) check(now time.Time, bk *booking, write, writesWaiting bool) (time.Duration, error) {
	switch {
	case !write || bk == nil:
	case bk.writes > 0:
		if at := b.writes.sentRoomAt(b.window, b.limits.Writes); at.After(now) {
			return at.Sub(now), nil
		}
	case writesWaiting || b.writes.room(b.limits.Writes) < 1 || b.reads.room(b.limits.Requests) < 2:
		// The write, and the read that reads it back: both or neither.
		return 0, ErrBudgetExhausted
	}
	return 0, nil
}

// spent is what a call took of its job's booking, for record.
type spent struct {
	write, read bool // its write, its read were booked
	books       int  // reads it booked on the way: a write its job did not book books its read back
}

// spend takes a call of a job that check let go from the job's booking bk (nil: a call outside
// any job), and returns what it took. A write that bk did not book books its own read and the read
// that follows it.
func spend(bk *booking, write bool) spent {
	var s spent
	if bk == nil {
		return s
	}
	if write {
		if bk.writes > 0 {
			bk.writes--
			s.write = true
		} else {
			bk.reads += 2
			s.books = 2
		}
	}
	if bk.reads > 0 {
		bk.reads--
		s.read = true
	}
	return s
}

// record records a call that check let go, which took s of its job's booking, as it is sent at
// now, and returns the time it was recorded at.
func (b *budget) record(now time.Time, write bool, s spent) time.Time {
	b.reads.book(s.books)
	if write {
		now = b.writes.send(now, s.write)
	}
	return b.reads.send(now, s.read)
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

// readmits is when the window admits again a call of the class of one the API throttled without
// saying until when, the throttled call recorded at at: the API counts at least the calls of the
// log, so not before the oldest of that class (or the throttled call itself) leaves the window.
// Its count and ours differ (calls it counted that we did not send, clocks apart): this is the
// earliest it can admit again, not a promise that it will. expire must have run.
func (b *budget) readmits(at time.Time, write bool) time.Time {
	log := &b.reads
	if write {
		log = &b.writes
	}
	oldest := at
	if len(log.sent) > 0 && log.sent[0].Before(at) {
		oldest = log.sent[0]
	}
	return oldest.Add(b.window)
}

// used is how much of the window's limits the calls sent within it and booked take: the larger
// share of the two classes, 0 to 1 (the dominant share). expire must have run.
func (b *budget) used(l Limits) float64 {
	r := float64(len(b.reads.sent)+b.reads.pending) / float64(l.Requests)
	w := float64(len(b.writes.sent)+b.writes.pending) / float64(l.Writes)
	return max(r, w)
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

// oldestLeaves is when the oldest call of the window leaves it; the zero time if none is in it.
func (b *budget) oldestLeaves() time.Time {
	if len(b.reads.sent) == 0 {
		return time.Time{}
	}
	return b.reads.sent[0].Add(b.window)
}

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
