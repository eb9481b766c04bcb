package graph

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

// The ids the integration tests use in the emulator.
const (
	configID      = "6d6c3b5e-0f9a-4c1e-9d7e-2f1f3a4b5c6d"
	otherConfigID = "0b0e1f2a-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
)

// emulator is a graphtest server with one app (a client secret) and one
// seeded overview.
type emulator struct {
	*graphtest.Server
	seeded graphtest.Overview
}

func newEmulator(t *testing.T, opts graphtest.Options) *emulator {
	t.Helper()
	if opts.Limits == (graphtest.Limits{}) && opts.TimeScale == 0 {
		opts.ThrottlingDisabled = true
	}
	srv, err := graphtest.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	srv.AddApp(graphtest.App{TenantID: testTenant, ClientID: testClient, ClientSecret: testSecret})
	seeded := graphtest.Overview{
		ID: configID, PendingCount: 1, NotApplicableCount: 2, SuccessCount: 3, ErrorCount: 4, FailedCount: 5,
		ConfigurationVersion: 6, LastUpdateDateTime: time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC),
	}
	srv.Seed(testTenant, configID, seeded)
	return &emulator{Server: srv, seeded: seeded}
}

// inBubble runs f in a testing/synctest bubble, where time moves only while every goroutine waits:
// a test that waits out Graph's windows with the emulator on its in-memory network (InMemory) and
// a client that dials it (withMemoryNetwork) takes no time on the wall clock, and its calls are
// never late, however loaded the machine. At the end the bubble's clock runs on until what the
// client keeps between calls has gone (a worker lingers 10 s, an idle connection 90 s).
func inBubble(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) {
		t.Cleanup(func() { time.Sleep(2 * time.Minute) })
		f(t)
	})
}

// withMemoryNetwork returns opts with the client dialing the emulator's in-memory network.
func (e *emulator) withMemoryNetwork(opts Options) Options {
	opts.DialContext = e.DialContext
	return opts
}

// config returns a connection to the emulator with the client secret.
func (e *emulator) config() Config {
	return Config{
		Endpoint:      e.URL(),
		AuthorityHost: e.URL(),
		CABundle:      e.CACertPEM(),
		TenantID:      testTenant,
		ClientID:      testClient,
		Credential:    Credential{Kind: CredentialClientSecret, ClientSecret: testSecret},
	}
}

// fastOptions are Options for tests: a fresh pacer registry.
func fastOptions() Options {
	return Options{Pacers: NewPacers(DefaultLimits(), 0)}
}

func (e *emulator) client(t *testing.T, cfg Config, opts Options) Client {
	t.Helper()
	c, err := NewClient(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// graphRequests returns the Graph entries of the emulator's log.
func (e *emulator) graphRequests() []graphtest.Request {
	var out []graphtest.Request
	for _, r := range e.Requests() {
		if r.Kind == graphtest.KindGraph {
			out = append(out, r)
		}
	}
	return out
}

func (e *emulator) tokenRequests() int {
	return e.CountRequests(func(r graphtest.Request) bool { return r.Kind == graphtest.KindToken })
}

// wantOverview is the graph.Overview of a graphtest.Overview on v1.0.
func wantOverview(o graphtest.Overview) Overview {
	return Overview{ID: o.ID, PendingCount: o.PendingCount, NotApplicableCount: o.NotApplicableCount,
		SuccessCount: o.SuccessCount, ErrorCount: o.ErrorCount, FailedCount: o.FailedCount,
		ConfigurationVersion: o.ConfigurationVersion, LastUpdateDateTime: o.LastUpdateDateTime}
}

// writeFile writes data to a new file of the test's temporary directory.
func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// runJob runs call as a job of kind through c's pacer, as the operator does (the pacer runs it
// again while Graph throttles it), and returns its error.
func runJob(t *testing.T, c Client, kind JobKind, call func(context.Context, Calls) error) error {
	t.Helper()
	done := make(chan error, 1)
	c.Line().Submit(t.Name(), kind, Job{Run: call, Done: func(err error) { done <- err }})
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("the job did not run within 30s")
		return nil
	}
}
