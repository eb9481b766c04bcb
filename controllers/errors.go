package controllers

import (
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/graph"
)

// stalled is a failure that no retry can fix: a person must change the resource, its connection or
// the connection's Secret, and the watches on those bring the resource back. Where no watch can
// (a Secret outside the watched namespaces), recheck says how often to look again.
type stalled struct {
	reason  string
	message string
	recheck time.Duration
}

func (e *stalled) Error() string { return e.message }

// stalledf makes a stalled error with a message that says what to fix.
func stalledf(reason, format string, args ...any) error {
	return &stalled{reason: reason, message: fmt.Sprintf(format, args...)}
}

// notPersisted is a PATCH that Graph answered with success but whose values it did not keep.
type notPersisted struct {
	fields string
}

func (e *notPersisted) Error() string {
	return fmt.Sprintf("Graph accepted the PATCH but did not keep %s; retrying with backoff", e.fields)
}

// failure is what a failed pass means, decided in one place for every error: the condition's
// reason and message, and how the pass ends (backoff, a wait, or nothing until something changes).
type failure struct {
	class   graph.Class
	reason  string
	message string
	// retryAfter is the wait before the next try: Retry-After when throttled; for a failure that
	// needs a person, the recheck of what no watch covers (0: wait for a change).
	retryAfter time.Duration
}

// notFoundRetry is how long a resource whose device configuration does not exist waits before it
// looks again: the configuration may be created later (the sync-now annotation looks at once).
const notFoundRetry = 2 * time.Minute

// classify turns any error of a pass into a failure: the operator's own as they say, and Graph's
// from the facts its client reports of them (graphFailure).
func classify(err error) failure {
	var s *stalled
	if errors.As(err, &s) {
		return failure{class: graph.ClassNeedsPerson, reason: s.reason, message: s.message, retryAfter: s.recheck}
	}
	var ap *approvalPending
	if errors.As(err, &ap) {
		return ap.failure()
	}
	var np *notPersisted
	if errors.As(err, &np) {
		return failure{class: graph.ClassRetryable, reason: intunev1alpha1.ReasonNotPersisted, message: np.Error()}
	}
	var kubeErr apierrors.APIStatus
	var ul *unlogged
	if errors.As(err, &kubeErr) || errors.As(err, &ul) {
		return failure{} // the Kubernetes API failed, not Graph: the caller retries with backoff
	}
	return graphFailure(graph.Classify(err))
}
