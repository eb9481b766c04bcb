package graphtest

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSlidingWindowIsExact(t *testing.T) {
	s := time.Second
	th := newThrottle(Limits{Window: 10 * s, AppRequests: 3, AppWrites: -1, TenantRequests: -1, TenantWrites: -1}, 1)
	steps := []struct {
		at       time.Duration
		wantWait time.Duration
	}{
		{0, 0},
		{1 * s, 0},
		{2 * s, 0},
		{3 * s, 7 * s}, // the request at 0 leaves the window at 10s
		{9*s + 999*time.Millisecond, time.Millisecond}, // a throttled request used nothing up
		{10 * s, 0}, // the window is (now-10s, now]
		{10*s + 500*time.Millisecond, 500 * time.Millisecond},
		{11 * s, 0},
		{11 * s, 1 * s},
	}
	for _, st := range steps {
		if got, _ := th.admit(st.at, tenantA, clientRW, false); got != st.wantWait {
			t.Errorf("at %v: wait %v, want %v", st.at, got, st.wantWait)
		}
	}
}

// TestSlidingWindowCountsArrivals: requests are counted when they arrived, in the order they
// arrived, whatever the order the server decides them in (after reading a body and checking a
// token, two requests that arrived close together may be decided either way round).
func TestSlidingWindowCountsArrivals(t *testing.T) {
	s := time.Second
	th := newThrottle(Limits{Window: 10 * s, AppRequests: 2, AppWrites: -1, TenantRequests: -1, TenantWrites: -1}, 1)
	steps := []struct {
		at       time.Duration // when the request arrived
		wantWait time.Duration
	}{
		{9 * s, 0},
		{1 * s, 0},  // arrived earlier, decided later: counted from 1s
		{10 * s, s}, // the window holds 1s and 9s; 1s leaves it at 11s
		{11 * s, 0}, // now the window is (1s, 11s]: 9s alone
		{10*s + 500*time.Millisecond, 8*s + 500*time.Millisecond}, // decided after 11s: 9s and 11s fill its windows until 9s leaves at 19s
	}
	for _, st := range steps {
		if got, _ := th.admit(st.at, tenantA, clientRW, false); got != st.wantWait {
			t.Errorf("arrived at %v: wait %v, want %v", st.at, got, st.wantWait)
		}
	}
}

func TestThrottleClasses(t *testing.T) {
	limits := Limits{Window: time.Second, AppRequests: 4, AppWrites: 2, TenantRequests: 6, TenantWrites: 3}
	type call struct {
		tenant, client string
		write          bool
	}
	th := newThrottle(limits, 1)
	calls := []call{
		{tenantA, clientRW, true},  // app writes 1, tenant writes 1
		{tenantA, clientRW, true},  // app writes 2, tenant writes 2
		{tenantA, clientRW, true},  // app writes full
		{tenantA, clientRW, false}, // reads still fit: app requests 3
		{tenantA, clientRO, true},  // tenant writes 3
		{tenantA, clientRW2, true}, // tenant writes full
		{tenantA, clientRO, false}, // tenant requests 5
		{tenantA, clientRO, false}, // tenant requests 6
		{tenantA, clientRO, false}, // tenant requests full
		{tenantB, clientRW, true},  // another tenant has its own budget
		{tenantA, clientRW, false}, // the app has room, the tenant has not
	}
	want := []bool{true, true, false, true, true, false, true, true, false, true, false}
	var got []bool
	for i, c := range calls {
		wait, _ := th.admit(time.Duration(i)*time.Millisecond, c.tenant, c.client, c.write)
		got = append(got, wait == 0)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("admitted (-want +got):\n%s", d)
	}
}

func TestFormatRetryAfter(t *testing.T) {
	cases := []struct {
		wait       time.Duration
		fractional bool
		want       string
	}{
		{2128 * time.Millisecond, true, "2.128"},
		{2127100 * time.Microsecond, true, "2.128"},
		{2 * time.Second, true, "2"},
		{500 * time.Microsecond, true, "0.001"},
		{2001 * time.Millisecond, false, "3"},
		{time.Second, false, "1"},
		{time.Millisecond, false, "1"},
	}
	for _, c := range cases {
		if got := formatRetryAfter(c.wait, c.fractional); got != c.want {
			t.Errorf("formatRetryAfter(%v, %v) = %q, want %q", c.wait, c.fractional, got, c.want)
		}
	}
}

// TestThrottlingOverHTTP bursts PATCHes past the app's write limit, with a window of two seconds
// (20s scaled by 10), and then waits Retry-After.
func TestThrottlingOverHTTP(t *testing.T) {
	for _, fractional := range []bool{false, true} {
		t.Run(fmt.Sprintf("fractional=%v", fractional), func(t *testing.T) {
			t.Parallel()
			srv := newTestServer(t, Options{
				Limits:               Limits{Window: 20 * time.Second, AppWrites: 3},
				TimeScale:            10,
				FractionalRetryAfter: fractional,
			})
			client, tok := srv.Client(), mustToken(t, srv, tenantA, clientRW)
			u := srv.URL() + overviewPath("v1.0", configA)
			patch := func(n int) response {
				return call(t, client, http.MethodPatch, u, tok, fmt.Sprintf(`{"successCount":%d}`, n), nil)
			}
			for i := 1; i <= 3; i++ {
				if res := patch(i); res.status != http.StatusOK {
					t.Fatalf("PATCH %d: %d %s", i, res.status, res.body)
				}
				if i == 1 {
					// So that the wait for the first PATCH to leave the window is not a whole
					// number of seconds.
					time.Sleep(250 * time.Millisecond)
				}
			}
			res := patch(4)
			if res.status != http.StatusTooManyRequests || res.graphError(t).Code != "TooManyRequests" {
				t.Fatalf("PATCH 4: %d %s, want 429 TooManyRequests", res.status, res.body)
			}
			ra := res.header.Get("Retry-After")
			seconds, err := strconv.ParseFloat(ra, 64)
			if err != nil || seconds <= 0 || seconds > 2 {
				t.Fatalf("Retry-After %q, want a number of seconds in (0, 2]", ra)
			}
			if _, err := strconv.Atoi(ra); fractional == (err == nil) {
				t.Errorf("Retry-After %q, fractional=%v", ra, fractional)
			}
			if o, _ := srv.Overview(tenantA, configA); o.SuccessCount != 3 {
				t.Errorf("a throttled PATCH changed the state: successCount %d", o.SuccessCount)
			}
			throttled := srv.CountRequests(func(r Request) bool { return r.Throttled && r.Status == http.StatusTooManyRequests })
			if throttled != 1 {
				t.Errorf("%d requests logged as throttled, want 1", throttled)
			}
			// Reads have their own, larger budget.
			if res := call(t, client, http.MethodGet, u, tok, "", nil); res.status != http.StatusOK {
				t.Errorf("GET during write throttling: %d", res.status)
			}

			time.Sleep(time.Duration(seconds * float64(time.Second)))
			if res := patch(5); res.status != http.StatusOK {
				t.Fatalf("PATCH after Retry-After: %d %s", res.status, res.body)
			}
		})
	}
}

// TestThrottlingPerTenant: the tenant's limit holds across its apps, and each 429 says which limit
// it hit as Graph documents it: x-ms-throttle-scope <Scope>/<Limit>/<ApplicationId>/<TenantId>,
// and x-ms-throttle-information.
func TestThrottlingPerTenant(t *testing.T) {
	srv := newTestServer(t, Options{Limits: Limits{AppWrites: 2, TenantWrites: 3, AppRequests: 5}})
	srv.AddApp(App{TenantID: tenantA, ClientID: clientRW2})
	srv.AddApp(App{TenantID: tenantB, ClientID: clientRW})
	srv.Seed(tenantB, configA, Overview{})
	type answer struct {
		Status             int
		Scope, Information string
	}
	do := func(method, tenant, client string) answer {
		u := srv.URL() + overviewPath("v1.0", configA)
		body := ""
		if method == http.MethodPatch {
			body = `{"successCount":1}`
		}
		res := call(t, srv.Client(), method, u, mustToken(t, srv, tenant, client), body, nil)
		return answer{res.status, res.header.Get("x-ms-throttle-scope"), res.header.Get("x-ms-throttle-information")}
	}
	patch := func(tenant, client string) answer { return do(http.MethodPatch, tenant, client) }
	got := []answer{
		patch(tenantA, clientRW),
		patch(tenantA, clientRW),
		patch(tenantA, clientRW),  // app limit
		patch(tenantA, clientRW2), // tenant has room for one more
		patch(tenantA, clientRW2), // tenant limit
		patch(tenantB, clientRW),  // another tenant
		do(http.MethodGet, tenantA, clientRW),
		do(http.MethodGet, tenantA, clientRW),
		do(http.MethodGet, tenantA, clientRW),
		do(http.MethodGet, tenantA, clientRW), // the app's requests: 2 PATCHes and 3 GETs already
	}
	want := []answer{
		{Status: 200}, {Status: 200},
		{429, "Tenant_Application/Write/" + clientRW + "/" + tenantA, "WriteLimitExceeded"},
		{Status: 200},
		{429, "Tenant/Write/" + clientRW2 + "/" + tenantA, "WriteLimitExceeded"},
		{Status: 200}, {Status: 200}, {Status: 200}, {Status: 200},
		{429, "Tenant_Application/ReadWrite/" + clientRW + "/" + tenantA, "ResourceUnitLimitExceeded"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("answers (-want +got):\n%s", d)
	}
}

func TestThrottlingDisabled(t *testing.T) {
	srv := newTestServer(t, Options{Limits: Limits{AppWrites: 1, AppRequests: 1}, ThrottlingDisabled: true})
	tok := mustToken(t, srv, tenantA, clientRW)
	for i := range 5 {
		if res := call(t, srv.Client(), http.MethodPatch, srv.URL()+overviewPath("v1.0", configA), tok, `{}`, nil); res.status != http.StatusOK {
			t.Fatalf("PATCH %d: %d", i, res.status)
		}
	}
}
