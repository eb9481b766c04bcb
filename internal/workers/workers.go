// Package workers runs functions on goroutines it keeps between them.
//
// The operator runs each Graph job on a goroutine of its own. A job's call goes down through
// TLS and HTTP/2, and a new goroutine grows its stack there by copying it several times, on
// every job: in the steady state that was a tenth of the operator's CPU. A goroutine kept from
// an earlier job has the stack already.
package workers

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultLinger is how long a worker waits for its next function before it ends.
const DefaultLinger = 10 * time.Second

// Pool runs functions on idle workers, or on new ones when none waits. A worker that waited
// its linger for a function ends, so that the goroutines of a burst do not stay. It is safe for
// concurrent use; the zero value is not usable: use New.
type Pool struct {
	linger  time.Duration
	started atomic.Int64

	mu   sync.Mutex
	idle []*worker // the workers waiting for a function, the last idle last
}

// worker is one goroutine of a pool, and how a function is handed to it.
type worker struct {
	next chan func() // holds at most the one function it is handed
}

// New returns a pool whose workers wait linger for their next function (DefaultLinger if
// linger <= 0).
func New(linger time.Duration) *Pool {
	if linger <= 0 {
		linger = DefaultLinger
	}
	return &Pool{linger: linger}
}

// Go runs run on a worker: the one that went idle last (its stack is the likeliest to be warm), or
// a new one when none waits.
func (p *Pool) Go(run func()) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		w := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		w.next <- run // never blocks: a worker taken from idle has an empty channel
		return
	}
	p.mu.Unlock()
	p.started.Add(1)
	go p.work(&worker{next: make(chan func(), 1)}, run)
}

// Started is how many workers the pool has started.
func (p *Pool) Started() int64 { return p.started.Load() }

// Idle is how many workers wait for a function now.
func (p *Pool) Idle() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

// work runs run, then each function handed to it, until none came for the pool's linger.
func (p *Pool) work(w *worker, run func()) {
	t := time.NewTimer(p.linger)
	defer t.Stop()
	for {
		run()
		p.mu.Lock()
		p.idle = append(p.idle, w)
		p.mu.Unlock()
		t.Reset(p.linger)
		select {
		case run = <-w.next:
		case <-t.C:
			p.mu.Lock()
			i := slices.Index(p.idle, w)
			if i < 0 {
				// Go took it from idle as its linger ended: the function is on its way.
				p.mu.Unlock()
				run = <-w.next
				continue
			}
			p.idle = slices.Delete(p.idle, i, i+1)
			p.mu.Unlock()
			return
		}
	}
}
