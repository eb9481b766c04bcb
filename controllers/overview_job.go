package controllers

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/event"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/graph"
)

// syncResult is what one job found in Graph, for the pass that reports it.
type syncResult struct {
	// generation is the spec generation the job compared Graph with (and PATCHed towards).
	generation int64
	// at is when the job ended.
	at time.Time
	// readAt is when its first read answered: when it saw what it found.
	readAt time.Time
	// observed is Graph's state: the read after the PATCH when there was one (when that read
	// failed, the PATCH's answer, or the GET's after a PATCH answered without the entity), else the
	// GET's; nil when the GET failed.
	observed  *graph.Overview
	requestID string
	// found is the managed fields that differed when the job read Graph (what a PATCH sends);
	// drift those that still differ in observed; lost those of found that differ again after the
	// PATCH: Graph accepted them and did not keep them.
	found, drift, lost []intunev1alpha1.FieldDrift
	// applied is true when Graph accepted a PATCH of the fields in found.
	applied bool
	// superseded says why the result no longer belongs to the resource as it is (deleted, paused,
	// a newer generation, another connection), when the job saw that before a call: it made no
	// call after it, and its result tells nothing of the resource as it is now.
	superseded string
	// needsWrite is true when a ReadJob found a PATCH to send, but the tenant's writes wait in line
	// (or its window is full): the resource takes its place there as a WriteJob.
	needsWrite bool
	// err is why the job failed; with observed set, the PATCH failed after the GET succeeded.
	err error
	// approval is what becomes of status.approvalRequest (approval.go); nil: it stays as it is.
	approval *approvalChange
}

// syncJob is the job of one resource: read the overview, compare it with the newest spec and,
// under Manage, PATCH the fields that differ and read them back. It runs on a goroutine of the
// tenant's pacer, delivers its result to the resource's record and brings the resource back to
// the queue through done. A 429 sends it back to its place in the tenant's line while the
// tenant's pause is no longer than r.quietPause (the pacer decides), so that a throttled tenant
// costs no pass and no status write; a longer pause (a Retry-After of minutes) ends it with the
// throttled error, so that the resource's Synced condition says until when the tenant's calls
// wait. via is the key of the client whose line holds the job: the job calls Graph only while the
// resource still resolves to it (stillWanted); api is the API version that client calls; logged
// are the calls that write each PATCH ahead to the connection's log (loggedCalls, without Calls:
// each run gets its own).
func (r *OverviewReconciler) syncJob(key types.NamespacedName, rec *record, via clientKey, api graphAPI, configurationID string, logged loggedCalls) graph.Job {
	// One object holds what the job needs: a first sync holds a whole tenant's jobs in its line at
	// once, and a job's closures, each with its own copy of what it captured, were most of the
	// memory a waiting resource took.
	j := &overviewJob{r: r, key: key, rec: rec, via: via, api: api, configurationID: configurationID, logged: logged}
	return graph.Job{Run: j.run, Done: j.done, QuietPause: r.quietPause}
}

// overviewJob is a syncJob's state, from its submission to its end.
type overviewJob struct {
	r               *OverviewReconciler
	key             types.NamespacedName
	rec             *record
	via             clientKey
	api             graphAPI
	configurationID string
	// logged are the job's calls with each PATCH written ahead to its connection's log.
	logged loggedCalls
	// ctx and res are the last run's context and result, for done.
	ctx context.Context
	res *syncResult
}

// wanted is the job's wantedFunc: why a call of it is no longer wanted.
func (j *overviewJob) wanted(ctx context.Context, generation int64) string {
	return j.r.stillWanted(ctx, j.key, j.rec, j.via, generation)
}

// run is the job's graph.Job.Run.
func (j *overviewJob) run(jctx context.Context, calls graph.Calls) error {
	r := j.r
	j.ctx = logf.IntoContext(jctx, lazyValues(r.log, r.kind.entity.Type, j.key, "deviceConfigurationId", j.configurationID))
	logged := j.logged
	logged.Calls = calls
	j.res = r.runSafely(j.ctx, logged, j.rec, j.api, j.configurationID, j.wanted)
	switch {
	case j.res.applied:
		return nil // the PATCH went: what followed it is reported, not run again
	case !throttled(j.res.err):
		return j.res.err
	}
	// Back in line, it would run again after the pause: only while the cluster still wants it.
	if why := j.wanted(j.ctx, anyGeneration); why != "" {
		_, generation, _ := r.memory.desiredOf(j.rec)
		j.res = &syncResult{generation: generation, superseded: why}
		return nil
	}
	return j.res.err
}

// done is the job's graph.Job.Done: it delivers the result to the record and brings the resource
// back to the queue.
func (j *overviewJob) done(error) {
	r, res := j.r, j.res
	if res.superseded == "" {
		// What the job read is this generation's, through this connection, only if both still hold.
		res.superseded = j.wanted(j.ctx, res.generation)
	}
	if res.superseded != "" {
		logf.FromContext(j.ctx).V(1).Info("The job's result is superseded", "why", res.superseded, "generation", res.generation)
	}
	res.at = r.clock.Now()
	if r.memory.deliver(j.key, j.rec, res, r.kind.entity) {
		r.done <- event.TypedGenericEvent[reconcile.Request]{Object: reconcile.Request{NamespacedName: j.key}}
	}
}

// runSafely is runSync, with a panic turned into the job's error: the resource is then retried with
// backoff like any failed pass, instead of the panic ending the process (a reconcile's panic is
// recovered too) or leaving the resource waiting for a job that never ends.
func (r *OverviewReconciler) runSafely(ctx context.Context, calls graph.Calls, rec *record, api graphAPI, configurationID string, wanted wantedFunc) (res *syncResult) {
	defer func() {
		if p := recover(); p != nil {
			logf.FromContext(ctx).Error(fmt.Errorf("%v", p), "The Graph sync panicked", "stack", string(debug.Stack()))
			_, generation, _ := r.memory.desiredOf(rec)
			res = &syncResult{generation: generation, err: fmt.Errorf("the Graph sync panicked: %v", p)}
		}
	}()
	return r.runSync(ctx, calls, rec, api, configurationID, wanted)
}

// runSync makes the calls of a syncJob, each only while wanted says the cluster still wants it.
// The newest spec must be one api serves: a beta-only property the spec came to declare while the
// job waited in a v1.0 client's line fails the job before its GET (or, declared while the GET was
// under way, before its PATCH).
func (r *OverviewReconciler) runSync(ctx context.Context, calls graph.Calls, rec *record, api graphAPI, configurationID string, wanted wantedFunc) *syncResult {
	if why := wanted(ctx, anyGeneration); why != "" {
		_, generation, _ := r.memory.desiredOf(rec)
		return &syncResult{generation: generation, superseded: why}
	}
	desired, generation, _ := r.memory.desiredOf(rec)
	if err := api.check(r.kind.entity, &desired); err != nil {
		return &syncResult{generation: generation, err: err}
	}
	if res, followed := r.followApproval(ctx, calls, rec, api, configurationID, wanted); followed {
		return res
	}
	return r.syncGraph(ctx, calls, rec, api, configurationID, wanted)
}

// syncGraph reads the overview, diffs it with the newest spec and, under Manage, PATCHes the
// fields that differ and reads them back.
func (r *OverviewReconciler) syncGraph(ctx context.Context, calls graph.Calls, rec *record, api graphAPI, configurationID string, wanted wantedFunc) *syncResult {
	got, err := calls.Get(ctx, r.kind.entity, configurationID)
	desired, generation, policy := r.memory.desiredOf(rec)
	res := &syncResult{generation: generation, err: err, readAt: r.now()}
	if err != nil {
		return res
	}
	res.observed, res.requestID = &got.Overview, got.RequestID
	if err := api.check(r.kind.entity, &desired); err != nil {
		res.err = err
		return res
	}
	patch, found, err := diffOverview(r.kind.entity, &desired, &got.Overview)
	if err != nil {
		res.err = err
		return res
	}
	res.found, res.drift = found, found
	if policy == intunev1alpha1.ManagementPolicyObserveOnly || patch.IsEmpty() {
		return res
	}
	// A write happens only if the cluster still wants it: asked now, and again by the client at
	// the moment the PATCH is sent, after any wait for a token or for the write window.
	patched, ok := r.sendPatch(ctx, calls, configurationID, patch, generation, wanted, res)
	if !ok {
		if res.err != nil {
			r.noteApproval(rec, res, patch)
		}
		return res
	}
	res.applied, res.requestID = true, patched.RequestID
	if patched.Entity {
		res.observed = &patched.Overview
	}
	r.readBack(ctx, calls, configurationID, &desired, res)
	return res
}

// sendPatch sends patch, asking wanted for generation just before (and again as the client sends
// it, under the write-ahead log), and records in res what stopped it: the cluster no longer wants
// it (superseded), the tenant's budget has no room for an unbooked write (needsWrite), or Graph's
// error (err). ok is true when Graph accepted it.
func (r *OverviewReconciler) sendPatch(ctx context.Context, calls graph.Calls, configurationID string, patch graph.Fields, generation int64, wanted wantedFunc, res *syncResult) (graph.Response, bool) {
	if res.superseded = wanted(ctx, generation); res.superseded != "" {
		return graph.Response{}, false
	}
	guarded := guardWrites(calls, func() error {
		if why := wanted(ctx, generation); why != "" {
			return unwanted(why)
		}
		return nil
	})
	patched, err := guarded.Patch(ctx, r.kind.entity, configurationID, patch)
	var notWanted unwanted
	switch {
	case errors.As(err, &notWanted):
		res.superseded = string(notWanted)
		return graph.Response{}, false
	case errors.Is(err, graph.ErrBudgetExhausted):
		res.needsWrite = true
		return graph.Response{}, false
	case err != nil:
		res.err = err
		return graph.Response{}, false
	}
	return patched, true
}

// readBack reads the overview again after a PATCH Graph accepted, and records what still differs
// from desired, and what of res.found Graph did not keep.
func (r *OverviewReconciler) readBack(ctx context.Context, calls graph.Calls, configurationID string, desired *intunev1alpha1.OverviewFields, res *syncResult) {
	// Graph's answer to a PATCH is not proof that it kept the values, and a 204 carries none: read
	// them back, once (reads have ten times the writes' budget), before the resource may say Ready.
	back, err := calls.Get(ctx, r.kind.entity, configurationID)
	if err != nil {
		// The PATCH went: it is reported, and the resource is not Ready until a read shows it.
		// observed stays the last thing Graph showed: the PATCH's answer, or after a 204 the GET's.
		res.err = err
		return
	}
	res.observed, res.requestID = &back.Overview, back.RequestID
	if _, res.drift, err = diffOverview(r.kind.entity, desired, &back.Overview); err != nil {
		res.err = err
	}
	// Only what the PATCH sent can be lost: a field it did not carry that differs now was changed
	// in Graph meanwhile, which the next job corrects.
	for _, d := range res.drift {
		if slices.ContainsFunc(res.found, func(f intunev1alpha1.FieldDrift) bool { return f.Field == d.Field }) {
			res.lost = append(res.lost, d)
		}
	}
}

// guardWrites is graph.Guarded, under the write-ahead log when calls keep one: the PATCH is logged
// first, and the client asks wanted after that, at the moment it sends it.
func guardWrites(calls graph.Calls, wanted func() error) graph.Calls {
	if l, ok := calls.(loggedCalls); ok {
		l.Calls = graph.Guarded(l.Calls, wanted)
		return l
	}
	return graph.Guarded(calls, wanted)
}

// unwanted is the error a guarded write ends with when the cluster no longer wants it: why.
type unwanted string

func (u unwanted) Error() string { return "the write is no longer wanted: " + string(u) }

// throttled reports whether Graph throttled a call (429, or 503 with Retry-After): the call goes
// again after the tenant's pause.
func throttled(err error) bool {
	return err != nil && !errors.Is(err, graph.ErrBudgetExhausted) && graph.Classify(err).Class == graph.ClassThrottled
}
