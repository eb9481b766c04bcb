// Package schedule is the grid the routine syncs of a resource fall on: every interval, at a phase
// within the interval taken from a hash of its UID. The phase is stable across restarts, so a
// restart or a mass import spreads the GETs evenly over the interval instead of sending them all at
// once. The operator schedules by it, and the benchmark predicts the operator by it.
package schedule

import (
	"hash/fnv"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// phase is the resource's offset within the interval.
func phase(uid types.UID, interval time.Duration) time.Duration {
	h := fnv.New64a()
	_, _ = h.Write([]byte(uid))
	return time.Duration(h.Sum64() % uint64(interval))
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
