package controllers

import (
	"context"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/graph"
	"github.com/overview-operator/overview-operator/internal/sharding"
)

// ShardingOptions share the work by tenant with the other replicas of a ring (Options.Sharding):
// each tenant, in a cloud, is owned by one live replica at a time, which alone calls Graph for it
// (with every app: Graph limits each app in a tenant and the tenant across its apps, so that every
// pacer key of a tenant is one process's), reconciles the resources of its connections and writes
// their status and the connections'. A resource whose connection gives no key (missing, or naming no valid
// tenant) is reported by one replica, picked by the resource's name. See internal/sharding.
type ShardingOptions struct {
	// Namespace holds the replicas' Leases; Ring is their ring's name; Identity this replica's (its
	// pod's name).
	Namespace, Ring, Identity string
	// LeaseDuration, RenewDeadline and RetryPeriod time the Leases, as leader election's do.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
}

// shards says which keys and resources this replica works for: all of them without a ring.
type shards struct {
	ring *sharding.Ring // nil: not sharded

	mu        sync.Mutex
	listeners []func(context.Context)
	ctx       context.Context
	running   bool
	again     bool
}

// sharded reports whether there is a ring (a nil shards has none).
func (s *shards) sharded() bool { return s != nil && s.ring != nil }

// owns reports whether the replica may call Graph for key now.
func (s *shards) owns(key graph.PacerKey) bool { return !s.sharded() || s.ring.Owns(key.ShardID()) }

// leads reports whether the replica speaks for name, which no key covers.
func (s *shards) leads(name string) bool { return !s.sharded() || s.ring.Leads(name) }

// onChange registers what brings every object of a kind back to the queue when what the replica
// owns has changed.
func (s *shards) onChange(f func(context.Context)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listeners = append(s.listeners, f)
}

// changed runs every listener on a goroutine of its own, one round at a time: a change during a
// round runs one more round after it.
func (s *shards) changed() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx == nil {
		return // not started: the first passes come from the informers
	}
	if s.running {
		s.again = true
		return
	}
	s.running = true
	go func() {
		for {
			s.mu.Lock()
			listeners, ctx := s.listeners, s.ctx
			s.again = false
			s.mu.Unlock()
			for _, f := range listeners {
				f(ctx)
			}
			s.mu.Lock()
			if !s.again || ctx.Err() != nil {
				s.running = false
				s.mu.Unlock()
				return
			}
			s.mu.Unlock()
		}
	}()
}

// start lets changed run its listeners within ctx, and runs them once.
func (s *shards) start(ctx context.Context) {
	s.mu.Lock()
	s.ctx = ctx
	s.mu.Unlock()
	s.changed()
}

// newShards builds the ring of o with mgr, on the manager's cache for the connections it knows
// and the API server itself for the Leases, or no ring when o is nil.
// counted is Graph's throttling window: a killed replica's tenants wait that long too.
func newShards(mgr ctrl.Manager, o *ShardingOptions, pacers *graph.Pacers, counted time.Duration) (*shards, error) {
	s := &shards{}
	if o == nil {
		return s, nil
	}
	cache := mgr.GetClient()
	ring, err := sharding.New(sharding.Options{
		Client: mgr.GetClient(), Reader: mgr.GetAPIReader(),
		Namespace: o.Namespace, Ring: o.Ring, Identity: o.Identity,
		LeaseDuration: o.LeaseDuration, RenewDeadline: o.RenewDeadline, RetryPeriod: o.RetryPeriod,
		Counted: counted,
		Keys:    func(ctx context.Context) []string { return connectionKeys(ctx, cache) },
		Sending: func() map[string]bool { return pacers.SendingShards(s.owns) },
		Changed: func() { s.changed() },
		Logger:  mgr.GetLogger().WithName("sharding"),
	})
	if err != nil {
		return nil, err
	}
	s.ring = ring
	shardRing.Store(ring)
	return s, nil
}

// connectionKeys are the shards (tenants in their clouds, graph.PacerKey.ShardID) of every
// connection in the cache that names a valid one.
func connectionKeys(ctx context.Context, c client.Reader) []string {
	var keys []string
	var gcs intunev1alpha1.GraphConnectionList
	if err := c.List(ctx, &gcs, client.UnsafeDisableDeepCopy); err == nil {
		for i := range gcs.Items {
			if k, err := keyOfConnection(&gcs.Items[i]); err == nil {
				keys = append(keys, k.ShardID())
			}
		}
	}
	var ccs intunev1alpha1.ClusterGraphConnectionList
	if err := c.List(ctx, &ccs, client.UnsafeDisableDeepCopy); err == nil {
		for i := range ccs.Items {
			if k, err := keyOfConnection(&ccs.Items[i]); err == nil {
				keys = append(keys, k.ShardID())
			}
		}
	}
	return keys
}

// keyOfConnection is the pacer key a connection's client draws on, without reading its Secret.
func keyOfConnection(conn intunev1alpha1.Connection) (graph.PacerKey, error) {
	spec := conn.Settings()
	return graph.KeyOf(graph.Config{Cloud: graph.Cloud(spec.Cloud), AuthorityHost: spec.AuthorityHost, TenantID: spec.TenantID, ClientID: spec.ClientID})
}

// resharded enqueues, at low priority, what the replica's share of the ring brings back.
type resharded struct {
	handler.TypedFuncs[reconcile.Request, reconcile.Request]
}

// Generic implements handler.TypedEventHandler.
func (resharded) Generic(_ context.Context, e event.TypedGenericEvent[reconcile.Request], q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	if pq, ok := q.(priorityqueue.PriorityQueue[reconcile.Request]); ok {
		pq.AddWithOpts(priorityqueue.AddOpts{Priority: ptr.To(handler.LowPriority)}, e.Object)
		return
	}
	q.Add(e.Object)
}

// requeueAll returns the listener that sends every object list holds to ch.
func requeueAll(list func(context.Context) ([]client.ObjectKey, error), ch chan<- event.TypedGenericEvent[reconcile.Request]) func(context.Context) {
	return func(ctx context.Context) {
		keys, err := list(ctx)
		if err != nil {
			return
		}
		for _, k := range keys {
			select {
			case ch <- event.TypedGenericEvent[reconcile.Request]{Object: reconcile.Request{NamespacedName: k}}:
			case <-ctx.Done():
				return
			}
		}
	}
}

// addRing runs the ring with the manager, and what follows its changes: every resource and
// connection comes back to the queue (a pass of one this replica no longer owns forgets it; one it
// has come to own is synced), and the PATCH logs of connections it no longer owns are dropped, to
// be read again from the connection's status if they come back.
func addRing(mgr ctrl.Manager, s *shards, logs *patchLogs, conns *connections) error {
	s.onChange(func(context.Context) { logs.dropUnowned(conns.ownsConnection) })
	if err := mgr.Add(s.ring); err != nil {
		return fmt.Errorf("add the sharding ring: %w", err)
	}
	// Runs once the caches have synced, as the reconcilers do.
	return mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		s.start(ctx)
		<-ctx.Done()
		return nil
	}))
}

// objectKeys returns what lists the keys of every object of a list's kind in c, a cache.
func objectKeys(c client.Reader, newList func() client.ObjectList) func(context.Context) ([]client.ObjectKey, error) {
	return func(ctx context.Context) ([]client.ObjectKey, error) {
		list := newList()
		if err := c.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
			return nil, err
		}
		var keys []client.ObjectKey
		err := meta.EachListItem(list, func(o runtime.Object) error {
			if obj, ok := o.(client.Object); ok {
				keys = append(keys, client.ObjectKeyFromObject(obj))
			}
			return nil
		})
		return keys, err
	}
}
