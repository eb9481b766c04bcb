package controllers

import (
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/graph"
)

// conditions sets the conditions of one object's status in one pass, for both reconcilers: each
// condition carries the object's generation, and the pass's time when it changes status.
type conditions struct {
	list               *[]metav1.Condition
	observedGeneration *int64 // the status's observedGeneration
	generation         int64
	now                time.Time
}

// set sets a condition of type t.
func (c conditions) set(t string, status metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(c.list, metav1.Condition{Type: t, Status: status, Reason: reason, Message: message,
		ObservedGeneration: c.generation, LastTransitionTime: metav1.NewTime(c.now)})
}

// stalled says Stalled while a failure needs a person, and observes the generation it stalled on,
// so that kstatus reports Failed rather than InProgress for ever; any other failure, or none (nil),
// removes it.
func (c conditions) stalled(f *failure) {
	if f == nil || f.class != graph.ClassNeedsPerson {
		meta.RemoveStatusCondition(c.list, intunev1alpha1.ConditionStalled)
		return
	}
	*c.observedGeneration = c.generation
	c.set(intunev1alpha1.ConditionStalled, metav1.ConditionTrue, f.reason, f.message)
}

// find returns a copy of the condition of type t, or nil: a condition set afterwards does not
// change what was found (meta.FindStatusCondition points into the list, which set overwrites).
func (c conditions) find(t string) *metav1.Condition {
	if found := meta.FindStatusCondition(*c.list, t); found != nil {
		return found.DeepCopy()
	}
	return nil
}
