package pacer

import "time"

// Clock is the one clock of the pacer: the windows, the pauses, the waits of a write for its
// window, the latency of calls and the timeout of jobs all read it.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// AfterFunc calls f on a goroutine of its own once d has passed.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a call of f that AfterFunc scheduled.
type Timer interface {
	// Stop prevents the call if it has not happened yet, and reports whether it did so.
	Stop() bool
}

// RealClock returns the wall clock.
func RealClock() Clock { return realClock{} }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
