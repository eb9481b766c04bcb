package graph

import (
	"context"
	"errors"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)

// admitted takes calls of class from b greedily, every step from start to
// end, as long as they need no wait, and returns when each was admitted.
func admitted(b *Budget, class BudgetClass, start, end time.Time, step time.Duration) []time.Time {
	var times []time.Time
	for now := start; now.Before(end); now = now.Add(step) {
		for {
			if _, _, ok := b.reserve(now, class, 0, true); !ok {
				break
			}
			times = append(times, now)
		}
	}
	return times
}

// maxInWindow returns the most calls of times that fall in any window of
// length per (an exact sliding window, like the emulator's and Graph's).
func maxInWindow(times []time.Time, per time.Duration) int {
	most, lo := 0, 0
	for hi := range times {
		for times[hi].Sub(times[lo]) >= per {
			lo++
		}
		most = max(most, hi-lo+1)
	}
	return most
}

func TestBudgetStaysUnderTheLimits(t *testing.T) {
	tests := map[string]struct {
		limits Limits
		class  BudgetClass
		limit  int
	}{
		"Intune reads":        {limits: DefaultLimits(), class: BudgetRead, limit: 1000},
		"Intune writes":       {limits: DefaultLimits(), class: BudgetWrite, limit: 100},
		"small window":        {limits: Limits{Requests: 50, Writes: 10, Per: 100 * time.Millisecond}, class: BudgetRead, limit: 50},
		"tiny limit":          {limits: Limits{Requests: 3, Writes: 2, Per: time.Second}, class: BudgetWrite, limit: 2},
		"writes above reads":  {limits: Limits{Requests: 10, Writes: 100, Per: time.Second}, class: BudgetWrite, limit: 10},
		"one request per 20s": {limits: Limits{Requests: 1, Writes: 1, Per: 20 * time.Second}, class: BudgetRead, limit: 1},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			b := newBudget(BudgetKey{}, tc.limits.withDefaults())
			per := tc.limits.Per
			times := admitted(b, tc.class, t0, t0.Add(5*per), per/1000)
			got := maxInWindow(times, per)
			if got > tc.limit {
				t.Errorf("%d calls in one window of %s, want at most %d", got, per, tc.limit)
			}
			// Throughput stays near the limit: at least 80% over the run.
			if min := 5 * tc.limit * 8 / 10; tc.limit >= 20 && len(times) < min {
				t.Errorf("%d calls in 5 windows, want at least %d", len(times), min)
			}
		})
	}
}

// TestBudgetWritesBehindReads books a queue of reads, then writes, at one
// instant, as a burst of goroutines does: the writes wait behind the reads,
// and must still be spread as the write bucket says, not sent together.
func TestBudgetWritesBehindReads(t *testing.T) {
	b := newBudget(BudgetKey{}, Limits{Requests: 200, Writes: 40, Per: 2 * time.Second})
	var all, writes []time.Time
	for i := 0; i < 300; i++ {
		class := BudgetRead
		if i >= 250 {
			class = BudgetWrite
		}
		wait, _, ok := b.reserve(t0, class, time.Minute, true)
		if !ok {
			t.Fatalf("call %d refused", i)
		}
		all = append(all, t0.Add(wait))
		if class == BudgetWrite {
			writes = append(writes, t0.Add(wait))
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Before(all[j]) })
	if n := maxInWindow(all, 2*time.Second); n > 200 {
		t.Errorf("%d calls in one window, want at most 200", n)
	}
	if n := maxInWindow(writes, 2*time.Second); n > 40 {
		t.Errorf("%d writes in one window, want at most 40", n)
	}
}

func TestBudgetWriteTakesFromBothClasses(t *testing.T) {
	b := newBudget(BudgetKey{}, Limits{Requests: 20, Writes: 20, Per: time.Second}) // bursts of 1
	if _, _, ok := b.reserve(t0, BudgetWrite, 0, true); !ok {
		t.Fatal("first write refused")
	}
	if d, _, ok := b.reserve(t0, BudgetRead, 0, true); ok {
		t.Error("a read was admitted right after a write took the read token")
	} else if d <= 0 {
		t.Errorf("the refused read would wait %s", d)
	}

	b = newBudget(BudgetKey{}, Limits{Requests: 1000, Writes: 20, Per: time.Second})
	if _, _, ok := b.reserve(t0, BudgetWrite, 0, true); !ok {
		t.Fatal("first write refused")
	}
	if _, _, ok := b.reserve(t0, BudgetWrite, 0, true); ok {
		t.Error("a second write was admitted beyond the write burst")
	}
	if _, _, ok := b.reserve(t0, BudgetRead, 0, true); !ok {
		t.Error("a read was refused while only writes were spent")
	}
}

func TestBudgetRefusalTakesNothing(t *testing.T) {
	b := newBudget(BudgetKey{}, Limits{Requests: 20, Writes: 20, Per: time.Second}) // burst 1, then 18/s
	if _, _, ok := b.reserve(t0, BudgetRead, 0, true); !ok {
		t.Fatal("first read refused")
	}
	wait, _, ok := b.reserve(t0, BudgetRead, 10*time.Millisecond, true)
	if ok {
		t.Fatal("a read that needs a wait over the limit was admitted")
	}
	if want := time.Second / 18; wait != want {
		t.Errorf("wait %s, want %s", wait, want)
	}
	// Had the refusal taken a token, the next one would not be there on time.
	for i := 0; i < 5; i++ {
		if _, _, ok := b.reserve(t0, BudgetRead, 0, true); ok {
			t.Fatal("admitted without a token")
		}
	}
	if d, _, ok := b.reserve(t0.Add(wait), BudgetRead, 0, true); !ok || d != 0 {
		t.Errorf("at the announced time: wait %s, admitted %t; want 0 and true", d, ok)
	}
}

func TestBudgetCancelGivesBack(t *testing.T) {
	b := newBudget(BudgetKey{}, Limits{Requests: 20, Writes: 20, Per: time.Second})
	_, cancel, ok := b.reserve(t0, BudgetWrite, time.Second, true)
	if !ok {
		t.Fatal("refused")
	}
	cancel(t0)
	if d, _, ok := b.reserve(t0, BudgetWrite, 0, true); !ok || d != 0 {
		t.Errorf("after giving back: wait %s, admitted %t", d, ok)
	}
}

func TestBudgetPause(t *testing.T) {
	b := newBudget(BudgetKey{}, DefaultLimits())
	if !b.PausedUntil().IsZero() {
		t.Fatal("a new budget is paused")
	}
	b.Pause(t0.Add(2 * time.Second))
	b.Pause(t0.Add(time.Second)) // never shortens
	if diff := cmp.Diff(t0.Add(2*time.Second), b.PausedUntil()); diff != "" {
		t.Errorf("PausedUntil (-want +got):\n%s", diff)
	}
	type result struct {
		Wait      time.Duration
		Reserved  bool
		Admitted  bool
		DelayRead time.Duration
	}
	tests := map[string]struct {
		now   time.Time
		class BudgetClass
		limit time.Duration
		want  result
	}{
		"read, pause longer than the limit":  {now: t0, class: BudgetRead, limit: time.Second, want: result{Wait: 2 * time.Second, DelayRead: 2 * time.Second}},
		"write, pause longer than the limit": {now: t0, class: BudgetWrite, limit: time.Second, want: result{Wait: 2 * time.Second, DelayRead: 2 * time.Second}},
		"pause within the limit: wait, then reserve": {now: t0.Add(1500 * time.Millisecond), class: BudgetRead, limit: time.Second,
			want: result{Wait: 500 * time.Millisecond, Admitted: true, DelayRead: 500 * time.Millisecond}},
		"pause over": {now: t0.Add(2 * time.Second), class: BudgetRead, limit: 0, want: result{Reserved: true, Admitted: true}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var got result
			got.DelayRead = b.delayAt(tc.now, BudgetRead)
			wait, cancel, ok := b.reserve(tc.now, tc.class, tc.limit, true)
			got.Wait, got.Reserved, got.Admitted = wait, cancel != nil, ok
			if cancel != nil {
				cancel(tc.now)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestBudgetsFor(t *testing.T) {
	bs := NewBudgets(Limits{})
	if diff := cmp.Diff(DefaultLimits(), bs.Limits()); diff != "" {
		t.Errorf("Limits (-want +got):\n%s", diff)
	}
	a := bs.For(BudgetKey{AuthorityHost: "https://login.microsoftonline.com/", TenantID: "Contoso.onmicrosoft.com", ClientID: "ABC"})
	b := bs.For(BudgetKey{AuthorityHost: "https://login.microsoftonline.com", TenantID: "contoso.onmicrosoft.com", ClientID: "abc"})
	if a != b {
		t.Error("the same tenant and app written differently got two budgets")
	}
	if c := bs.For(BudgetKey{AuthorityHost: "https://login.microsoftonline.us", TenantID: "contoso.onmicrosoft.com", ClientID: "abc"}); c == a {
		t.Error("two clouds share a budget")
	}
	if c := bs.For(BudgetKey{AuthorityHost: "https://login.microsoftonline.com", TenantID: "contoso.onmicrosoft.com", ClientID: "other"}); c == a {
		t.Error("two apps share a budget")
	}
}

func TestBudgetWait(t *testing.T) {
	ctx := context.Background()

	t.Run("waits for a token", func(t *testing.T) {
		b := newBudget(BudgetKey{}, Limits{Requests: 20, Writes: 20, Per: 200 * time.Millisecond}) // burst 1, then 90/s
		if err := b.Wait(ctx, BudgetRead, time.Second); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := b.Wait(ctx, BudgetRead, time.Second); err != nil {
			t.Fatal(err)
		}
		if waited := time.Since(start); waited < 10*time.Millisecond {
			t.Errorf("waited %s for a token that refills in 11.1ms", waited)
		}
	})

	t.Run("too long: a throttled error at once, nothing taken", func(t *testing.T) {
		b := newBudget(BudgetKey{}, Limits{Requests: 1, Writes: 1, Per: 10 * time.Second}) // one call every 20s
		if err := b.Wait(ctx, BudgetWrite, time.Second); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		err := b.Wait(ctx, BudgetWrite, time.Second)
		if time.Since(start) > 500*time.Millisecond {
			t.Errorf("waited %s before refusing", time.Since(start))
		}
		var gerr *Error
		if !errors.As(err, &gerr) || !errors.Is(err, ErrBudgetExhausted) {
			t.Fatalf("error %v, want an *Error wrapping ErrBudgetExhausted", err)
		}
		if c := Classify(err); c.Class != ClassThrottled || c.RetryAfter < 19*time.Second || c.RetryAfter > 20*time.Second {
			t.Errorf("Classify: %+v, want throttled for about 20s", c)
		}
	})

	t.Run("the context's deadline bounds the wait", func(t *testing.T) {
		b := newBudget(BudgetKey{}, Limits{Requests: 1, Writes: 1, Per: time.Second})
		if err := b.Wait(ctx, BudgetRead, time.Minute); err != nil {
			t.Fatal(err)
		}
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		if err := b.Wait(short, BudgetRead, time.Minute); !errors.Is(err, ErrBudgetExhausted) {
			t.Errorf("error %v, want ErrBudgetExhausted at once", err)
		}
	})

	t.Run("a canceled context", func(t *testing.T) {
		b := newBudget(BudgetKey{}, Limits{Requests: 20, Writes: 20, Per: time.Second})
		b.Pause(time.Now().Add(500 * time.Millisecond))
		c, cancel := context.WithCancel(ctx)
		go func() { time.Sleep(20 * time.Millisecond); cancel() }()
		if err := b.Wait(c, BudgetRead, time.Second); !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want context.Canceled", err)
		}
	})

	t.Run("a short pause is waited out", func(t *testing.T) {
		b := newBudget(BudgetKey{}, DefaultLimits())
		until := time.Now().Add(50 * time.Millisecond)
		b.Pause(until)
		if err := b.Wait(ctx, BudgetWrite, time.Second); err != nil {
			t.Fatal(err)
		}
		if time.Now().Before(until) {
			t.Error("Wait returned before the pause ended")
		}
	})

	t.Run("a long pause is not", func(t *testing.T) {
		b := newBudget(BudgetKey{}, DefaultLimits())
		b.Pause(time.Now().Add(5 * time.Second))
		err := b.Wait(ctx, BudgetRead, time.Second)
		if c := Classify(err); c.Class != ClassThrottled || c.RetryAfter <= 4*time.Second {
			t.Errorf("Classify: %+v, want throttled for about 5s", c)
		}
		if d := b.Delay(BudgetRead); d <= 4*time.Second {
			t.Errorf("Delay %s, want about 5s", d)
		}
	})
}

func TestWritesQueueInALineOfTurns(t *testing.T) {
	b := newBudget(BudgetKey{TenantID: "t"}, Limits{Requests: 1000, Writes: 100, Per: 20 * time.Second})
	t0 := time.Unix(1000, 0)
	interval := b.write.interval

	// The burst goes at once; then a write that would wait joins the line instead of booking.
	var now time.Time = t0
	for {
		if _, _, ok := b.reserve(now, BudgetWrite, 0, false); !ok {
			break
		}
	}
	first, _, ok := b.reserve(now, BudgetWrite, 0, false)
	if ok {
		t.Fatal("a write past the burst was admitted")
	}
	second, _, _ := b.reserve(now, BudgetWrite, 0, false)
	if second-first != interval {
		t.Errorf("turns %v and %v are not one write interval (%v) apart", first, second, interval)
	}

	// A read does not queue behind writes: the line books nothing in the read bucket.
	if _, _, ok := b.reserve(now, BudgetRead, 0, false); !ok {
		t.Error("a read waited behind the line of writes")
	}

	// A write coming back at its turn takes the bucket; a newcomer at that moment joins the line.
	at := now.Add(second)
	if _, _, ok := b.reserve(at, BudgetWrite, 0, true); !ok {
		t.Error("a write at its turn was refused")
	}
	if _, _, ok := b.reserve(at, BudgetWrite, time.Hour, false); ok {
		t.Error("a newcomer went ahead of the line")
	}
}

func TestAWriteAtItsTurnWaitsRatherThanSpins(t *testing.T) {
	b := newBudget(BudgetKey{TenantID: "t"}, Limits{Requests: 1000, Writes: 100, Per: 2 * time.Second})
	for {
		if _, _, ok := b.reserve(time.Now(), BudgetWrite, 0, true); !ok {
			break
		}
	}
	// The bucket is busy for about one interval: a newcomer that accepts no wait is refused, a
	// write at its turn waits for the bucket.
	if err := b.Wait(context.Background(), BudgetWrite, 0); !errors.Is(err, ErrBudgetExhausted) {
		t.Fatalf("a newcomer got %v, want ErrBudgetExhausted", err)
	}
	start := time.Now()
	if err := b.Wait(WithTurn(context.Background()), BudgetWrite, 0); err != nil {
		t.Fatalf("a write at its turn got %v, want a wait", err)
	}
	if waited := time.Since(start); waited > 5*b.write.interval {
		t.Errorf("it waited %v, want about one write interval (%v)", waited, b.write.interval)
	}
}

func TestTakeTurnBeforeReading(t *testing.T) {
	b := newBudget(BudgetKey{TenantID: "t"}, Limits{Requests: 1000, Writes: 100, Per: 20 * time.Second})
	if wait := b.TakeTurn(time.Second); wait != 0 {
		t.Fatalf("an idle budget gave a turn %v away, want none", wait)
	}
	for {
		if _, _, ok := b.reserve(time.Now(), BudgetWrite, 0, true); !ok {
			break
		}
	}
	first := b.TakeTurn(0)
	second := b.TakeTurn(0)
	if first <= 0 || second-first < b.write.interval*9/10 {
		t.Errorf("turns %v then %v, want a turn and the next one a write interval (%v) later", first, second, b.write.interval)
	}
	// A write that comes without a turn now joins the same line, behind them.
	if err := b.Wait(context.Background(), BudgetWrite, time.Hour); !errors.Is(err, ErrBudgetExhausted) {
		t.Errorf("a newcomer got %v, want a turn behind the line", err)
	}
}
