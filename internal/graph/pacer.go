package graph

import (
	"container/list"
	"context"
	"math"
	"net/url"
	"strings"
	"sync"
	"time"
)

// PacerKey names the pacer of one app in one tenant of one cloud: Graph counts its limits there.
type PacerKey struct {
	// AuthorityHost is the login host of the cloud, e.g. https://login.microsoftonline.com.
	AuthorityHost string
	// TenantID is the tenant, as the connection names it (compared without case).
	TenantID string
	// ClientID is the app's client id (compared without case).
	ClientID string
}

// normalized returns k in the form Pacers uses as a map key: the same tenant written in another
// case, or the same login host written with https's default port or a trailing dot or slash, is
// the same pacer, since Graph keeps one budget for it.
func (k PacerKey) normalized() PacerKey {
	return PacerKey{
		AuthorityHost: authorityOrigin(k.AuthorityHost),
		TenantID:      strings.ToLower(k.TenantID),
		ClientID:      strings.ToLower(k.ClientID),
	}
}

// authorityOrigin is the origin of a login host URL in one spelling: lower case, no default
// port, no trailing dot on the host, no path.
func authorityOrigin(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return strings.TrimRight(strings.ToLower(raw), "/")
	}
	scheme, host, port := strings.ToLower(u.Scheme), normalHost(u.Hostname()), u.Port()
	if port == "" || scheme == "https" && port == "443" || scheme == "http" && port == "80" {
		return scheme + "://" + hostPort(host, "")
	}
	return scheme + "://" + hostPort(host, port)
}

// hostPort joins host and port, bracketing an IPv6 host; an empty port is left out.
func hostPort(host, port string) string {
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port == "" {
		return host
	}
	return host + ":" + port
}

// Limits are the throttling limits a pacer keeps under: Requests calls of any kind and Writes
// PATCHes per Per, for one app in one tenant.
type Limits struct {
	// Requests is how many calls of any kind Graph allows per Per.
	Requests int
	// Writes is how many PATCHes Graph allows per Per (they count as requests too).
	Writes int
	// Per is the length of Graph's throttling window.
	Per time.Duration
}

// DefaultLimits returns Intune's per-app, per-tenant limits: 1000 requests and 100 writes per 20
// seconds.
func DefaultLimits() Limits {
	return Limits{Requests: 1000, Writes: 100, Per: 20 * time.Second}
}

// withDefaults fills the zero or negative fields of l from DefaultLimits.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.Requests <= 0 {
		l.Requests = d.Requests
	}
	if l.Writes <= 0 {
		l.Writes = d.Writes
	}
	if l.Per <= 0 {
		l.Per = d.Per
	}
	return l
}

// JobKind says what budget a job books before it starts.
type JobKind int

const (
	// ReadJob books one read: a GET. It may PATCH too when the tenant's write budget has room at
	// once and no write waits in line; otherwise the PATCH fails with ErrBudgetExhausted and the
	// caller submits a WriteJob.
	ReadJob JobKind = iota
	// WriteJob books a write and three reads: a GET, the PATCH that follows it and the GET that
	// reads it back. Writes wait in a line of their own, served before reads.
	WriteJob
)

// writeJobReads is what a WriteJob books of the read budget: its GET, its PATCH and the read back.
const writeJobReads = 3

// String returns the kind's name, which is also the class label of the metrics.
func (k JobKind) String() string {
	if k == WriteJob {
		return "write"
	}
	return "read"
}

// Outcome is how a job ended.
type Outcome int

const (
	// Done means the job is over, whatever Graph answered.
	Done Outcome = iota
	// Again means Graph throttled the job. The tenant is paused (the client did it on the 429), and the
	// job goes back to the head of its line, keeping its place, to run again after the pause.
	Again
)

// Job is work for Graph that the tenant's pacer runs when the tenant's budget admits it, on a
// goroutine of its own (never a reconcile worker's). calls are bound to the budget the job booked.
type Job func(ctx context.Context, calls Calls) Outcome

// Pacers is the registry of pacers, one per PacerKey, shared by all the clients of the operator
// so that every resource of a tenant draws on the same budget, and the ceiling on calls in flight
// across all tenants. It is safe for concurrent use.
type Pacers struct {
	limits  Limits
	ceiling *ceiling
	// jobs is the context every job runs in: Close cancels it, and with it every call in flight
	// and every job still to run, so that nothing is sent once the process stops or loses the
	// right to send (its leadership).
	jobs      context.Context
	closeJobs context.CancelFunc

	mu     sync.Mutex
	pacers map[PacerKey]*Pacer
}

// DefaultMaxInFlight is the default ceiling of Graph calls in flight across all tenants.
const DefaultMaxInFlight = 1024

// NewPacers returns a registry whose pacers keep under l, with at most maxInFlight jobs running
// at once across all tenants; zero fields of l take the DefaultLimits values, and maxInFlight <= 0
// DefaultMaxInFlight.
func NewPacers(l Limits, maxInFlight int) *Pacers {
	if maxInFlight <= 0 {
		maxInFlight = DefaultMaxInFlight
	}
	jobs, closeJobs := context.WithCancel(context.Background())
	return &Pacers{limits: l.withDefaults(), ceiling: &ceiling{max: maxInFlight, waiting: map[*Pacer]struct{}{}},
		jobs: jobs, closeJobs: closeJobs, pacers: map[PacerKey]*Pacer{}}
}

// Close ends every job: the calls in flight are cancelled, and a job that runs after it finds its
// context done and sends nothing. The operator closes its pacers when it stops or loses its
// leadership; a tool, when it is done.
func (ps *Pacers) Close() { ps.closeJobs() }

// For returns the pacer of k, creating it on first use.
func (ps *Pacers) For(k PacerKey) *Pacer {
	k = k.normalized()
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if p, ok := ps.pacers[k]; ok {
		return p
	}
	p := newPacer(ps.limits, ps.ceiling, time.Now)
	p.tenant, p.jobs = k.TenantID, ps.jobs
	ps.pacers[k] = p
	return p
}

// Pacer owns the pacing of one app in one tenant: the budget that follows Graph's windows (a log
// of what was sent and booked, per class), the lines of jobs waiting for it (places keyed by the
// caller's key), the pause a 429 sets, and the jobs in flight. It hands out no place while paused,
// serves each line in order and starts a job the moment the budget admits it, so that a window's
// whole allowance goes out at once and a backlog drains at Graph's rate whatever its length.
//
// How many of the tenant's jobs run at once follows its budget and Graph's latency (the calls one
// window admits, plus what its rate keeps in flight at the latency seen), under a ceiling shared
// by all tenants: one tenant's backlog or a Graph that hangs takes no worker and no place of
// another tenant.
type Pacer struct {
	limits  Limits
	tenant  string        // the tenant label of its metrics, in lower case
	window  time.Duration // Limits.Per plus a margin for transit and clocks
	ceiling *ceiling
	now     func() time.Time
	jobs    context.Context // the context of its jobs (Pacers.Close ends it)

	mu          sync.Mutex
	reads       sendLog // every call
	writes      sendLog // PATCHes
	pausedUntil time.Time
	probing     bool          // after a pause, one job at a time until Graph answers one without throttling
	lines       [2]*list.List // by JobKind: ReadJob, WriteJob; jobs in seq order
	waiting     map[string]*job
	seq         uint64
	inFlight    int
	latency     time.Duration // moving average of the calls' durations
	minLatency  time.Duration // the shortest call seen: the round trip with no wait on either side
	running     bool          // the dispatcher goroutine runs
	wake        chan struct{}
}

// job is a Job with its place.
type job struct {
	key      string
	kind     JobKind
	run      Job
	calls    *client
	seq      uint64 // its place: lower goes first, kept when it runs Again
	queuedAt time.Time
	elem     *list.Element
}

// Bounds of the tenant's jobs in flight, and of one job's run.
const (
	minInFlight = 4
	maxInFlight = 256
	jobTimeout  = 2 * time.Minute
)

func newPacer(l Limits, c *ceiling, now func() time.Time) *Pacer {
	return &Pacer{
		limits:  l,
		window:  l.Per + windowMargin(l.Per),
		ceiling: c,
		now:     now,
		jobs:    context.Background(),
		lines:   [2]*list.List{list.New(), list.New()},
		waiting: map[string]*job{},
		wake:    make(chan struct{}, 1),
	}
}

// windowMargin is how much longer than Graph's window the pacer counts a call: Graph counts a call
// when it arrives, a little after it was sent, and its clock is not the operator's. 2% of the window
// (400 ms of Graph's 20 s), and at least 50 ms, covers the spread of transit times between two
// calls sent a window apart.
func windowMargin(per time.Duration) time.Duration {
	return max(per/50, 50*time.Millisecond)
}

// Submit puts job in the line of its kind under key, to run when the tenant's budget admits it.
// A key that waits already keeps its place and runs the newest job submitted for it (a write
// submitted for a key waiting to read takes the write line at the place its first submission
// had); a key whose job is running gets a new place at the end of the line.
func (p *Pacer) Submit(key string, kind JobKind, c *client, run Job) {
	p.mu.Lock()
	if j, ok := p.waiting[key]; ok {
		j.run, j.calls = run, c
		if j.kind != kind {
			p.lines[j.kind].Remove(j.elem)
			j.kind = kind
			p.insert(j)
		}
	} else {
		p.seq++
		j := &job{key: key, kind: kind, run: run, calls: c, seq: p.seq, queuedAt: p.now()}
		p.waiting[key] = j
		p.insert(j)
	}
	p.startLocked()
	p.mu.Unlock()
	p.poke()
}

// Withdraw gives key's place back, so that the line behind it moves up; it reports whether key
// was waiting (a running job is not stopped).
func (p *Pacer) Withdraw(key string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	j, ok := p.waiting[key]
	if ok {
		p.lines[j.kind].Remove(j.elem)
		delete(p.waiting, key)
	}
	return ok
}

// waitingJobs reports how many jobs wait in the tenant's lines.
func (p *Pacer) waitingJobs() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.waiting)
}

// insert puts j in its line by its place. Newcomers go to the end at once; a job back Again goes
// near the front.
func (p *Pacer) insert(j *job) {
	l := p.lines[j.kind]
	for e := l.Back(); e != nil; e = e.Prev() {
		if e.Value.(*job).seq < j.seq {
			j.elem = l.InsertAfter(j, e)
			return
		}
	}
	j.elem = l.PushFront(j)
}

// Pause holds every job back until until; a pause is only ever extended. It takes no place and
// gives none: the lines stay as they are. After it, the pacer sends one job at a time until Graph
// answers a call without throttling it, so that a throttled tenant costs one 429 per pause, not a
// window's burst of them. It returns the end of the pause, until or a later one already set.
func (p *Pacer) Pause(until time.Time) time.Time {
	p.mu.Lock()
	p.pausedUntil = later(p.pausedUntil, until)
	p.probing = true
	end := p.pausedUntil
	p.mu.Unlock()
	p.poke()
	return end
}

// answered records that Graph answered a call without throttling it: the pacer sends at the
// budget's pace again.
func (p *Pacer) answered() {
	p.mu.Lock()
	was := p.probing
	p.probing = false
	p.mu.Unlock()
	if was {
		p.poke()
	}
}

// pauseEnd returns the end of the current pause; a time in the past (or the zero time) means the
// pacer is not paused.
func (p *Pacer) pauseEnd() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pausedUntil
}

// next takes the job to start at now and books its budget, writes first, each line in order. With
// none to start it returns the time to look again; the zero time means when a job ends (the
// bookings of jobs in flight, or the tenant's jobs in flight, leave no room). p.mu must be held.
func (p *Pacer) next(now time.Time) (*job, *Ticket, time.Time) {
	if now.Before(p.pausedUntil) {
		return nil, nil, p.pausedUntil
	}
	if p.inFlight >= p.maxInFlight() || p.probing && p.inFlight > 0 {
		return nil, nil, time.Time{}
	}
	p.reads.expire(now, p.window)
	p.writes.expire(now, p.window)
	var retry time.Time
	if e := p.lines[WriteJob].Front(); e != nil {
		// A write job PATCHes one round trip after it starts (its GET comes first): it may start
		// that much before the write window has room, and its PATCH still arrives when it has.
		// sent holds the PATCH back if the GET came back early.
		lead := p.latency
		w, okW := p.writes.roomAt(now, p.window, p.limits.Writes, 1)
		r, okR := p.reads.roomAt(now, p.window, p.limits.Requests, writeJobReads)
		if okW && okR {
			if at := later(w.Add(-lead), r); at.After(now) {
				retry = at
			} else {
				return p.start(e, &Ticket{p: p, reads: writeJobReads, writes: 1})
			}
		}
	}
	if e := p.lines[ReadJob].Front(); e != nil {
		r, ok := p.reads.roomAt(now, p.window, p.readLimit(), 1)
		if ok {
			if r.After(now) {
				retry = earliest(retry, r)
			} else {
				return p.start(e, &Ticket{p: p, reads: 1})
			}
		}
	}
	return nil, nil, retry
}

// readLimit is how much of the read budget reads may take: while writes wait, what the writes of
// a whole window need stays free for them.
func (p *Pacer) readLimit() int {
	if p.lines[WriteJob].Len() == 0 {
		return p.limits.Requests
	}
	return max(p.limits.Requests/2, p.limits.Requests-writeJobReads*p.limits.Writes)
}

// start takes the job of e out of its line and books t. p.mu must be held.
func (p *Pacer) start(e *list.Element, t *Ticket) (*job, *Ticket, time.Time) {
	j := e.Value.(*job)
	p.lines[j.kind].Remove(e)
	delete(p.waiting, j.key)
	p.reads.book(t.reads)
	p.writes.book(t.writes)
	p.inFlight++
	budgetWaitSeconds.WithLabelValues(p.tenant, j.kind.String()).Observe(p.now().Sub(j.queuedAt).Seconds())
	return j, t, time.Time{}
}

// maxInFlight is how many of the tenant's jobs may run at once: what one window admits at once
// (its writes), plus what the read rate keeps in flight at the latency Graph shows. p.mu must be
// held.
func (p *Pacer) maxInFlight() int {
	perSecond := float64(p.limits.Requests) / p.limits.Per.Seconds()
	n := p.limits.Writes + int(math.Ceil(perSecond*p.latency.Seconds()))
	return min(max(n, minInFlight), maxInFlight)
}

// startLocked starts the dispatcher if it is not running. p.mu must be held.
func (p *Pacer) startLocked() {
	if !p.running {
		p.running = true
		go p.dispatch()
	}
}

// poke wakes the dispatcher.
func (p *Pacer) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// dispatch starts the tenant's jobs as the budget, the pause and the ceilings admit them, and
// sleeps in between; it ends when both lines are empty (Submit starts it again).
func (p *Pacer) dispatch() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		p.mu.Lock()
		if p.lines[ReadJob].Len()+p.lines[WriteJob].Len() == 0 {
			p.running = false
			p.mu.Unlock()
			return
		}
		var at time.Time
		if p.ceiling.acquire(p) {
			var j *job
			var t *Ticket
			j, t, at = p.next(p.now())
			if j != nil {
				p.mu.Unlock()
				go p.run(j, t)
				continue
			}
			p.ceiling.release()
		}
		p.mu.Unlock()
		wait := time.Hour // until poked: a job ended, a job came, or the pause changed
		if !at.IsZero() {
			wait = max(at.Sub(p.now()), time.Millisecond)
		}
		timer.Reset(wait)
		select {
		case <-p.wake:
		case <-timer.C:
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// run runs one job and gives back what it booked and did not use.
func (p *Pacer) run(j *job, t *Ticket) {
	ctx, cancel := context.WithTimeout(p.jobs, jobTimeout)
	outcome := j.run(ctx, j.calls.bound(t))
	cancel()
	p.mu.Lock()
	p.reads.release(t.reads)
	p.writes.release(t.writes)
	p.inFlight--
	if _, resubmitted := p.waiting[j.key]; outcome == Again && !resubmitted {
		p.waiting[j.key] = j
		p.insert(j) // its old place, at the head
		p.startLocked()
	}
	p.mu.Unlock()
	p.ceiling.release()
	p.poke()
}

// sent records a call of j's ticket t (nil: a call outside any job) as it is sent, and returns the
// time it was recorded at (for refund and answeredAt). A booked write that would arrive before the
// write window has room (its job started a round trip early, and its GET came back sooner) gets
// the wait until then instead, and is recorded when the caller calls again. A write a ticket did
// not book goes only when no write waits in line and the window has room for it; else it returns
// ErrBudgetExhausted, and the caller submits a WriteJob.
func (p *Pacer) sent(t *Ticket, write bool) (time.Time, time.Duration, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if write {
		p.writes.expire(now, p.window)
		booked := t != nil && t.writes > 0
		switch {
		case booked:
			if at := p.writes.sentRoomAt(p.window, p.limits.Writes); at.After(now) {
				return time.Time{}, at.Sub(now), nil
			}
			t.writes--
		case t != nil:
			p.reads.expire(now, p.window)
			if p.lines[WriteJob].Len() > 0 || p.writes.room(p.limits.Writes) < 1 || p.reads.room(p.limits.Requests) < 1 {
				return time.Time{}, 0, &Error{Err: ErrBudgetExhausted}
			}
		}
		now = p.writes.send(now, booked)
	}
	booked := t != nil && t.reads > 0
	if booked {
		t.reads--
	}
	return p.reads.send(now, booked), 0, nil
}

// refund drops a call recorded at at from the log (of writes too, for a write): Graph answered it
// 429, which it does not count against its window.
func (p *Pacer) refund(at time.Time, write bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if write {
		p.writes.unsend(at)
	}
	p.reads.unsend(at)
}

// observe folds the duration of a call into the latency the pacer sizes its jobs in flight by,
// and into the shortest round trip seen.
func (p *Pacer) observe(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.minLatency == 0 || d < p.minLatency {
		p.minLatency = d
	}
	if p.latency == 0 {
		p.latency = d
		return
	}
	p.latency += (d - p.latency) / 8
}

// answeredAt moves a call recorded at sentAt towards when Graph most likely counted it: its answer
// came at now, and no answer comes sooner than the shortest round trip after the call arrived. A
// call held up on its way (a busy machine, a slow proxy) by more than the window's margin, which
// covers the usual spread, then counts from when it arrived less that margin, so that the next
// window's calls do not arrive within the window of it.
func (p *Pacer) answeredAt(sentAt time.Time, write bool, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	arrived := now.Add(-p.minLatency - (p.window - p.limits.Per))
	if write {
		p.writes.move(sentAt, arrived)
	}
	p.reads.move(sentAt, arrived)
}

// Ticket is what a running job booked of its tenant's budget and has not sent yet.
type Ticket struct {
	p             *Pacer
	reads, writes int
}

// ceiling bounds the jobs in flight across all tenants. A pacer that finds it full waits until a
// job of any tenant ends.
type ceiling struct {
	mu      sync.Mutex
	n, max  int
	waiting map[*Pacer]struct{}
}

func (c *ceiling) acquire(p *Pacer) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n < c.max {
		c.n++
		return true
	}
	c.waiting[p] = struct{}{}
	return false
}

func (c *ceiling) release() {
	c.mu.Lock()
	c.n--
	waiting := c.waiting
	c.waiting = map[*Pacer]struct{}{}
	c.mu.Unlock()
	for p := range waiting {
		p.poke()
	}
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
