package main

import (
	"encoding/json"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"

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
