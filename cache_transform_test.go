package main

import (
	"encoding/json"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	sjson "sigs.k8s.io/json"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
)

// TestStripUnread states what the cache keeps of an object and what it drops: managedFields and
// kubectl's last-applied-configuration go; the labels, every other annotation (the paused and
// sync-now annotations the passes read above all), the resourceVersion, the spec and the status
// stay. The manager's cache options use it.
func TestStripUnread(t *testing.T) {
	managed := []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply}}
	overview := func(annotations map[string]string, managedFields []metav1.ManagedFieldsEntry) *intunev1alpha1.DeviceConfigurationUserOverview {
		return &intunev1alpha1.DeviceConfigurationUserOverview{
			ObjectMeta: metav1.ObjectMeta{
				Name: "wifi", Namespace: "team-a", ResourceVersion: "42", Generation: 3,
				Labels:        map[string]string{"shard": "a"},
				Annotations:   annotations,
				ManagedFields: managedFields,
			},
			Spec: intunev1alpha1.OverviewSpec{
				DeviceConfigurationID: "00000000-0000-0000-0000-000000000001",
				ConnectionRef:         intunev1alpha1.ConnectionReference{Name: "contoso"},
			},
			Status: intunev1alpha1.OverviewStatus{
				ObservedGeneration: 3, LastHandledReconcileAt: "now",
			},
		}
	}
	applied, _ := json.Marshal(overview(nil, nil))
	secretApplied := `{"apiVersion":"v1","kind":"Secret","data":{"clientSecret":"c2VjcmV0"}}`
	secret := func(annotations map[string]string, managedFields []metav1.ManagedFieldsEntry) *metav1.PartialObjectMetadata {
		return &metav1.PartialObjectMetadata{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
			ObjectMeta: metav1.ObjectMeta{Name: "contoso", Namespace: "team-a", ResourceVersion: "7",
				Labels: map[string]string{"intune.overview-operator.io/credentials": "true"}, Annotations: annotations, ManagedFields: managedFields},
		}
	}
	tombstone := toolscache.DeletedFinalStateUnknown{Key: "team-a/wifi", Obj: overview(nil, managed)}

	cases := map[string]struct {
		in, want any
	}{
		"an overview keeps its labels, the annotations the passes read, its spec and its status": {
			in: overview(map[string]string{
				lastAppliedAnnotation:                         string(applied),
				intunev1alpha1.AnnotationPaused:               "true",
				intunev1alpha1.AnnotationReconcileRequestedAt: "now",
				"argocd.argoproj.io/tracking-id":              "app:intune.overview-operator.io/DeviceConfigurationUserOverview:team-a/wifi",
			}, managed),
			want: overview(map[string]string{
				intunev1alpha1.AnnotationPaused:               "true",
				intunev1alpha1.AnnotationReconcileRequestedAt: "now",
				"argocd.argoproj.io/tracking-id":              "app:intune.overview-operator.io/DeviceConfigurationUserOverview:team-a/wifi",
			}, nil),
		},
		"an object whose only annotation is kubectl's has none left": {
			in:   overview(map[string]string{lastAppliedAnnotation: string(applied)}, nil),
			want: overview(nil, nil),
		},
		"an object with neither is left as it is": {
			in:   overview(map[string]string{intunev1alpha1.AnnotationPaused: "true"}, nil),
			want: overview(map[string]string{intunev1alpha1.AnnotationPaused: "true"}, nil),
		},
		"a Secret's metadata keeps its labels and version, not the copy of its values": {
			in:   secret(map[string]string{lastAppliedAnnotation: secretApplied, "owner": "platform"}, managed),
			want: secret(map[string]string{"owner": "platform"}, nil),
		},
		"a Namespace's metadata keeps the labels a connection's selector reads": {
			in: &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a", Labels: map[string]string{"intune": "yes"},
				Annotations: map[string]string{lastAppliedAnnotation: "{}"}, ManagedFields: managed}},
			want: &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a", Labels: map[string]string{"intune": "yes"}}},
		},
		"a tombstone is left as it is": {in: tombstone, want: tombstone},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := stripUnread(c.in)
			if err != nil {
				t.Fatal(err)
			}
			if want := c.want; !equality.Semantic.DeepEqual(got, want) {
				t.Errorf("got %+v, want %+v", got, want)
			}
			if s, ok := got.(*metav1.PartialObjectMetadata); ok && s.Annotations[lastAppliedAnnotation] != "" {
				t.Errorf("the cached Secret still holds its values: %v", s.Annotations)
			}
		})
	}

	t.Run("the manager's cache uses it", func(t *testing.T) {
		opts, err := cacheOptions(flags{})
		if err != nil {
			t.Fatal(err)
		}
		in := overview(map[string]string{lastAppliedAnnotation: string(applied), intunev1alpha1.AnnotationPaused: "true"}, managed)
		got, err := opts.DefaultTransform(in)
		if err != nil {
			t.Fatal(err)
		}
		if want := overview(map[string]string{intunev1alpha1.AnnotationPaused: "true"}, nil); !equality.Semantic.DeepEqual(got, want) {
			t.Errorf("DefaultTransform: got %+v, want %+v", got, want)
		}
	})
}

// TestSharedStrings: two resources decoded apart hold one copy of what they hold alike (the
// namespace, label keys and values, annotation keys, the connection, the conditions' strings)
// and their own copy of what is theirs (an annotation's value); the values are unchanged, and the
// conditions' array has no room left over.
func TestSharedStrings(t *testing.T) {
	decode := func(name string) *intunev1alpha1.DeviceConfigurationUserOverview {
		o := &intunev1alpha1.DeviceConfigurationUserOverview{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team-a",
				Labels:      map[string]string{"app.kubernetes.io/part-of": "intune"},
				Annotations: map[string]string{"argocd.argoproj.io/tracking-id": "app:team-a/" + name}},
			Spec: intunev1alpha1.OverviewSpec{DeviceConfigurationID: "id-" + name, ManagementPolicy: intunev1alpha1.ManagementPolicyManage,
				ConnectionRef: intunev1alpha1.ConnectionReference{Kind: intunev1alpha1.ConnectionKindCluster, Name: "contoso"}},
			Status: intunev1alpha1.OverviewStatus{
				Conditions: []metav1.Condition{
					{Type: "Ready", Status: metav1.ConditionTrue, Reason: "UpToDate", Message: "Graph holds every managed value"},
					{Type: "Synced", Status: metav1.ConditionTrue, Reason: "Succeeded", Message: "Graph was read successfully"},
					{Type: "Stalled", Status: metav1.ConditionFalse, Reason: "NotStalled", Message: "Nothing stops the operator"},
				},
				Observed: &intunev1alpha1.ObservedOverview{ID: "id-" + name},
				Drift:    []intunev1alpha1.FieldDrift{{Field: "successCount", Desired: "1", Observed: "0"}},
			},
		}
		b, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		var decoded intunev1alpha1.DeviceConfigurationUserOverview
		if err := json.Unmarshal(b, &decoded); err != nil {
			t.Fatal(err)
		}
		return &decoded
	}
	a, b := decode("wifi"), decode("vpn")
	wantA, wantB := a.DeepCopy(), b.DeepCopy()
	for _, o := range []*intunev1alpha1.DeviceConfigurationUserOverview{a, b} {
		if _, err := stripUnread(o); err != nil {
			t.Fatal(err)
		}
	}
	if !equality.Semantic.DeepEqual(a, wantA) || !equality.Semantic.DeepEqual(b, wantB) {
		t.Fatalf("the values changed:\n%+v\n%+v", a, b)
	}
	same := func(x, y string) bool { return unsafe.StringData(x) == unsafe.StringData(y) }
	key := func(m map[string]string) string {
		for k := range m {
			return k
		}
		return ""
	}
	shared := map[string][2]string{
		"namespace":            {a.Namespace, b.Namespace},
		"label key":            {key(a.Labels), key(b.Labels)},
		"label value":          {a.Labels["app.kubernetes.io/part-of"], b.Labels["app.kubernetes.io/part-of"]},
		"annotation key":       {key(a.Annotations), key(b.Annotations)},
		"connection kind":      {string(a.Spec.ConnectionRef.Kind), string(b.Spec.ConnectionRef.Kind)},
		"connection name":      {a.Spec.ConnectionRef.Name, b.Spec.ConnectionRef.Name},
		"management policy":    {string(a.Spec.ManagementPolicy), string(b.Spec.ManagementPolicy)},
		"drift field":          {a.Status.Drift[0].Field, b.Status.Drift[0].Field},
		"observed ID and spec": {a.Status.Observed.ID, a.Spec.DeviceConfigurationID},
	}
	for i := range a.Status.Conditions {
		ca, cb := a.Status.Conditions[i], b.Status.Conditions[i]
		shared[ca.Type+" type"] = [2]string{ca.Type, cb.Type}
		shared[ca.Type+" status"] = [2]string{string(ca.Status), string(cb.Status)}
		shared[ca.Type+" reason"] = [2]string{ca.Reason, cb.Reason}
		shared[ca.Type+" message"] = [2]string{ca.Message, cb.Message}
	}
	for what, pair := range shared {
		if !same(pair[0], pair[1]) {
			t.Errorf("%s: two copies of %q", what, pair[0])
		}
	}
	if _, kept := cachedStrings.strings[a.Annotations["argocd.argoproj.io/tracking-id"]]; kept {
		t.Errorf("an annotation's value took a place among the shared strings")
	}
	if c := a.Status.Conditions; cap(c) != len(c) {
		t.Errorf("the conditions' array holds %d for %d", cap(c), len(c))
	}
}

// TestSharedStringsBound: at most sharedMax strings are kept, none longer than sharedMaxLen; a
// kept string is given for an equal one, and once the places are taken a new string is its own.
func TestSharedStringsBound(t *testing.T) {
	c := &sharedStrings{strings: map[string]string{}}
	first := c.get(strings.Clone("UpToDate"))
	if got := c.get(strings.Clone("UpToDate")); unsafe.StringData(got) != unsafe.StringData(first) {
		t.Errorf("an equal string was not given the kept copy")
	}
	long := strings.Repeat("x", sharedMaxLen+1)
	c.get(long)
	if _, kept := c.strings[long]; kept {
		t.Errorf("a string of %d bytes was kept", len(long))
	}
	for i := range sharedMax + 10 {
		c.get(strconv.Itoa(i))
	}
	if len(c.strings) != sharedMax {
		t.Errorf("%d strings kept, want %d", len(c.strings), sharedMax)
	}
	late := strconv.Itoa(sharedMax + 5)
	if got := c.get(late); unsafe.StringData(got) != unsafe.StringData(late) {
		t.Errorf("a string with no place left was replaced")
	}
	if got := c.get(strings.Clone("UpToDate")); unsafe.StringData(got) != unsafe.StringData(first) {
		t.Errorf("a kept string was lost when the places ran out")
	}
}

// BenchmarkCachedResource reports what a steady resource (three conditions, observed values, a
// drift-free status) holds in the cache once decoded and transformed, in bytes of live heap:
// go test -run '^$' -bench CachedResource . (docs/performance-log.md, "Strings the cache holds
// once").
func BenchmarkCachedResource(b *testing.B) {
	now := metav1.NewTime(time.Date(2026, 12, 7, 17, 0, 0, 0, time.UTC))
	doc := func(i int) []byte {
		id := fmt.Sprintf("9f1c2d3e-0000-4000-8000-%012d", i)
		o := &intunev1alpha1.DeviceConfigurationUserOverview{
			TypeMeta: metav1.TypeMeta{APIVersion: intunev1alpha1.GroupVersion.String(), Kind: "DeviceConfigurationUserOverview"},
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("ov-%05d", i), Namespace: "bench-t07", Generation: 1, CreationTimestamp: now,
				UID: types.UID(fmt.Sprintf("0b5c3e1a-4f2d-4c7e-9a1b-%012d", i)), ResourceVersion: strconv.Itoa(100000 + i)},
			Spec: intunev1alpha1.OverviewSpec{DeviceConfigurationID: id, ManagementPolicy: intunev1alpha1.ManagementPolicyManage,
				ConnectionRef: intunev1alpha1.ConnectionReference{Kind: intunev1alpha1.ConnectionKindNamespaced, Name: "bench"},
				Overview:      intunev1alpha1.OverviewFields{SuccessCount: ptr.To[int32](12), FailedCount: ptr.To[int32](1), NotApplicableCount: ptr.To[int32](3)}},
			Status: intunev1alpha1.OverviewStatus{ObservedGeneration: 1,
				Conditions: []metav1.Condition{
					{Type: "Ready", Status: metav1.ConditionTrue, Reason: "UpToDate", Message: "Graph holds every managed value", LastTransitionTime: now, ObservedGeneration: 1},
					{Type: "Synced", Status: metav1.ConditionTrue, Reason: "Succeeded", Message: "Graph was read successfully", LastTransitionTime: now, ObservedGeneration: 1},
					{Type: "Stalled", Status: metav1.ConditionFalse, Reason: "NotStalled", Message: "Nothing stops the operator", LastTransitionTime: now, ObservedGeneration: 1},
				},
				Observed:     &intunev1alpha1.ObservedOverview{ID: id, SuccessCount: 12, FailedCount: 1, NotApplicableCount: 3, ConfigurationVersion: 2},
				LastSyncTime: &now, LastAppliedTime: &now, LastRequestID: fmt.Sprintf("5e0a1b2c-1111-4222-8333-%012d", i)},
		}
		data, err := json.Marshal(o)
		if err != nil {
			b.Fatal(err)
		}
		return data
	}
	const n = 10000
	docs := make([][]byte, n)
	for i := range docs {
		docs[i] = doc(i)
	}
	cached := make([]any, n)
	var perResource float64
	for b.Loop() {
		clear(cached)
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for i, data := range docs {
			o := &intunev1alpha1.DeviceConfigurationUserOverview{}
			if err := sjson.UnmarshalCaseSensitivePreserveInts(data, o); err != nil {
				b.Fatal(err)
			}
			o.TypeMeta = metav1.TypeMeta{} // as the informer's decoder leaves it
			cached[i], _ = stripUnread(o)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perResource = float64(after.HeapAlloc-before.HeapAlloc) / n
	}
	b.ReportMetric(perResource, "B/resource")
}
