package pacer

import (
	"context"
	"time"
)

// Ticket is what a running job booked of its tenant's budget: its calls are sent through it.
type Ticket struct {
	p     *Pacer
	bk    booking // what it booked and has not sent; guarded by p.mu
	ended bool    // its job ended: what it sends is counted, not booked
}

// Send records a call of the job in the tenant's budget as the caller sends it, and returns the
// Call, whose End (or Throttle) the caller reports once the API answered or failed to. A write
// the job booked waits, on ctx and the pacer's clock, until the write window has room for it; a
// write a Read job did not book goes only if the budget admits it and the read that follows it at
// once, else ErrBudgetExhausted. The error is ctx's if ctx ends first.
func (t *Ticket) Send(ctx context.Context, write bool) (*Call, error) {
	p := t.p
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		p.mu.Lock()
		bk := &t.bk
		if t.ended {
			bk = nil
		}
		c, wait, err := p.record(bk, write)
		p.mu.Unlock()
		if err != nil || c != nil {
			return c, err
		}
		if err := p.sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// Answer is what became of a call that was sent, for End.
type Answer int

const (
	// NotSent means that the caller did not send the call after all: it leaves the window.
	NotSent Answer = iota
	// Unanswered means that the API did not answer (a transport failure, a timeout). The call
	// stays counted when it was sent, and says nothing of the API's latency.
	Unanswered
	// Failed means that the API answered with an error, not a throttling. It counted the call,
	// and answered without throttling: a probe after a pause is over.
	Failed
	// Succeeded means that the API answered with success; the call's duration sizes the
	// tenant's jobs in flight.
	Succeeded
)

// Call is one call sent through a Ticket or a Handle.
type Call struct {
	p        *Pacer
	at       time.Time // when the key's window log recorded it
	tenantAt time.Time // when the tenant's window log recorded it
	start    time.Time
	write    bool
	reported bool // guarded by p.mu
}

// End reports what became of the call; only the first report counts.
func (c *Call) End(a Answer) {
	p := c.p
	p.mu.Lock()
	if c.reported {
		p.mu.Unlock()
		return
	}
	c.reported = true
	p.calls--
	now := p.clock.Now()
	probed := false
	var woken []*Pacer
	switch a {
	case NotSent:
		p.budget.unsend(c.at, c.write)
		woken = p.tenant.unsend(p, c.tenantAt, c.write)
	case Succeeded, Failed:
		if a == Succeeded {
			p.sizing.succeeded(now.Sub(c.start))
		}
		p.sizing.answered(now.Sub(c.start))
		// The API counted the call when it arrived: no answer comes sooner than the shortest
		// round trip after that. A call held up on its way by more than the window's margin
		// then counts from when it arrived less that margin.
		arrived := now.Add(-p.sizing.minLatency - p.budget.margin())
		p.budget.counted(c.at, c.write, arrived)
		p.tenant.counted(p, c.tenantAt, c.write, arrived)
		probed = p.pause.answered()
	}
	settle := probed || p.calls == 0 && p.inFlight == 0
	p.mu.Unlock()
	for _, q := range woken {
		q.dispatch()
	}
	if settle {
		p.dispatch()
	}
}

// Throttle reports that the API throttled the call until until: the call is taken out of the
// window (a throttled call is not counted), and the key is paused until then, or a later end
// already set, which it returns. Every job of the key waits, not only this one. It is
// ThrottleScope(KeyScope, until).
func (c *Call) Throttle(until time.Time) time.Time { return c.ThrottleScope(KeyScope, until) }

// ThrottleScope reports that the API throttled the call, having counted the calls of scope
// against a limit: the call is taken out of the windows (a throttled call is not counted), and
// every key of the scope in the registry is paused until until, or a later end already set; it
// returns the end of the call's key's pause. Keys of the scope that come during the pause are
// paused too.
//
// The zero until means that the API did not say until when: the pause lasts until the scope's
// window admits again a call of the throttled one's class, as far as the pacer knows it: at least
// until the oldest call of the window log (the key's, or the tenant's for TenantScope) leaves it,
// or the throttled call itself if the log holds none older. The API counted at least those calls;
// if it counted more (other clients' calls), the next call is throttled again, one call of a probe.
func (c *Call) ThrottleScope(s Scope, until time.Time) time.Time {
	p := c.p
	p.mu.Lock()
	var woken []*Pacer
	if !c.reported {
		c.reported = true
		p.calls--
		p.budget.unsend(c.at, c.write)
		woken = p.tenant.unsend(p, c.tenantAt, c.write)
	}
	if until.IsZero() {
		now := p.clock.Now()
		if s == TenantScope {
			until = p.tenant.readmits(now, c.tenantAt, c.write)
		} else {
			p.budget.expire(now)
			until = p.budget.readmits(c.at, c.write)
		}
	}
	end := p.pause.extend(until)
	p.mu.Unlock()
	if s != KeyScope && p.widen != nil {
		p.widen(s, until)
	}
	for _, q := range woken {
		q.dispatch()
	}
	p.dispatch()
	return end
}
