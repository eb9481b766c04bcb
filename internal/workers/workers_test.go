package workers_test

import (
	"sync"
	"testing"
	"time"

	"github.com/overview-operator/overview-operator/internal/workers"
)

// waitFor polls cond until it holds, or fails the test after a while.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

func TestAnIdleWorkerRunsTheNextFunction(t *testing.T) {
	p := workers.New(time.Hour)
	for i := range 100 {
		done := make(chan struct{})
		p.Go(func() { close(done) })
		<-done
		waitFor(t, "the worker is idle", func() bool { return p.Idle() == 1 })
		if got := p.Started(); got != 1 {
			t.Fatalf("after function %d: %d workers started, want 1", i+1, got)
		}
	}
}

func TestBusyWorkersAreNotWaitedFor(t *testing.T) {
	p := workers.New(time.Hour)
	release := make(chan struct{})
	var running sync.WaitGroup
	running.Add(3)
	for range 3 {
		p.Go(func() { running.Done(); <-release })
	}
	running.Wait() // three at once: none waited for another
	if got := p.Started(); got != 3 {
		t.Errorf("%d workers started for three functions at once, want 3", got)
	}
	close(release)
	waitFor(t, "the three workers are idle", func() bool { return p.Idle() == 3 })
}

func TestAWorkerEndsAfterItsLinger(t *testing.T) {
	p := workers.New(time.Millisecond)
	done := make(chan struct{})
	p.Go(func() { close(done) })
	<-done
	waitFor(t, "the worker is idle", func() bool { return p.Idle() == 1 })
	waitFor(t, "the worker ended", func() bool { return p.Idle() == 0 })
	done = make(chan struct{})
	p.Go(func() { close(done) })
	<-done
	if got := p.Started(); got != 2 {
		t.Errorf("%d workers started, want 2: the first ended after its linger", got)
	}
}
