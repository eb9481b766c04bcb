package graphtest

import (
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Limits are throttling limits per Window, modelled on Intune's device configuration service limits
// (Window 20s; AppRequests 1000 and AppWrites 100 per app per tenant; TenantRequests 2000 and
// TenantWrites 200 per tenant, all apps together).
//
// A write is any request that is not a GET (Graph counts POST, PUT, DELETE and PATCH as writes);
// a write also counts as a request. In Options, a zero field takes Intune's value and a negative one
// means no limit for that class.
type Limits struct {
	// Window is the length of the sliding window the counts apply to, before Options.TimeScale.
	Window time.Duration
	// AppRequests and AppWrites limit one app (client id) in one tenant.
	AppRequests, AppWrites int
	// TenantRequests and TenantWrites limit all apps of one tenant together.
	TenantRequests, TenantWrites int
}

// IntuneLimits returns Intune's documented limits for device configuration calls.
func IntuneLimits() Limits {
	return Limits{
		Window:         20 * time.Second,
		AppRequests:    1000,
		AppWrites:      100,
		TenantRequests: 2000,
		TenantWrites:   200,
	}
}

// withDefaults fills zero fields with Intune's values, so that a test can tighten one class
// without restating the others.
func (l Limits) withDefaults() Limits {
	d := IntuneLimits()
	if l.Window <= 0 {
		l.Window = d.Window
	}
	fill := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	fill(&l.AppRequests, d.AppRequests)
	fill(&l.AppWrites, d.AppWrites)
	fill(&l.TenantRequests, d.TenantRequests)
	fill(&l.TenantWrites, d.TenantWrites)
	return l
}

// slidingLog remembers when each admitted request of one class arrived, in order of arrival. It is
// an exact sliding window: a request is admitted when fewer than limit admitted requests arrived
// within a window of its arrival, so the wait it reports is exactly how long until the oldest of
// them leaves the window. Graph counts a call when it arrives; the server decides a little later
// (after reading the body and checking the token), and requests that arrive close together may be
// decided in either order, so the log keeps arrivals sorted and counts by them, not by the moment
// of the decision.
type slidingLog struct {
	times []time.Duration // arrival, as time since the server started; sorted
}

// wait returns how long a request that arrived at at must wait before this class admits it: zero
// if it is admitted now. Requests admitted earlier that arrived after at count too.
func (l *slidingLog) wait(at, window time.Duration, limit int) time.Duration {
	live := l.times[sort.Search(len(l.times), func(i int) bool { return l.times[i] > at-window }):]
	if len(live) < limit {
		return 0
	}
	// The request fits once all but limit-1 of the live entries have left the window.
	return max(live[len(live)-limit]+window-at, time.Nanosecond)
}

// add records an admitted request that arrived at at, and forgets those no decision can count any
// more: arrivals more than two windows before the latest (requests are decided far sooner than a
// window after they arrive).
func (l *slidingLog) add(at, window time.Duration) {
	l.times = slices.Insert(l.times, sort.Search(len(l.times), func(i int) bool { return l.times[i] > at }), at)
	if old := sort.Search(len(l.times), func(i int) bool { return l.times[i] > l.times[len(l.times)-1]-2*window }); old > 0 && old >= len(l.times)/2 {
		l.times = slices.Delete(l.times, 0, old)
	}
}

// throttle holds the sliding logs of every tenant and app. It is guarded by Server.mu.
type throttle struct {
	limits Limits
	window time.Duration // limits.Window after the time scale
	logs   map[throttleKey]*slidingLog
}

type throttleClass int

const (
	appRequests throttleClass = iota
	appWrites
	tenantRequests
	tenantWrites
)

type throttleKey struct {
	class    throttleClass
	tenantID string // lower case
	clientID string // lower case; empty for the tenant classes
}

func newThrottle(l Limits, timeScale float64) *throttle {
	return &throttle{
		limits: l,
		window: time.Duration(float64(l.Window) / timeScale),
		logs:   map[throttleKey]*slidingLog{},
	}
}

func (t *throttle) limit(c throttleClass) int {
	switch c {
	case appRequests:
		return t.limits.AppRequests
	case appWrites:
		return t.limits.AppWrites
	case tenantRequests:
		return t.limits.TenantRequests
	default:
		return t.limits.TenantWrites
	}
}

// admit decides whether a request of the app that arrived at at fits every class it counts against. If it
// does, it is recorded in each; if not, nothing is recorded (a throttled request does not use up
// the budget), and it returns the wait until it would fit and the class that waits longest, which
// the 429 names (the first of them, app before tenant and requests before writes, on a tie).
func (t *throttle) admit(at time.Duration, tenantID, clientID string, write bool) (time.Duration, throttleClass) {
	tenantID, clientID = strings.ToLower(tenantID), strings.ToLower(clientID)
	keys := make([]throttleKey, 0, 4)
	keys = append(keys, throttleKey{appRequests, tenantID, clientID}, throttleKey{tenantRequests, tenantID, ""})
	if write {
		keys = append(keys, throttleKey{appWrites, tenantID, clientID}, throttleKey{tenantWrites, tenantID, ""})
	}
	var (
		wait  time.Duration
		class throttleClass
	)
	for _, k := range keys {
		limit := t.limit(k.class)
		if limit < 0 {
			continue
		}
		l := t.logs[k]
		if l == nil {
			l = &slidingLog{}
			t.logs[k] = l
		}
		if w := l.wait(at, t.window, limit); w > wait {
			wait, class = w, k.class
		}
	}
	if wait > 0 {
		return wait, class
	}
	for _, k := range keys {
		if t.limit(k.class) >= 0 {
			t.logs[k].add(at, t.window)
		}
	}
	return 0, 0
}

// The throttling headers Graph documents on a 429 ("Microsoft Graph service-specific throttling
// limits", identity and access service): the scope of the limit the request hit, and a reason.
const (
	headerThrottleScope       = "x-ms-throttle-scope"
	headerThrottleInformation = "x-ms-throttle-information"
)

// throttleHeaders are what a 429 of class says of the limit, as Graph's documentation shows them:
// x-ms-throttle-scope "<Scope>/<Limit>/<ApplicationId>/<TenantId>" (Tenant_Application for an
// app's limits in the tenant, Tenant for the tenant's across its apps; ReadWrite for the requests
// of any kind, Write for the writes) and x-ms-throttle-information, one of the documented reasons.
func throttleHeaders(c throttleClass, tenantID, clientID string) (scope, information string) {
	scope, limit, information := "Tenant_Application", "ReadWrite", "ResourceUnitLimitExceeded"
	if c == tenantRequests || c == tenantWrites {
		scope = "Tenant"
	}
	if c == appWrites || c == tenantWrites {
		limit, information = "Write", "WriteLimitExceeded"
	}
	return scope + "/" + limit + "/" + clientID + "/" + tenantID, information
}

// formatRetryAfter renders a wait as Graph does: whole seconds rounded up, or seconds with up to
// three decimals (rounded up to the millisecond) when fractional. Rounding up keeps the promise
// that a client which waits that long is admitted.
func formatRetryAfter(d time.Duration, fractional bool) string {
	if !fractional {
		return strconv.FormatInt(int64(math.Ceil(d.Seconds())), 10)
	}
	ms := max(int64(math.Ceil(float64(d)/float64(time.Millisecond))), 1)
	return strconv.FormatFloat(float64(ms)/1000, 'f', -1, 64)
}
