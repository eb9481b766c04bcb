package controllers

import (
	"hash/fnv"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// The routine syncs of a resource fall on a fixed grid: every interval, at a phase within the
// interval taken from a hash of its UID. The phase is stable across restarts, so a restart or a mass
// import spreads the GETs evenly over the interval instead of sending them all at once.

// syncPhase is the resource's offset within the interval.
func syncPhase(uid types.UID, interval time.Duration) time.Duration {
	h := fnv.New64a()
	_, _ = h.Write([]byte(uid))
	return time.Duration(h.Sum64() % uint64(interval))
}

// lastSlot is the latest slot of the grid at or before now.
func lastSlot(uid types.UID, interval time.Duration, now time.Time) time.Time {
	phase := syncPhase(uid, interval)
	since := now.UnixNano() - int64(phase)
	k := since / int64(interval)
	if since < 0 && since%int64(interval) != 0 {
		k-- // floor, not truncation, before the epoch
	}
	return time.Unix(0, k*int64(interval)+int64(phase))
}

// nextSlot is the first slot of the grid after now.
func nextSlot(uid types.UID, interval time.Duration, now time.Time) time.Time {
	return lastSlot(uid, interval, now).Add(interval)
}
