package controllers

import (
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

func TestJitteredBackoffGrowsAndForgets(t *testing.T) {
	b := newJitteredBackoff(time.Second, time.Minute)
	item := reconcile.Request{}
	for n, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second} {
		got := b.When(item)
		if got < want/2 || got > want {
			t.Errorf("failure %d: wait %v, want within [%v, %v]", n+1, got, want/2, want)
		}
	}
	for range 20 {
		if got := b.When(item); got > time.Minute {
			t.Fatalf("wait %v is past the maximum", got)
		}
	}
	b.Forget(item)
	if b.NumRequeues(item) != 0 || b.When(item) > time.Second {
		t.Error("Forget did not reset the backoff")
	}
}
