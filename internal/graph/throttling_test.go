package graph

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

// Intune's limits shrunk for a quick test: per 2 s (20 s at TimeScale 10),
// 200 requests and 40 writes per app, and room for two apps per tenant.
var (
	emulatorLimits = graphtest.Limits{Window: 20 * time.Second, AppRequests: 200, AppWrites: 40, TenantRequests: 400, TenantWrites: 80}
	timeScale      = 10.0
	window         = 2 * time.Second
)

// burst sends gets GETs and patches PATCHes at once (PATCHes spread among
// the GETs), each retried like a
// reconciler would (after Classify's RetryAfter when throttled, or a short
// backoff when retryable) until it succeeds or ctx ends, and returns the
// errors that remained.
func burst(ctx context.Context, c Client, gets, patches int) []error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	every := (gets + patches) / max(patches, 1)
	for i := 0; i < gets+patches; i++ {
		isPatch := patches > 0 && i%every == every-1 && i/every < patches
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				var err error
				if !isPatch {
					_, err = c.GetOverview(ctx, configID)
				} else {
					_, err = c.PatchOverview(ctx, configID, Fields{SuccessCount: ptr(int32(i))})
				}
				if err == nil {
					return
				}
				wait := 20 * time.Millisecond
				switch cl := Classify(err); {
				case ctx.Err() != nil || cl.Class == ClassNeedsPerson || cl.Class == ClassNotFound:
					mu.Lock()
					errs = append(errs, fmt.Errorf("call %d: %w", i, err))
					mu.Unlock()
					return
				case cl.Class == ClassThrottled:
					wait = cl.RetryAfter
				}
				select {
				case <-time.After(wait):
				case <-ctx.Done():
				}
			}
		}()
	}
	wg.Wait()
	return errs
}

// TestBudgetEqualToTheLimits: with a budget equal to Graph's limits, a burst
// of several hundred requests gets no 429 at all.
func TestBudgetEqualToTheLimits(t *testing.T) {
	e := newEmulator(t, graphtest.Options{Limits: emulatorLimits, TimeScale: timeScale, FractionalRetryAfter: true})
	opts := fastOptions()
	opts.Budgets = NewBudgets(Limits{Requests: emulatorLimits.AppRequests, Writes: emulatorLimits.AppWrites, Per: window})
	opts.MaxBudgetWait = 20 * time.Second // the whole burst queues on the budget
	c := e.client(t, e.config(), opts)
	ctx := testContext(t)

	start := time.Now()
	if errs := burst(ctx, c, 250, 50); len(errs) > 0 {
		t.Fatalf("%d calls failed, the first: %v", len(errs), errs[0])
	}
	t.Logf("300 calls in %s", time.Since(start))
	throttled := e.CountRequests(func(r graphtest.Request) bool { return r.Status == http.StatusTooManyRequests })
	if throttled != 0 {
		t.Errorf("%d requests were throttled, want none", throttled)
	}
	if n := len(e.graphRequests()); n != 300 {
		t.Errorf("%d Graph requests, want 300", n)
	}
}

// TestBudgetTwiceTheLimits: with a budget twice Graph's limits, 429s happen,
// and every request still succeeds in the end.
func TestBudgetTwiceTheLimits(t *testing.T) {
	e := newEmulator(t, graphtest.Options{Limits: emulatorLimits, TimeScale: timeScale, FractionalRetryAfter: true})
	opts := fastOptions()
	opts.Budgets = NewBudgets(Limits{Requests: 2 * emulatorLimits.AppRequests, Writes: 2 * emulatorLimits.AppWrites, Per: window})
	opts.MaxBudgetWait = 20 * time.Second
	c := e.client(t, e.config(), opts)
	ctx := testContext(t)

	if errs := burst(ctx, c, 250, 50); len(errs) > 0 {
		t.Fatalf("%d calls failed, the first: %v", len(errs), errs[0])
	}
	throttled := e.CountRequests(func(r graphtest.Request) bool { return r.Throttled })
	if throttled == 0 {
		t.Error("no request was throttled: the test does not test anything")
	}
	ok := e.CountRequests(func(r graphtest.Request) bool { return r.Kind == graphtest.KindGraph && r.Status == http.StatusOK })
	if ok != 300 {
		t.Errorf("%d requests succeeded, want 300", ok)
	}
	t.Logf("%d throttled requests", throttled)
}
