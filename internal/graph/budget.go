package graph

import (
	"context"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// BudgetKey names the budget of one app in one tenant of one cloud.
type BudgetKey struct {
	AuthorityHost, TenantID, ClientID string
}

// normalized returns k in the form Budgets uses as a map key: the same tenant
// written in another case is the same budget.
func (k BudgetKey) normalized() BudgetKey {
	return BudgetKey{
		AuthorityHost: strings.TrimRight(strings.ToLower(k.AuthorityHost), "/"),
		TenantID:      strings.ToLower(k.TenantID),
		ClientID:      strings.ToLower(k.ClientID),
	}
}

// Limits are the throttling limits a budget keeps under: Requests calls of
// any kind and Writes PATCHes per Per, for one app in one tenant.
type Limits struct {
	Requests, Writes int
	Per              time.Duration
}

// DefaultLimits returns Intune's per-app, per-tenant limits: 1000 requests
// and 100 writes per 20 seconds.
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

// BudgetClass is the class of a call: every call is a read, a PATCH is also a write.
type BudgetClass string

// The budget classes; they are also the values of the metrics' class label.
const (
	BudgetRead  BudgetClass = "read"
	BudgetWrite BudgetClass = "write"
)

// Budgets is the registry of budgets, one per BudgetKey, shared by all the
// clients of the operator so that every resource of a tenant draws on the
// same budget. It is safe for concurrent use.
type Budgets struct {
	limits Limits

	mu      sync.Mutex
	budgets map[BudgetKey]*Budget
}

// NewBudgets returns a registry whose budgets keep under l; zero fields of l
// take the DefaultLimits values.
func NewBudgets(l Limits) *Budgets {
	return &Budgets{limits: l.withDefaults(), budgets: map[BudgetKey]*Budget{}}
}

// Limits returns the limits of the registry's budgets.
func (b *Budgets) Limits() Limits { return b.limits }

// For returns the budget of k, creating it on first use.
func (b *Budgets) For(k BudgetKey) *Budget {
	k = k.normalized()
	b.mu.Lock()
	defer b.mu.Unlock()
	if bd, ok := b.budgets[k]; ok {
		return bd
	}
	bd := newBudget(k, b.limits)
	b.budgets[k] = bd
	return bd
}

// Budget is the request budget of one app in one tenant: a token bucket for
// all calls, one for writes (a write takes from both), and a pause set by
// Graph's 429s that holds every call back. Its buckets are sized so that no
// window of Limits.Per admits more than Limits minus one burst, leaving a
// margin for the delay between a call leaving and Graph counting it.
type Budget struct {
	key         BudgetKey
	read, write *rate.Limiter

	mu          sync.Mutex
	pausedUntil time.Time
}

func newBudget(k BudgetKey, l Limits) *Budget {
	return &Budget{key: k, read: bucket(l.Requests, l.Per), write: bucket(l.Writes, l.Per)}
}

// bucket returns a token bucket that admits at most n-burst calls in any
// window of length per: burst at once, then the rest spread over the window.
// Limits too small for that margin get none (n-burst calls spread over the
// window after the burst), and a limit of one call gets one call every two
// windows.
func bucket(n int, per time.Duration) *rate.Limiter {
	burst := max(1, n/20)
	refill := float64(n - 2*burst)
	if refill < 1 {
		refill = float64(n - burst)
	}
	if refill < 1 {
		refill = 0.5
	}
	return rate.NewLimiter(rate.Limit(refill/per.Seconds()), burst)
}

// Key returns the budget's key.
func (b *Budget) Key() BudgetKey { return b.key }

// Pause holds every call back until until; a pause is only ever extended.
func (b *Budget) Pause(until time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if until.After(b.pausedUntil) {
		b.pausedUntil = until
	}
}

// PausedUntil returns the end of the current pause; a time in the past (or
// the zero time) means the budget is not paused.
func (b *Budget) PausedUntil() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.pausedUntil
}

// Delay returns how long a call of class would wait if it started now,
// without taking anything from the budget, so that a caller can requeue
// instead of waiting.
func (b *Budget) Delay(class BudgetClass) time.Duration {
	return b.delayAt(time.Now(), class)
}

func (b *Budget) delayAt(now time.Time, class BudgetClass) time.Duration {
	start := now
	if p := b.PausedUntil(); p.After(now) {
		start = p
	}
	d := tokenDelay(b.read, start)
	if class == BudgetWrite {
		d = max(d, tokenDelay(b.write, start))
	}
	return start.Sub(now) + d
}

// tokenDelay is how long after t the bucket has a token.
func tokenDelay(l *rate.Limiter, t time.Time) time.Duration {
	tokens := l.TokensAt(t)
	if tokens >= 1 {
		return 0
	}
	return time.Duration((1 - tokens) / float64(l.Limit()) * float64(time.Second))
}

// Wait takes one call of class from the budget, waiting for the pause to end
// and for tokens as needed. When the wait would be longer than maxWait or
// than what is left of ctx's deadline, it takes nothing and returns a
// throttled *Error at once, with RetryAfter the wait and ErrBudgetExhausted as
// its cause. Clients call it before each try; callers of a Client need not.
func (b *Budget) Wait(ctx context.Context, class BudgetClass, maxWait time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	start := time.Now()
	last := start.Add(maxWait)
	if deadline, ok := ctx.Deadline(); ok && deadline.Before(last) {
		last = deadline
	}
	for {
		now := time.Now()
		wait, cancel, ok := b.reserve(now, class, last.Sub(now))
		if !ok {
			return &Error{RetryAfter: wait, Err: ErrBudgetExhausted}
		}
		if wait > 0 {
			if err := sleep(ctx, wait); err != nil {
				if cancel != nil {
					cancel(time.Now())
				}
				return err
			}
		}
		if cancel != nil {
			budgetWaitSeconds.WithLabelValues(string(class)).Observe(time.Since(start).Seconds())
			return nil
		}
		// the budget was paused: the pause is over (or was extended), reserve again
	}
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// reserve takes one call of class at now and returns how long the caller
// must wait before sending it, with a function that gives it back. While the
// budget is paused it takes nothing and returns the rest of the pause with a
// nil function: the caller waits, then reserves again. When the wait would
// exceed limit it takes nothing and returns the wait and false.
func (b *Budget) reserve(now time.Time, class BudgetClass, limit time.Duration) (time.Duration, func(time.Time), bool) {
	if p := b.PausedUntil(); p.After(now) {
		return p.Sub(now), nil, p.Sub(now) <= limit
	}
	rs := []*rate.Reservation{b.read.ReserveN(now, 1)}
	if class == BudgetWrite {
		rs = append(rs, b.write.ReserveN(now, 1))
	}
	cancel := func(at time.Time) {
		for _, r := range rs {
			r.CancelAt(at)
		}
	}
	var wait time.Duration
	for _, r := range rs {
		wait = max(wait, r.DelayFrom(now))
	}
	if wait > limit {
		cancel(now)
		return wait, nil, false
	}
	return wait, cancel, true
}
