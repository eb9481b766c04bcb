package graph

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/overview-operator/overview-operator/internal/pacer"
)

// seriesKeep is how long a tenant's metric series outlive its last pacer. A pacer is dropped as
// soon as it has nothing left to remember, which for a tenant of a few resources is between each
// two of its resyncs: its series stay for longer than the default sync interval and any scrape
// interval, so that a counter its calls moved is scraped before it goes, and a tenant that comes
// back keeps counting on the same series rather than starting again from zero. A tenant no
// connection uses any more loses them after this.
const seriesKeep = 30 * time.Minute

// tenantSeries deletes a tenant's metric series (throttledTotal, budgetWaitSeconds) seriesKeep
// after the last of its pacers was dropped, unless one came back meanwhile.
type tenantSeries struct {
	clock pacer.Clock

	mu      sync.Mutex
	dropped map[string]time.Time // tenant id: when its last pacer was dropped
	timer   pacer.Timer          // the next sweep; nil if none is due
}

func newTenantSeries(clock pacer.Clock) *tenantSeries {
	return &tenantSeries{clock: clock, dropped: map[string]time.Time{}}
}

// used notes that a pacer of the tenant runs a job: its series stay.
func (s *tenantSeries) used(tenant string) {
	s.mu.Lock()
	delete(s.dropped, tenant)
	s.mu.Unlock()
}

// drop notes that a pacer of the tenant was dropped. Another app's pacer of the same tenant that is
// still live runs a job within seriesKeep (else it is dropped too), which keeps the series.
func (s *tenantSeries) drop(tenant string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropped[tenant] = s.clock.Now()
	if s.timer == nil {
		s.timer = s.clock.AfterFunc(seriesKeep, s.sweep)
	}
}

// sweep deletes the series of the tenants dropped seriesKeep ago or more, and sets the next sweep
// for the others.
func (s *tenantSeries) sweep() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.timer = nil
	now := s.clock.Now()
	var next time.Time
	for tenant, at := range s.dropped {
		due := at.Add(seriesKeep)
		if !due.After(now) {
			budgetWaitSeconds.DeletePartialMatch(prometheus.Labels{"tenant": tenant})
			throttledTotal.DeletePartialMatch(prometheus.Labels{"tenant": tenant})
			delete(s.dropped, tenant)
			continue
		}
		if next.IsZero() || due.Before(next) {
			next = due
		}
	}
	if !next.IsZero() {
		s.timer = s.clock.AfterFunc(next.Sub(now), s.sweep)
	}
}
