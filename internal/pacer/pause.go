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

// Scope is what a throttling pauses: the key the throttled call was sent for, every key of its
// tenant, or every key of its app.
type Scope int

const (
	// KeyScope pauses the key: the app in the tenant (Graph's Tenant_Application).
	KeyScope Scope = iota
	// TenantScope pauses every key of the key's tenant (Options.Tenant) in the registry: the API
	// counted the tenant's calls across its apps (Graph's Tenant).
	TenantScope
	// AppScope pauses every key of the key's app (Options.App) in the registry, in every tenant:
	// the API counted the app's calls across its tenants (Graph's Application).
	AppScope
)

// String returns the scope's name.
func (s Scope) String() string {
	switch s {
	case TenantScope:
		return "tenant"
	case AppScope:
		return "app"
	}
	return "key"
}
