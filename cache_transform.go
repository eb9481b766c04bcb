package main

import (
	"slices"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
)

// lastAppliedAnnotation is where kubectl apply (and Argo CD's client-side apply) keep a copy of
// the whole object as it was last applied: a second copy of the spec, and of a Secret's values.
const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// stripUnread is the cache's DefaultTransform: it drops from every object the manager caches
// (the two overview kinds, both connection kinds, and the metadata of Secrets and Namespaces)
// what no reader of the cache looks at, before the object is stored:
//   - metadata.managedFields: the server-side apply bookkeeping, about half of a resource's size;
//   - the kubectl.kubernetes.io/last-applied-configuration annotation: a copy of the object as
//     last applied, as large as its spec (on a Secret applied with kubectl, a copy of its values,
//     which the operator otherwise never caches).
//
// Everything else stays: the labels (the watch and Secret selectors, a ClusterGraphConnection's
// namespace selector), every other annotation (intune.overview-operator.io/paused and
// reconcile-requested-at are read by the passes, and the annotation predicate compares them), the
// resourceVersion (a Secret's is its version), the spec and the status. The operator writes only
// status, as merge patches between two cached copies, so a stripped field is never written back.
//
// What stays is then stored once where many objects hold the same string (cachedStrings).
func stripUnread(in any) (any, error) {
	obj, err := meta.Accessor(in)
	if err != nil {
		return in, nil // not an object (a tombstone): left as it is
	}
	// Nil-checked as cache.TransformStripManagedFields does (kubernetes/kubernetes#124337).
	if obj.GetManagedFields() != nil {
		obj.SetManagedFields(nil)
	}
	if annotations := obj.GetAnnotations(); annotations != nil {
		if _, ok := annotations[lastAppliedAnnotation]; ok {
			delete(annotations, lastAppliedAnnotation)
			if len(annotations) == 0 {
				annotations = nil
			}
			obj.SetAnnotations(annotations)
		}
	}
	cachedStrings.object(obj)
	if o, ok := in.(intunev1alpha1.Overview); ok {
		cachedStrings.overview(o)
	}
	return in, nil
}

var _ toolscache.TransformFunc = stripUnread

// cachedStrings is the one copy of the strings that many cached objects share.
var cachedStrings = &sharedStrings{strings: map[string]string{}}

// sharedStrings keeps one copy of each string that many cached objects hold alike: a namespace,
// label keys and values, annotation keys, a connection's name, and the type, status, reason and
// message of conditions, which the decoder allocates anew for each object: about a fifth of a
// steady resource's memory in the cache (docs/performance-log.md, "Strings the cache holds once").
// Strings of up to sharedMaxLen bytes are kept, up to sharedMax of them: a string no other object
// holds (a name, a UID, an error's message) may take a place, and once all are taken a new string
// stays the object's own, which costs only the saving.
type sharedStrings struct {
	mu      sync.Mutex
	strings map[string]string
}

const (
	sharedMax    = 4096
	sharedMaxLen = 128
)

// get returns the kept copy of s, keeping s when there is room.
func (c *sharedStrings) get(s string) string {
	if s == "" || len(s) > sharedMaxLen {
		return s
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if kept, ok := c.strings[s]; ok {
		return kept
	}
	if len(c.strings) < sharedMax {
		c.strings[s] = s
	}
	return s
}

// object shares the metadata's namespace, labels and annotations.
func (c *sharedStrings) object(obj metaObject) {
	obj.SetNamespace(c.get(obj.GetNamespace()))
	if labels := obj.GetLabels(); len(labels) > 0 {
		obj.SetLabels(c.stringMap(labels, true))
	}
	if annotations := obj.GetAnnotations(); len(annotations) > 0 {
		// An annotation's value is most often the object's own (Argo CD's tracking-id): only
		// the keys are shared, so that such values do not take the places.
		obj.SetAnnotations(c.stringMap(annotations, false))
	}
}

// metaObject is the part of metav1.Object that object changes.
type metaObject interface {
	GetNamespace() string
	SetNamespace(string)
	GetLabels() map[string]string
	SetLabels(map[string]string)
	GetAnnotations() map[string]string
	SetAnnotations(map[string]string)
}

// stringMap is m with its keys shared, and its values with values (a new map: a key cannot be
// replaced in place).
func (c *sharedStrings) stringMap(m map[string]string, values bool) map[string]string {
	shared := make(map[string]string, len(m))
	for k, v := range m {
		if values {
			v = c.get(v)
		}
		shared[c.get(k)] = v
	}
	return shared
}

// overview shares what resources of one connection hold alike in their spec and status.
func (c *sharedStrings) overview(o intunev1alpha1.Overview) {
	spec, st := o.OverviewSpec(), o.OverviewStatus()
	spec.ConnectionRef.Kind = intunev1alpha1.ConnectionKind(c.get(string(spec.ConnectionRef.Kind)))
	spec.ConnectionRef.Name = c.get(spec.ConnectionRef.Name)
	spec.ManagementPolicy = intunev1alpha1.ManagementPolicy(c.get(string(spec.ManagementPolicy)))
	if cap(st.Conditions) > len(st.Conditions) {
		st.Conditions = slices.Clone(st.Conditions) // the decoder's array has room to grow
	}
	for i := range st.Conditions {
		cond := &st.Conditions[i]
		cond.Type, cond.Reason, cond.Message = c.get(cond.Type), c.get(cond.Reason), c.get(cond.Message)
		cond.Status = metav1.ConditionStatus(c.get(string(cond.Status)))
	}
	if st.Observed != nil && st.Observed.ID == spec.DeviceConfigurationID {
		st.Observed.ID = spec.DeviceConfigurationID // one copy of the configuration's ID
	}
	for i := range st.Drift {
		d := &st.Drift[i]
		d.Field, d.Desired, d.Observed = c.get(d.Field), c.get(d.Desired), c.get(d.Observed)
	}
}
