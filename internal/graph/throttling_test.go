package graph

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

// Intune's limits shrunk, so that a burst of a few hundred jobs spans windows: per 20 s (Graph's
// own window), 200 requests and 40 writes per app, and room for two apps per tenant. The tests run
// in a testing/synctest bubble (inBubble) with the emulator on its in-memory network: the windows
// pass in no time on the wall clock and no call is late, however loaded the machine, so that the
// budget is held to exactly (the pacer's margin for a call's transit, 2% of a window, is never what
// saves one).
var (
	emulatorLimits = graphtest.Limits{Window: 20 * time.Second, AppRequests: 200, AppWrites: 40, TenantRequests: 400, TenantWrites: 80}
	window         = emulatorLimits.Window
)

// slowTestContext is testContext for the tests that span several windows.
func slowTestContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// burst submits gets read jobs and patches write jobs at once (the writes
// spread among the reads), each a GET (and a PATCH), run by the tenant's pacer
// as a reconciler's would, and returns the errors the jobs ended with.
func burst(ctx context.Context, c Client, gets, patches int) []error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	every := (gets + patches) / max(patches, 1)
	for i := 0; i < gets+patches; i++ {
		isPatch := patches > 0 && i%every == every-1 && i/every < patches
		kind := ReadJob
		if isPatch {
			kind = WriteJob
		}
		wg.Add(1)
		c.Line().Submit(fmt.Sprint(i), kind, Job{
			Run: func(jctx context.Context, calls Calls) error {
				_, err := calls.Get(jctx, UserOverview, configID)
				if err == nil && isPatch {
					_, err = calls.Patch(jctx, UserOverview, configID, Fields{SuccessCount: ptr(int32(i))})
				}
				return err
			},
			Done: func(err error) {
				if err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("job %d: %w", i, err))
					mu.Unlock()
				}
				wg.Done()
			},
		})
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-ctx.Done():
		return append(errs, ctx.Err())
	}
	return errs
}

// TestPacerEqualToTheLimits: with a budget equal to Graph's limits, a burst
// of several hundred requests gets no 429 at all.
func TestPacerEqualToTheLimits(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		e := newEmulator(t, graphtest.Options{Limits: emulatorLimits, FractionalRetryAfter: true, InMemory: true})
		opts := fastOptions()
		opts.Pacers = NewPacers(Limits{Requests: emulatorLimits.AppRequests, Writes: emulatorLimits.AppWrites, Per: window}, 0)
		c := e.client(t, e.config(), e.withMemoryNetwork(opts))
		ctx := slowTestContext(t)

		start := time.Now()
		if errs := burst(ctx, c, 250, 50); len(errs) > 0 {
			t.Fatalf("%d calls failed, the first: %v", len(errs), errs[0])
		}
		t.Logf("300 jobs in %s", time.Since(start))
		throttled := e.CountRequests(func(r graphtest.Request) bool { return r.Status == http.StatusTooManyRequests })
		if throttled != 0 {
			t.Errorf("%d requests were throttled, want none", throttled)
		}
		if n := len(e.graphRequests()); n != 350 {
			t.Errorf("%d Graph requests, want 350 (250 GETs, and 50 GETs and PATCHes)", n)
		}
	})
}

// TestPacerTwiceTheLimits: with a pacer twice Graph's limits, 429s happen,
// and every request still succeeds in the end.
func TestPacerTwiceTheLimits(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		e := newEmulator(t, graphtest.Options{Limits: emulatorLimits, FractionalRetryAfter: true, InMemory: true})
		opts := fastOptions()
		opts.Pacers = NewPacers(Limits{Requests: 2 * emulatorLimits.AppRequests, Writes: 2 * emulatorLimits.AppWrites, Per: window}, 0)
		c := e.client(t, e.config(), e.withMemoryNetwork(opts))
		ctx := slowTestContext(t)

		if errs := burst(ctx, c, 250, 50); len(errs) > 0 {
			t.Fatalf("%d calls failed, the first: %v", len(errs), errs[0])
		}
		throttled := e.CountRequests(func(r graphtest.Request) bool { return r.Throttled })
		if throttled == 0 {
			t.Error("no request was throttled: the test does not test anything")
		}
		// A job throttled after its GET reads again when it runs again.
		patched := e.CountRequests(func(r graphtest.Request) bool {
			return r.Kind == graphtest.KindGraph && r.Method == http.MethodPatch && r.Status == http.StatusOK
		})
		if patched != 50 {
			t.Errorf("%d PATCHes succeeded, want 50", patched)
		}
		t.Logf("%d throttled requests", throttled)
	})
}

// TestAppsOfATenantStayUnderItsLimit: three apps of one tenant, each a connection of its own on
// one registry of pacers, burst together past what the tenant allows across its apps (80 writes and
// 400 requests per window, against 40 and 200 for each app): with the tenant's limits kept, Graph
// throttles none of their calls, and the tenant's writes stay within its limit in every window.
// Without them, each app keeps only its own, and Graph throttles.
func TestAppsOfATenantStayUnderItsLimit(t *testing.T) {
	apps := []string{testClient, "00000000-0000-0000-0000-0000000000b2", "00000000-0000-0000-0000-0000000000b3"}
	tests := map[string]struct {
		limits        Limits
		wantThrottled bool
	}{
		"with the tenant's limits": {limits: Limits{Requests: emulatorLimits.AppRequests, Writes: emulatorLimits.AppWrites,
			TenantRequests: emulatorLimits.TenantRequests, TenantWrites: emulatorLimits.TenantWrites, Per: window}},
		"with each app's alone": {limits: Limits{Requests: emulatorLimits.AppRequests, Writes: emulatorLimits.AppWrites, Per: window},
			wantThrottled: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			inBubble(t, func(t *testing.T) {
				e := newEmulator(t, graphtest.Options{Limits: emulatorLimits, FractionalRetryAfter: true, InMemory: true})
				pacers := NewPacers(tc.limits, 0)
				var clients []Client
				for _, app := range apps {
					e.AddApp(graphtest.App{TenantID: testTenant, ClientID: app, ClientSecret: testSecret})
					cfg := e.config()
					cfg.ClientID = app
					clients = append(clients, e.client(t, cfg, e.withMemoryNetwork(Options{Pacers: pacers})))
				}
				ctx := slowTestContext(t)
				errs := make(chan []error, len(clients))
				start := time.Now()
				for _, c := range clients {
					go func() { errs <- burst(ctx, c, 100, 40) }()
				}
				for range clients {
					if errs := <-errs; len(errs) > 0 {
						t.Fatalf("%d jobs failed, the first: %v", len(errs), errs[0])
					}
				}
				t.Logf("3 apps × 140 jobs in %s", time.Since(start))
				throttled := e.CountRequests(func(r graphtest.Request) bool { return r.Status == http.StatusTooManyRequests })
				if got := throttled > 0; got != tc.wantThrottled {
					t.Errorf("%d requests throttled, want some: %t", throttled, tc.wantThrottled)
					for _, r := range e.graphRequests() {
						if r.Status == http.StatusTooManyRequests {
							t.Logf("throttled: %s by %s at %v", r.Method, r.ClientID, r.Time.Sub(start))
						}
					}
				}
				var writes []time.Time
				for _, r := range e.graphRequests() {
					if r.Method == http.MethodPatch && r.Status == http.StatusOK {
						writes = append(writes, r.Time)
					}
				}
				if len(writes) != 3*40 {
					t.Errorf("%d PATCHes succeeded, want 120", len(writes))
				}
				if tc.wantThrottled {
					return
				}
				slices.SortFunc(writes, time.Time.Compare)
				for i := range writes {
					n := 0
					for _, w := range writes[i:] {
						if w.Sub(writes[i]) < window {
							n++
						}
					}
					if n > emulatorLimits.TenantWrites {
						t.Fatalf("%d writes of the tenant within a window from %v, more than its %d", n, writes[i].Sub(start), emulatorLimits.TenantWrites)
					}
				}
			})
		})
	}
}
