package pacer

import (
	"context"
	"sync"
	"time"
)

// DefaultMaxInFlight is the default ceiling of jobs in flight across all tenants.
const DefaultMaxInFlight = 1024

// DefaultJobTimeout is the default bound of one job's run.
const DefaultJobTimeout = 2 * time.Minute

// Options configure a Registry; the zero value of each field takes its default.
type Options[K comparable] struct {
	// Limits are what each pacer keeps under, and the keys of a tenant together; zero fields
	// take DefaultLimits' values, but the tenant's, which are then no limit.
	Limits Limits
	// Tenant, if set, names the tenant of a key by a key of its own (e.g. the key without its
	// app): the keys of a tenant share its budget (Limits.TenantRequests and TenantWrites) and
	// its pauses (TenantScope). Nil: every key is a tenant of its own.
	Tenant func(key K) K
	// App, if set, names the app of a key by a key of its own (e.g. the key without its tenant):
	// the keys of an app share its pauses (AppScope). Nil: every key is an app of its own.
	App func(key K) K
	// MaxInFlight is the ceiling of jobs in flight across all tenants (DefaultMaxInFlight).
	MaxInFlight int
	// Clock is the one clock of every pacer (RealClock).
	Clock Clock
	// Go starts a job's run (a new goroutine). Tests start jobs by hand with it.
	Go func(run func())
	// Owns, if set, reports whether this process may send for key now (sharding: another process
	// may own the key). It is asked as each call is sent, with the pacer's lock held, so that a
	// call is either counted in Sending or refused with ErrNotOwner; it must not call the
	// registry.
	Owns func(key K) bool
	// JobTimeout bounds one job's run on Clock (DefaultJobTimeout): its context ends then.
	JobTimeout time.Duration
	// Waited, if set, hears how long each job waited in line before it started. It is called
	// with the pacer's lock held: it must not call the registry.
	Waited func(key K, kind Kind, waited time.Duration)
	// Dropped, if set, hears that the pacer of key was dropped (it had nothing left to
	// remember), so that what was kept per key (metric series) can go too. It is called with the
	// registry's lock held: it must not call the registry.
	Dropped func(key K)
}

// Registry holds one pacer per key (an app in a tenant, where the API counts its limits), and
// the ceiling they share. A pacer is made on first use and dropped when it has nothing left to
// remember; a Handle finds the key's pacer again, so that there is never more than one pacer of
// a key, and a tenant's budget is never split. It is safe for concurrent use.
type Registry[K comparable] struct {
	opts    Options[K]
	ceiling *ceiling
	// jobs is the context every job runs in: Close cancels it.
	jobs      context.Context
	closeJobs context.CancelFunc

	mu      sync.Mutex
	pacers  map[K]*Pacer
	tenants map[K]*tenant             // by Options.Tenant's key, while a pacer of it is held
	pauses  map[scopeKey[K]]time.Time // the ends of the pauses of tenants and apps, until then
}

// scopeKey names a tenant (TenantScope) or an app (AppScope) by Options.Tenant's or App's key.
type scopeKey[K comparable] struct {
	scope Scope
	key   K
}

// New returns a registry with the options o.
func New[K comparable](o Options[K]) *Registry[K] {
	o.Limits = o.Limits.withDefaults()
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = DefaultMaxInFlight
	}
	if o.Clock == nil {
		o.Clock = RealClock()
	}
	if o.Go == nil {
		o.Go = func(run func()) { go run() }
	}
	if o.JobTimeout <= 0 {
		o.JobTimeout = DefaultJobTimeout
	}
	jobs, closeJobs := context.WithCancel(context.Background())
	return &Registry[K]{
		opts: o, ceiling: newCeiling(o.MaxInFlight), jobs: jobs, closeJobs: closeJobs,
		pacers: map[K]*Pacer{}, tenants: map[K]*tenant{}, pauses: map[scopeKey[K]]time.Time{},
	}
}

// Close ends every job: the jobs running find their context done, and a job that starts after it
// runs with its context done (it should send nothing); a throttled job no longer runs again.
func (r *Registry[K]) Close() { r.closeJobs() }

// Len is how many pacers the registry holds.
func (r *Registry[K]) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pacers)
}

// Sending is how many calls of keys that owns refuses are in flight (sent, their answer not
// reported) or were sent within the last window: while it is not 0, the API may still count calls
// of theirs against their limits, and another process that took them over with a budget of its own
// would go past them. None is sent while Owns refuses them.
func (r *Registry[K]) Sending(owns func(K) bool) int {
	n := 0
	for _, calls := range r.SendingByKey(owns) {
		n += calls
	}
	return n
}

// SendingByKey is Sending by key: the keys that owns refuses with calls in flight or within the
// last window, and how many each has.
func (r *Registry[K]) SendingByKey(owns func(K) bool) map[K]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.opts.Clock.Now()
	out := map[K]int{}
	for key, p := range r.pacers {
		if owns(key) {
			continue
		}
		p.mu.Lock()
		p.budget.expire(now)
		if n := max(p.calls, len(p.budget.reads.sent)); n > 0 { // a call in flight is in the window's log too
			out[key] = n
		}
		p.mu.Unlock()
	}
	return out
}

// For returns the handle of key's pacer.
func (r *Registry[K]) For(key K) *Handle[K] { return &Handle[K]{r: r, key: key} }

// get returns key's pacer, made if there is none and create is set.
func (r *Registry[K]) get(key K, create bool) *Pacer {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.pacers[key]
	if ok || !create {
		return p
	}
	o := r.opts
	tk := r.scopeOf(key, TenantScope).key
	t := r.tenants[tk]
	if t == nil {
		t = newTenant(o.Limits)
		r.tenants[tk] = t
	}
	t.members++
	p = &Pacer{
		limits: o.Limits, clock: o.Clock, spawn: o.Go, jobTimeout: o.JobTimeout, jobs: r.jobs, ceiling: r.ceiling,
		tenant: t, lines: newLines(), budget: newBudget(o.Limits),
	}
	// A key that comes while its tenant or its app is paused waits for the pause too.
	now := o.Clock.Now()
	for _, s := range []Scope{TenantScope, AppScope} {
		if until, ok := r.pauses[r.scopeOf(key, s)]; ok && now.Before(until) {
			p.pause.extend(until)
		}
	}
	if o.Waited != nil {
		p.waited = func(k Kind, d time.Duration) { o.Waited(key, k, d) }
	}
	p.drop = func() { r.drop(key, p) }
	if o.Owns != nil {
		p.owns = func() bool { return o.Owns(key) }
	}
	p.widen = func(s Scope, until time.Time) { r.widen(key, s, until) }
	r.pacers[key] = p
	return p
}

// scopeOf is the key that names key's tenant (TenantScope) or app (AppScope) in a scopeKey.
func (r *Registry[K]) scopeOf(key K, s Scope) scopeKey[K] {
	switch {
	case s == TenantScope && r.opts.Tenant != nil:
		return scopeKey[K]{s, r.opts.Tenant(key)}
	case s == AppScope && r.opts.App != nil:
		return scopeKey[K]{s, r.opts.App(key)}
	}
	return scopeKey[K]{s, key}
}

// widen pauses until until every key of scope s of key in the registry but key (which its call
// paused), and those that come before then.
func (r *Registry[K]) widen(key K, s Scope, until time.Time) {
	sk := r.scopeOf(key, s)
	now := r.opts.Clock.Now()
	var paused []*Pacer
	r.mu.Lock()
	for k, end := range r.pauses {
		if !now.Before(end) {
			delete(r.pauses, k)
		}
	}
	if until.After(r.pauses[sk]) {
		r.pauses[sk] = until
	}
	for k, p := range r.pacers {
		if k != key && r.scopeOf(k, s) == sk {
			paused = append(paused, p)
		}
	}
	r.mu.Unlock()
	for _, p := range paused {
		p.mu.Lock()
		p.pause.extend(until)
		p.mu.Unlock()
		p.dispatch() // its timer: the pause's end, and when it may be dropped
	}
}

// drop drops key's pacer p if it is still idle.
func (r *Registry[K]) drop(key K, p *Pacer) {
	r.mu.Lock()
	p.mu.Lock()
	ok := !p.dropped && r.pacers[key] == p && p.idle(p.clock.Now())
	var woken []*Pacer
	if ok {
		p.dropped = true
		delete(r.pacers, key)
		if p.timer != nil {
			p.timer.Stop()
		}
		woken = p.tenant.forget(p)
		// Its calls have left the window: the tenant's, which are its pacers', have too when it
		// was the last.
		if p.tenant.members--; p.tenant.members == 0 {
			delete(r.tenants, r.scopeOf(key, TenantScope).key)
		}
		if r.opts.Dropped != nil {
			r.opts.Dropped(key)
		}
	}
	p.mu.Unlock()
	r.mu.Unlock()
	if ok {
		woken = append(woken, r.ceiling.forget(p)...)
		for _, q := range woken {
			q.dispatch()
		}
	}
}

// Handle is the way to a key's pacer: it finds the pacer again on every call, so that it keeps
// working when the registry dropped the pacer in between (a new one is made).
type Handle[K comparable] struct {
	r   *Registry[K]
	key K
}

// locked returns the key's live pacer, made if need be, with its lock held.
func (h *Handle[K]) locked() *Pacer {
	for {
		p := h.r.get(h.key, true)
		p.mu.Lock()
		if !p.dropped {
			return p
		}
		p.mu.Unlock()
	}
}

// Submit puts job in the line of kind under key, to run when the tenant's budget admits it. A
// key that waits already keeps its place and runs the newest job submitted for it (a write
// submitted for a key waiting to read takes the write line at the place it had); a key whose job
// is running gets a new place at the end of the line.
func (h *Handle[K]) Submit(key string, kind Kind, job Job) {
	p := h.locked()
	p.lines.submit(key, kind, job, p.clock.Now())
	p.mu.Unlock()
	p.dispatch()
}

// Withdraw gives key's place back, so that the line behind it moves up; it reports whether key
// was waiting (a running job is not stopped).
func (h *Handle[K]) Withdraw(key string) bool {
	p := h.r.get(h.key, false)
	if p == nil {
		return false
	}
	p.mu.Lock()
	ok := !p.dropped && p.lines.withdraw(key)
	p.mu.Unlock()
	if ok {
		p.dispatch()
	}
	return ok
}

// Waiting is how many jobs wait in the tenant's lines.
func (h *Handle[K]) Waiting() int {
	p := h.r.get(h.key, false)
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lines.total()
}

// Send records a call outside any job (a tool's, a test's) in the tenant's budget as it is sent:
// it never waits and is never refused. See Ticket.Send.
func (h *Handle[K]) Send(ctx context.Context, write bool) (*Call, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := h.locked()
	c, _, err := p.record(nil, write)
	p.mu.Unlock()
	return c, err
}

// Now is the time on the registry's clock.
func (h *Handle[K]) Now() time.Time { return h.r.opts.Clock.Now() }

// Key is the key of the handle's pacer.
func (h *Handle[K]) Key() K { return h.key }
