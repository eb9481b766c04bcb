package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
)

// tracker follows every DeviceConfigurationUserOverview through a watch. It counts writes (each
// resourceVersion change is one event): a MODIFIED event that keeps the generation is a status
// write (the operator writes nothing else), one that changes it is a spec change (the benchmark's).
// It also notes when each resource was first seen Ready for its current generation.
type tracker struct {
	mu           sync.Mutex
	objs         map[types.NamespacedName]*tracked
	statusWrites int
	specWrites   int
	lastEvent    time.Time
	err          error // the watch failed for good
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

// startTracker lists the resources and watches them from there until ctx ends.
func startTracker(ctx context.Context, c client.WithWatch) (*tracker, error) {
	t := &tracker{objs: map[types.NamespacedName]*tracked{}}
	list := &intunev1alpha1.DeviceConfigurationUserOverviewList{}
	if err := c.List(ctx, list); err != nil {
		return nil, err
	}
	for i := range list.Items {
		t.observe(watch.Added, &list.Items[i], time.Now())
	}
	go t.watch(ctx, c, list.ResourceVersion)
	return t, nil
}

// watch follows the resources from rv, watching again when the API server ends a watch.
func (t *tracker) watch(ctx context.Context, c client.WithWatch, rv string) {
	for ctx.Err() == nil {
		w, err := c.Watch(ctx, &intunev1alpha1.DeviceConfigurationUserOverviewList{},
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
				t.err = fmt.Errorf("the watch of DeviceConfigurationUserOverviews failed: %v", ev.Object)
				t.mu.Unlock()
				w.Stop()
				return
			case watch.Bookmark:
				if o, ok := ev.Object.(client.Object); ok {
					rv = o.GetResourceVersion()
				}
			default:
				o, ok := ev.Object.(*intunev1alpha1.DeviceConfigurationUserOverview)
				if !ok {
					continue
				}
				rv = o.ResourceVersion
				t.observe(ev.Type, o, now)
			}
		}
		w.Stop()
	}
}

func (t *tracker) observe(typ watch.EventType, o *intunev1alpha1.DeviceConfigurationUserOverview, now time.Time) {
	key := client.ObjectKeyFromObject(o)
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
			s = &tracked{uid: o.UID, generation: o.Generation}
			t.objs[key] = s
		}
	case watch.Modified:
		if s == nil { // not seen yet: count it from here
			s = &tracked{uid: o.UID, generation: o.Generation}
			t.objs[key] = s
		} else if o.Generation == s.generation {
			t.statusWrites++
			s.statusWrites++
		} else {
			t.specWrites++
		}
	}
	s.generation = o.Generation
	if o.Status.ObservedGeneration == o.Generation &&
		meta.IsStatusConditionTrue(o.Status.Conditions, intunev1alpha1.ConditionReady) && s.readyGen != o.Generation {
		s.readyGen, s.readyAt = o.Generation, now
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
func (t *tracker) readyAt(keys []types.NamespacedName, minGen []int64) ([]time.Time, int) {
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
func (t *tracker) uid(k types.NamespacedName) types.UID {
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
func (t *tracker) waitReady(ctx context.Context, keys []types.NamespacedName, minGen []int64, timeout time.Duration) ([]time.Time, error) {
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
