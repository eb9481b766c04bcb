package graph

import (
	"net/http"
	"strings"

	"github.com/overview-operator/overview-operator/internal/pacer"
)

// What Graph says of the limit a 429 hit. Graph documents both headers for its identity and access
// service ("Microsoft Graph service-specific throttling limits"); Intune's pages say nothing of
// them, so the client reads them when they are there and does as before when they are not.
const (
	// headerThrottleScope is "<Scope>/<Limit>/<ApplicationId>/<TenantId>", e.g.
	// Tenant_Application/ReadWrite/9a3d526c-…/0785ef7c-….
	headerThrottleScope = "x-ms-throttle-scope"
	// headerThrottleInformation is the reason, free text for diagnostics, e.g. WriteLimitExceeded.
	headerThrottleInformation = "x-ms-throttle-information"
)

// The scopes of x-ms-throttle-scope, as Graph spells them: what a 429 counted the call against.
const (
	// ThrottleScopeTenantApplication is the app in the tenant: the limit the pacer keeps per key.
	ThrottleScopeTenantApplication = "Tenant_Application"
	// ThrottleScopeTenant is every app of the tenant together.
	ThrottleScopeTenant = "Tenant"
	// ThrottleScopeApplication is the app in every tenant together.
	ThrottleScopeApplication = "Application"
)

// The limits of x-ms-throttle-scope, as Graph spells them: which calls of the scope it counted.
var throttleLimits = []string{"Read", "Write", "ReadWrite"}

// The values of the scope label of overview_graph_throttled_total besides Graph's three scopes.
const (
	// scopeLabelNone: the 429 carried no x-ms-throttle-scope.
	scopeLabelNone = "none"
	// scopeLabelUnknown: it carried one the client cannot read.
	scopeLabelUnknown = "unknown"
)

// throttleScope is what a 429 said of the limit it hit.
type throttleScope struct {
	scope string // Graph's scope, in its spelling; "" if it did not say or cannot be read
	limit string // Read, Write or ReadWrite; "" if it did not say or cannot be read
	sent  bool   // the header was there
	info  string // x-ms-throttle-information, cleaned
}

// readThrottleScope reads the throttling headers of a 429. Graph's names are matched without
// regard to case; the ids after the limit are not read (the scope is the call's own tenant or app).
func readThrottleScope(h http.Header) throttleScope {
	ts := throttleScope{info: clean(h.Get(headerThrottleInformation))}
	raw := strings.TrimSpace(h.Get(headerThrottleScope))
	if raw == "" {
		return ts
	}
	ts.sent = true
	parts := strings.Split(raw, "/")
	for _, s := range []string{ThrottleScopeTenantApplication, ThrottleScopeTenant, ThrottleScopeApplication} {
		if strings.EqualFold(strings.TrimSpace(parts[0]), s) {
			ts.scope = s
		}
	}
	if ts.scope != "" && len(parts) > 1 {
		for _, l := range throttleLimits {
			if strings.EqualFold(strings.TrimSpace(parts[1]), l) {
				ts.limit = l
			}
		}
	}
	return ts
}

// pacerScope is the scope the pacer pauses: the key (the app in the tenant) unless Graph said
// the tenant or the app.
func (ts throttleScope) pacerScope() pacer.Scope {
	switch ts.scope {
	case ThrottleScopeTenant:
		return pacer.TenantScope
	case ThrottleScopeApplication:
		return pacer.AppScope
	}
	return pacer.KeyScope
}

// label is the value of the scope label of overview_graph_throttled_total.
func (ts throttleScope) label() string {
	switch {
	case ts.scope != "":
		return ts.scope
	case ts.sent:
		return scopeLabelUnknown
	}
	return scopeLabelNone
}
