package eventrecorder

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	clocktesting "k8s.io/utils/clock/testing"
)

// write is one call to the sink: a create, or a patch of a series with its count.
type write struct {
	op     string // "create" or "patch"
	reason string
	count  int32 // the series' count; 0 for a single Event
}

type fakeSink struct {
	mu     sync.Mutex
	writes []write
}

func (s *fakeSink) Create(_ context.Context, e *eventsv1.Event) (*eventsv1.Event, error) {
	return s.add("create", e, nil)
}

func (s *fakeSink) Update(_ context.Context, e *eventsv1.Event) (*eventsv1.Event, error) {
	return s.add("update", e, nil)
}

func (s *fakeSink) Patch(_ context.Context, e *eventsv1.Event, patch []byte) (*eventsv1.Event, error) {
	return s.add("patch", e, patch)
}

func (s *fakeSink) add(op string, e *eventsv1.Event, patch []byte) (*eventsv1.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := write{op: op, reason: e.Reason}
	if patch != nil {
		var p struct {
			Series eventsv1.EventSeries `json:"series"`
		}
		if err := json.Unmarshal(patch, &p); err != nil {
			return nil, err
		}
		w.count = p.Series.Count
	} else if e.Series != nil {
		w.count = e.Series.Count
	}
	s.writes = append(s.writes, w)
	return e, nil
}

func (s *fakeSink) take() []write {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.writes
	s.writes = nil
	return w
}

// newTest is a recorder that writes in line, on a fake clock.
func newTest(size int) (*Recorder, *fakeSink, *clocktesting.FakeClock) {
	sink := &fakeSink{}
	clk := clocktesting.NewFakeClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	r := New(sink, clientgoscheme.Scheme, "overview-operator", Options{Size: size, Clock: clk})
	r.write = r.attempt
	return r, sink, clk
}

func object(name, version string) runtime.Object {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team-a", ResourceVersion: version, UID: types.UID("uid-" + name)}}
}

func expect(t *testing.T, sink *fakeSink, want ...write) {
	t.Helper()
	got := sink.take()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("writes: got %v, want %v", got, want)
	}
}

// TestRepeatedEventIsCounted: an Event repeated for the same object version is created once, its
// first repeat starts a series, later repeats only count until the series ends, when its last
// count is written and it is forgotten.
func TestRepeatedEventIsCounted(t *testing.T) {
	r, sink, clk := newTest(DefaultSize)
	obj := object("wifi", "1")
	r.Eventf(obj, nil, corev1.EventTypeWarning, "GraphUnavailable", "Sync", "Graph answered %d", 503)
	expect(t, sink, write{"create", "GraphUnavailable", 0})
	r.Eventf(obj, nil, corev1.EventTypeWarning, "GraphUnavailable", "Sync", "Graph answered %d", 503)
	expect(t, sink, write{"patch", "GraphUnavailable", 2})
	for range 3 {
		r.Eventf(obj, nil, corev1.EventTypeWarning, "GraphUnavailable", "Sync", "Graph answered %d", 503)
	}
	expect(t, sink) // counted, not written

	// Another reason, or another version of the object, is another Event.
	r.Eventf(obj, nil, corev1.EventTypeNormal, "Patched", "Patch", "Set x in Graph")
	r.Eventf(object("wifi", "2"), nil, corev1.EventTypeWarning, "GraphUnavailable", "Sync", "Graph answered %d", 503)
	expect(t, sink, write{"create", "Patched", 0}, write{"create", "GraphUnavailable", 0})

	clk.Step(finishTime + time.Second)
	r.finish()
	expect(t, sink, write{"patch", "GraphUnavailable", 5}) // the series' last count
	if n := r.Len(); n != 0 {
		t.Errorf("after the series ended, %d Events are remembered, want 0", n)
	}
}

// TestRememberedEventsAreBounded: the recorder never remembers more than its size; the least
// recently seen Event goes first, and a series that goes has its last count written.
func TestRememberedEventsAreBounded(t *testing.T) {
	r, sink, _ := newTest(3)
	for i := range 10 {
		r.Eventf(object(fmt.Sprintf("ov-%d", i), "1"), nil, corev1.EventTypeNormal, "Patched", "Patch", "Set x in Graph")
		if n := r.Len(); n > 3 {
			t.Fatalf("after %d Events, %d are remembered: more than the size, 3", i+1, n)
		}
	}
	if n := r.Len(); n != 3 {
		t.Errorf("%d Events remembered, want 3", n)
	}
	sink.take()

	// ov-9 is remembered: its repeat starts a series. ov-0 was forgotten: its repeat is new.
	r.Eventf(object("ov-9", "1"), nil, corev1.EventTypeNormal, "Patched", "Patch", "Set x in Graph")
	r.Eventf(object("ov-0", "1"), nil, corev1.EventTypeNormal, "Patched", "Patch", "Set x in Graph")
	expect(t, sink, write{"patch", "Patched", 2}, write{"create", "Patched", 0})

	// ov-9's series is the least recently seen now, after two more; it goes with its count.
	r.Eventf(object("ov-9", "1"), nil, corev1.EventTypeNormal, "Patched", "Patch", "Set x in Graph")
	expect(t, sink)
	r.Eventf(object("ov-10", "1"), nil, corev1.EventTypeNormal, "Patched", "Patch", "Set x in Graph")
	r.Eventf(object("ov-11", "1"), nil, corev1.EventTypeNormal, "Patched", "Patch", "Set x in Graph")
	r.Eventf(object("ov-12", "1"), nil, corev1.EventTypeNormal, "Patched", "Patch", "Set x in Graph")
	expect(t, sink, write{"create", "Patched", 0}, write{"create", "Patched", 0},
		write{"create", "Patched", 0}, write{"patch", "Patched", 3})
}

// TestSize: the size reaches the recorder, and a recorder without one remembers DefaultSize.
func TestSize(t *testing.T) {
	if r := New(&fakeSink{}, clientgoscheme.Scheme, "c", Options{}); r.size != DefaultSize {
		t.Errorf("default size %d, want %d", r.size, DefaultSize)
	}
	if r := New(&fakeSink{}, clientgoscheme.Scheme, "c", Options{Size: 7}); r.size != 7 {
		t.Errorf("size %d, want 7", r.size)
	}
}

// TestRefresh writes the count of a series still going, and keeps it.
func TestRefresh(t *testing.T) {
	r, sink, _ := newTest(DefaultSize)
	for range 4 {
		r.Eventf(object("wifi", "1"), nil, corev1.EventTypeWarning, "Throttled", "Sync", "429")
	}
	sink.take()
	r.refresh()
	expect(t, sink, write{"patch", "Throttled", 4})
	if n := r.Len(); n != 1 {
		t.Errorf("%d Events remembered after a refresh, want 1", n)
	}
}

// TestUnsupportedTypeIsNotRecorded, as client-go's recorder.
func TestUnsupportedTypeIsNotRecorded(t *testing.T) {
	r, sink, _ := newTest(DefaultSize)
	r.Eventf(object("wifi", "1"), nil, "Bad", "Reason", "Action", "note")
	expect(t, sink)
}

// TestEventfDoesNotWait: as the manager's recorder, Eventf returns at once and the Event is
// written on a goroutine of its own.
func TestEventfDoesNotWait(t *testing.T) {
	sink := &fakeSink{}
	r := New(sink, clientgoscheme.Scheme, "overview-operator", Options{})
	r.Eventf(object("wifi", "1"), nil, corev1.EventTypeNormal, "Patched", "Patch", "Set x in Graph")
	deadline := time.Now().Add(10 * time.Second)
	for {
		sink.mu.Lock()
		n := len(sink.writes)
		sink.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the Event was not written")
		}
		time.Sleep(5 * time.Millisecond)
	}
	expect(t, sink, write{"create", "Patched", 0})
}
