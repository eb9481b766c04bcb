package main

import (
	"k8s.io/apimachinery/pkg/api/meta"
	toolscache "k8s.io/client-go/tools/cache"
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
	return in, nil
}

var _ toolscache.TransformFunc = stripUnread
