package graph

import (
	"context"
	"strings"
	"sync"
	"time"
)

// BudgetKey names the budget of one app in one tenant of one cloud.
type BudgetKey struct {
	// AuthorityHost is the login host of the cloud, e.g. https://login.microsoftonline.com.
	AuthorityHost string
	// TenantID is the tenant, as the connection names it (compared without case).
	TenantID string
	// ClientID is the app's client id (compared without case).
	ClientID string
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
	// Requests is how many calls of any kind Graph allows per Per.
	Requests int
	// Writes is how many PATCHes Graph allows per Per (they count as requests too).
	Writes int
	// Per is the length of Graph's throttling window.
	Per time.Duration
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
// all calls, one for writes (a write takes from both, booked at the same
// time), and a pause set by Graph's 429s that holds every call back. Its
// buckets are sized so that no window of Limits.Per admits more than Limits
// minus one burst, leaving a margin for the delay between a call leaving and
// Graph counting it.
//
// Writes that would wait longer than a caller accepts queue up in a line of
// turns: each is told when its turn comes (the RetryAfter of the throttled
// error), one write interval after the previous one, and books nothing until
// it comes back with WithTurn. While the line is not empty, a new write joins
// its end instead of taking the bucket ahead of those waiting. So a backlog of
// writes is served in order, without holding a worker while it waits.
type Budget struct {
	key BudgetKey

	mu          sync.Mutex
	read, write bucket
	pausedUntil time.Time
	lineEnd     time.Time // the turn the next write to join the line gets
}

// turnKey marks a context whose write has waited for its turn in the line.
type turnKey struct{}

// WithTurn marks ctx as that of a write coming back at the turn it was given
// (the RetryAfter of an ErrBudgetExhausted error): it takes the budget without
// joining the line again.
func WithTurn(ctx context.Context) context.Context {
	return context.WithValue(ctx, turnKey{}, true)
}

func hasTurn(ctx context.Context) bool {
	v, _ := ctx.Value(turnKey{}).(bool)
	return v
}

func newBudget(k BudgetKey, l Limits) *Budget {
	return &Budget{key: k, read: newBucket(l.Requests, l.Per), write: newBucket(l.Writes, l.Per)}
}

// bucket is a token bucket in the form of the generic cell rate algorithm:
// instead of a count of tokens it keeps the time at which the bucket will be
// full again (tat), which lets a write book the read and the write bucket
// for one and the same send time. (golang.org/x/time/rate books each limiter
// at its own time: a write delayed by the read bucket would have taken its
// write token early, and writes sent together would overrun Graph's window.)
type bucket struct {
	interval  time.Duration // time to earn one token
	tolerance time.Duration // (burst-1) intervals: how far ahead of tat a call may go
	tat       time.Time     // theoretical arrival time of the next call
}

// newBucket returns a bucket that admits at most n-burst calls in any window
// of length per: a burst of n/20 at once, then the rest spread over the
// window. Limits too small for that margin get none (n-burst calls spread
// over the window after the burst), and a limit of one call gets one call
// every two windows.
func newBucket(n int, per time.Duration) bucket {
	burst := max(1, n/20)
	refill := float64(n - 2*burst)
	if refill < 1 {
		refill = float64(n - burst)
	}
	if refill < 1 {
		refill = 0.5
	}
	interval := time.Duration(float64(per) / refill)
	return bucket{interval: interval, tolerance: time.Duration(burst-1) * interval}
}

// earliest returns the earliest time, not before now, at which the bucket
// admits a call.
func (k *bucket) earliest(now time.Time) time.Time {
	if t := k.tat.Add(-k.tolerance); t.After(now) {
		return t
	}
	return now
}

// take books a call sent at t, which must not be before earliest.
func (k *bucket) take(t time.Time) {
	k.tat = later(k.tat, t).Add(k.interval)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Key returns the budget's key.
func (b *Budget) Key() BudgetKey { return b.key }

// Pause holds every call back until until; a pause is only ever extended.
func (b *Budget) Pause(until time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pausedUntil = later(b.pausedUntil, until)
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
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sendTime(later(now, b.pausedUntil), class).Sub(now)
}

// sendTime returns the earliest time, not before start, at which the buckets
// of class admit a call. b.mu must be held.
func (b *Budget) sendTime(start time.Time, class BudgetClass) time.Time {
	t := b.read.earliest(start)
	if class == BudgetWrite {
		t = later(t, b.write.earliest(start))
	}
	return t
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
	turn := hasTurn(ctx)
	if turn && class == BudgetWrite {
		// A write at its turn is at the front of the line: it waits for the bucket a little
		// longer than a newcomer would (turns are one write interval apart, and a requeued
		// resource comes back a little late) rather than go round again.
		last = last.Add(b.turnGrace())
	}
	for {
		now := time.Now()
		wait, cancel, ok := b.reserve(now, class, last.Sub(now), turn)
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

// TakeTurn is for a caller about to read and then, probably, write: when the
// tenant's writes are queued, or the bucket would hold a write back longer
// than maxWait, it gives the coming write its turn at the end of the line and
// returns the wait until then (while the budget is paused, the rest of the
// pause, without a turn). 0 means there is no line: go ahead. A caller that got
// a turn comes back then with WithTurn, so that it need not read first and
// queue after.
func (b *Budget) TakeTurn(maxWait time.Duration) time.Duration {
	now := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pausedUntil.After(now) {
		return b.pausedUntil.Sub(now)
	}
	send := b.sendTime(now, BudgetWrite)
	if b.lineEnd.After(now) || send.Sub(now) > maxWait {
		return b.joinLine(now, send)
	}
	return 0
}

// turnGrace is how much longer than other calls a write at its turn may wait.
func (b *Budget) turnGrace() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return 4 * b.write.interval
}

// joinLine gives a write its turn at the end of the line (not before send, the
// earliest the buckets allow) and returns the wait until then. b.mu must be held.
func (b *Budget) joinLine(now, send time.Time) time.Duration {
	turn := later(send, b.lineEnd)
	b.lineEnd = turn.Add(b.write.interval)
	return turn.Sub(now)
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

// reserve books one call of class at the earliest time the buckets allow,
// not before now, and returns how long the caller must wait before sending
// it, with a function that gives the booking back. While the budget is
// paused it books nothing and returns the rest of the pause with a nil
// function: the caller waits, then reserves again. When the wait would
// exceed limit it books nothing and returns the wait and false; a write
// without a turn then joins the line, and the wait is until its turn.
func (b *Budget) reserve(now time.Time, class BudgetClass, limit time.Duration, turn bool) (time.Duration, func(time.Time), bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if p := b.pausedUntil; p.After(now) {
		return p.Sub(now), nil, p.Sub(now) <= limit
	}
	send := b.sendTime(now, class)
	wait := send.Sub(now)
	queueing := class == BudgetWrite && !turn
	if queueing && b.lineEnd.After(now) {
		return b.joinLine(now, send), nil, false
	}
	if wait > limit {
		if queueing {
			return b.joinLine(now, send), nil, false
		}
		return wait, nil, false
	}
	readBefore, writeBefore := b.read.tat, b.write.tat
	b.read.take(send)
	if class == BudgetWrite {
		b.write.take(send)
	}
	readAfter, writeAfter := b.read.tat, b.write.tat
	cancel := func(time.Time) {
		b.mu.Lock()
		defer b.mu.Unlock()
		// Give back only if nothing was booked since; otherwise keep the
		// booking, which errs on the side of fewer calls.
		if b.read.tat.Equal(readAfter) && b.write.tat.Equal(writeAfter) {
			b.read.tat, b.write.tat = readBefore, writeBefore
		}
	}
	return wait, cancel, true
}
