package controllers

import (
	"context"
	"sync"
	"time"

	"github.com/overview-operator/overview-operator/internal/graph"
	"github.com/overview-operator/overview-operator/internal/pacer"
	"github.com/overview-operator/overview-operator/internal/pacer/pacertest"
)

// graphFns is a graph.Client made of functions, in the manner of crossplane-runtime's
// ExternalClientFns, for tests of what the reconciler decides; wherever the HTTP behaviour matters,
// tests talk to pkg/graphtest's server instead. A nil call is one the test does not expect: it
// panics (in a job, that is the job's error). A nil SubmitFn runs the job at once, on the caller's
// goroutine, with the client's own calls, through a real pacer on a clock that stands still at Now
// (or when the first job came): a job that the pacer puts back in line waits there, and is counted
// (again); a nil WithdrawFn finds nothing waiting.
type graphFns struct {
	GetOverviewFn        func(ctx context.Context, configurationID string) (graph.Response, error)
	PatchOverviewFn      func(ctx context.Context, configurationID string, f graph.Fields) (graph.Response, error)
	SubmitFn             func(key string, kind graph.JobKind, job graph.Job)
	WithdrawFn           func(key string) bool
	ListConfigurationsFn func(ctx context.Context, page func(read int)) ([]graph.Configuration, error)
	CheckCredentialsFn   func(ctx context.Context) error

	// Now is the time the pacer's clock stands still at; zero: when the first job came.
	Now time.Time

	mu          sync.Mutex
	submits     []graph.JobKind // the kinds of the jobs submitted, in turn
	runs, dones int             // how many times jobs ran, and how many ended
	tenant      *pacer.Handle[string]
	starts      *pacertest.Starts
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
	if g.tenant == nil && g.SubmitFn == nil {
		now := g.Now
		if now.IsZero() {
			now = time.Now()
		}
		g.starts = &pacertest.Starts{}
		g.tenant = pacer.New(pacer.Options[string]{Clock: pacertest.NewClock(now), Go: g.starts.Go}).For("tenant")
	}
	g.mu.Unlock()
	if g.SubmitFn != nil {
		g.SubmitFn(key, kind, job)
		return
	}
	g.tenant.Submit(key, kind, pacer.Job{
		Run: func(ctx context.Context, _ *pacer.Ticket) error {
			g.count(&g.runs)
			return job.Run(ctx, g)
		},
		Done: func(err error) {
			g.count(&g.dones)
			if job.Done != nil {
				job.Done(err)
			}
		},
		QuietPause: job.QuietPause,
	})
	for _, run := range g.starts.Take() { // each runs once: one put back in line waits there
		run()
	}
}

func (g *graphFns) count(n *int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	*n++
}

// again is how many jobs went back in line: they ran and did not end.
func (g *graphFns) again() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.runs - g.dones
}

func (g *graphFns) Withdraw(key string) bool {
	if g.WithdrawFn == nil {
		return false
	}
	return g.WithdrawFn(key)
}

func (g *graphFns) List(ctx context.Context, page func(read int)) ([]graph.Configuration, error) {
	if g.ListConfigurationsFn == nil {
		panic("graphFns: unexpected List")
	}
	return g.ListConfigurationsFn(ctx, page)
}

// Line implements graph.Client: graphFns is its own tenant line.
func (g *graphFns) Line() graph.Line { return g }

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

// pacedJob is a job that a test caught (SubmitFn), run by hand through a real pacer on a fake
// clock: the pacer, not the test, decides whether a run ends the job or puts it back in line.
type pacedJob struct {
	clock  *pacertest.Clock
	starts *pacertest.Starts
	ended  bool
}

// runPaced submits job, whose calls are calls, to a pacer of its own; run runs it.
func runPaced(job graph.Job, calls graph.Calls) *pacedJob {
	p := &pacedJob{clock: pacertest.NewClock(time.Now()), starts: &pacertest.Starts{}}
	tenant := pacer.New(pacer.Options[string]{Clock: p.clock, Go: p.starts.Go}).For("tenant")
	tenant.Submit("job", graph.ReadJob, pacer.Job{
		Run: func(ctx context.Context, _ *pacer.Ticket) error { return job.Run(ctx, calls) },
		Done: func(err error) {
			p.ended = true
			if job.Done != nil {
				job.Done(err)
			}
		},
		QuietPause: job.QuietPause,
	})
	return p
}

// run runs the job once, after its tenant's pause if one holds it back, and reports whether it
// ended (rather than going back in line).
func (p *pacedJob) run() bool {
	for p.starts.Len() == 0 {
		at, ok := p.clock.Next()
		if !ok {
			return p.ended
		}
		p.clock.Set(at)
	}
	p.starts.RunNext()
	return p.ended
}
