package schedule

import (
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

func TestSlotsFallOnOneGridPerResource(t *testing.T) {
	interval := 10 * time.Minute
	cases := map[string]time.Time{
		"now":               time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC),
		"before the epoch":  time.Date(1969, 12, 31, 23, 59, 0, 0, time.UTC),
		"exactly on a slot": time.Unix(0, 0).Add(phase("uid-a", interval)).Add(3 * interval),
	}
	for name, now := range cases {
		t.Run(name, func(t *testing.T) {
			last, next := Last("uid-a", interval, now), Next("uid-a", interval, now)
			if last.After(now) || !next.After(now) {
				t.Errorf("last %v, next %v do not bracket now %v", last, next, now)
			}
			if next.Sub(last) != interval {
				t.Errorf("next - last = %v, want %v", next.Sub(last), interval)
			}
			if got := Next("uid-a", interval, next); got.Sub(next) != interval {
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
		offset := phase(types.UID(fmt.Sprintf("0b9c1d2e-3f4a-4b6c-8d8e-%012d", i)), interval)
		buckets[offset*10/interval]++
	}
	for i, n := range buckets {
		if n < 60 || n > 140 {
			t.Errorf("tenth %d of the interval holds %d of 1000 resources, want about 100: %v", i, n, buckets)
		}
	}
	if a, b := phase("same", interval), phase("same", interval); a != b {
		t.Errorf("the phase of one UID changed: %v then %v", a, b)
	}
}

func TestPhasesFallOnSlots(t *testing.T) {
	// Resources whose phases share a slot resync at the same instant, so that the process wakes once
	// for them: at most Slots distinct phases, each a whole slot from the interval's start.
	interval := 2 * time.Minute
	slot := interval / Slots
	seen := map[time.Duration]int{}
	for i := range 1000 {
		offset := phase(types.UID(fmt.Sprintf("0b9c1d2e-3f4a-4b6c-8d8e-%012d", i)), interval)
		if offset%slot != 0 || offset < 0 || offset >= interval {
			t.Fatalf("phase %v is not the start of one of the %d slots of %v", offset, Slots, interval)
		}
		seen[offset]++
	}
	if len(seen) < Slots*9/10 || len(seen) > Slots {
		t.Errorf("1000 resources took %d of the %d slots, want nearly all", len(seen), Slots)
	}
}
