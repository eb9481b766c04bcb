package pacer_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/overview-operator/overview-operator/internal/pacer"
)

// TestAReadJobThatWrites: a Read job that finds a write to send sends it only when the window has
// room for the write and the read back, and books the read back with it; else its write is
// refused with ErrBudgetExhausted (the caller submits a Write job). No call goes past the budget.
func TestAReadJobThatWrites(t *testing.T) {
	l := pacer.Limits{Requests: 10, Writes: 3, Per: time.Second}
	tests := map[string]struct {
		used      int  // calls already sent in the window
		another   bool // another Read job is submitted while the first waits for its write's answer
		wantWrite error
		wantCalls int // calls the job sent
		wantRan   []string
	}{
		"room for all three":                {used: 0, wantCalls: 3, wantRan: []string{"job"}},
		"room for the read and two more":    {used: 7, wantCalls: 3, wantRan: []string{"job"}},
		"at the window's edge: one too few": {used: 8, wantWrite: pacer.ErrBudgetExhausted, wantCalls: 1, wantRan: []string{"job"}},
		"the read back is booked before the write goes: another read waits": {
			used: 7, another: true, wantCalls: 3, wantRan: []string{"job"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := newHarness(l, 0)
			h.fill(tc.used, 0)
			var writeErr error
			h.tenant.Submit("job", pacer.Read, h.job("job", func(ctx context.Context, h *harness, tk *pacer.Ticket) error {
				if err := read(ctx, h, tk); err != nil {
					return err
				}
				c, err := h.send(ctx, tk, true)
				if writeErr = err; err != nil {
					return err
				}
				if tc.another {
					h.submit(pacer.Read, "another")
				}
				c.End(pacer.Succeeded)
				return read(ctx, h, tk)
			}))
			ran := h.run()
			if !errors.Is(writeErr, tc.wantWrite) {
				t.Errorf("the write ended with %v, want %v", writeErr, tc.wantWrite)
			}
			if got := len(h.sent) - tc.used; got != tc.wantCalls {
				t.Errorf("the job sent %d calls, want %d", got, tc.wantCalls)
			}
			if most := h.maxInWindow(l.Per); most > l.Requests {
				t.Errorf("%d calls within a window, more than the budget's %d", most, l.Requests)
			}
			if diff := cmp.Diff(tc.wantRan, ran); diff != "" {
				t.Errorf("jobs ran (-want +got):\n%s", diff)
			}
		})
	}
}

// TestWriteLead: a write job starts one round trip before the write window has room (its read
// comes first), and its write is held back, on the pacer's clock, if it is ready before then.
func TestWriteLead(t *testing.T) {
	h := newHarness(small, 0)
	latency := 100 * time.Millisecond
	var sentAt []time.Time
	patch := func(ctx context.Context, h *harness, tk *pacer.Ticket) error {
		c, err := h.send(ctx, tk, true)
		if err != nil {
			return err
		}
		sentAt = append(sentAt, h.clock.Now())
		h.clock.Step(latency)
		c.End(pacer.Succeeded)
		return nil
	}
	for _, k := range []string{"a", "b", "c"} {
		h.tenant.Submit(k, pacer.Write, h.job(k, calls(answered(latency, false), patch)))
	}
	h.run()
	// d reads quickly (40 ms, not the 100 ms seen): its write waits for the window.
	h.tenant.Submit("d", pacer.Write, h.job("d", calls(answered(40*time.Millisecond, false), patch)))
	first := sentAt[0]
	room := first.Add(window)
	next, _ := h.clock.Next()
	if want := room.Add(-latency); !next.Equal(want) {
		t.Fatalf("d looks to start at %v, want one round trip before the window has room (%v)", next, want)
	}
	h.clock.Set(next)
	// d runs: it reads, then waits for its write until the window has room, stepped by the test
	// from inside the job's wait.
	done := make(chan struct{})
	go func() { h.run(); close(done) }()
	for {
		select {
		case <-done:
			if got := sentAt[len(sentAt)-1]; !got.Equal(room) {
				t.Errorf("d's write went at %v, want when the window had room (%v)", got, room)
			}
			return
		default: // d waits on the clock for its write: the test moves it, no wall clock runs
			if at, ok := h.clock.Next(); ok && !at.After(room) {
				h.clock.Set(at)
			}
			runtime.Gosched()
		}
	}
}

// TestAThrottledCallIsNotCounted: a write the API throttled does not count against the window:
// the job that runs it again takes the place it had, not one a window later.
func TestAThrottledCallIsNotCounted(t *testing.T) {
	h := newHarness(pacer.Limits{Requests: 100, Writes: 2, Per: time.Second}, 0)
	h.tenant.Submit("a", pacer.Write, h.job("a", throttledOnce(0, sync3)))
	h.submit(pacer.Write, "b", "c")
	ran := h.run()
	if diff := cmp.Diff([]string{"a", "b", "a"}, ran); diff != "" {
		t.Errorf("jobs ran (-want +got):\n%s", diff)
	}
}

// TestALateAnswerCountsFromItsArrival: a call whose answer came late (held up on its way) counts
// in the window from when the API most likely counted it: its answer less the shortest round trip
// seen and the window's margin, not from when it was sent.
func TestALateAnswerCountsFromItsArrival(t *testing.T) {
	tests := map[string]struct {
		answeredAfter time.Duration // the second call's answer, after it was sent at t0+100ms
		wantNext      time.Duration // when the fourth job may start
	}{
		"answered at once: counted when sent":         {answeredAfter: 100 * time.Millisecond, wantNext: 100*time.Millisecond + window},
		"answered late: counted when it arrived":      {answeredAfter: 800 * time.Millisecond, wantNext: 750*time.Millisecond + window},
		"answered within the margin: when it arrived": {answeredAfter: 200 * time.Millisecond, wantNext: 150*time.Millisecond + window},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := newHarness(pacer.Limits{Requests: 2, Writes: 1, Per: time.Second}, 0)
			h.tenant.Submit("a", pacer.Read, h.job("a", answered(100*time.Millisecond, false))) // the shortest round trip
			h.run()
			h.tenant.Submit("b", pacer.Read, h.job("b", answered(tc.answeredAfter, false)))
			h.run()
			h.submit(pacer.Read, "c", "d")
			h.clock.Set(t0.Add(window)) // a's call leaves the window: c starts
			if ran := h.run(); len(ran) != 1 {
				t.Fatalf("%v ran when a's call left the window, want c", ran)
			}
			if next, _ := h.clock.Next(); !next.Equal(t0.Add(tc.wantNext)) {
				t.Errorf("d looks to start at t0+%v, want t0+%v", next.Sub(t0), tc.wantNext)
			}
		})
	}
}
