package pacer_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/overview-operator/overview-operator/internal/pacer"
)

// TestBackgroundLine plays the low-priority line: a background job starts only while no read
// waits, and only within the reads' share that leaves a window's writes their room.
func TestBackgroundLine(t *testing.T) {
	tests := map[string]struct {
		limits pacer.Limits
		play   func(h *harness) []string // the keys, in the order they ran
		want   []string
	}{
		"an idle tenant runs a background job at once": {
			limits: small,
			play: func(h *harness) []string {
				h.tenant.Submit("b", pacer.Background, h.job("b", read))
				return h.run()
			},
			want: []string{"b"},
		},
		"reads that came later go first": {
			limits: small,
			play: func(h *harness) []string {
				h.fill(100, 0)
				h.tenant.Submit("b", pacer.Background, h.job("b", read))
				h.submit(pacer.Read, "r1", "r2")
				h.submit(pacer.Write, "w")
				h.clock.Step(window)
				return h.run()
			},
			want: []string{"w", "r1", "r2", "b"},
		},
		// Requests 20, Writes 2: the writes' share is 3·2 = 6, so background jobs stop at 14 calls
		// in the window while a read still goes up to 20.
		"it leaves the writes' share free even when no write waits": {
			limits: pacer.Limits{Requests: 20, Writes: 2, Per: time.Second},
			play: func(h *harness) []string {
				h.fill(14, 0)
				h.tenant.Submit("b", pacer.Background, h.job("b", read))
				ran := h.run()
				h.submit(pacer.Read, "r")
				ran = append(ran, h.run()...)
				h.clock.Step(window)
				return append(ran, h.run()...)
			},
			want: []string{"r", "b"},
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

func TestBackgroundKindName(t *testing.T) {
	if got := pacer.Background.String(); got != "background" {
		t.Errorf("Background.String() = %q, want background (the metrics' class label)", got)
	}
}
