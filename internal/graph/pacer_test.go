package graph

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/overview-operator/overview-operator/internal/pacer"
	"github.com/overview-operator/overview-operator/internal/pacer/pacertest"
	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// How the pacer paces (its lines, budget, pause, sizing, ceiling) is tested in internal/pacer on a
// fake clock; here, what graph adds: the key of a pacer, its metric series, and Close on the wire.

// A pacer that tenants no longer use is dropped, and its metric series some time after: 300
// tenants that came and went leave no pacer, and no series once seriesKeep has passed. A tenant
// that comes back within it keeps its series, which a scrape in between still finds.
func TestPacersAndTheirSeriesAreDropped(t *testing.T) {
	clock := pacertest.NewClock(t0)
	starts := &pacertest.Starts{}
	ps := NewPacersWith(PacersOptions{Limits: Limits{Requests: 10, Writes: 1, Per: time.Second}, Clock: clock, Go: starts.Go})
	for i := range 300 {
		tenant := ps.For(PacerKey{AuthorityHost: "https://login.microsoftonline.com", TenantID: fmt.Sprint(prefix, i), ClientID: "app"})
		tenant.Submit("job", ReadJob, pacer.Job{Run: func(ctx context.Context, tk *pacer.Ticket) error {
			c, err := tk.Send(ctx, false)
			if err == nil {
				c.End(pacer.Succeeded)
			}
			return err
		}})
	}
	starts.RunAll()
	if n, series := ps.Len(), countSeries(budgetWaitSeconds); n != 300 || series != 300 {
		t.Fatalf("%d pacers and %d series while the tenants' calls are in the window, want 300 and 300", n, series)
	}
	clock.Step(2 * time.Second)
	if n, series := ps.Len(), countSeries(budgetWaitSeconds); n != 0 || series != 300 {
		t.Errorf("%d pacers and %d series just after the tenants went, want none and 300", n, series)
	}
	// Tenant 0 comes back before its series go.
	clock.Step(seriesKeep - time.Minute)
	back := ps.For(PacerKey{AuthorityHost: "https://login.microsoftonline.com", TenantID: prefix + "0", ClientID: "app"})
	back.Submit("job", ReadJob, pacer.Job{Run: func(context.Context, *pacer.Ticket) error { return nil }})
	starts.RunAll()
	clock.Step(time.Minute)
	if series := countSeries(budgetWaitSeconds); series != 1 {
		t.Errorf("%d series %s after the tenants went, want 1: the tenant that came back", series, seriesKeep)
	}
	clock.Step(seriesKeep)
	if n, series := ps.Len(), countSeries(budgetWaitSeconds); n != 0 || series != 0 {
		t.Errorf("%d pacers and %d series left once every tenant has been gone for %s, want none", n, series, seriesKeep)
	}
}

// prefix starts the tenant ids of TestPacersAndTheirSeriesAreDropped.
const prefix = "come-and-go-"

// countSeries counts the series of c whose tenant label starts with prefix.
func countSeries(c prometheus.Collector) int {
	ch := make(chan prometheus.Metric, 1024)
	go func() { c.Collect(ch); close(ch) }()
	n := 0
	for m := range ch {
		pb := &dto.Metric{}
		if err := m.Write(pb); err != nil {
			continue
		}
		for _, l := range pb.GetLabel() {
			if l.GetName() == "tenant" && strings.HasPrefix(l.GetValue(), prefix) {
				n++
			}
		}
	}
	return n
}

// One app in one tenant has one budget in Graph, however its connections spell the login host,
// the tenant or the app: they share one pacer.
func TestOnePacerPerAppAndTenant(t *testing.T) {
	ps := NewPacers(DefaultLimits(), 0)
	base := PacerKey{AuthorityHost: "https://login.microsoftonline.com", TenantID: "6d6c3b5e-0f9a-4c1e-9d7e-2f1f3a4b5c6d", ClientID: "a0a0a0a0-0000-4000-8000-000000000001"}
	same := map[string]PacerKey{
		"the default port":       {AuthorityHost: "https://login.microsoftonline.com:443", TenantID: base.TenantID, ClientID: base.ClientID},
		"upper case":             {AuthorityHost: "HTTPS://Login.MicrosoftOnline.com/", TenantID: strings.ToUpper(base.TenantID), ClientID: strings.ToUpper(base.ClientID)},
		"a trailing dot":         {AuthorityHost: "https://login.microsoftonline.com.", TenantID: base.TenantID, ClientID: base.ClientID},
		"the default port and /": {AuthorityHost: "https://login.microsoftonline.com:443/", TenantID: base.TenantID, ClientID: base.ClientID},
	}
	other := map[string]PacerKey{
		"another port":   {AuthorityHost: "https://login.microsoftonline.com:8443", TenantID: base.TenantID, ClientID: base.ClientID},
		"another cloud":  {AuthorityHost: "https://login.microsoftonline.us", TenantID: base.TenantID, ClientID: base.ClientID},
		"another app":    {AuthorityHost: base.AuthorityHost, TenantID: base.TenantID, ClientID: "a0a0a0a0-0000-4000-8000-000000000002"},
		"another tenant": {AuthorityHost: base.AuthorityHost, TenantID: "contoso.onmicrosoft.com", ClientID: base.ClientID},
	}
	p := ps.For(base).Key()
	for name, k := range same {
		if ps.For(k).Key() != p {
			t.Errorf("%s: another pacer for the same app and tenant", name)
		}
	}
	for name, k := range other {
		if ps.For(k).Key() == p {
			t.Errorf("%s: the same pacer", name)
		}
	}
}

// Close ends every job: a call in flight is cancelled, and a job that runs after it sends nothing.
func TestPacersClose(t *testing.T) {
	e := newEmulator(t, graphtest.Options{})
	e.Inject(graphtest.Fault{Method: http.MethodGet, Hang: true, Times: 1})
	pacers := NewPacers(DefaultLimits(), 0)
	c := e.client(t, e.config(), Options{Pacers: pacers})
	if err := c.CheckCredentials(context.Background()); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 2)
	started := make(chan struct{}, 2)
	job := Job{Run: func(ctx context.Context, calls Calls) error {
		started <- struct{}{}
		_, err := calls.Get(ctx, UserOverview, configID)
		errs <- err
		return nil
	}}
	c.Line().Submit("hanging", ReadJob, job)
	<-started // its GET hangs in Graph, or is about to be sent
	pacers.Close()
	select {
	case err := <-errs:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("the call in flight ended with %v, want it cancelled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the call in flight went on after Close")
	}
	c.Line().Submit("after", ReadJob, job)
	if err := <-errs; err == nil {
		t.Error("a job after Close called Graph successfully")
	}
	if n := len(e.graphRequests()); n > 1 {
		t.Errorf("%d Graph requests, want at most the one before Close", n)
	}
}

// TestKeyOf: the key of a connection's settings is its client's pacer key, whatever the spelling,
// and its ShardID tells tenants apart, but not a tenant's apps.
func TestKeyOf(t *testing.T) {
	base := Config{Cloud: CloudPublic, TenantID: "11111111-2222-3333-4444-555555555555", ClientID: "app"}
	want, err := KeyOf(base)
	if err != nil {
		t.Fatal(err)
	}
	if want.AuthorityHost != "https://login.microsoftonline.com" {
		t.Errorf("the public cloud's key has authority host %q", want.AuthorityHost)
	}
	same := base
	same.TenantID, same.ClientID = strings.ToUpper(base.TenantID), "APP"
	same.AuthorityHost = "https://login.microsoftonline.com:443/"
	got, err := KeyOf(same)
	if err != nil || got != want || got.ShardID() != want.ShardID() {
		t.Errorf("another spelling of the same key: %v (%v), shard %s; want %v, shard %s", got, err, got.ShardID(), want, want.ShardID())
	}
	app := base
	app.ClientID = "another-app"
	if a, _ := KeyOf(app); a == want || a.ShardID() != want.ShardID() {
		t.Errorf("another app of the tenant: key %v, shard %s; want another key in shard %s", a, a.ShardID(), want.ShardID())
	}
	other := base
	other.TenantID = "11111111-2222-3333-4444-666666666666"
	if o, _ := KeyOf(other); o.ShardID() == want.ShardID() {
		t.Errorf("two tenants share the shard %s", o.ShardID())
	}
	gov := base
	gov.Cloud = CloudUSGovernment
	if g, _ := KeyOf(gov); g.ShardID() == want.ShardID() {
		t.Errorf("two clouds share the shard %s", g.ShardID())
	}
	for name, bad := range map[string]Config{
		"an unknown cloud":  {Cloud: "Mars", TenantID: base.TenantID, ClientID: "app"},
		"a cleartext host":  {Cloud: CloudPublic, AuthorityHost: "http://login.example.com", TenantID: base.TenantID},
		"a tenant with a /": {Cloud: CloudPublic, TenantID: "a/b", ClientID: "app"},
	} {
		if _, err := KeyOf(bad); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
