package pacer

import (
	"math"
	"time"
)

// Limits are the throttling limits a pacer keeps under: Requests calls of any kind and Writes
// writes per Per, for one app in one tenant (a key); and TenantRequests and TenantWrites per Per
// for all the keys of one tenant together (Options.Tenant), which the API counts as well.
type Limits struct {
	// Requests is how many calls of any kind the API allows one key per Per.
	Requests int
	// Writes is how many writes the API allows one key per Per (they count as requests too).
	Writes int
	// TenantRequests is how many calls of any kind the API allows all the keys of a tenant
	// together per Per; zero means no limit but each key's own.
	TenantRequests int
	// TenantWrites is how many writes the API allows all the keys of a tenant together per Per;
	// zero means no limit but each key's own.
	TenantWrites int
	// Per is the length of the API's throttling window, the same for both.
	Per time.Duration
}

// DefaultLimits returns Intune's limits: 1000 requests and 100 writes per 20 seconds per app in a
// tenant, and 2000 requests and 200 writes per 20 seconds per tenant, all apps together.
func DefaultLimits() Limits {
	return Limits{Requests: 1000, Writes: 100, TenantRequests: 2000, TenantWrites: 200, Per: 20 * time.Second}
}

// withDefaults fills the zero or negative fields of l from DefaultLimits, but for the tenant's:
// those are no limit when zero or negative.
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

// tenant returns the limits of a tenant's budget: its own, in the same window; a class without a
// limit has one that no window reaches.
func (l Limits) tenant() Limits {
	t := Limits{Requests: l.TenantRequests, Writes: l.TenantWrites, Per: l.Per}
	if t.Requests <= 0 {
		t.Requests = math.MaxInt32
	}
	if t.Writes <= 0 {
		t.Writes = math.MaxInt32
	}
	return t
}

// window is how long the pacer counts a call: Per plus a margin. The API counts a call when it
// arrives, a little after it was sent, and its clock is not the operator's. 2% of the window (400
// ms of Graph's 20 s), and at least 50 ms, covers the spread of transit times between two calls
// sent a window apart.
func (l Limits) window() time.Duration {
	return l.Per + max(l.Per/50, 50*time.Millisecond)
}

// Kind says what budget a job books before it starts.
type Kind int

const (
	// Read books one read. A read job may write too when the tenant's budget has room at once
	// for the write and the read that follows it, and no write waits in line; otherwise the
	// write's Send fails with ErrBudgetExhausted and the caller submits a Write job.
	Read Kind = iota
	// Write books a write and WriteRequests reads: a read, the write and the read back. Writes
	// wait in a line of their own, served before reads.
	Write
	// Background books one read, like Read, at low priority: it waits in a line of its own and
	// starts only while no Read job waits, within the reads' share of the budget that leaves a
	// window's writes their room (see budget.readLimit), so that it never delays a sync.
	Background
)

// WriteRequests is how much of the request budget one Write job books: its read, its write and
// the read that reads it back. Limits.Requests below it never start a write.
const WriteRequests = 3

// String returns the kind's name, which is also the class label of metrics.
func (k Kind) String() string {
	switch k {
	case Write:
		return "write"
	case Background:
		return "background"
	}
	return "read"
}
