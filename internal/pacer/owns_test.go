package pacer_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/overview-operator/overview-operator/internal/pacer"
	"github.com/overview-operator/overview-operator/internal/pacer/pacertest"
)

// TestACallOfAKeyNotOwnedIsRefused: with Owns refusing a key, its calls fail with ErrNotOwner as
// they are sent, uncounted; Sending counts the calls of the keys it refuses that are in flight or
// within the window, so that a key is handed over only once the API counts none of them.
func TestACallOfAKeyNotOwnedIsRefused(t *testing.T) {
	var owned atomic.Bool
	owned.Store(true)
	clock := pacertest.NewClock(t0)
	starts := &pacertest.Starts{}
	reg := pacer.New(pacer.Options[string]{
		Clock: clock, Go: starts.Go,
		Owns: func(k string) bool { return k != "tenant" || owned.Load() },
	})
	tenant := reg.For("tenant")
	notMine := func(k string) bool { return k != "tenant" || owned.Load() }

	var call *pacer.Call
	var errs []error
	tenant.Submit("a", pacer.Read, pacer.Job{
		Run: func(ctx context.Context, tk *pacer.Ticket) error {
			c, err := tk.Send(ctx, false)
			call = c
			return err
		},
		Done: func(err error) { errs = append(errs, err) },
	})
	starts.RunAll() // the call is sent while the key is owned, and not answered yet
	if call == nil {
		t.Fatal("the owned key's call was refused")
	}
	owned.Store(false)
	if n := reg.Sending(notMine); n != 1 {
		t.Fatalf("Sending = %d with one call in flight for the key handed away, want 1", n)
	}
	tenant.Submit("b", pacer.Read, pacer.Job{
		Run: func(ctx context.Context, tk *pacer.Ticket) error {
			_, err := tk.Send(ctx, false)
			return err
		},
		Done: func(err error) { errs = append(errs, err) },
	})
	starts.RunAll()
	if _, err := tenant.Send(context.Background(), true); !errors.Is(err, pacer.ErrNotOwner) {
		t.Errorf("a tool's call for the key handed away: %v, want ErrNotOwner", err)
	}
	call.End(pacer.Succeeded)
	if n := reg.Sending(notMine); n != 1 {
		t.Errorf("Sending = %d once the call was answered, within its window, want 1", n)
	}
	clock.Step(pacer.DefaultLimits().Per + time.Second)
	if n := reg.Sending(notMine); n != 0 {
		t.Errorf("Sending = %d once the call left the window, want 0", n)
	}
	if len(errs) != 2 || errs[0] != nil || !errors.Is(errs[1], pacer.ErrNotOwner) {
		t.Errorf("the jobs ended with %v, want nil (sent while owned) and ErrNotOwner", errs)
	}
}
