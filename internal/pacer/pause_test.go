package pacer_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/overview-operator/overview-operator/internal/pacer"
)

// TestAThrottledJob: the pacer decides what a throttled job does. While the tenant's pause ends
// within the job's QuietPause, the job goes back to its place without a word and runs again after
// the pause; a longer pause ends it with its error, which says until when the tenant waits.
func TestAThrottledJob(t *testing.T) {
	tests := map[string]struct {
		pause, quiet time.Duration
		earlier      time.Duration // a pause set by another call of the tenant meanwhile, if any
		closed       bool          // the registry is closed before the job ends
		wantRuns     int
		wantFinal    bool // Done heard the throttled error
		wantUntil    time.Duration
	}{
		"a pause of a second":                      {pause: time.Second, quiet: 20 * time.Second, wantRuns: 2},
		"a pause of a window":                      {pause: 20 * time.Second, quiet: 20 * time.Second, wantRuns: 2},
		"a throttling without a pause":             {pause: 0, quiet: 20 * time.Second, wantRuns: 2},
		"a pause of five minutes":                  {pause: 5 * time.Minute, quiet: 20 * time.Second, wantRuns: 1, wantFinal: true, wantUntil: 5 * time.Minute},
		"any pause, for a job that waits them all": {pause: 5 * time.Minute, quiet: 0, wantRuns: 2},
		"a short pause within a longer one is the longer one": {
			pause: time.Second, earlier: 5 * time.Minute, quiet: 20 * time.Second, wantRuns: 1, wantFinal: true, wantUntil: 5 * time.Minute,
		},
		"after Close, a throttled job does not run again": {pause: time.Second, quiet: 20 * time.Second, closed: true, wantRuns: 1, wantFinal: true, wantUntil: time.Second},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := newHarness(small, 0)
			runs := 0
			var paused time.Time
			job := h.job("job", func(ctx context.Context, h *harness, tk *pacer.Ticket) error {
				runs++
				if runs > 1 {
					return read(ctx, h, tk)
				}
				if tc.earlier > 0 { // another call of the tenant, throttled meanwhile
					other, _ := h.tenant.Send(ctx, false)
					other.Throttle(h.clock.Now().Add(tc.earlier))
				}
				c, err := tk.Send(ctx, false)
				if err != nil {
					return err
				}
				paused = c.Throttle(h.clock.Now().Add(tc.pause))
				if tc.closed {
					h.reg.Close()
				}
				return throttled{until: paused}
			})
			job.QuietPause = tc.quiet
			h.tenant.Submit("job", pacer.Read, job)
			h.run()
			for at, ok := h.clock.Next(); ok && runs < 2 && !tc.wantFinal; at, ok = h.clock.Next() {
				h.clock.Set(at)
				h.run()
			}
			if runs != tc.wantRuns {
				t.Errorf("the job ran %d times, want %d", runs, tc.wantRuns)
			}
			err, final := h.done["job"]
			var th pacer.Throttled
			if got := final && errors.As(err, &th); got != tc.wantFinal {
				t.Fatalf("Done heard %v (called: %t), want the throttled error: %t", err, final, tc.wantFinal)
			}
			if tc.wantFinal {
				if want := t0.Add(tc.wantUntil); !th.ThrottledUntil().Equal(want) {
					t.Errorf("the error says the tenant waits until %v, want %v", th.ThrottledUntil(), want)
				}
			} else if err != nil {
				t.Errorf("the job ended with %v, want nil", err)
			}
		})
	}
}

// TestThePauseHoldsEveryJob: a throttled call pauses the whole tenant; it is only ever extended,
// and after it one job probes until a call is answered without throttling.
func TestThePauseHoldsEveryJob(t *testing.T) {
	h := newHarness(small, 0)
	c, _ := h.tenant.Send(context.Background(), false)
	if end := c.Throttle(t0.Add(10 * time.Second)); !end.Equal(t0.Add(10 * time.Second)) {
		t.Fatalf("paused until %v, want t0+10s", end)
	}
	c2, _ := h.tenant.Send(context.Background(), false)
	if end := c2.Throttle(t0.Add(time.Second)); !end.Equal(t0.Add(10 * time.Second)) {
		t.Errorf("a shorter pause shortened it: until %v", end)
	}
	h.submit(pacer.Read, "a", "b", "c")
	h.clock.Step(10*time.Second - time.Millisecond)
	if ran := h.run(); len(ran) > 0 {
		t.Fatalf("%v ran during the pause", ran)
	}
	h.clock.Step(time.Millisecond)
	probe := h.starts.Take()
	if len(probe) != 1 {
		t.Fatalf("%d jobs started at the pause's end, want one probe", len(probe))
	}
	probe[0]()
	if diff := cmp.Diff([]string{"a", "b", "c"}, h.run()); diff != "" {
		t.Errorf("jobs ran (-want +got):\n%s", diff)
	}
}
