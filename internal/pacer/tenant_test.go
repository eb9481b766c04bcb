package pacer_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/overview-operator/overview-operator/internal/pacer"
	"github.com/overview-operator/overview-operator/internal/pacer/pacertest"
)

// apps is a registry whose keys are "tenant/app", with Options.Tenant and Options.App reading them,
// on a fake clock, with jobs run by hand; it records every call sent, by key.
type apps struct {
	clock  *pacertest.Clock
	starts *pacertest.Starts
	reg    *pacer.Registry[string]

	mu   sync.Mutex
	sent []sent
	ran  []string // keys of the jobs, as they ran ("tenant/app:job")
}

type sent struct {
	key   string
	at    time.Time
	write bool
}

func newApps(l pacer.Limits) *apps {
	a := &apps{clock: pacertest.NewClock(t0), starts: &pacertest.Starts{}}
	a.reg = pacer.New(pacer.Options[string]{
		Limits: l, Clock: a.clock, Go: a.starts.Go,
		Tenant: func(k string) string { return strings.Split(k, "/")[0] },
		App:    func(k string) string { return strings.Split(k, "/")[1] },
	})
	return a
}

// call sends a call of key through tk (nil: outside any job) and reports it answered at once.
func (a *apps) call(ctx context.Context, key string, tk *pacer.Ticket, write bool) error {
	var (
		c   *pacer.Call
		err error
	)
	if tk != nil {
		c, err = tk.Send(ctx, write)
	} else {
		c, err = a.reg.For(key).Send(ctx, write)
	}
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.sent = append(a.sent, sent{key: key, at: a.clock.Now(), write: write})
	a.mu.Unlock()
	c.End(pacer.Succeeded)
	return nil
}

// submit submits n jobs of kind for key (a write job reads, writes and reads back).
func (a *apps) submit(key string, kind pacer.Kind, n int) {
	for i := range n {
		name := fmt.Sprintf("%s:%d", key, i)
		a.reg.For(key).Submit(name, kind, pacer.Job{Run: func(ctx context.Context, tk *pacer.Ticket) error {
			a.mu.Lock()
			a.ran = append(a.ran, name)
			a.mu.Unlock()
			if err := a.call(ctx, key, tk, false); err != nil {
				return err
			}
			if kind == pacer.Read {
				return nil
			}
			if err := a.call(ctx, key, tk, true); err != nil {
				return err
			}
			return a.call(ctx, key, tk, false)
		}})
	}
}

// play runs the jobs started, then moves the clock from timer to timer, running what starts, until
// nothing is left to run or until is reached.
func (a *apps) play(until time.Time) {
	a.starts.RunAll()
	for at, ok := a.clock.Next(); ok && !at.After(until); at, ok = a.clock.Next() {
		a.clock.Set(at)
		a.starts.RunAll()
	}
}

// writes returns the send times of the writes whose key match matches.
func (a *apps) writes(match func(key string) bool) []time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	var ts []time.Time
	for _, s := range a.sent {
		if s.write && match(s.key) {
			ts = append(ts, s.at)
		}
	}
	return ts
}

// mostWithin is the most of ts within any span shorter than per.
func mostWithin(ts []time.Time, per time.Duration) int {
	most := 0
	for i := range ts {
		n := 0
		for _, u := range ts[i:] {
			if u.Sub(ts[i]) < per {
				n++
			}
		}
		most = max(most, n)
	}
	return most
}

func key(k string) func(string) bool { return func(s string) bool { return s == k } }
func tenantOf(t string) func(string) bool {
	return func(s string) bool { return strings.HasPrefix(s, t+"/") }
}

// TestATenantsAppsShareItsBudget: the apps of a tenant keep under the tenant's limit together, each
// under its own, and none starves: each gets writes in every window while it has some to send, an
// app that comes to a tenant the others fill included. Another tenant keeps a budget of its own.
func TestATenantsAppsShareItsBudget(t *testing.T) {
	limits := pacer.Limits{Requests: 100, Writes: 3, TenantRequests: 1000, TenantWrites: 4, Per: time.Second}
	tests := map[string]struct {
		limits    pacer.Limits
		late      string // an app that submits its jobs a half window after the others
		wantMost  int    // writes of the tenant within a window, at most
		wantEvery bool   // every app of the tenant writes in every window while it has writes left
	}{
		"three apps of one tenant, under its limit together": {limits: limits, wantMost: 4, wantEvery: true},
		"an app that comes later gets its turn":              {limits: limits, late: "t1/c", wantMost: 4, wantEvery: true},
		"without a tenant limit, each app its own": {
			limits: pacer.Limits{Requests: 100, Writes: 3, Per: time.Second}, wantMost: 9,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			a := newApps(tc.limits)
			const n = 12
			for _, k := range []string{"t1/a", "t1/b", "t1/c", "t2/a"} {
				if k != tc.late {
					a.submit(k, pacer.Write, n)
				}
			}
			if tc.late != "" {
				a.play(t0.Add(500 * time.Millisecond))
				a.clock.Set(t0.Add(500 * time.Millisecond))
				a.submit(tc.late, pacer.Write, n)
			}
			a.play(t0.Add(time.Minute))

			if most := mostWithin(a.writes(tenantOf("t1")), time.Second); most != tc.wantMost {
				t.Errorf("%d writes of the tenant within a window, want at most %d", most, tc.wantMost)
			}
			for _, k := range []string{"t1/a", "t1/b", "t1/c", "t2/a"} {
				ws := a.writes(key(k))
				if len(ws) != n {
					t.Fatalf("%s sent %d writes, want %d", k, len(ws), n)
				}
				if most := mostWithin(ws, time.Second); most > 3 {
					t.Errorf("%s sent %d writes within a window, more than its own limit", k, most)
				}
				if !tc.wantEvery || !strings.HasPrefix(k, "t1/") {
					continue
				}
				// None starves: while it has writes left, no window passes without one of its own.
				for i := 1; i < len(ws); i++ {
					if gap := ws[i].Sub(ws[i-1]); gap > window+window/2 {
						t.Errorf("%s waited %v between two writes, more than a window: it starved", k, gap)
					}
				}
				if first := ws[0].Sub(t0); first > 2*window {
					t.Errorf("%s wrote first %v after t0, want within its first window", k, first)
				}
			}
			if most := mostWithin(a.writes(tenantOf("t2")), time.Second); most != 3 {
				t.Errorf("the other tenant sent %d writes within a window, want its app's 3", most)
			}
		})
	}
}

// TestATenantsRoomThatFreesWakesItsApps: when a job of one app gives back what it booked and did
// not send, an app of the tenant that waited for that room starts at once, without waiting for
// the clock.
func TestATenantsRoomThatFreesWakesItsApps(t *testing.T) {
	a := newApps(pacer.Limits{Requests: 100, Writes: 3, TenantWrites: 1, Per: time.Second})
	// a's write job books the tenant's only write, and ends without writing.
	a.reg.For("t1/a").Submit("a", pacer.Write, pacer.Job{Run: func(ctx context.Context, tk *pacer.Ticket) error {
		return a.call(ctx, "t1/a", tk, false)
	}})
	a.submit("t1/b", pacer.Write, 1)
	if n := a.starts.Len(); n != 1 {
		t.Fatalf("%d jobs started, want a's alone: b waits for the tenant's write", n)
	}
	a.starts.RunNext() // a ends: its write goes back to the tenant
	if n := a.starts.Len(); n != 1 {
		t.Fatalf("%d jobs started when a gave its write back, want b's", n)
	}
	a.starts.RunAll()
	if diff := cmp.Diff([]string{"t1/b:0"}, a.ran); diff != "" {
		t.Errorf("jobs ran after a (-want +got):\n%s", diff)
	}
}

// TestAPauseHoldsItsScope: a throttled call pauses its key, every key of its tenant, or every key
// of its app in every tenant, as the API said it counted it; keys that come during the pause wait
// for it too, and the others go on.
func TestAPauseHoldsItsScope(t *testing.T) {
	tests := map[string]struct {
		scope    pacer.Scope
		wantHeld []string // of t1/b, t2/a, t2/b and t1/c (which comes during the pause)
	}{
		"the app in the tenant": {scope: pacer.KeyScope, wantHeld: nil},
		"the tenant":            {scope: pacer.TenantScope, wantHeld: []string{"t1/b", "t1/c"}},
		"the app":               {scope: pacer.AppScope, wantHeld: []string{"t2/a"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			a := newApps(pacer.DefaultLimits())
			for _, k := range []string{"t1/a", "t1/b", "t2/a", "t2/b"} {
				if err := a.call(context.Background(), k, nil, false); err != nil { // the pacer is there
					t.Fatal(err)
				}
			}
			c, err := a.reg.For("t1/a").Send(context.Background(), true)
			if err != nil {
				t.Fatal(err)
			}
			if end := c.ThrottleScope(tc.scope, t0.Add(10*time.Second)); !end.Equal(t0.Add(10 * time.Second)) {
				t.Fatalf("paused until %v, want t0+10s", end)
			}
			a.clock.Step(time.Second)
			for _, k := range []string{"t1/a", "t1/b", "t2/a", "t2/b", "t1/c"} {
				a.submit(k, pacer.Read, 1)
			}
			a.starts.RunAll()
			held := []string{"t1/b", "t2/a", "t2/b", "t1/c"}
			ran := map[string]bool{}
			for _, r := range a.ran {
				ran[strings.Split(r, ":")[0]] = true
			}
			var gotHeld []string
			for _, k := range held {
				if !ran[k] {
					gotHeld = append(gotHeld, k)
				}
			}
			if ran["t1/a"] {
				t.Error("the throttled key ran during its pause")
			}
			if diff := cmp.Diff(tc.wantHeld, gotHeld); diff != "" {
				t.Errorf("keys held by the pause (-want +got):\n%s", diff)
			}
			a.clock.Set(t0.Add(10 * time.Second))
			a.starts.RunAll()
			if n := len(a.ran); n != 5 {
				t.Errorf("%d jobs ran once the pause was over, want all 5", n)
			}
		})
	}
}

// TestAThrottlingWithoutAWait: a call the API throttled without saying until when (no
// Retry-After) pauses its scope until the pacer's window admits a call of its class again: at
// least until the oldest call of that class in the window log (the key's, or the tenant's for a
// tenant scope) leaves it, or the throttled call itself when the log holds none older. A job
// starts then, not before.
func TestAThrottlingWithoutAWait(t *testing.T) {
	type call struct {
		key   string
		after time.Duration // after t0
		write bool
	}
	tests := map[string]struct {
		before    []call // answered calls first
		throttled call   // then this one, throttled without a wait
		scope     pacer.Scope
		wantUntil time.Duration // after t0
	}{
		"an empty window: a window after the throttled call": {
			throttled: call{"t1/a", 300 * time.Millisecond, false}, wantUntil: 300*time.Millisecond + window,
		},
		"the oldest call of the key's window leaves it": {
			before:    []call{{"t1/a", 0, false}, {"t1/a", 200 * time.Millisecond, false}},
			throttled: call{"t1/a", 300 * time.Millisecond, false}, wantUntil: window,
		},
		"a write: the oldest write leaves the window": {
			before:    []call{{"t1/a", 0, false}, {"t1/a", 200 * time.Millisecond, true}},
			throttled: call{"t1/a", 300 * time.Millisecond, true}, wantUntil: 200*time.Millisecond + window,
		},
		"another app's call counts for the tenant": {
			before:    []call{{"t1/b", 0, false}, {"t1/a", 200 * time.Millisecond, false}},
			throttled: call{"t1/a", 300 * time.Millisecond, false}, scope: pacer.TenantScope, wantUntil: window,
		},
		"but not for the app in the tenant": {
			before:    []call{{"t1/b", 0, false}, {"t1/a", 200 * time.Millisecond, false}},
			throttled: call{"t1/a", 300 * time.Millisecond, false}, wantUntil: 200*time.Millisecond + window,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			a := newApps(pacer.Limits{Requests: 100, Writes: 3, TenantRequests: 200, TenantWrites: 6, Per: time.Second})
			for _, c := range tc.before {
				a.clock.Set(t0.Add(c.after))
				if err := a.call(context.Background(), c.key, nil, c.write); err != nil {
					t.Fatal(err)
				}
			}
			a.clock.Set(t0.Add(tc.throttled.after))
			c, err := a.reg.For(tc.throttled.key).Send(context.Background(), tc.throttled.write)
			if err != nil {
				t.Fatal(err)
			}
			want := t0.Add(tc.wantUntil)
			if end := c.ThrottleScope(tc.scope, time.Time{}); !end.Equal(want) {
				t.Fatalf("paused until t0+%v, want t0+%v", end.Sub(t0), tc.wantUntil)
			}
			a.submit(tc.throttled.key, pacer.Read, 1)
			a.clock.Set(want.Add(-time.Millisecond))
			a.starts.RunAll()
			if len(a.ran) != 0 {
				t.Fatalf("%v ran before the window admitted again", a.ran)
			}
			a.clock.Set(want)
			a.starts.RunAll()
			if len(a.ran) != 1 {
				t.Errorf("%v ran when the window admitted again, want the job", a.ran)
			}
		})
	}
}
