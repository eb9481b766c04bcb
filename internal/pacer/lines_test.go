package pacer_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/overview-operator/overview-operator/internal/pacer"
)

var small = pacer.Limits{Requests: 100, Writes: 3, Per: time.Second}

// window is how long the pacer counts a call under small: Per and its margin.
const window = time.Second + 50*time.Millisecond

// fill sends n calls outside any job, answered after latency: the window is full until they leave it.
func (h *harness) fill(n int, latency time.Duration) {
	var cs []*pacer.Call
	for range n {
		c, err := h.tenant.Send(context.Background(), false)
		if err != nil {
			panic(err)
		}
		h.sent = append(h.sent, h.clock.Now())
		cs = append(cs, c)
	}
	h.clock.Step(latency)
	for _, c := range cs {
		c.End(pacer.Succeeded)
	}
}

// throttledOnce is a body that is throttled for d the first time it runs, and does then after.
func throttledOnce(d time.Duration, then body) body {
	runs := 0
	return func(ctx context.Context, h *harness, t *pacer.Ticket) error {
		runs++
		if runs == 1 {
			return throttledFor(d)(ctx, h, t)
		}
		return then(ctx, h, t)
	}
}

// TestLines plays the lines of one tenant: which jobs start, in which order.
func TestLines(t *testing.T) {
	tests := map[string]struct {
		limits pacer.Limits
		play   func(h *harness) []string // the keys, in the order they ran
		want   []string
	}{
		"asking twice gives the same place": {
			limits: small,
			play: func(h *harness) []string {
				h.fill(100, 0)
				h.submit(pacer.Write, "a", "b", "c")
				h.submit(pacer.Write, "a", "b") // again: no new place
				h.clock.Step(window)
				return h.run()
			},
			want: []string{"a", "b", "c"},
		},
		"the burst a window admits goes at once, the rest a window later, in order": {
			limits: small,
			play: func(h *harness) []string {
				h.submit(pacer.Write, "a", "b", "c", "d", "e")
				first := h.run()
				if next, _ := h.clock.Next(); !next.Equal(t0.Add(window)) {
					panic("looks again at " + next.String() + ", want a window later")
				}
				h.clock.Step(window - time.Millisecond)
				if early := h.run(); len(early) > 0 {
					panic("started before the window had room")
				}
				h.clock.Step(time.Millisecond)
				return append(first, h.run()...)
			},
			want: []string{"a", "b", "c", "d", "e"},
		},
		"a stranger cannot jump the line": {
			limits: small,
			play: func(h *harness) []string {
				h.submit(pacer.Write, "a", "b", "c")
				started := h.run()
				h.submit(pacer.Write, "w1", "w2", "w3", "w4")
				h.clock.Step(window - time.Millisecond)
				h.submit(pacer.Write, "stranger")
				h.clock.Step(time.Millisecond)
				return append(started, h.run()...)
			},
			want: []string{"a", "b", "c", "w1", "w2", "w3"},
		},
		"a released place shortens the line": {
			limits: small,
			play: func(h *harness) []string {
				h.fill(100, 0)
				h.submit(pacer.Write, "a", "b", "c", "d", "e")
				h.tenant.Withdraw("b")
				h.tenant.Withdraw("c")
				h.clock.Step(window)
				return h.run()
			},
			want: []string{"a", "d", "e"},
		},
		"a pause yields no place and takes none; after it, one job probes": {
			limits: small,
			play: func(h *harness) []string {
				h.tenant.Submit("p", pacer.Read, h.job("p", throttledOnce(2*time.Second, read)))
				ran := h.run()
				h.submit(pacer.Write, "a", "b")
				if during := h.run(); len(during) > 0 {
					panic("a job started during the pause")
				}
				h.clock.Step(2 * time.Second)
				if n := h.starts.Len(); n != 1 {
					panic("after the pause, more than one job probes")
				}
				return append(ran, h.run()...) // a probes; its answer lets the others go
			},
			want: []string{"p", "a", "b", "p"},
		},
		"a job throttled keeps its place at the head": {
			limits: pacer.Limits{Requests: 100, Writes: 1, Per: time.Second},
			play: func(h *harness) []string {
				h.tenant.Submit("a", pacer.Write, h.job("a", throttledOnce(time.Second, sync3)))
				h.submit(pacer.Write, "b", "c")
				ran := h.run()
				h.clock.Step(time.Second)
				ran = append(ran, h.run()...)
				for range 2 {
					h.clock.Step(window)
					ran = append(ran, h.run()...)
				}
				return ran
			},
			want: []string{"a", "a", "b", "c"},
		},
		// 2 writes book 6 reads; the third write waits for the write window, and the reads may
		// take 20 - 3·2 = 14 in all while it waits: 8 more, not the 10 they ask.
		"writes go first; reads leave the writes' share while writes wait": {
			limits: pacer.Limits{Requests: 20, Writes: 2, Per: time.Second},
			play: func(h *harness) []string {
				h.fill(20, time.Second) // room in flight for all of them: the budget decides
				h.submit(pacer.Read, "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10")
				h.submit(pacer.Write, "w1", "w2", "w3")
				h.clock.Step(window - time.Second)
				var ran []string
				for _, run := range h.starts.Take() { // the first wave, before any call of theirs
					run()
				}
				h.mu.Lock()
				ran, h.ran = h.ran, nil
				h.mu.Unlock()
				return ran
			},
			want: []string{"w1", "w2", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8"},
		},
		"a read submitted again as a write keeps its place among the writes": {
			limits: small,
			play: func(h *harness) []string {
				h.fill(100, 0)
				h.submit(pacer.Read, "x")
				h.submit(pacer.Write, "a")
				h.submit(pacer.Write, "x")
				h.clock.Step(window)
				return h.run()
			},
			want: []string{"x", "a"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := newHarness(tc.limits, 0)
			if diff := cmp.Diff(tc.want, tc.play(h)); diff != "" {
				t.Errorf("jobs ran (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWaitingCounts(t *testing.T) {
	h := newHarness(pacer.Limits{Requests: 100, Writes: 1, Per: time.Second}, 0)
	h.submit(pacer.Write, "a", "b", "c")
	h.submit(pacer.Write, "b")
	if n := h.tenant.Waiting(); n != 2 {
		t.Errorf("%d waiting, want 2 (a started)", n)
	}
	if h.tenant.Withdraw("nobody") {
		t.Error("withdrew a key that was not waiting")
	}
	if !h.tenant.Withdraw("c") || h.tenant.Waiting() != 1 {
		t.Errorf("after c withdrew, %d waiting, want 1", h.tenant.Waiting())
	}
}
