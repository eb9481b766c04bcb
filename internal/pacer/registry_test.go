package pacer_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/overview-operator/overview-operator/internal/pacer"
)

// TestTenantsComeAndGo: a pacer with nothing left to remember (no job waiting or running, no
// call out, no pause, its window log expired) is dropped, and its metric series with it.
func TestTenantsComeAndGo(t *testing.T) {
	tests := map[string]struct {
		job       body
		wait      time.Duration // after the jobs ran
		wantLeft  int
		throttled bool
	}{
		"300 tenants, a window after their last call":       {job: sync3, wait: window, wantLeft: 0},
		"300 tenants, within the window of their last call": {job: sync3, wait: window - time.Millisecond, wantLeft: 300},
		"300 tenants paused for a minute, after it":         {job: throttledFor(time.Minute), wait: time.Minute, wantLeft: 0, throttled: true},
		"300 tenants paused for a minute, during it":        {job: throttledFor(time.Minute), wait: time.Minute - time.Millisecond, wantLeft: 300, throttled: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := newHarness(small, 0)
			for i := range 300 {
				job := h.job("job", tc.job)
				job.QuietPause = time.Second // a longer pause ends the job
				h.reg.For(fmt.Sprint("tenant-", i)).Submit("job", pacer.Write, job)
			}
			h.run()
			h.clock.Step(tc.wait)
			if n := h.reg.Len(); n != tc.wantLeft {
				t.Errorf("%d pacers left, want %d", n, tc.wantLeft)
			}
			if n := len(h.waited); n != tc.wantLeft {
				t.Errorf("%d tenants' series left, want %d", n, tc.wantLeft)
			}
		})
	}
}

// TestAHandleOutlivesItsPacer: a client that holds a handle keeps working after its pacer was
// dropped, on one pacer per key at a time: the budget of a tenant is never split.
func TestAHandleOutlivesItsPacer(t *testing.T) {
	h := newHarness(small, 0)
	kept := h.reg.For("tenant")
	other := h.reg.For("tenant") // another client of the same tenant
	h.submit(pacer.Write, "a")
	h.run()
	h.clock.Step(window)
	if n := h.reg.Len(); n != 0 {
		t.Fatalf("%d pacers, want the idle one dropped", n)
	}
	// Both clients fill the same window: 3 writes in all, not 3 each.
	for i := range 3 {
		kept.Submit(fmt.Sprint("k", i), pacer.Write, h.job(fmt.Sprint("k", i), sync3))
		other.Submit(fmt.Sprint("o", i), pacer.Write, h.job(fmt.Sprint("o", i), sync3))
	}
	if ran := h.run(); len(ran) != 3 {
		t.Errorf("%v ran in one window, want 3 (one budget for the tenant)", ran)
	}
	if n := h.reg.Len(); n != 1 {
		t.Errorf("%d pacers for one key", n)
	}
}

// TestClose: Close ends the jobs: a job running finds its context done, and a job that starts
// after it runs with its context done.
func TestClose(t *testing.T) {
	h := newHarness(small, 0)
	ctxErr := func(key string) pacer.Job {
		return h.job(key, func(ctx context.Context, h *harness, tk *pacer.Ticket) error {
			if key == "running" {
				h.reg.Close()
			}
			_, err := tk.Send(ctx, false)
			return err
		})
	}
	h.tenant.Submit("running", pacer.Read, ctxErr("running"))
	h.tenant.Submit("after", pacer.Read, ctxErr("after"))
	h.run()
	for _, k := range []string{"running", "after"} {
		if err := h.done[k]; !errors.Is(err, context.Canceled) {
			t.Errorf("%s ended with %v, want its context cancelled", k, err)
		}
	}
}

// TestAJobThatHangsTimesOut: a job's context ends after the job timeout, on the pacer's clock.
func TestAJobThatHangsTimesOut(t *testing.T) {
	h := newHarness(small, 0)
	h.tenant.Submit("hangs", pacer.Read, h.job("hangs", func(ctx context.Context, h *harness, _ *pacer.Ticket) error {
		h.clock.Step(pacer.DefaultJobTimeout - time.Millisecond)
		if ctx.Err() != nil {
			return errors.New("ended early")
		}
		h.clock.Step(time.Millisecond)
		return ctx.Err()
	}))
	h.run()
	if err := h.done["hangs"]; !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("the job ended with %v, want its context ended at the timeout", err)
	}
}
