package controllers

import (
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

func TestSlotsFallOnOneGridPerResource(t *testing.T) {
	interval := 10 * time.Minute
	cases := map[string]time.Time{
		"now":               time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC),
		"before the epoch":  time.Date(1969, 12, 31, 23, 59, 0, 0, time.UTC),
		"exactly on a slot": time.Unix(0, 0).Add(syncPhase("uid-a", interval)).Add(3 * interval),
	}
	for name, now := range cases {
		t.Run(name, func(t *testing.T) {
			last, next := lastSlot("uid-a", interval, now), nextSlot("uid-a", interval, now)
			if last.After(now) || !next.After(now) {
				t.Errorf("last %v, next %v do not bracket now %v", last, next, now)
			}
			if next.Sub(last) != interval {
				t.Errorf("next - last = %v, want %v", next.Sub(last), interval)
			}
			if got := nextSlot("uid-a", interval, next); got.Sub(next) != interval {
				t.Errorf("the slot after next is %v later, want %v", got.Sub(next), interval)
			}
		})
	}
}

func TestPhasesSpreadOverTheInterval(t *testing.T) {
	// 1000 resources created together must not resync together: count them per tenth of the interval.
	interval := 10 * time.Minute
	var buckets [10]int
	for i := range 1000 {
		phase := syncPhase(types.UID(fmt.Sprintf("0b9c1d2e-3f4a-4b6c-8d8e-%012d", i)), interval)
		buckets[phase*10/interval]++
	}
	for i, n := range buckets {
		if n < 60 || n > 140 {
			t.Errorf("tenth %d of the interval holds %d of 1000 resources, want about 100: %v", i, n, buckets)
		}
	}
	if a, b := syncPhase("same", interval), syncPhase("same", interval); a != b {
		t.Errorf("the phase of one UID changed: %v then %v", a, b)
	}
}

func TestJitteredBackoffGrowsAndForgets(t *testing.T) {
	b := newJitteredBackoff(time.Second, time.Minute)
	item := reconcile.Request{}
	for n, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second} {
		got := b.When(item)
		if got < want/2 || got > want {
			t.Errorf("failure %d: wait %v, want within [%v, %v]", n+1, got, want/2, want)
		}
	}
	for range 20 {
		if got := b.When(item); got > time.Minute {
			t.Fatalf("wait %v is past the maximum", got)
		}
	}
	b.Forget(item)
	if b.NumRequeues(item) != 0 || b.When(item) > time.Second {
		t.Error("Forget did not reset the backoff")
	}
}
