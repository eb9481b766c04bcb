package pacer

import (
	"math"
	"time"
)

// MaxTenantInFlight is the most jobs one tenant runs at once, whatever its latency.
const MaxTenantInFlight = 256

// minInFlight is the fewest jobs a tenant may run at once, whatever its latency.
const minInFlight = 4

// sizing is how many of a tenant's jobs run at once: what one window admits at once (its
// writes), plus what the read rate keeps in flight at the latency of the API's successful calls.
// A call that failed or timed out says nothing of how long a call takes: counted, a tenant whose
// calls hang would grow to take every place of the ceiling.
type sizing struct {
	latency    time.Duration // moving average of the successful calls' durations
	minLatency time.Duration // the shortest answered call: the round trip with no wait on either side
}

// succeeded folds the duration of a successful call into the average.
func (s *sizing) succeeded(d time.Duration) {
	if s.latency == 0 {
		s.latency = d
		return
	}
	s.latency += (d - s.latency) / 8
}

// answered folds the duration of an answered call into the shortest round trip.
func (s *sizing) answered(d time.Duration) {
	if s.minLatency == 0 || d < s.minLatency {
		s.minLatency = d
	}
}

// limit is how many jobs the tenant may run at once under l.
func (s *sizing) limit(l Limits) int {
	perSecond := float64(l.Requests) / l.Per.Seconds()
	n := l.Writes + int(math.Ceil(perSecond*s.latency.Seconds()))
	return min(max(n, minInFlight), MaxTenantInFlight)
}
