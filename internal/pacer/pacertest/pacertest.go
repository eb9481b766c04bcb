// Package pacertest plays time and the start of jobs by hand for tests of the pacer and of what
// runs on it: a fake Clock whose timers fire as the test steps it, and Starts, which holds the
// jobs a pacer starts until the test runs them.
package pacertest

import (
	"sort"
	"sync"
	"time"

	"github.com/overview-operator/overview-operator/internal/pacer"
)

// Clock is a pacer.Clock that moves only when the test steps it. Its timers fire in the order of
// their times, each with the clock set to its time, on the goroutine that steps the clock.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	seq    int
	timers []*timer
}

var _ pacer.Clock = (*Clock)(nil)

// NewClock returns a clock set to t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now implements pacer.Clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc implements pacer.Clock.
func (c *Clock) AfterFunc(d time.Duration, f func()) pacer.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &timer{c: c, at: c.now.Add(d), seq: c.seq, f: f}
	c.timers = append(c.timers, t)
	return t
}

// Step moves the clock d on, firing the timers due by then.
func (c *Clock) Step(d time.Duration) { c.Set(c.Now().Add(d)) }

// Set moves the clock to t (never back), firing the timers due by then.
func (c *Clock) Set(t time.Time) {
	for {
		c.mu.Lock()
		sort.Slice(c.timers, func(i, j int) bool {
			a, b := c.timers[i], c.timers[j]
			return a.at.Before(b.at) || a.at.Equal(b.at) && a.seq < b.seq
		})
		if len(c.timers) == 0 || c.timers[0].at.After(t) {
			if t.After(c.now) {
				c.now = t
			}
			c.mu.Unlock()
			return
		}
		next := c.timers[0]
		c.timers = c.timers[1:]
		if next.at.After(c.now) {
			c.now = next.at
		}
		c.mu.Unlock()
		next.f()
	}
}

// Next returns the time of the next timer, and false if none is set.
func (c *Clock) Next() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var next time.Time
	for _, t := range c.timers {
		if next.IsZero() || t.at.Before(next) {
			next = t.at
		}
	}
	return next, !next.IsZero()
}

type timer struct {
	c   *Clock
	at  time.Time
	seq int
	f   func()
}

// Stop implements pacer.Timer.
func (t *timer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	for i, u := range t.c.timers {
		if u == t {
			t.c.timers = append(t.c.timers[:i], t.c.timers[i+1:]...)
			return true
		}
	}
	return false
}

// Starts holds the runs of the jobs a pacer starts (its Options.Go) until the test runs them, in
// the order they were started.
type Starts struct {
	mu   sync.Mutex
	runs []func()
}

// Go is the pacer's Options.Go.
func (s *Starts) Go(run func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.runs = append(s.runs, run)
}

// Len is how many started jobs have not run yet.
func (s *Starts) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.runs)
}

// RunNext runs the job started first that has not run yet, on the caller's goroutine; it reports
// whether there was one.
func (s *Starts) RunNext() bool {
	s.mu.Lock()
	if len(s.runs) == 0 {
		s.mu.Unlock()
		return false
	}
	run := s.runs[0]
	s.runs = s.runs[1:]
	s.mu.Unlock()
	run()
	return true
}

// RunAll runs the started jobs, and those they start, until none is left.
func (s *Starts) RunAll() {
	for s.RunNext() {
	}
}

// Take returns the runs of the jobs started and not run yet, for the test to run when it likes
// (or never: a job that hangs).
func (s *Starts) Take() []func() {
	s.mu.Lock()
	defer s.mu.Unlock()
	runs := s.runs
	s.runs = nil
	return runs
}
