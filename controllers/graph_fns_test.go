package controllers

import (
	"context"
	"sync"

	"github.com/overview-operator/overview-operator/internal/graph"
)

// graphFns is a graph.Client made of functions, in the manner of crossplane-runtime's
// ExternalClientFns, for tests of what the reconciler decides; wherever the HTTP behaviour matters,
// tests talk to pkg/graphtest's server instead. A nil call is one the test does not expect: it
// panics (in a job, that is the job's error). A nil SubmitFn runs the job at once, on the caller's
// goroutine, with the client's own calls (a job that asks to go again is counted, not run again); a
// nil WithdrawFn finds nothing waiting.
type graphFns struct {
	GetOverviewFn        func(ctx context.Context, configurationID string) (graph.Response, error)
	PatchOverviewFn      func(ctx context.Context, configurationID string, f graph.Fields) (graph.Response, error)
	SubmitFn             func(key string, kind graph.JobKind, job graph.Job)
	WithdrawFn           func(key string) bool
	ListConfigurationsFn func(ctx context.Context, page func(read int)) ([]graph.Configuration, error)
	CheckCredentialsFn   func(ctx context.Context) error

	mu      sync.Mutex
	submits []graph.JobKind // the kinds of the jobs submitted, in turn
	again   int             // how many jobs asked to go again
}

var _ graph.Client = (*graphFns)(nil)

func (g *graphFns) Get(ctx context.Context, _ graph.Entity, configurationID string) (graph.Response, error) {
	if g.GetOverviewFn == nil {
		panic("graphFns: unexpected GetOverview")
	}
	return g.GetOverviewFn(ctx, configurationID)
}

func (g *graphFns) Patch(ctx context.Context, _ graph.Entity, configurationID string, f graph.Fields) (graph.Response, error) {
	if g.PatchOverviewFn == nil {
		panic("graphFns: unexpected PatchOverview")
	}
	return g.PatchOverviewFn(ctx, configurationID, f)
}

func (g *graphFns) Submit(key string, kind graph.JobKind, job graph.Job) {
	g.mu.Lock()
	g.submits = append(g.submits, kind)
	g.mu.Unlock()
	if g.SubmitFn != nil {
		g.SubmitFn(key, kind, job)
		return
	}
	if job(context.Background(), g) == graph.Again {
		g.mu.Lock()
		g.again++
		g.mu.Unlock()
	}
}

func (g *graphFns) Withdraw(key string) bool {
	if g.WithdrawFn == nil {
		return false
	}
	return g.WithdrawFn(key)
}

func (g *graphFns) ListConfigurations(ctx context.Context, page func(read int)) ([]graph.Configuration, error) {
	if g.ListConfigurationsFn == nil {
		panic("graphFns: unexpected ListConfigurations")
	}
	return g.ListConfigurationsFn(ctx, page)
}

func (g *graphFns) CheckCredentials(ctx context.Context) error {
	if g.CheckCredentialsFn == nil {
		panic("graphFns: unexpected CheckCredentials")
	}
	return g.CheckCredentialsFn(ctx)
}

// jobs returns the kinds of the jobs submitted so far, in turn.
func (g *graphFns) jobs() []graph.JobKind {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]graph.JobKind(nil), g.submits...)
}

// answer is one of a scripted Graph's answers: the entity, or an error.
type answer struct {
	resp graph.Response
	err  error
}

// holds is an answer with the entity o.
func holds(o graph.Overview) answer { return answer{resp: graph.Response{Overview: o}} }

// fails is an answer with the error err.
func fails(err error) answer { return answer{err: err} }

// getInTurn answers GETs with the answers in turn, over and over.
func getInTurn(answers ...answer) func(context.Context, string) (graph.Response, error) {
	var mu sync.Mutex
	n := 0
	return func(context.Context, string) (graph.Response, error) {
		mu.Lock()
		defer mu.Unlock()
		a := answers[n%len(answers)]
		n++
		return a.resp, a.err
	}
}
