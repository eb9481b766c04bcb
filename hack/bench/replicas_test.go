package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

func TestTwoWriterMoments(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	req := func(s int, tenant, replica string) graphtest.Request {
		return graphtest.Request{Time: t0.Add(time.Duration(s) * time.Second), TenantID: tenant, Replica: replica}
	}
	for _, tc := range []struct {
		name             string
		reqs             []graphtest.Request
		moments, tenants int
	}{
		{"none", nil, 0, 0},
		{"one replica per tenant", []graphtest.Request{req(0, "t0", "a"), req(1, "t1", "b"), req(2, "t0", "a"), req(3, "t1", "b")}, 0, 0},
		// The others' requests in between do not split a tenant's run.
		{"a clean hand-over", []graphtest.Request{req(0, "t0", "a"), req(1, "t1", "a"), req(2, "t0", "a"), req(3, "t0", "b"), req(4, "t0", "b")}, 0, 0},
		{"a chain of hand-overs", []graphtest.Request{req(0, "t0", "a"), req(1, "t0", "b"), req(2, "t0", "c")}, 0, 0},
		{"a back again", []graphtest.Request{req(0, "t0", "a"), req(1, "t0", "b"), req(2, "t0", "a")}, 1, 1},
		{"two writers alternating", []graphtest.Request{req(0, "t0", "a"), req(1, "t0", "b"), req(2, "t0", "a"), req(3, "t0", "b"),
			req(4, "t1", "c"), req(5, "t1", "a"), req(6, "t1", "c")}, 3, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			moments, tenants := twoWriterMoments(tc.reqs)
			if moments != tc.moments || tenants != tc.tenants {
				t.Errorf("twoWriterMoments = %d moments in %d tenants, want %d in %d", moments, tenants, tc.moments, tc.tenants)
			}
		})
	}
}

func TestDuplicatePatches(t *testing.T) {
	patch := func(config string, status int) graphtest.Request {
		return graphtest.Request{Method: http.MethodPatch, ConfigurationID: config, Entity: graphtest.UserStatusOverview, Status: status}
	}
	reqs := []graphtest.Request{
		patch("c1", 200), {Method: http.MethodGet, ConfigurationID: "c1", Entity: graphtest.UserStatusOverview, Status: 200},
		patch("c2", 429), patch("c2", 200), // a PATCH refused and sent again is not a duplicate
		patch("c3", 200), patch("c3", 200), // one accepted twice is
		{Method: http.MethodPatch, ConfigurationID: "c1", Entity: graphtest.DeviceStatusOverview, Status: 200}, // another overview
	}
	if n := duplicatePatches(reqs); n != 1 {
		t.Errorf("duplicatePatches = %d, want 1", n)
	}
}

func TestShortTenantAndHandOvers(t *testing.T) {
	if got := shortTenant(newTenant(3).id); got != "t3" {
		t.Errorf("shortTenant(%s) = %q, want t3", newTenant(3).id, got)
	}
	if got := shortTenant("72f988bf-86f1-41af-91ab-2d7cd011db47"); got != "72f988bf-86f1-41af-91ab-2d7cd011db47" {
		t.Errorf("shortTenant of another id = %q, want it whole", got)
	}
	got := formatHandOvers([]HandOver{
		{Tenant: newTenant(0).id, Pending: 40, ClaimSeconds: 15.1, ClaimedBy: replicaName(1), FirstRequestSeconds: 15.3, FirstRequestBy: replicaName(1), CompleteSeconds: 19.25},
		{Tenant: newTenant(4).id, ClaimSeconds: 1.5, ClaimedBy: replicaName(2), FirstRequestSeconds: -1, CompleteSeconds: -1, Throttled: 3},
	})
	want := "t0, 40 left: claimed 15.10 (r1), first request 15.30 (r1), all Ready 19.25; t4: claimed 1.50 (r2), first request — (—), all Ready —, **3 answered 429**"
	if got != want {
		t.Errorf("formatHandOvers =\n%s\nwant\n%s", got, want)
	}
}
