// Package workers runs functions on goroutines it keeps between them.
//
// The operator runs each Graph job on a goroutine of its own. A job's call goes down through
// TLS and HTTP/2, and a new goroutine grows its stack there by copying it several times, on
// every job: in the steady state that was a tenth of the operator's CPU. A goroutine kept from
// an earlier job has the stack already.
package workers

import (
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
	handoff chan func()
	started atomic.Int64
	idle    atomic.Int64
}

// New returns a pool whose workers wait linger for their next function (DefaultLinger if
// linger <= 0).
func New(linger time.Duration) *Pool {
	if linger <= 0 {
		linger = DefaultLinger
	}
	return &Pool{linger: linger, handoff: make(chan func())}
}

// Go runs run on a worker: an idle one, or a new one when none waits.
func (p *Pool) Go(run func()) {
	select {
	case p.handoff <- run:
	default:
		p.started.Add(1)
		go p.work(run)
	}
}

// Started is how many workers the pool has started.
func (p *Pool) Started() int64 { return p.started.Load() }

// Idle is how many workers wait for a function now.
func (p *Pool) Idle() int64 { return p.idle.Load() }

// work runs run, then each function handed to it, until none came for the pool's linger.
func (p *Pool) work(run func()) {
	t := time.NewTimer(p.linger)
	defer t.Stop()
	for {
		run()
		t.Reset(p.linger)
		p.idle.Add(1)
		select {
		case run = <-p.handoff:
			p.idle.Add(-1)
		case <-t.C:
			p.idle.Add(-1)
			return
		}
	}
}
