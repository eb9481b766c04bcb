package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/overview-operator/overview-operator/internal/graph"
)

// validate refuses settings with which the operator could not do its work, each error naming the
// flag, the value it was given and why, so that a bad value stops the operator at start instead of
// leaving it running and doing nothing, or falling back on a default without a word.
func (f flags) validate() error {
	var errs []error
	positive := func(name string, d time.Duration, why string) {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be a positive duration, not %v: %s", name, d, why))
		}
	}
	atLeast := func(name string, v, least int, why string) {
		if v < least {
			errs = append(errs, fmt.Errorf("%s must be at least %d, not %d: %s", name, least, v, why))
		}
	}
	positive("--sync-interval", f.syncInterval, "it is how often Graph is read")
	atLeast("--max-concurrent-reconciles", f.maxConcurrent, 1, "with none, no resource is ever reconciled")
	atLeast("--graph-requests-per-window", f.graphRequests, graph.WriteRequests,
		fmt.Sprintf("one write books %d requests (its GET, its PATCH and the GET that reads it back), so with fewer no write could ever start", graph.WriteRequests))
	atLeast("--graph-writes-per-window", f.graphWrites, 1, "with none, no write could ever start")
	atLeast("--graph-tenant-requests-per-window", f.graphTenantRequests, graph.WriteRequests,
		fmt.Sprintf("one write books %d requests of its tenant's budget too, so with fewer no write could ever start", graph.WriteRequests))
	atLeast("--graph-tenant-writes-per-window", f.graphTenantWrites, 1, "with none, no write could ever start")
	positive("--graph-budget-window", f.graphWindow, "it is the window the Graph budget is counted in")
	atLeast("--graph-max-in-flight", f.graphMaxInFlight, 1, "with none, no Graph call could ever start")
	positive("--graph-timeout", f.graphTimeout, "every Graph call would be abandoned at once")
	positive("--retry-base-delay", f.retryBaseDelay, "it is the first wait before a failed resource is tried again")
	positive("--retry-max-delay", f.retryMaxDelay, "it is the longest wait before a failed resource is tried again")
	if f.retryBaseDelay > 0 && f.retryMaxDelay > 0 && f.retryBaseDelay > f.retryMaxDelay {
		errs = append(errs, fmt.Errorf("--retry-base-delay (%v) must not be longer than --retry-max-delay (%v): the first wait cannot exceed the longest",
			f.retryBaseDelay, f.retryMaxDelay))
	}
	positive("--credentials-retry", f.credentialsRetry, "it is the first wait before refused credentials are tried again")
	// --graceful-shutdown-timeout may be 0 (no grace) or negative (no limit), as controller-runtime reads it.
	errs = append(errs, f.leaderElection.validate())
	errs = append(errs, f.sharding.validate(f.leaderElection.enabled))
	return errors.Join(errs...)
}
