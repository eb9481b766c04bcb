package pacer

import (
	"context"
	"sync"
	"time"
)

// Pacer owns the pacing of one app in one tenant: its lines, its budget, its pause, its sizing,
// and its jobs and calls in flight. Its dispatcher starts a job the moment all of them, its
// tenant's budget and the ceiling admit it, so that a window's whole allowance goes out at once
// and a backlog drains at the API's rate whatever its length; it runs on the goroutine of
// whatever changed (a Submit, a job's end, a call's answer, a timer of the clock, a wake from the
// tenant or the ceiling), never on one of its own.
//
// Locks are taken in this order: the registry's, a pacer's, its tenant's, the ceiling's; never
// two pacers' at once.
type Pacer struct {
	limits     Limits
	clock      Clock
	spawn      func(func())
	jobTimeout time.Duration
	jobs       context.Context // the context of its jobs (Registry.Close ends it)
	ceiling    *ceiling
	tenant     *tenant                   // the budget it shares with the other keys of its tenant
	waited     func(Kind, time.Duration) // the metrics' hook
	drop       func()                    // asks the registry to drop it
	owns       func() bool               // whether the process may send for its key (nil: yes)
	widen      func(Scope, time.Time)    // pauses the other keys of a scope until a time

	mu       sync.Mutex
	dropped  bool // the registry dropped it: a Handle looks the key up again
	lines    lines
	budget   budget
	pause    pause
	sizing   sizing
	inFlight int // jobs running
	calls    int // calls sent and not reported
	timer    Timer
	timerAt  time.Time
}

// started is a job the dispatcher took from its line, with what it booked.
type started struct {
	place *place
	bk    booking
}

// dispatch starts the jobs that may start now, sets the timer for when the next may, and asks
// the registry to drop the pacer when it has nothing left to remember.
func (p *Pacer) dispatch() {
	p.mu.Lock()
	if p.dropped {
		p.mu.Unlock()
		return
	}
	now := p.clock.Now()
	var (
		starts []started
		retry  time.Time
		full   bool // the ceiling has no place: it wakes the pacer when it grants one
		waits  bool // the tenant refused the last candidate: it wakes the pacer
	)
	t := p.tenant
	for p.lines.total() > 0 {
		waits = false
		held, at := p.pause.holds(now, p.inFlight)
		if held {
			retry = at
			break
		}
		if p.inFlight >= p.sizing.limit(p.limits) {
			break // a job's end makes room
		}
		t.mu.Lock()
		pl, at, ref := p.candidate(now)
		waits = ref.refused
		if pl == nil {
			t.mu.Unlock()
			retry = at
			break
		}
		if !p.ceiling.acquire(p) {
			t.mu.Unlock()
			full = true
			break
		}
		bk := bookingOf(pl.kind)
		t.book(p, now, bk)
		t.mu.Unlock()
		p.lines.take(pl)
		p.budget.book(bk)
		p.inFlight++
		if p.waited != nil {
			p.waited(pl.kind, now.Sub(pl.queuedAt))
		}
		starts = append(starts, started{place: pl, bk: bk})
	}
	var woken []*Pacer
	if !full {
		woken = p.ceiling.returnGrants(p)
	}
	woken = append(woken, t.settle(p, waits, len(starts) > 0)...)
	idle := p.idle(now)
	if !idle && p.lines.total() == 0 && p.inFlight == 0 && p.calls == 0 {
		retry = later(p.budget.expiresAt(), p.pause.until) // when it may be dropped
	}
	p.schedule(now, retry)
	p.mu.Unlock()
	for _, s := range starts {
		p.spawn(func() { p.run(s) })
	}
	for _, q := range woken {
		q.dispatch()
	}
	if idle {
		p.drop()
	}
}

// candidate is the job to start at now, writes first, then reads, then background jobs while no
// read waits, each line in order, that the key's budget and its tenant's admit; nil if none may, with when to look again (the zero time: when a job ends,
// or the tenant wakes the pacer). ref says what the tenant refused, which the pacer then waits
// for. p.mu and p.tenant.mu must be held.
func (p *Pacer) candidate(now time.Time) (*place, time.Time, refusal) {
	var (
		retry time.Time
		ref   refusal
	)
	admits := func(kind Kind, lead time.Duration, writesWaiting bool) bool {
		ok, at := p.budget.admits(now, kind, lead, writesWaiting)
		if ok {
			var r refusal
			ok, at, r = p.tenant.admits(p, now, kind, lead, writesWaiting)
			ref.refused, ref.reads = ref.refused || r.refused, ref.reads || r.reads
		}
		if !ok {
			retry = earliest(retry, at)
		}
		return ok
	}
	// A write job writes one round trip after it starts (it reads first): it may start that much
	// before the write window has room, and Send holds the write back if it is early.
	pl := p.lines.front(Write)
	if pl == nil || !admits(Write, p.sizing.latency, true) {
		pl = p.lines.front(Read)
		if pl != nil && !admits(Read, 0, p.lines.len(Write) > 0) {
			pl = nil
		}
		if bg := p.lines.front(Background); pl == nil && p.lines.front(Read) == nil && bg != nil &&
			admits(Read, 0, true) {
			// Low priority: only while no read waits, and within the reads' share that leaves a
			// window's writes their room, whether or not a write waits now.
			pl = bg
		}
	}
	p.tenant.wait(p, ref)
	if pl == nil {
		return nil, retry, ref
	}
	return pl, time.Time{}, ref
}

// idle reports whether the pacer has nothing left to remember at now: no job waits or runs, no
// call is out, no pause holds and the window log has expired. p.mu must be held.
func (p *Pacer) idle(now time.Time) bool {
	return p.lines.total() == 0 && p.inFlight == 0 && p.calls == 0 && p.pause.over(now) && p.budget.empty(now)
}

// schedule sets the timer to dispatch at at; the zero time leaves it as it is. p.mu must be held.
func (p *Pacer) schedule(now, at time.Time) {
	if at.IsZero() || p.timer != nil && p.timerAt.Equal(at) {
		return
	}
	if p.timer != nil {
		p.timer.Stop()
	}
	p.timerAt = at
	p.timer = p.clock.AfterFunc(max(at.Sub(now), 0), func() {
		p.mu.Lock()
		if p.timerAt.Equal(at) {
			p.timer = nil
		}
		p.mu.Unlock()
		p.dispatch()
	})
}

// run runs one job, gives back what it booked and did not send, and decides what a throttled job
// does: back to its place while the pause is quiet, else its error is final.
func (p *Pacer) run(s started) {
	ctx, cancel := withTimeout(p.jobs, p.clock, p.jobTimeout)
	defer cancel()
	t := &Ticket{p: p, bk: s.bk}
	err := s.place.job.Run(ctx, t)

	p.mu.Lock()
	p.budget.release(t.bk)
	freed := p.tenant.release(p, t.bk)
	t.bk, t.ended = booking{}, true
	p.inFlight--
	final := true
	if until, ok := throttledUntil(err); ok {
		end := p.pause.extend(until)
		if p.jobs.Err() == nil && s.place.job.quietly(p.clock.Now(), end) {
			final = false
			p.lines.putBack(s.place)
		}
	}
	p.mu.Unlock()
	woken := append(p.ceiling.release(p), freed...)
	if final && s.place.job.Done != nil {
		s.place.job.Done(err)
	}
	for _, q := range woken {
		q.dispatch()
	}
	p.dispatch()
}

// record records a call of booking bk (nil: outside any job) in the key's budget and its tenant's
// as it is sent; see Ticket.Send. A nil Call with a nil error means wait that long and ask again.
// p.mu must be held.
func (p *Pacer) record(bk *booking, write bool) (*Call, time.Duration, error) {
	if p.owns != nil && !p.owns() {
		return nil, 0, ErrNotOwner
	}
	now := p.clock.Now()
	at, tenantAt, wait, err := p.tenant.send(p, now, bk, write, p.lines.len(Write) > 0)
	if err != nil || wait > 0 {
		return nil, wait, err
	}
	p.calls++
	return &Call{p: p, at: at, tenantAt: tenantAt, start: now, write: write}, 0, nil
}

// sleep waits d on the pacer's clock, or until ctx ends.
func (p *Pacer) sleep(ctx context.Context, d time.Duration) error {
	done := make(chan struct{})
	t := p.clock.AfterFunc(d, func() { close(done) })
	select {
	case <-ctx.Done():
		t.Stop()
		return ctx.Err()
	case <-done:
		return nil
	}
}
