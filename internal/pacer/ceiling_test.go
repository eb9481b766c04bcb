package pacer_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/overview-operator/overview-operator/internal/pacer"
)

// warm submits n jobs of tenant at once and runs them, one after the other, each a call that
// ends as a after d.
func (h *harness) warm(tenant *pacer.Handle[string], n int, d time.Duration, a pacer.Answer) {
	for i := range n {
		tenant.Submit(fmt.Sprint("warm", i), pacer.Read, pacer.Job{Run: func(ctx context.Context, t *pacer.Ticket) error {
			c, err := t.Send(ctx, false)
			if err != nil {
				return err
			}
			h.clock.Step(d)
			c.End(a)
			return nil
		}})
	}
	h.starts.RunAll()
}

// hang submits n read jobs for tenant and returns how many started; they never end.
func (h *harness) hang(tenant *pacer.Handle[string], prefix string, n int) int {
	before := h.starts.Len()
	for i := range n {
		tenant.Submit(fmt.Sprint(prefix, i), pacer.Read,
			pacer.Job{Run: func(context.Context, *pacer.Ticket) error { return nil }})
	}
	return h.starts.Len() - before
}

// TestSizingFromSuccessfulCalls: how many of a tenant's jobs run at once follows the latency of
// its successful calls only; calls that time out or fail do not make it grow.
func TestSizingFromSuccessfulCalls(t *testing.T) {
	type phase struct {
		n int
		d time.Duration
		a pacer.Answer
	}
	tests := map[string]struct {
		calls []phase
		want  int // jobs in flight: 100 writes of a window, plus 50 a second times the latency
	}{
		"successes in 100 ms":                         {calls: []phase{{5, 100 * time.Millisecond, pacer.Succeeded}}, want: 105},
		"successes in 100 ms, then timeouts of 2 min": {calls: []phase{{5, 100 * time.Millisecond, pacer.Succeeded}, {20, 2 * time.Minute, pacer.Unanswered}}, want: 105},
		"successes in 100 ms, then failures in 30 s":  {calls: []phase{{5, 100 * time.Millisecond, pacer.Succeeded}, {20, 30 * time.Second, pacer.Failed}}, want: 105},
		"successes in 2 s":                            {calls: []phase{{5, 2 * time.Second, pacer.Succeeded}}, want: 200},
		"successes in 10 s: at most 256":              {calls: []phase{{5, 10 * time.Second, pacer.Succeeded}}, want: 256},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := newHarness(pacer.DefaultLimits(), 0)
			// A call that hangs keeps the pacer (and what it learnt) while the window empties.
			if _, err := h.tenant.Send(context.Background(), false); err != nil {
				t.Fatal(err)
			}
			for _, p := range tc.calls {
				h.warm(h.tenant, p.n, p.d, p.a)
			}
			if got := h.hang(h.tenant, "job", 300); got != tc.want {
				t.Errorf("%d jobs in flight, want %d", got, tc.want)
			}
		})
	}
}

// TestTheCeilingServesTenantsInTurn: the places in flight across tenants go to every tenant with
// jobs waiting: slow or hung tenants do not take them all, and a place that frees goes to a
// tenant waiting for one before the tenant whose job ended takes it again.
func TestTheCeilingServesTenantsInTurn(t *testing.T) {
	tests := map[string]struct {
		ceiling   int
		slow      int           // tenants whose calls succeed slowly, each with 300 jobs that hang
		latency   time.Duration // of the slow tenants' calls
		freeOne   bool          // one job of the first slow tenant ends after the newcomer waits
		wantOther int           // jobs of a tenant that comes after them that start (of 5)
	}{
		"four slow tenants leave places for a fifth":  {ceiling: 1024, slow: 4, latency: 10 * time.Second, wantOther: 5},
		"eight slow tenants leave places for a ninth": {ceiling: 1024, slow: 8, latency: 10 * time.Second, wantOther: 5},
		"a place that frees goes to the tenant waiting": {
			ceiling: 8, slow: 2, latency: 10 * time.Second, freeOne: true, wantOther: 1,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := newHarness(pacer.DefaultLimits(), tc.ceiling)
			var first []func()
			for i := range tc.slow {
				tenant := h.reg.For(string(rune('A' + i)))
				if _, err := tenant.Send(context.Background(), false); err != nil { // it hangs: the pacer stays
					t.Fatal(err)
				}
				h.warm(tenant, 3, tc.latency, pacer.Succeeded)
			}
			for i := range tc.slow {
				tenant := h.reg.For(string(rune('A' + i)))
				h.hang(tenant, "job", 300)
				if i == 0 {
					first = h.starts.Take()
				}
			}
			h.starts.Take() // the others hang
			other := h.reg.For("other")
			for i := range 5 {
				key := fmt.Sprint("other", i)
				other.Submit(key, pacer.Read, h.job(key, read))
			}
			if tc.freeOne {
				if n := h.starts.Len(); n != 0 {
					t.Fatalf("%d jobs started in a full ceiling", n)
				}
				first[0]() // one of the first tenant's jobs ends
				next := h.starts.Take()
				if len(next) != 1 {
					t.Fatalf("%d jobs started when one place freed", len(next))
				}
				next[0]() // it runs, and what it starts waits
				h.starts.Take()
			}
			if started := len(h.run()); started != tc.wantOther {
				t.Errorf("%d jobs of the tenant that came last started, want %d", started, tc.wantOther)
			}
		})
	}
}
