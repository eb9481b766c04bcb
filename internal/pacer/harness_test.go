package pacer_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/overview-operator/overview-operator/internal/pacer"
	"github.com/overview-operator/overview-operator/internal/pacer/pacertest"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// harness is a registry on a fake clock whose jobs run only when the test runs them.
type harness struct {
	clock  *pacertest.Clock
	starts *pacertest.Starts
	reg    *pacer.Registry[string]
	tenant *pacer.Handle[string]

	mu     sync.Mutex
	ran    []string         // the keys of the jobs, as they ran
	sent   []time.Time      // the calls sent, as they were sent
	done   map[string]error // the jobs' final errors
	waited map[string]int   // metric series per tenant: jobs that waited
}

func newHarness(l pacer.Limits, maxInFlight int) *harness {
	h := &harness{clock: pacertest.NewClock(t0), starts: &pacertest.Starts{}, done: map[string]error{}, waited: map[string]int{}}
	h.reg = pacer.New(pacer.Options[string]{
		Limits: l, MaxInFlight: maxInFlight, Clock: h.clock, Go: h.starts.Go,
		Waited:  func(k string, _ pacer.Kind, _ time.Duration) { h.waited[k]++ },
		Dropped: func(k string) { delete(h.waited, k) },
	})
	h.tenant = h.reg.For("tenant")
	return h
}

// body is what a job does with its ticket.
type body func(ctx context.Context, h *harness, t *pacer.Ticket) error

// answered sends a call and reports it answered with success after latency.
func answered(latency time.Duration, write bool) body {
	return func(ctx context.Context, h *harness, t *pacer.Ticket) error {
		c, err := h.send(ctx, t, write)
		if err != nil {
			return err
		}
		h.clock.Step(latency)
		c.End(pacer.Succeeded)
		return nil
	}
}

// calls runs bodies in turn, up to the first error.
func calls(bs ...body) body {
	return func(ctx context.Context, h *harness, t *pacer.Ticket) error {
		for _, b := range bs {
			if err := b(ctx, h, t); err != nil {
				return err
			}
		}
		return nil
	}
}

var (
	read  = answered(0, false)
	write = answered(0, true)
	// sync is what a write job does: read, write, read back.
	sync3 = calls(read, write, read)
)

func (h *harness) send(ctx context.Context, t *pacer.Ticket, write bool) (*pacer.Call, error) {
	c, err := t.Send(ctx, write)
	if err == nil {
		h.mu.Lock()
		h.sent = append(h.sent, h.clock.Now())
		h.mu.Unlock()
	}
	return c, err
}

// job is a job for key that records that it ran and does b.
func (h *harness) job(key string, b body) pacer.Job {
	return pacer.Job{
		Run: func(ctx context.Context, t *pacer.Ticket) error {
			h.mu.Lock()
			h.ran = append(h.ran, key)
			h.mu.Unlock()
			return b(ctx, h, t)
		},
		Done: func(err error) {
			h.mu.Lock()
			h.done[key] = err
			h.mu.Unlock()
		},
	}
}

// submit submits a job of kind for each key, doing what a job of its kind does.
func (h *harness) submit(kind pacer.Kind, keys ...string) {
	for _, k := range keys {
		b := read
		if kind == pacer.Write {
			b = sync3
		}
		h.tenant.Submit(k, kind, h.job(k, b))
	}
}

// run runs the jobs started so far, and those they start, and returns the keys that ran since
// the last call.
func (h *harness) run() []string {
	h.starts.RunAll()
	h.mu.Lock()
	defer h.mu.Unlock()
	ran := h.ran
	h.ran = nil
	return ran
}

// maxInWindow is the most calls sent within any window of length per.
func (h *harness) maxInWindow(per time.Duration) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	most := 0
	for i := range h.sent {
		n := 0
		for _, s := range h.sent[i:] {
			if s.Sub(h.sent[i]) < per {
				n++
			}
		}
		most = max(most, n)
	}
	return most
}

// throttled is the error of a call the API throttled until until.
type throttled struct{ until time.Time }

func (e throttled) Error() string             { return fmt.Sprintf("throttled until %s", e.until) }
func (e throttled) ThrottledUntil() time.Time { return e.until }

// throttledFor is a job's body that sends a call, which the API throttles for d.
func throttledFor(d time.Duration) body {
	return func(ctx context.Context, h *harness, t *pacer.Ticket) error {
		c, err := t.Send(ctx, false)
		if err != nil {
			return err
		}
		return throttled{until: c.Throttle(h.clock.Now().Add(d))}
	}
}
