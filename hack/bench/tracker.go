package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
)

// tracker follows every overview resource, of both kinds, through a watch per kind. It counts
// writes (each resourceVersion change is one event): a MODIFIED event that keeps the generation is
// a status write (the operator writes nothing else), one that changes it is a spec change (the
// benchmark's). It also notes when each resource was first seen Ready for its current generation.
type tracker struct {
	mu           sync.Mutex
	objs         map[ref]*tracked
	statusWrites int
	specWrites   int
	lastEvent    time.Time
	err          error // a watch failed for good
}

// ref names a resource of one kind: the two kinds may use the same name in a namespace.
type ref struct {
	kind kind
	types.NamespacedName
}

type tracked struct {
	uid          types.UID
	generation   int64
	readyGen     int64     // the generation that was last seen Ready
	readyAt      time.Time // when it was first seen Ready for readyGen
	statusWrites int
}

// counts is a snapshot of the tracker's write counters.
type counts struct {
	statusWrites, specWrites int
	objects                  int
}

// startTracker lists the resources of every kind and watches each kind from there until ctx ends.
func startTracker(ctx context.Context, c client.WithWatch) (*tracker, error) {
	t := &tracker{objs: map[ref]*tracked{}}
	for _, k := range kinds {
		list := k.newList()
		if err := c.List(ctx, list); err != nil {
			return nil, err
		}
		if err := meta.EachListItem(list, func(o runtime.Object) error {
			if ov, ok := o.(intunev1alpha1.Overview); ok {
				t.observe(k, watch.Added, ov, time.Now())
			}
			return nil
		}); err != nil {
			return nil, err
		}
		go t.watch(ctx, c, k, list.GetResourceVersion())
	}
	return t, nil
}

// watch follows the resources of kind k from rv, watching again when the API server ends a watch.
func (t *tracker) watch(ctx context.Context, c client.WithWatch, k kind, rv string) {
	for ctx.Err() == nil {
		w, err := c.Watch(ctx, k.newList(),
			&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: true}})
		if err != nil {
			if ctx.Err() == nil {
				time.Sleep(100 * time.Millisecond)
			}
			continue
		}
		for ev := range w.ResultChan() {
			now := time.Now()
			switch ev.Type {
			case watch.Error:
				t.mu.Lock()
				t.err = fmt.Errorf("the watch of %ss failed: %v", k, ev.Object)
				t.mu.Unlock()
				w.Stop()
				return
			case watch.Bookmark:
				if o, ok := ev.Object.(client.Object); ok {
					rv = o.GetResourceVersion()
				}
			default:
				o, ok := ev.Object.(intunev1alpha1.Overview)
				if !ok {
					continue
				}
				rv = o.GetResourceVersion()
				t.observe(k, ev.Type, o, now)
			}
		}
		w.Stop()
	}
}

func (t *tracker) observe(k kind, typ watch.EventType, o intunev1alpha1.Overview, now time.Time) {
	key := ref{kind: k, NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()}}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lastEvent = now
	s := t.objs[key]
	switch typ {
	case watch.Deleted:
		delete(t.objs, key)
		return
	case watch.Added:
		if s == nil {
			s = &tracked{uid: o.GetUID(), generation: o.GetGeneration()}
			t.objs[key] = s
		}
	case watch.Modified:
		if s == nil { // not seen yet: count it from here
			s = &tracked{uid: o.GetUID(), generation: o.GetGeneration()}
			t.objs[key] = s
		} else if o.GetGeneration() == s.generation {
			t.statusWrites++
			s.statusWrites++
		} else {
			t.specWrites++
		}
	}
	s.generation = o.GetGeneration()
	st := o.OverviewStatus()
	if st.ObservedGeneration == o.GetGeneration() &&
		meta.IsStatusConditionTrue(st.Conditions, intunev1alpha1.ConditionReady) && s.readyGen != o.GetGeneration() {
		s.readyGen, s.readyAt = o.GetGeneration(), now
	}
}

func (t *tracker) counts() counts {
	t.mu.Lock()
	defer t.mu.Unlock()
	return counts{statusWrites: t.statusWrites, specWrites: t.specWrites, objects: len(t.objs)}
}

// quietSince is when the last event arrived.
func (t *tracker) quietSince() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lastEvent
}

// readyAt returns when each resource was first seen Ready at a generation of at least minGen[i]
// (the zero time when it has not been), and how many are not Ready yet.
func (t *tracker) readyAt(keys []ref, minGen []int64) ([]time.Time, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]time.Time, len(keys))
	missing := 0
	for i, k := range keys {
		if s := t.objs[k]; s != nil && s.readyGen >= minGen[i] && s.readyGen == s.generation {
			out[i] = s.readyAt
		} else {
			missing++
		}
	}
	return out, missing
}

// uid is the UID of a resource ("" if unseen).
func (t *tracker) uid(k ref) types.UID {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s := t.objs[k]; s != nil {
		return s.uid
	}
	return ""
}

// errNotReady is what waitReady's error wraps when it times out: the sweep records how many were
// left instead of giving up the whole run.
var errNotReady = errors.New("not Ready")

// waitReady waits until every resource of keys is Ready at a generation of at least minGen[i], and
// returns when each became Ready. On timeout it returns the times it has, and an error.
func (t *tracker) waitReady(ctx context.Context, keys []ref, minGen []int64, timeout time.Duration) ([]time.Time, error) {
	deadline := time.Now().Add(timeout)
	for {
		at, missing := t.readyAt(keys, minGen)
		if missing == 0 {
			return at, nil
		}
		t.mu.Lock()
		err := t.err
		t.mu.Unlock()
		if err != nil {
			return at, err
		}
		if time.Now().After(deadline) {
			return at, fmt.Errorf("%d of %d resources are %w after %v", missing, len(keys), errNotReady, timeout)
		}
		select {
		case <-ctx.Done():
			return at, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// waitQuiet waits until no event has arrived for quiet, or for at most limit.
func (t *tracker) waitQuiet(ctx context.Context, quiet, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Since(t.quietSince()) < quiet && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}
