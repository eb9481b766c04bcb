package pacer

import (
	"context"
	"sync"
	"time"
)

// withTimeout returns a context of parent that ends with context.DeadlineExceeded once d has
// passed on clock (context.WithTimeout would read the wall clock), and its cancel. It reports no
// Deadline: the clock's time need not be the wall clock's, which the calls' own timeouts read.
func withTimeout(parent context.Context, clock Clock, d time.Duration) (context.Context, context.CancelFunc) {
	ctx := &clockContext{Context: parent, done: make(chan struct{})}
	timer := clock.AfterFunc(d, func() { ctx.end(context.DeadlineExceeded) })
	stop := context.AfterFunc(parent, func() { ctx.end(parent.Err()) })
	return ctx, func() {
		timer.Stop()
		stop()
		ctx.end(context.Canceled)
	}
}

// clockContext is a context that ends when end is first called.
type clockContext struct {
	context.Context
	done chan struct{}
	mu   sync.Mutex
	err  error
}

func (c *clockContext) end(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
		close(c.done)
	}
}

// Deadline implements context.Context: none that the wall clock could read.
func (c *clockContext) Deadline() (time.Time, bool) { return time.Time{}, false }

// Done implements context.Context.
func (c *clockContext) Done() <-chan struct{} { return c.done }

// Err implements context.Context. The parent's end is seen at once, before the AfterFunc that
// closes Done has run.
func (c *clockContext) Err() error {
	c.mu.Lock()
	err := c.err
	c.mu.Unlock()
	if err == nil {
		if err = c.Context.Err(); err != nil {
			c.end(err)
		}
	}
	return err
}
