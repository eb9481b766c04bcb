// Package schedule is the grid the routine syncs of a resource fall on: every interval, at a phase
// within the interval taken from a hash of its UID. The phase is stable across restarts, so a
// restart or a mass import spreads the GETs evenly over the interval instead of sending them all at
// once. The operator schedules by it, and the benchmark predicts the operator by it.
//
// The phases are whole slots of the interval, Slots of them: the resources whose phase falls in one
// slot resync together, so that the process wakes once for them rather than once for each (at 1000
// resources, 8 or 9 in each slot). What a resync costs the operator is mostly its wake-ups: the Go
// scheduler, its system monitor and the kernel's context switches (docs/performance-log.md).
package schedule

import (
	"hash/fnv"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// Slots is how many phases the grid has in an interval: 5 s apart at the default interval of 10
// minutes, 1 s at the benchmark's 2 minutes. A slot of a tenant's resources is a small part of its
// budget: a tenant whose resources Graph can read once an interval (at most 1000 reads in 20 s)
// has at most 1/120 of them in a slot, 250 a slot at 10 minutes.
const Slots = 120

// phase is the resource's offset within the interval: the start of one of its Slots.
func phase(uid types.UID, interval time.Duration) time.Duration {
	h := fnv.New64a()
	_, _ = h.Write([]byte(uid))
	return time.Duration(h.Sum64()%Slots) * (interval / Slots)
}

// Last is the latest slot of the grid at or before now.
func Last(uid types.UID, interval time.Duration, now time.Time) time.Time {
	offset := phase(uid, interval)
	since := now.UnixNano() - int64(offset)
	k := since / int64(interval)
	if since < 0 && since%int64(interval) != 0 {
		k-- // floor, not truncation, before the epoch
	}
	return time.Unix(0, k*int64(interval)+int64(offset))
}

// Next is the first slot of the grid after now.
func Next(uid types.UID, interval time.Duration, now time.Time) time.Time {
	return Last(uid, interval, now).Add(interval)
}
