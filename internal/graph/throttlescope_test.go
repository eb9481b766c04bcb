package graph

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/overview-operator/overview-operator/internal/metricstest"
	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

// TestReadThrottleScope: x-ms-throttle-scope is read as Graph documents it,
// <Scope>/<Limit>/<ApplicationId>/<TenantId>, without regard to case; anything else is unknown.
func TestReadThrottleScope(t *testing.T) {
	tests := map[string]struct {
		header, info           string
		wantScope, wantLimit   string
		wantLabel, wantPartial string
	}{
		"Graph's example": {header: "Tenant_Application/ReadWrite/9a3d526c-b3c1-4479-ba74-197b5c5751ae/0785ef7c-2d7a-4542-b048-95bcab406e0b",
			wantScope: ThrottleScopeTenantApplication, wantLimit: "ReadWrite", wantLabel: "Tenant_Application"},
		"the tenant's writes":       {header: "Tenant/Write/app/tenant", info: "WriteLimitExceeded", wantScope: ThrottleScopeTenant, wantLimit: "Write", wantLabel: "Tenant"},
		"the app's reads":           {header: "Application/Read/app/tenant", wantScope: ThrottleScopeApplication, wantLimit: "Read", wantLabel: "Application"},
		"another case":              {header: " tenant / write /app/tenant", wantScope: ThrottleScopeTenant, wantLimit: "Write", wantLabel: "Tenant"},
		"the scope alone":           {header: "Tenant", wantScope: ThrottleScopeTenant, wantLabel: "Tenant"},
		"a limit Graph has not":     {header: "Tenant_Application/Everything/app/tenant", wantScope: ThrottleScopeTenantApplication, wantLabel: "Tenant_Application"},
		"a scope Graph has not":     {header: "User/ReadWrite/app/user", wantLabel: "unknown"},
		"no header":                 {wantLabel: "none"},
		"a reason without a scope":  {info: "CPULimitExceeded", wantLabel: "none"},
		"a reason that is not text": {header: "Tenant/Write", info: "Write\nLimit\x00Exceeded", wantScope: ThrottleScopeTenant, wantLimit: "Write", wantLabel: "Tenant"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := http.Header{}
			if tc.header != "" {
				h.Set(headerThrottleScope, tc.header)
			}
			if tc.info != "" {
				h.Set(headerThrottleInformation, tc.info)
			}
			ts := readThrottleScope(h)
			if ts.scope != tc.wantScope || ts.limit != tc.wantLimit || ts.label() != tc.wantLabel || ts.info != clean(tc.info) {
				t.Errorf("read %+v (label %s), want scope %q, limit %q, label %s, information %q",
					ts, ts.label(), tc.wantScope, tc.wantLimit, tc.wantLabel, clean(tc.info))
			}
		})
	}
}

// TestThrottleScopes: a 429 pauses what its x-ms-throttle-scope names, among the apps and tenants
// of one process: Tenant every app of the tenant, Application the app in every tenant,
// Tenant_Application (or no header) the app in the tenant; the error says the scope, and
// overview_graph_throttled_total counts the 429 under it.
func TestThrottleScopes(t *testing.T) {
	const otherApp = "00000000-0000-0000-0000-0000000000b2"
	tests := map[string]struct {
		header    string // x-ms-throttle-scope, "%[1]s" the app, "%[2]s" the tenant
		wantScope string
		wantLabel string
		wantHeld  []string // of "the tenant's other app" and "the app in another tenant"
	}{
		"the app in the tenant": {header: "Tenant_Application/ReadWrite/%[1]s/%[2]s", wantScope: ThrottleScopeTenantApplication, wantLabel: "Tenant_Application"},
		"the tenant":            {header: "Tenant/Write/%[1]s/%[2]s", wantScope: ThrottleScopeTenant, wantLabel: "Tenant", wantHeld: []string{"the tenant's other app"}},
		"the app":               {header: "Application/ReadWrite/%[1]s/%[2]s", wantScope: ThrottleScopeApplication, wantLabel: "Application", wantHeld: []string{"the app in another tenant"}},
		"no scope: as before":   {wantLabel: "none"},
		"a scope unknown":       {header: "Galaxy/ReadWrite/%[1]s/%[2]s", wantLabel: "unknown"},
	}
	i := 0
	for name, tc := range tests {
		i++
		t.Run(name, func(t *testing.T) {
			tenant := fmt.Sprintf("00000000-0000-0000-0000-0000000000c%d", i)
			other := fmt.Sprintf("00000000-0000-0000-0000-0000000000d%d", i)
			e := newEmulator(t, graphtest.Options{})
			for _, app := range []graphtest.App{
				{TenantID: tenant, ClientID: testClient, ClientSecret: testSecret},
				{TenantID: tenant, ClientID: otherApp, ClientSecret: testSecret},
				{TenantID: other, ClientID: testClient, ClientSecret: testSecret},
			} {
				e.AddApp(app)
				e.Seed(app.TenantID, configID, e.seeded)
			}
			pacers := NewPacers(DefaultLimits(), 0)
			connect := func(tenant, app string) Client {
				cfg := e.config()
				cfg.TenantID, cfg.ClientID = tenant, app
				c := e.client(t, cfg, Options{Pacers: pacers})
				if err := c.CheckCredentials(testContext(t)); err != nil {
					t.Fatal(err)
				}
				return c
			}
			throttled := connect(tenant, testClient)
			others := map[string]Client{
				"the tenant's other app":    connect(tenant, otherApp),
				"the app in another tenant": connect(other, testClient),
			}
			fault := graphtest.Fault{Status: 429, RetryAfter: "30", TenantID: tenant, Method: http.MethodPatch, Times: 1,
				ThrottleInformation: "WriteLimitExceeded"}
			if tc.header != "" {
				fault.ThrottleScope = fmt.Sprintf(tc.header, testClient, tenant)
			}
			e.Inject(fault)

			before, err := metricstest.Gather(metrics.Registry)
			if err != nil {
				t.Fatal(err)
			}
			_, err = throttled.Patch(testContext(t), UserOverview, configID, Fields{SuccessCount: ptr[int32](1)})
			gerr, ok := err.(*Error)
			if !ok || gerr.StatusCode != 429 || gerr.ThrottleScope != tc.wantScope || gerr.ThrottleInformation != "WriteLimitExceeded" {
				t.Fatalf("the 429 read as %#v, want scope %q", err, tc.wantScope)
			}
			if got := Classify(err); got.PausedUntil.Before(time.Now().Add(25 * time.Second)) {
				t.Errorf("paused until %v, want 30 s from now", got.PausedUntil)
			}
			after, err := metricstest.Gather(metrics.Registry)
			if err != nil {
				t.Fatal(err)
			}
			if n := after.Value("overview_graph_throttled_total", "tenant", tenant, "scope", tc.wantLabel) -
				before.Value("overview_graph_throttled_total", "tenant", tenant, "scope", tc.wantLabel); n != 1 {
				t.Errorf("overview_graph_throttled_total{scope=%q} counted %v, want 1", tc.wantLabel, n)
			}

			// The others' jobs run, unless the pause holds them.
			ran := make(chan string, len(others))
			for name, c := range others {
				c.Line().Submit("job", ReadJob, Job{Run: func(ctx context.Context, calls Calls) error {
					_, err := calls.Get(ctx, UserOverview, configID)
					ran <- name
					return err
				}})
			}
			time.Sleep(300 * time.Millisecond)
			var held []string
			for _, name := range []string{"the tenant's other app", "the app in another tenant"} {
				if others[name].Line().Withdraw("job") {
					held = append(held, name)
				}
			}
			if fmt.Sprint(held) != fmt.Sprint(tc.wantHeld) {
				t.Errorf("held by the pause: %v, want %v", held, tc.wantHeld)
			}
			if n := len(ran); n != len(others)-len(tc.wantHeld) {
				t.Errorf("%d jobs of the others ran, want %d", n, len(others)-len(tc.wantHeld))
			}
		})
	}
}

// TestAThrottlingWithoutRetryAfter: Intune's 429s may come without Retry-After (their bodies say
// "RetryAfter": null); the tenant is then paused until the pacer's window admits again, here when
// the oldest call of the window leaves it, and a job waits until then, not a fixed time.
func TestAThrottlingWithoutRetryAfter(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		e := newEmulator(t, graphtest.Options{InMemory: true})
		pacers := NewPacers(Limits{Requests: 100, Writes: 10, Per: 2 * time.Second}, 0)
		window := 2*time.Second + 50*time.Millisecond // Per and its margin (2%, at least 50 ms)
		c := e.client(t, e.config(), e.withMemoryNetwork(Options{Pacers: pacers}))
		if err := c.CheckCredentials(testContext(t)); err != nil {
			t.Fatal(err)
		}
		first := time.Now()
		if _, err := c.Get(testContext(t), UserOverview, configID); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
		e.Inject(graphtest.Fault{Status: 429, Times: 1, Message: `{"_version":3,"Message":"Too many requests","CustomApiErrorPhrase":"","RetryAfter":null,"ErrorSourceService":"","HttpHeaders":"{}"}`})
		_, err := c.Get(testContext(t), UserOverview, configID)
		got := Classify(err)
		if got.Class != ClassThrottled {
			t.Fatalf("%v classified %+v, want throttled", err, got)
		}
		// On the bubble's clock a call takes no time: the pause ends exactly a window after the
		// first call.
		if want := first.Add(window); !got.PausedUntil.Equal(want) {
			t.Errorf("paused until %v after the first call, want a window after it (%v)", got.PausedUntil.Sub(first), window)
		}
		done := make(chan time.Time, 1)
		c.Line().Submit("after", ReadJob, Job{Run: func(ctx context.Context, calls Calls) error {
			done <- time.Now()
			_, err := calls.Get(ctx, UserOverview, configID)
			return err
		}})
		select {
		case at := <-done:
			if at.Before(got.PausedUntil) {
				t.Errorf("a job ran %v before the pause ended", got.PausedUntil.Sub(at))
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the job did not run after the pause")
		}
	})
}
