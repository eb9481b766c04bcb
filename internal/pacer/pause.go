package pacer

import "time"

// pause holds a throttled tenant's jobs back. It is only ever extended. After it, the tenant runs
// one job at a time (it probes) until a call is answered without throttling, so that a throttled
// tenant costs one throttled call per pause, not a window's burst of them.
type pause struct {
	until   time.Time
	probing bool
}

// extend pauses until until, or the later end already set, and returns the end.
func (p *pause) extend(until time.Time) time.Time {
	p.until = later(p.until, until)
	p.probing = true
	return p.until
}

// holds reports whether the pause keeps a job from starting at now, with inFlight jobs running;
// retry is when to look again (the zero time: when a call is answered or a job ends).
func (p *pause) holds(now time.Time, inFlight int) (held bool, retry time.Time) {
	switch {
	case now.Before(p.until):
		return true, p.until
	case p.probing && inFlight > 0:
		return true, time.Time{}
	}
	return false, time.Time{}
}

// answered records a call answered without throttling; it reports whether that ended a probe.
func (p *pause) answered() bool {
	was := p.probing
	p.probing = false
	return was
}

// over reports whether the pause has ended at now.
func (p *pause) over(now time.Time) bool { return !now.Before(p.until) }
