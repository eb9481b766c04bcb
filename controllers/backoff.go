package controllers

import (
	"math/rand/v2"
	"sync"
	"time"

	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// jitteredBackoff is an exponential per-item backoff with "equal jitter": each wait is half the
// exponential delay plus a random part of the other half, so that resources that failed together
// (a Graph outage) do not come back together.
type jitteredBackoff struct {
	base, max time.Duration

	mu       sync.Mutex
	failures map[reconcile.Request]int
}

var _ workqueue.TypedRateLimiter[reconcile.Request] = (*jitteredBackoff)(nil)

func newJitteredBackoff(base, longest time.Duration) *jitteredBackoff {
	return &jitteredBackoff{base: base, max: longest, failures: map[reconcile.Request]int{}}
}

// When returns how long the item waits after one more failure.
func (b *jitteredBackoff) When(item reconcile.Request) time.Duration {
	b.mu.Lock()
	n := b.failures[item]
	b.failures[item] = n + 1
	b.mu.Unlock()

	return jittered(b.base, b.max, n)
}

// jittered is the wait after failure number n+1 in a row: base·2ⁿ, at most longest, with equal
// jitter.
func jittered(base, longest time.Duration, n int) time.Duration {
	d := longest
	if n < 20 { // beyond, the shift would pass any sane longest (and overflow)
		d = min(base<<n, longest)
	}
	half := d / 2
	return half + time.Duration(rand.Int64N(int64(half)+1))
}

// Forget resets the item's failures after a pass that succeeded.
func (b *jitteredBackoff) Forget(item reconcile.Request) {
	b.mu.Lock()
	delete(b.failures, item)
	b.mu.Unlock()
}

// NumRequeues is how many failures in a row the item has had.
func (b *jitteredBackoff) NumRequeues(item reconcile.Request) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.failures[item]
}

// credentialsBackoff is the wait before refused credentials are tried again, after they have been
// failing for failing: at least first, about as long again as they have failed, at most an hour
// (credentialsRecheck), so that a secret Entra ID accepts a few minutes after it was written is
// taken up by itself, and one that stays wrong costs a token request an hour.
func credentialsBackoff(first, failing time.Duration) time.Duration {
	return failingBackoff(first, credentialsRecheck, failing)
}

// failingBackoff is the wait before something that has been failing for failing is tried again:
// at least first, about as long again as it has failed, at most longest, with equal jitter. It
// needs no count of the failures: how long they have lasted is in a condition's transition time.
func failingBackoff(first, longest, failing time.Duration) time.Duration {
	return jittered(min(max(first, failing), longest), longest, 0)
}

// kubeRetryMax is the longest wait of the queues' backoff. Only failures of the Kubernetes API
// reach it (a Graph failure is waited out with RequeueAfter, from the resource's record or the
// connection's condition): a status write that failed because the API server was away is tried
// again within seconds of its return, whatever RetryMaxDelay says of Graph, and does not count as
// a Graph failure.
const kubeRetryMax = 5 * time.Second
