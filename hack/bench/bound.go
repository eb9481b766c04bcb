package main

import (
	"fmt"
	"slices"
	"time"
)

// classCounts are the requests of one tenant that Graph admitted (not answered 429): all of them,
// and the writes (PATCH) among them.
type classCounts struct {
	requests, writes int
}

// throttlingBound is the least time, from the first request, in which the emulator's windows let
// every tenant's admitted requests through and the last answer come back; the largest over tenants
// and classes, with what set it.
//
// The emulator admits a request of a class when fewer than L of that class arrived in the window
// (t-W, t]. So of R requests of one class, numbered 0..R-1 by arrival, requests k-L..k cannot share
// one window: t(k) >= t(k-L) + W, and by induction t(k) >= t(0) + floor(k/L)·W. The last one arrives
// at least (ceil(R/L)-1)·W after the first, and sending L at once every W achieves it. Around it:
// the first request cannot leave before the resources exist (t0), every PATCH follows the GET of
// its resource (one latency), and the last answer takes one more latency. So
//
//	writes:   (ceil(P/Lw) - 1)·W + 2·latency
//	requests: (ceil(R/Lr) - 1)·W + latency
//
// with Lw and Lr the tighter of the per-app and per-tenant limits (one app per tenant here). The
// two kinds' requests count together: both overviews are served by Intune's device configuration
// service, whose limits the emulator applies per app and per tenant whatever the overview, and the
// operator paces both kinds of a tenant on one budget.
func (b *bench) throttlingBound(perTenant map[string]*classCounts) (time.Duration, string) {
	w, lat := b.limits.Window, b.cfg.latency
	lw := b.writeLimit()
	lr := positiveMin(b.limits.AppRequests, b.limits.TenantRequests)
	var best time.Duration
	why := "no requests"
	for _, c := range perTenant {
		if c.writes > 0 && lw > 0 {
			windows := ceilDiv(c.writes, lw) - 1
			if d := time.Duration(windows)*w + 2*lat; d > best {
				best = d
				why = fmt.Sprintf("%d PATCH at %d per %v window: %d full windows + 2 × %v latency", c.writes, lw, w, windows, lat)
			}
		}
		if c.requests > 0 && lr > 0 {
			windows := ceilDiv(c.requests, lr) - 1
			if d := time.Duration(windows)*w + lat; d > best {
				best = d
				why = fmt.Sprintf("%d requests at %d per %v window: %d full windows + %v latency", c.requests, lr, w, windows, lat)
			}
		}
	}
	return best, why
}

// writeLimit is Lw: the writes one tenant may send per window, the tighter of the per-app and
// per-tenant limits (one app per tenant here). The bound and the picture's staircase both use it.
func (b *bench) writeLimit() int {
	return positiveMin(b.limits.AppWrites, b.limits.TenantWrites)
}

// ceilDiv is ⌈a/b⌉ for positive a and b.
func ceilDiv(a, b int) int { return (a + b - 1) / b }

// positiveMin is the smaller of the limits that apply (a negative limit means none; 0 if neither).
func positiveMin(a, b int) int {
	switch {
	case a > 0 && b > 0:
		return min(a, b)
	case a > 0:
		return a
	case b > 0:
		return b
	}
	return 0
}

// creationBound is the throttling bound given when the resources came to exist: the least time,
// from the first create, in which the emulator's windows let each tenant's PATCHes through when
// none can leave before its resource was created and its GET answered. Of one tenant's PATCHes in
// order of creation, the k-th cannot arrive before c(k) + latency nor before the (k-L)-th + W; the
// schedule that sends each at the later of the two achieves it, and the last answer takes one more
// latency. It differs from throttlingBound when creating the resources takes a good part of a
// window: with several tenants, each tenant's first window's worth is spread over the creation of
// all tenants' resources.
func (b *bench) creationBound(rs []resource, created []time.Time, t0 time.Time) time.Duration {
	w, lat, lw := b.limits.Window, b.cfg.latency, b.writeLimit()
	byTenant := map[string][]time.Time{}
	for i, r := range rs {
		byTenant[r.tenant.id] = append(byTenant[r.tenant.id], created[i])
	}
	var best time.Duration
	for _, cs := range byTenant {
		slices.SortFunc(cs, time.Time.Compare)
		sent := make([]time.Time, len(cs))
		for k, c := range cs {
			sent[k] = c.Add(lat)
			if k >= lw && sent[k-lw].Add(w).After(sent[k]) {
				sent[k] = sent[k-lw].Add(w)
			}
		}
		if d := sent[len(sent)-1].Add(lat).Sub(t0); d > best {
			best = d
		}
	}
	return best
}
