package controllers

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/graph"
)

// What the reconciler remembers of each resource between passes: one record per resource, checked
// against the resource's UID in one place (recordFor) and dropped in one place (forget). Passes run
// on reconcile workers and jobs on the pacers' goroutines: the record is only ever read or changed
// under memory.mu.

// memory holds the records of one kind's resources.
type memory struct {
	// kind prefixes a resource's key in its tenant's lines, which both kinds share.
	kind    string
	mu      sync.Mutex
	records map[types.NamespacedName]*record
}

func newMemory(kind string) *memory {
	return &memory{kind: kind, records: map[types.NamespacedName]*record{}}
}

// lineKey is the key of a resource's place in its tenant's lines.
func (m *memory) lineKey(key types.NamespacedName) string { return m.kind + "/" + key.String() }

// record is what is remembered of one resource.
type record struct {
	uid types.UID
	// lastSync is when the resource last read Graph successfully. A resource first seen by this
	// process counts as synced when it is first seen, so that a restart spreads its reads over the
	// sync slots instead of sending them all at once.
	lastSync time.Time
	// desired is the newest spec a pass saw, with its generation and policy: a job compares Graph
	// with it just before it PATCHes, so that no PATCH carries a value older than the newest spec.
	desired    intunev1alpha1.OverviewFields
	generation int64
	policy     intunev1alpha1.ManagementPolicy
	// queued is the tenant line that holds the resource's job (waiting or running); nil
	// when there is none. via is the key of the client that gave it.
	queued graph.Line
	via    clientKey
	// result is what the job found, until the pass that reports it.
	result *syncResult
	// mark is the last PATCH Graph accepted, until Graph shows it kept.
	mark *patchMark
	// failures counts the failed syncs of this generation in a row, for the backoff: the queue's
	// own backoff forgets a resource at every pass that only submits its job.
	failures int
	// retold is true while result is one a pass reported already but could not write to status:
	// its events and metrics were given then, and are not given twice.
	retold bool
	// steady is what the status showed when a routine resync submitted the job, if it was steady
	// (see steadyOf): a result that would change none of it ends the job without a pass.
	steady *steadyStatus
	// approval is the PATCH that Multi Admin Approval holds (status.approvalRequest, as the passes
	// left it), and connectionGeneration the generation of the resource's connection when a pass
	// last submitted its job (approval.go).
	approval             *intunev1alpha1.ApprovalRequest
	connectionGeneration int64
}

// steadyStatus is the part of a steady resource's status that a routine resync's result could
// change, as the pass that submitted the job found it.
type steadyStatus struct {
	generation int64
	observed   intunev1alpha1.ObservedOverview
	// heartbeat is when lastSyncTime is due to be refreshed: a result after it takes a pass.
	heartbeat time.Time
}

// patchMark remembers the values a PATCH replaced, to recognise a PATCH that Graph answered with
// success but did not keep: the next observation finds the old values again.
type patchMark struct {
	generation int64
	replaced   map[string]string // field → the value Graph had before the PATCH
}

// reverted lists the drifting fields that are back at the value the PATCH replaced.
func (m *patchMark) reverted(drift []intunev1alpha1.FieldDrift) string {
	var back []intunev1alpha1.FieldDrift
	for _, d := range drift {
		if old, ok := m.replaced[d.Field]; ok && old == d.Observed {
			back = append(back, d)
		}
	}
	return driftFields(back)
}

// recordFor returns the record of obj, a new one when there is none or the one there belongs to
// an object of the same name that was deleted. It records obj's spec as the newest desired state.
func (m *memory) recordFor(obj intunev1alpha1.Overview, now time.Time) *record {
	key := types.NamespacedName{Namespace: obj.GetNamespace(), Name: obj.GetName()}
	m.mu.Lock()
	defer m.mu.Unlock()
	rec, ok := m.records[key]
	if !ok || rec.uid != obj.GetUID() {
		if ok && rec.queued != nil {
			rec.queued.Withdraw(m.lineKey(key))
		}
		rec = &record{uid: obj.GetUID(), lastSync: now, approval: obj.OverviewStatus().ApprovalRequest.DeepCopy()}
		m.records[key] = rec
	}
	if rec.generation != obj.GetGeneration() {
		// Failures of an older spec say nothing of this one: its backoff starts afresh.
		rec.failures = 0
	}
	rec.desired, rec.generation, rec.policy = obj.OverviewSpec().Overview, obj.GetGeneration(), policyOf(obj)
	return rec
}

// forget drops the record of a deleted resource and gives its place in its tenant's line back. It
// returns the UID the record was for ("" if there was none).
func (m *memory) forget(key types.NamespacedName) types.UID {
	m.mu.Lock()
	defer m.mu.Unlock()
	rec, ok := m.records[key]
	if !ok {
		return ""
	}
	if rec.queued != nil {
		rec.queued.Withdraw(m.lineKey(key))
	}
	delete(m.records, key)
	return rec.uid
}

// take returns the record's unreported result, if any, whether a pass reported it already (and
// could not write status), and whether a job is still queued.
func (m *memory) take(rec *record) (res *syncResult, retold, busy bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	res, rec.result = rec.result, nil
	retold, rec.retold = rec.retold, false
	// A pass while the job is under way may be the one the resync had asked for: the job reports.
	rec.steady = nil
	return res, retold, rec.queued != nil
}

// judged is what a pass's judgement of a result changes in the record: the failures in a row and
// the mark of the last accepted PATCH.
type judged struct {
	failures int
	mark     *patchMark
}

// judgedOf returns the record's judged state, as a pass finds it.
func (m *memory) judgedOf(rec *record) judged {
	m.mu.Lock()
	defer m.mu.Unlock()
	return judged{failures: rec.failures, mark: rec.mark}
}

// restore undoes a pass that could not write status: it puts back the result the pass reported,
// unless a newer one came meanwhile, and the judged state the pass started from, so that the retry
// judges the result again exactly as the pass did: a failure counted once, and a PATCH not taken
// for one Graph did not keep because the pass had already marked it.
func (m *memory) restore(rec *record, res *syncResult, was judged) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if res != nil && rec.result == nil {
		rec.result, rec.retold = res, true
	}
	rec.failures, rec.mark = was.failures, was.mark
}

// queue notes that line, the tenant's line of the client of via, holds the record's job; steady, if
// not nil, is the status a quiet result leaves as it is (a routine resync of a steady resource).
func (m *memory) queue(rec *record, line graph.Line, via clientKey, steady *steadyStatus) {
	m.mu.Lock()
	rec.queued, rec.via, rec.steady = line, via, steady
	m.mu.Unlock()
}

// queuedVia returns the key of the client whose line holds the record's job.
func (m *memory) queuedVia(rec *record) clientKey {
	m.mu.Lock()
	defer m.mu.Unlock()
	return rec.via
}

// withdraw takes the record's waiting job out of its tenant's line, and reports whether it did; a
// job already running still reports.
func (m *memory) withdraw(key types.NamespacedName, rec *record) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	rec.steady = nil
	if rec.queued != nil && rec.queued.Withdraw(m.lineKey(key)) {
		rec.queued = nil
		return true
	}
	return false
}

// desiredOf returns the newest spec a pass saw for the record, for a job about to compare, and
// the policy to apply it with.
func (m *memory) desiredOf(rec *record) (intunev1alpha1.OverviewFields, int64, intunev1alpha1.ManagementPolicy) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return rec.desired, rec.generation, rec.policy
}

// current reports whether rec is still what is remembered of key: the resource was neither
// forgotten (deleted) nor replaced by another of the same name.
func (m *memory) current(key types.NamespacedName, rec *record) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.records[key] == rec
}

// deliver stores a job's result in its record, and reports whether a pass must report it: the
// record is still the one remembered (the resource was not deleted meanwhile), and the result is
// not a quiet one (see quiet), which is taken here instead: the resource read Graph at res.at, and
// its status stays as it is.
func (m *memory) deliver(key types.NamespacedName, rec *record, res *syncResult, e graph.Entity) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	rec.queued = nil
	if rec.steady != nil && rec.steady.quiet(e, res) {
		// Graph holds the spec: a PATCH it accepted before (mark) shows kept, as a pass would find.
		rec.steady, rec.mark = nil, nil
		rec.lastSync, rec.failures = res.at, 0
		return false
	}
	rec.steady = nil
	rec.result, rec.retold = res, false
	return m.records[key] == rec
}

// quiet reports whether res is a routine resync's result that would change nothing the status
// shows: Graph was read, for the same generation, without error, drift or PATCH, and holds what
// status.observed says, before lastSyncTime's heartbeat is due. Its pass would write nothing and
// only requeue the resource at its next slot, which the pass that submitted the job did already.
func (s *steadyStatus) quiet(e graph.Entity, res *syncResult) bool {
	return res.err == nil && res.superseded == "" && !res.needsWrite && !res.applied &&
		len(res.found) == 0 && len(res.drift) == 0 && res.observed != nil &&
		res.generation == s.generation && res.at.Before(s.heartbeat) &&
		equality.Semantic.DeepEqual(*observedFrom(e, res.observed), s.observed)
}

// synced records a successful read of Graph at now.
func (m *memory) synced(rec *record, now time.Time) {
	m.mu.Lock()
	rec.lastSync, rec.failures = now, 0
	m.mu.Unlock()
}

// failed counts one more failed sync and returns how many came before it in a row.
func (m *memory) failed(rec *record) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	rec.failures++
	return rec.failures - 1
}

// lastSyncOf returns when the record last read Graph successfully.
func (m *memory) lastSyncOf(rec *record) time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return rec.lastSync
}

// markOf returns the record's last accepted PATCH, if Graph has not yet shown it kept.
func (m *memory) markOf(rec *record) *patchMark {
	m.mu.Lock()
	defer m.mu.Unlock()
	return rec.mark
}

// setMark replaces the record's last accepted PATCH (nil: Graph showed it kept).
func (m *memory) setMark(rec *record, mark *patchMark) {
	m.mu.Lock()
	rec.mark = mark
	m.mu.Unlock()
}
