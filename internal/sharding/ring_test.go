package sharding_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/overview-operator/overview-operator/internal/sharding"
)

const (
	leaseDuration = 15 * time.Second
	renewDeadline = 10 * time.Second
	retryPeriod   = 2 * time.Second
)

// cluster is an API server (a fake client) and a clock that the replicas of a test share.
type cluster struct {
	t     *testing.T
	clock *clocktesting.FakeClock
	api   client.WithWatch
	keys  []string
	// counted is the replicas' Options.Counted.
	counted time.Duration
	// down makes every write of the named replicas fail, as an API server it cannot reach.
	mu   sync.Mutex
	down map[string]bool
}

func newCluster(t *testing.T, keys []string) *cluster {
	s := runtime.NewScheme()
	if err := coordinationv1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, clock: clocktesting.NewFakeClock(time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)), keys: keys, down: map[string]bool{}}
	c.api = fake.NewClientBuilder().WithScheme(s).Build()
	return c
}

// replica is one process of the ring, with the calls it has in flight for each key.
type replica struct {
	id      string
	ring    *sharding.Ring
	mu      sync.Mutex
	inCalls map[string]int
}

func (c *cluster) replica(id string) *replica { return c.replicaIn("overview-operator", id) }

// replicaIn is a replica of ring.
func (c *cluster) replicaIn(ring, id string) *replica {
	rep := &replica{id: id, inCalls: map[string]int{}}
	writer := interceptor.NewClient(c.api, interceptor.Funcs{
		Create: func(ctx context.Context, cl client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			if c.isDown(id) {
				return errors.New("the API server is unreachable")
			}
			return cl.Create(ctx, obj, opts...)
		},
		Update: func(ctx context.Context, cl client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			if c.isDown(id) {
				return errors.New("the API server is unreachable")
			}
			return cl.Update(ctx, obj, opts...)
		},
	})
	r, err := sharding.New(sharding.Options{
		Client: writer, Reader: writer, Namespace: "operator", Ring: ring, Identity: id,
		LeaseDuration: leaseDuration, RenewDeadline: renewDeadline, RetryPeriod: retryPeriod,
		Clock: c.clock, Counted: c.counted,
		Keys: func(context.Context) []string { return c.keys },
		Sending: func() map[string]bool {
			rep.mu.Lock()
			defer rep.mu.Unlock()
			out := map[string]bool{}
			for k, calls := range rep.inCalls {
				if calls > 0 && !rep.ring.Owns(k) {
					out[k] = true
				}
			}
			return out
		},
		Logger: logr.Discard(),
	})
	if err != nil {
		c.t.Fatal(err)
	}
	rep.ring = r
	return rep
}

func (c *cluster) isDown(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.down[id]
}

// twoWithACallOfA is two replicas a and b that split six keys, and a's keys, the first of which a
// has a call of in flight.
func twoWithACallOfA(t *testing.T) (c *cluster, a, b *replica, aKeys []string) {
	c = newCluster(t, tenantKeys(6))
	a, b = c.replica("a"), c.replica("b")
	c.settle("both", a, b)
	aKeys = slices.DeleteFunc(slices.Clone(c.keys), func(k string) bool { return !a.ring.Owns(k) })
	a.mu.Lock()
	a.inCalls[aKeys[0]] = 1
	a.mu.Unlock()
	return c, a, b, aKeys
}

// finishLeaving ends rep's calls and steps the clock a round at a time until rep's Start, leaving,
// returns (closes done).
func (c *cluster) finishLeaving(rep *replica, done <-chan struct{}) {
	rep.mu.Lock()
	clear(rep.inCalls)
	rep.mu.Unlock()
	for {
		select {
		case <-done:
			return
		default:
			if c.clock.HasWaiters() {
				c.clock.Step(retryPeriod)
			}
			time.Sleep(time.Millisecond)
		}
	}
}

// owners returns, for each key, the replicas that may send for it now.
func (c *cluster) owners(reps ...*replica) map[string][]string {
	out := map[string][]string{}
	for _, k := range c.keys {
		for _, r := range reps {
			if r.ring.Owns(k) {
				out[k] = append(out[k], r.id)
			}
		}
	}
	return out
}

// checkOneWriter fails the test if a key has two owners.
func (c *cluster) checkOneWriter(step string, reps ...*replica) {
	c.t.Helper()
	for k, o := range c.owners(reps...) {
		if len(o) > 1 {
			c.t.Fatalf("%s: key %s is owned by %v at once", step, k, o)
		}
	}
}

// owned counts each replica's keys.
func (c *cluster) owned(reps ...*replica) map[string]int {
	out := map[string]int{}
	for _, o := range c.owners(reps...) {
		out[o[0]]++
	}
	return out
}

// round ticks each replica once, in order, checking after each tick, then moves the clock on.
func (c *cluster) round(step string, reps ...*replica) {
	c.t.Helper()
	for _, r := range reps {
		r.ring.Tick(context.Background())
		c.checkOneWriter(step+": after "+r.id+"'s tick", reps...)
	}
	c.clock.Step(retryPeriod)
	c.checkOneWriter(step+": a retry period later", reps...)
}

// settle runs rounds until every key has an owner and each replica owns its share (the keys over
// the replicas, or one more), and fails the test if six rounds do not get there: the first rounds
// of replicas that start together may each assign what the others have yet to claim.
func (c *cluster) settle(step string, reps ...*replica) {
	c.t.Helper()
	for range 6 {
		c.round(step, reps...)
		owned, all := c.owned(reps...), 0
		balanced := true
		for _, r := range reps {
			n := owned[r.id]
			all += n
			balanced = balanced && n >= len(c.keys)/len(reps) && n <= (len(c.keys)+len(reps)-1)/len(reps)
		}
		if balanced && all == len(c.keys) {
			return
		}
	}
	c.t.Fatalf("%s: not settled after six rounds: owned %v", step, c.owned(reps...))
}

func tenantKeys(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("key-%02d", i)
	}
	return out
}

func TestOneReplicaOwnsEveryKeyOnceItsClaimIsWritten(t *testing.T) {
	c := newCluster(t, tenantKeys(5))
	a := c.replica("a")
	a.ring.Tick(context.Background())
	if n := a.ring.Owned(); n != 0 {
		t.Fatalf("after the first round, which wrote no claim: %d keys owned, want 0", n)
	}
	a.ring.Tick(context.Background())
	if n := a.ring.Owned(); n != 5 {
		t.Fatalf("after the round that wrote its claim: %d keys owned, want 5", n)
	}
	var l coordinationv1.Lease
	if err := c.api.Get(context.Background(), client.ObjectKey{Namespace: "operator", Name: "overview-operator-a"}, &l); err != nil {
		t.Fatal(err)
	}
	if got := l.Labels[sharding.RingLabel]; got != "overview-operator" {
		t.Errorf("the Lease's ring label is %q", got)
	}
	if got := l.Annotations[sharding.ClaimsAnnotation]; got != "key-00 key-01 key-02 key-03 key-04" {
		t.Errorf("the Lease claims %q", got)
	}
	if !a.ring.Leads("ns/resource") {
		t.Error("the only replica does not speak for a resource without a key")
	}
}

func TestThreeReplicasSplitTheKeys(t *testing.T) {
	c := newCluster(t, tenantKeys(12))
	reps := []*replica{c.replica("a"), c.replica("b"), c.replica("c")}
	for i := range 4 {
		c.round(fmt.Sprintf("round %d", i), reps...)
	}
	got := c.owned(reps...)
	for _, r := range reps {
		if got[r.id] != 4 {
			t.Errorf("owned %v, want 4 each", got)
			break
		}
	}
	leads := 0
	for _, r := range reps {
		if r.ring.Leads("ns/resource") {
			leads++
		}
	}
	if leads != 1 {
		t.Errorf("%d replicas speak for a resource without a key, want 1", leads)
	}
}

// TestAKeyMovesOnlyOnceItsOwnerStoppedSending: b joins while a has a call in flight for a key
// that goes to b; b owns it only after a's call ended and a took it out of its claim.
func TestAKeyMovesOnlyOnceItsOwnerStoppedSending(t *testing.T) {
	c := newCluster(t, tenantKeys(12))
	a := c.replica("a")
	c.round("a alone", a)
	c.round("a alone", a)
	if a.ring.Owned() != 12 {
		t.Fatalf("a owns %d keys, want 12", a.ring.Owned())
	}
	for _, k := range c.keys {
		a.inCalls[k] = 1 // a call in flight for every key
	}
	b := c.replica("b")
	for i := range 5 {
		c.round(fmt.Sprintf("b joined, a's calls in flight, round %d", i), a, b)
	}
	if got := c.owned(a, b); got["b"] != 0 || got["a"] != 6 {
		t.Fatalf("with a's calls in flight: owned %v, want a 6 and b none", got)
	}
	a.mu.Lock()
	clear(a.inCalls)
	a.mu.Unlock()
	for i := range 3 {
		c.round(fmt.Sprintf("a's calls ended, round %d", i), a, b)
	}
	if got := c.owned(a, b); got["a"] != 6 || got["b"] != 6 {
		t.Errorf("once a's calls ended: owned %v, want 6 each", got)
	}
}

// TestAKilledReplicasKeysMoveAfterTheLeaseDuration: a stops (SIGKILL): b takes its keys once a's
// Lease has not changed for the lease duration (or the API's window, if longer), not before; a
// itself stopped owning them at the renew deadline.
func TestAKilledReplicasKeysMoveAfterTheLeaseDuration(t *testing.T) {
	for _, counted := range []time.Duration{0, 10 * time.Second, 25 * time.Second} {
		t.Run(fmt.Sprintf("calls counted for %v", counted), func(t *testing.T) { killedReplica(t, counted) })
	}
}

// killedReplica is TestAKilledReplicasKeysMoveAfterTheLeaseDuration with the API counting calls
// for counted: when that is longer than the lease duration, a's keys wait for it.
func killedReplica(t *testing.T, counted time.Duration) {
	c := newCluster(t, tenantKeys(12))
	c.counted = counted
	a, b := c.replica("a"), c.replica("b")
	c.settle("both", a, b)
	killedAt := c.clock.Now().Add(-retryPeriod) // a's last renewal was in the last round
	var tookOver time.Duration
	for i := range 20 {
		c.round(fmt.Sprintf("a killed, round %d", i), b) // a ticks no more
		c.checkOneWriter("a killed", a, b)
		if c.owned(a, b)["b"] == 12 {
			tookOver = c.clock.Since(killedAt)
			break
		}
	}
	if tookOver == 0 {
		t.Fatal("b never took a's keys over")
	}
	// Up to a round to see the Lease expire, one to write the claim (Start writes it at once; these
	// rounds take a retry period each) and the step that ends the round.
	if hold := max(leaseDuration, counted); tookOver < hold || tookOver > hold+3*retryPeriod {
		t.Errorf("b took a's keys over %v after a's last renewal, want %v plus up to three rounds", tookOver, hold)
	}
}

// TestAReplicaThatCannotRenewStopsAtTheRenewDeadline: the API server is away for a only; it
// stops sending at the renew deadline, before b may take its keys at the lease duration.
func TestAReplicaThatCannotRenewStopsAtTheRenewDeadline(t *testing.T) {
	c := newCluster(t, tenantKeys(8))
	a, b := c.replica("a"), c.replica("b")
	c.settle("both", a, b)
	if c.owned(a, b)["a"] != 4 {
		t.Fatalf("owned %v, want 4 each", c.owned(a, b))
	}
	c.mu.Lock()
	c.down["a"] = true
	c.mu.Unlock()
	lastRenewal := c.clock.Now().Add(-retryPeriod)
	for i := range 12 {
		c.round(fmt.Sprintf("a cut off, round %d", i), a, b)
		since := c.clock.Since(lastRenewal)
		switch n := c.owned(a, b)["a"]; {
		case since < renewDeadline && n != 4:
			t.Fatalf("%v after a's last renewal: a owns %d keys, want 4 until the renew deadline", since, n)
		case since >= renewDeadline && n != 0:
			t.Fatalf("%v after a's last renewal: a owns %d keys, want none past the renew deadline", since, n)
		}
	}
	if got := c.owned(a, b); got["b"] != 8 {
		t.Errorf("owned %v once a's Lease expired, want all 8 with b", got)
	}
	c.mu.Lock()
	c.down["a"] = false
	c.mu.Unlock()
	for range 4 {
		c.round("a back", a, b)
	}
	if got := c.owned(a, b); got["a"] != 4 || got["b"] != 4 {
		t.Errorf("owned %v once a was back, want 4 each", got)
	}
}

// TestALeavingReplicasKeysMoveAtOnce: a's Start ends (SIGTERM): it deletes its Lease, and b takes
// its keys at its next rounds, without waiting for the lease duration.
func TestALeavingReplicasKeysMoveAtOnce(t *testing.T) {
	c := newCluster(t, tenantKeys(6))
	a, b := c.replica("a"), c.replica("b")
	c.settle("both", a, b)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = a.ring.Start(ctx); close(done) }()
	cancel()
	<-done
	if n := a.ring.Owned(); n != 0 {
		t.Fatalf("a owns %d keys after it left", n)
	}
	for range 2 {
		c.round("a left", b)
	}
	if got := c.owned(a, b); got["b"] != 6 {
		t.Errorf("owned %v two rounds after a left, want all 6 with b", got)
	}
}

// TestNoKeyHasTwoOwners drives three replicas through random joins, leaves, kills, outages and
// calls in flight, checking after every step that no key has two owners, and at the end that the
// ring settles with every key owned.
func TestNoKeyHasTwoOwners(t *testing.T) {
	for seed := range uint64(20) {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			rnd := rand.New(rand.NewPCG(seed, 7))
			c := newCluster(t, tenantKeys(10))
			all := []*replica{c.replica("a"), c.replica("b"), c.replica("c")}
			alive := map[string]bool{"a": true, "b": true, "c": true}
			for step := range 200 {
				r := all[rnd.IntN(len(all))]
				switch x := rnd.IntN(100); {
				case x < 70:
					if alive[r.id] {
						r.ring.Tick(context.Background())
					}
				case x < 80:
					c.clock.Step(time.Duration(rnd.IntN(3000)) * time.Millisecond)
				case x < 85:
					c.mu.Lock()
					c.down[r.id] = !c.down[r.id]
					c.mu.Unlock()
				case x < 92:
					r.mu.Lock()
					k := c.keys[rnd.IntN(len(c.keys))]
					if r.ring.Owns(k) && r.inCalls[k] == 0 {
						r.inCalls[k] = 1
					} else {
						r.inCalls[k] = 0
					}
					r.mu.Unlock()
				case x < 96:
					if alive[r.id] { // killed: a new process of the same pod comes back later
						alive[r.id] = false
						continue
					}
					fresh := c.replica(r.id)
					for i := range all {
						if all[i].id == r.id {
							all[i] = fresh
						}
					}
					alive[r.id] = true
				default:
					c.keys = tenantKeys(8 + rnd.IntN(5))
				}
				var live []*replica
				for _, r := range all {
					if alive[r.id] {
						live = append(live, r)
					}
				}
				c.checkOneWriter(fmt.Sprintf("step %d", step), live...)
			}
			c.mu.Lock()
			clear(c.down)
			c.mu.Unlock()
			var live []*replica
			for _, r := range all {
				r.mu.Lock()
				clear(r.inCalls)
				r.mu.Unlock()
				if alive[r.id] {
					live = append(live, r)
				}
			}
			if len(live) == 0 {
				return
			}
			for range 12 {
				c.round("settling", live...)
			}
			if got := len(c.owners(live...)); got != len(c.keys) {
				t.Errorf("after settling, %d of %d keys are owned: %v", got, len(c.keys), c.owned(live...))
			}
			loads := slices.Collect(func(yield func(int) bool) {
				for _, n := range c.owned(live...) {
					if !yield(n) {
						return
					}
				}
			})
			if len(loads) > 0 && slices.Max(loads)-slices.Min(loads) > 1 {
				t.Errorf("after settling, the loads are %v", c.owned(live...))
			}
		})
	}
}

// TestAnotherRingThatClaimsTheSameKeysIsNoticed: two deployments (rings) that share tenants each
// own them in their own ring, and each replica says how many of its keys the other claims, until
// the other's Lease expires.
func TestAnotherRingThatClaimsTheSameKeysIsNoticed(t *testing.T) {
	c := newCluster(t, tenantKeys(4))
	x, y := c.replicaIn("deployment-x", "x-1"), c.replicaIn("deployment-y", "y-1")
	for range 3 {
		for _, r := range []*replica{x, y} {
			r.ring.Tick(context.Background())
		}
		c.clock.Step(retryPeriod)
	}
	if x.ring.Owned() != 4 || y.ring.Owned() != 4 {
		t.Fatalf("each ring's replica owns its keys: %d and %d, want 4 and 4", x.ring.Owned(), y.ring.Owned())
	}
	if x.ring.Shared() != 4 || y.ring.Shared() != 4 {
		t.Errorf("shared keys %d and %d, want 4 and 4", x.ring.Shared(), y.ring.Shared())
	}
	// y's deployment is gone (its Lease no longer renewed): once the Lease expired, nothing is shared.
	for range int(leaseDuration/retryPeriod) + 1 {
		x.ring.Tick(context.Background())
		c.clock.Step(retryPeriod)
	}
	x.ring.Tick(context.Background())
	if x.ring.Shared() != 0 {
		t.Errorf("%d keys shared with a ring whose Lease expired, want 0", x.ring.Shared())
	}
}

// TestAStoppedMemberIsGivenNoMoreKeys: a is killed; once it has missed a few rounds, the others
// give it nothing more, so that c's keys go to b at once when c leaves, while a's wait for its
// Lease to expire; and a's Lease, expired, is deleted in the end.
func TestAStoppedMemberIsGivenNoMoreKeys(t *testing.T) {
	c := newCluster(t, tenantKeys(12))
	a, b, cc := c.replica("a"), c.replica("b"), c.replica("c")
	c.settle("all three", a, b, cc)
	if got := c.owned(a, b, cc); got["a"] != 4 || got["b"] != 4 || got["c"] != 4 {
		t.Fatalf("owned %v, want 4 each", got)
	}
	aKeys := slices.DeleteFunc(slices.Clone(c.keys), func(k string) bool { return !a.ring.Owns(k) })
	for range 4 { // a is killed: it ticks no more
		c.round("a killed", b, cc)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = cc.ring.Start(ctx); close(done) }()
	cancel()
	<-done
	for range 2 {
		c.round("c left", b)
	}
	got := c.owners(b)
	for _, k := range c.keys {
		switch want := !slices.Contains(aKeys, k); {
		case want && len(got[k]) == 0:
			t.Errorf("key %s, not a's, waits with a killed and c gone: owners %v", k, got)
		case !want && len(got[k]) > 0:
			t.Errorf("key %s of a was taken before a's Lease expired", k)
		}
	}
	for range int(2*leaseDuration/retryPeriod) + 1 {
		c.round("a's Lease expires", b)
	}
	if n := b.ring.Owned(); n != 12 {
		t.Errorf("b owns %d keys once a's Lease expired, want 12", n)
	}
	var leases coordinationv1.LeaseList
	if err := c.api.List(context.Background(), &leases); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range leases.Items {
		names = append(names, l.Name)
	}
	if !slices.Equal(names, []string{"overview-operator-b"}) {
		t.Errorf("the Leases left are %v, want only b's: a's expired one is deleted", names)
	}
}

// TestALeavingReplicaWithCallsStillCountedKeepsItsClaim: a is stopped (SIGTERM) while a call of
// one of its keys is still in flight or counted by the API: it keeps its Lease, renewed, with that
// key's claim, so that b does not take that key until it is clear; the keys a has no call of it
// drops at once, and b takes them without waiting. Then a deletes the Lease and b takes the last.
func TestALeavingReplicaWithCallsStillCountedKeepsItsClaim(t *testing.T) {
	c, a, b, aKeys := twoWithACallOfA(t)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = a.ring.Start(ctx); close(done) }()
	for !c.clock.HasWaiters() { // Start's first round, then its wait
		time.Sleep(time.Millisecond)
	}
	cancel()
	for range int(2*leaseDuration/retryPeriod) + 2 { // longer than the lease duration
		for !c.clock.HasWaiters() { // leave waits a round between renewals
			select {
			case <-done:
				t.Fatalf("a left the ring with a call of %s still counted", aKeys[0])
			case <-time.After(time.Millisecond):
			}
		}
		c.clock.Step(retryPeriod)
		b.ring.Tick(context.Background())
		if b.ring.Owns(aKeys[0]) {
			t.Fatalf("b owns %s while a, leaving, still has a call of it counted", aKeys[0])
		}
	}
	for _, k := range aKeys[1:] {
		if !b.ring.Owns(k) {
			t.Errorf("b does not own %s, of which a, leaving, had no call, a lease duration after a's SIGTERM", k)
		}
	}
	c.finishLeaving(a, done)
	for range 2 {
		c.round("a left", b)
	}
	if n := b.ring.Owned(); n != 6 {
		t.Errorf("b owns %d keys once a left, want 6", n)
	}
}

// TestALeavingReplicaWhoseLeaseChangedDeletesIt: a renewal cut short by the shutdown may still have
// been written, so the leaving replica's next write of its Lease meets a conflict. It reads the
// Lease again, keeps claiming what it still sends for, and deletes the Lease once clear, so that
// its keys move at once rather than a lease duration later.
func TestALeavingReplicaWhoseLeaseChangedDeletesIt(t *testing.T) {
	c, a, b, aKeys := twoWithACallOfA(t)
	leases := func() []coordinationv1.Lease {
		var list coordinationv1.LeaseList
		if err := c.api.List(context.Background(), &list, client.InNamespace("operator")); err != nil {
			t.Fatal(err)
		}
		return list.Items
	}
	// The write a's shutdown cut short, which the API server took all the same.
	for _, l := range leases() {
		if *l.Spec.HolderIdentity == "a" {
			l.Spec.RenewTime = &metav1.MicroTime{Time: c.clock.Now()}
			if err := c.api.Update(context.Background(), &l); err != nil {
				t.Fatal(err)
			}
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	done := make(chan struct{})
	go func() { _ = a.ring.Start(ctx); close(done) }()
	for range 3 { // leave renews at once (a conflict), then each round
		for !c.clock.HasWaiters() {
			time.Sleep(time.Millisecond)
		}
		c.clock.Step(retryPeriod)
	}
	for _, l := range leases() {
		if *l.Spec.HolderIdentity == "a" && l.Annotations[sharding.ClaimsAnnotation] != aKeys[0] {
			t.Errorf("a's Lease, while a leaves with a call of %s, claims %q", aKeys[0], l.Annotations[sharding.ClaimsAnnotation])
		}
	}
	c.finishLeaving(a, done)
	for _, l := range leases() {
		if *l.Spec.HolderIdentity == "a" {
			t.Fatalf("a left the ring and its Lease is still there: %v", l.Annotations)
		}
	}
	for range 2 {
		c.round("a left", b)
	}
	if n := b.ring.Owned(); n != 6 {
		t.Errorf("b owns %d keys two rounds after a left, want 6", n)
	}
}

// TestAKilledReplicasKeyMovesAloneWithTwoKeys replays the e2e spec's ring: three replicas, two
// tenants, so that one replica holds none. The holder of one tenant is killed: its tenant goes to
// the replica that held none once its Lease expired, and the other tenant stays with its holder
// all along, in every round, whichever order the two keys hash in (with the bound alone, the
// other tenant could move to the replica that held none, and its next hand-over come back).
func TestAKilledReplicasKeyMovesAloneWithTwoKeys(t *testing.T) {
	for i := range 12 {
		c := newCluster(t, []string{fmt.Sprintf("north-%d", i), fmt.Sprintf("south-%d", i)})
		reps := []*replica{c.replica("a"), c.replica("b"), c.replica("c")}
		c.settle("all three", reps...)
		owner := map[string]*replica{}
		for _, k := range c.keys {
			for _, r := range reps {
				if r.ring.Owns(k) {
					owner[k] = r
				}
			}
		}
		killed, kept := owner[c.keys[0]], c.keys[1]
		if i%2 == 1 {
			killed, kept = owner[c.keys[1]], c.keys[0]
		}
		var live []*replica
		for _, r := range reps {
			if r != killed {
				live = append(live, r)
			}
		}
		for round := range int(2*leaseDuration/retryPeriod) + 4 {
			c.round("killed", live...)
			if !owner[kept].ring.Owns(kept) {
				t.Fatalf("keys %v: round %d after %s was killed, %s no longer owns %s (owners %v)", c.keys, round, killed.id, owner[kept].id, kept, c.owners(live...))
			}
		}
		if got := c.owned(live...); got[owner[kept].id] != 1 || len(got) != 2 {
			t.Errorf("keys %v: owned %v once %s's Lease expired, want one key each", c.keys, got, killed.id)
		}
	}
}
