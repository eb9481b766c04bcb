package pacer

import (
	"context"
	"time"
)

// Job is work that a tenant's pacer runs when the tenant's budget, its pause and the ceiling
// admit it, on a goroutine of the pacer's (Options.Go), never the submitter's.
type Job struct {
	// Run makes the job's calls, each sent through t, and returns the job's error. An error
	// that says the API throttled it (Throttled) pauses the tenant until then; while that pause
	// ends within QuietPause, the job goes back to its place at the head of its line and runs
	// again after it, and Done hears nothing of it.
	Run func(ctx context.Context, t *Ticket) error
	// Done, if set, hears once how the job ended: nil, or its final error (a throttled error
	// is final when the tenant's pause ends more than QuietPause after it, or the registry is
	// closed). It is not called for a job withdrawn, nor for a throttled job whose key was
	// submitted again meanwhile: the newer job takes its place and its Done.
	Done func(err error)
	// QuietPause is the longest pause the job waits out in its place without a word; zero
	// means any pause.
	QuietPause time.Duration
}

// quietly reports whether a job throttled at now, with its tenant paused until end, runs again.
func (j Job) quietly(now, end time.Time) bool {
	return j.QuietPause <= 0 || end.Sub(now) <= j.QuietPause
}
