package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/graph"
)

// Who changed it: when a resync finds drift on a resource whose connection sets auditLookup, the
// operator reads Intune's audit log (GET /deviceManagement/auditEvents) for the events since the
// resource's last sync, as background jobs of the tenant's pacer (graph.BackgroundJob: a read at
// low priority, within the tenant's read budget), picks for each drifted field the newest event
// that changed it before the drift was seen, and names its actor and time in the DriftDetected
// event and next to the field in status.drift. The sync never waits for it: its pass writes the
// drift, and the look-up's end brings the resource back for a pass that names who changed it.
//
// Graph's "List auditEvents" documents no query parameter. The operator sends the narrowest filter
// that Graph serves and the Intune admin center uses, a range on activityDateTime (graph.AuditFilter),
// and matches the rest itself: the resource (resources[].resourceId is the configuration's id), the
// entity (a resource type that names the other overview is another resource's change), the field
// (modifiedProperties, when the event lists them), the end of the range, and the newest event.
//
// A 403 says the app lacks DeviceManagementApps.Read.All: the connection's AuditLogReadable
// condition says so once (and overview_audit_log_forbidden_connections counts it), and the log is
// not asked again until a backoff has passed, at the first drift after it; the graph client asks
// for a fresh token after a 403 (at most once a minute), so a permission granted meanwhile is
// picked up by itself.

// The bounds of a look-up.
const (
	// maxAuditPages is how many pages of the log one look-up reads at most: a tenant whose log
	// holds more since the resource's last sync is a busy one, and the look-up names nobody rather
	// than reading on.
	maxAuditPages = 10
	// auditClockSkew is how far an event may be stamped after the drift was seen and still count,
	// since Graph's clock is not the operator's, unless the operator's own app made it: its PATCH
	// follows the read that found the drift by milliseconds.
	auditClockSkew = 5 * time.Second
	// maxChangedBy is the CRD's bound of status.drift[].changedBy.
	maxChangedBy = 512
	// findingRetries is how many times a look-up's result waits for the resource's status to show
	// the drift it names (the cache may lag behind the status write of the pass that found it).
	findingRetries = 10
	// findingRetryAfter is how long it waits each time.
	findingRetryAfter = time.Second
)

var (
	auditLookups = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "overview_audit_lookups_total",
		Help: "Look-ups of who changed a drifted field in Intune's audit log (connections with auditLookup), by result: named, unnamed (no event matched), forbidden (the app lacks DeviceManagementApps.Read.All), failed (another error), skipped (the log is not asked again yet after a 403).",
	}, []string{"result"})
	auditForbidden = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "overview_audit_log_forbidden_connections",
		Help: "Connections with auditLookup whose app Graph refuses Intune's audit log (403): grant the app DeviceManagementApps.Read.All.",
	})
)

func init() { metrics.Registry.MustRegister(auditLookups, auditForbidden) }

// auditKey names a resource of either kind.
type auditKey struct {
	kind string
	types.NamespacedName
}

// audits is what the reconcilers remember of the audit log: the state of each connection's
// permission, the look-ups under way and the results that wait for their pass. Both overview
// reconcilers and both connection reconcilers share it.
type audits struct {
	clock clock.PassiveClock
	// first and longest bound the wait after a 403 before the log is asked again.
	first, longest time.Duration
	// notify brings a connection of each kind back to its reconciler when its state changed.
	notify map[intunev1alpha1.ConnectionKind]chan event.TypedGenericEvent[reconcile.Request]

	mu       sync.Mutex
	conns    map[string]*auditConn // by connectionKey
	pending  map[auditKey]*auditLookup
	findings map[auditKey]*auditFinding
}

// auditConn is what is known of a connection's permission to read the audit log.
type auditConn struct {
	// generation is the connection's generation the state is of: a new one (auditLookup turned
	// off and on, say) asks again at once.
	generation int64
	// refusedSince is when Graph first refused the log in a row (zero: it did not), and retryAt
	// when it is asked again at the earliest.
	refusedSince, retryAt time.Time
	// read is true once a look-up read the log.
	read bool
}

// newAudits returns the audit state, with the first wait after a 403 ten times forbiddenRenewal
// (how often the graph client gets a fresh token after a 403), and the longest an hour.
func newAudits(clk clock.PassiveClock, forbiddenRenewal time.Duration) *audits {
	if forbiddenRenewal <= 0 {
		forbiddenRenewal = time.Minute
	}
	a := &audits{
		clock:    clk,
		first:    10 * forbiddenRenewal,
		longest:  credentialsRecheck,
		notify:   map[intunev1alpha1.ConnectionKind]chan event.TypedGenericEvent[reconcile.Request]{},
		conns:    map[string]*auditConn{},
		pending:  map[auditKey]*auditLookup{},
		findings: map[auditKey]*auditFinding{},
	}
	for _, k := range []intunev1alpha1.ConnectionKind{intunev1alpha1.ConnectionKindNamespaced, intunev1alpha1.ConnectionKindCluster} {
		a.notify[k] = make(chan event.TypedGenericEvent[reconcile.Request], jobsDoneBuffer)
	}
	return a
}

// auditQuery is what a look-up looks for: the events of the configuration's entity that changed
// the fields, between since and seen.
type auditQuery struct {
	configurationID string
	// entityType is the resource's Graph type; otherTypes those of the configuration's other
	// overviews, whose changes are not this resource's.
	entityType string
	otherTypes []string
	fields     []string
	// since is the resource's last sync before the drift (status.lastSyncTime); seen is when the
	// read that found the drift was answered.
	since, seen time.Time
	// ownApp is the connection's client id: the operator's own writes.
	ownApp string
}

// auditLookup is a look-up under way.
type auditLookup struct {
	key        auditKey
	uid        types.UID
	conn       string // connectionKey
	generation int64  // the connection's
	query      auditQuery
	drift      []intunev1alpha1.FieldDrift // the drift it names the author of
	policy     intunev1alpha1.ManagementPolicy
	applied    bool // the job that found the drift set it back (Manage)
	line       graph.Line
	lineKey    string
	wake       func() // brings the resource back to its reconciler
	pages      int
	best       map[string]*graph.AuditEvent // by field
}

// auditFinding is what a look-up found, until a pass tells it.
type auditFinding struct {
	uid     types.UID
	drift   []intunev1alpha1.FieldDrift
	policy  intunev1alpha1.ManagementPolicy
	applied bool
	query   auditQuery
	// by is the event that changed each field it names.
	by map[string]*graph.AuditEvent
	// why says why it names nobody, when the log could not be read.
	why string
	// told is true once the DriftDetected event was given; settled once status names the authors
	// (or shows the drift no longer).
	told, settled bool
	retries       int
}

// lookUpDrift starts a look-up of who changed the drift a resync found, when the resource's
// connection sets auditLookup, and reports whether it did: the DriftDetected event then waits for
// its end. It never fails the pass: whatever stands in the way (the connection, a 403 not long
// ago) leaves the drift reported as it is without a look-up.
func (r *OverviewReconciler) lookUpDrift(ctx context.Context, p *overviewPass, res *syncResult) bool {
	if r.audit == nil || p.retold {
		return false
	}
	drift := newDrift(p.base.OverviewStatus(), res)
	if len(drift) == 0 {
		return false
	}
	conn, err := r.connections.resolve(ctx, p.base)
	if err != nil || !conn.Settings().AuditLookup {
		return false
	}
	key := connectionKey(kindOf(conn), conn.GetNamespace(), conn.GetName())
	if r.audit.refused(key, conn.GetGeneration()) {
		auditLookups.WithLabelValues("skipped").Inc()
		return false
	}
	via, err := r.connections.keyOf(ctx, conn)
	var gc graph.Client
	if err == nil {
		gc, err = r.connections.build(ctx, conn, via)
	}
	if err != nil {
		return false
	}
	seen := res.readAt
	if seen.IsZero() {
		seen = res.at
	}
	fields := make([]string, len(drift))
	for i, d := range drift {
		fields[i] = d.Field
	}
	var others []string
	for _, e := range graph.Entities {
		if e.Type != r.kind.entity.Type {
			others = append(others, e.Type)
		}
	}
	nn := client.ObjectKeyFromObject(p.base)
	l := &auditLookup{
		key:        auditKey{kind: r.kind.entity.Kind, NamespacedName: nn},
		uid:        p.base.GetUID(),
		conn:       key,
		generation: conn.GetGeneration(),
		query: auditQuery{
			configurationID: p.base.OverviewSpec().DeviceConfigurationID,
			entityType:      r.kind.entity.Type,
			otherTypes:      others,
			fields:          fields,
			since:           p.base.OverviewStatus().LastSyncTime.Time,
			seen:            seen,
			ownApp:          conn.Settings().ClientID,
		},
		drift:   drift,
		policy:  policyOf(p.base),
		applied: res.applied,
		line:    gc.Line(),
		lineKey: "audit/" + r.memory.lineKey(nn),
		wake: func() {
			r.done <- event.TypedGenericEvent[reconcile.Request]{Object: reconcile.Request{NamespacedName: nn}}
		},
	}
	logf.FromContext(ctx).V(1).Info("Looking up who changed the drifted fields in Intune's audit log", "fields", fields, "since", l.query.since)
	r.audit.submit(l)
	return true
}

// newDrift is the drift a resync found that the resource's status does not show yet: the fields
// the job found differing (those it set back under Manage as well) whose value in Graph is not
// the one status.drift shows. Only a resync counts, of a generation status shows synced before:
// the drift of a new spec, or of a first sync, is the spec's, not a change made in Graph.
func newDrift(st *intunev1alpha1.OverviewStatus, res *syncResult) []intunev1alpha1.FieldDrift {
	if res.observed == nil || len(res.found) == 0 || st.LastSyncTime == nil || st.ObservedGeneration != res.generation {
		return nil
	}
	var out []intunev1alpha1.FieldDrift
	for _, f := range res.found {
		shown := slices.ContainsFunc(st.Drift, func(d intunev1alpha1.FieldDrift) bool {
			return d.Field == f.Field && d.Observed == f.Observed
		})
		if !shown {
			out = append(out, intunev1alpha1.FieldDrift{Field: f.Field, Desired: f.Desired, Observed: f.Observed})
		}
	}
	return out
}

// refused reports whether Graph refused the connection's app the log recently enough that it is
// not asked again yet.
func (a *audits) refused(conn string, generation int64) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.conns[conn]
	return s != nil && s.generation == generation && !s.refusedSince.IsZero() && a.clock.Now().Before(s.retryAt)
}

// submit puts l's first page in its tenant's background line.
func (a *audits) submit(l *auditLookup) {
	a.mu.Lock()
	a.pending[l.key] = l
	a.mu.Unlock()
	a.submitPage(l, "")
}

// submitPage puts the job that reads one page of l (the first when next is "") in the line. A
// newer look-up of the same resource takes the waiting one's place; one that finds itself
// replaced when it runs makes no call.
func (a *audits) submitPage(l *auditLookup, next string) {
	var page graph.AuditPage
	run := func(ctx context.Context, calls graph.Calls) error {
		if !a.current(l) {
			return nil
		}
		ac, ok := calls.(graph.AuditCalls)
		if !ok {
			return fmt.Errorf("the Graph client cannot read the audit log")
		}
		since := l.query.since.Add(-auditClockSkew)
		var err error
		page, err = ac.AuditEvents(ctx, since, next)
		return err
	}
	done := func(err error) {
		if !a.current(l) {
			return
		}
		if err == nil {
			l.pages++
			l.best = pickAuthors(l.query, page.Events, l.best)
			if page.NextLink != "" && l.pages < maxAuditPages {
				a.submitPage(l, page.NextLink)
				return
			}
			if page.NextLink != "" {
				err = fmt.Errorf("the log holds more than %d pages of events since %s", maxAuditPages, formatTime(l.query.since))
			}
		}
		a.finish(l, err)
	}
	// QuietPause 0: a throttled look-up waits out any pause in its place; nothing waits for it.
	l.line.Submit(l.lineKey, graph.BackgroundJob, graph.Job{Run: run, Done: done})
}

// current reports whether l is still the look-up of its resource.
func (a *audits) current(l *auditLookup) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.pending[l.key] == l
}

// finish records how l ended: its finding for the resource's next pass, and what it says of the
// connection's permission. It brings the resource back, and the connection when its state changed.
func (a *audits) finish(l *auditLookup, err error) {
	f := &auditFinding{uid: l.uid, drift: l.drift, policy: l.policy, applied: l.applied, query: l.query, by: l.best}
	forbidden := err != nil && graph.Classify(err).Kind == graph.KindForbidden
	result := "unnamed"
	switch {
	case forbidden:
		result = "forbidden"
		f.why = "Graph refuses the app Intune's audit log: grant it " + intunev1alpha1.PermissionAuditLog + " (see the connection's " + intunev1alpha1.ConditionAuditLogReadable + " condition)"
	case err != nil:
		result = "failed"
		f.why = "Intune's audit log could not be read: " + auditErrorText(err)
	case len(f.by) > 0:
		result = "named"
	}
	auditLookups.WithLabelValues(result).Inc()

	a.mu.Lock()
	if a.pending[l.key] == l {
		delete(a.pending, l.key)
		a.findings[l.key] = f
	}
	changed := false
	if forbidden || err == nil {
		changed = a.permissionLocked(l.conn, l.generation, forbidden)
	}
	a.mu.Unlock()
	l.wake()
	if changed {
		a.notifyConnection(l.conn)
	}
}

// auditErrorText says what went wrong with a look-up, as the graph client describes it.
func auditErrorText(err error) string {
	if c := graph.Classify(err); c.Description != "" {
		return c.Description
	}
	return err.Error()
}

// permissionLocked records whether Graph refused the connection's app the log, and reports
// whether what its condition says changes. a.mu must be held.
func (a *audits) permissionLocked(conn string, generation int64, refused bool) bool {
	s := a.conns[conn]
	if s == nil || s.generation != generation {
		s = &auditConn{generation: generation}
		a.conns[conn] = s
	}
	now := a.clock.Now()
	was := *s
	if refused {
		if s.refusedSince.IsZero() {
			s.refusedSince = now
		}
		s.read = false
		s.retryAt = now.Add(failingBackoff(a.first, a.longest, now.Sub(s.refusedSince)))
	} else {
		s.refusedSince, s.retryAt, s.read = time.Time{}, time.Time{}, true
	}
	a.countRefusedLocked()
	return was != *s
}

// countRefusedLocked sets the gauge of refused connections. a.mu must be held.
func (a *audits) countRefusedLocked() {
	n := 0
	for _, s := range a.conns {
		if !s.refusedSince.IsZero() {
			n++
		}
	}
	auditForbidden.Set(float64(n))
}

// notifyConnection brings the connection named by key back to its reconciler, which writes its
// AuditLogReadable condition.
func (a *audits) notifyConnection(key string) {
	kind, rest, _ := strings.Cut(key, "/")
	nn := types.NamespacedName{Name: rest}
	if ns, name, ok := strings.Cut(rest, "/"); ok && intunev1alpha1.ConnectionKind(kind) == intunev1alpha1.ConnectionKindNamespaced {
		nn = types.NamespacedName{Namespace: ns, Name: name}
	}
	ch, ok := a.notify[intunev1alpha1.ConnectionKind(kind)]
	if !ok {
		return
	}
	select {
	case ch <- event.TypedGenericEvent[reconcile.Request]{Object: reconcile.Request{NamespacedName: nn}}:
	default:
		// The queue is that far behind: the connection's hourly check writes the condition.
	}
}

// take returns the finding that waits for the resource's pass, if any, and forgets it.
func (a *audits) take(key auditKey, uid types.UID) *auditFinding {
	if a == nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	f := a.findings[key]
	delete(a.findings, key)
	if f == nil || f.uid != uid {
		return nil
	}
	return f
}

// keep puts back a finding whose pass could not write status (or whose status did not show the
// drift yet), unless a newer one came meanwhile; wake, if set, brings the resource back later.
func (a *audits) keep(key auditKey, f *auditFinding, wake func()) {
	if a == nil || f == nil {
		return
	}
	a.mu.Lock()
	if _, newer := a.findings[key]; !newer {
		a.findings[key] = f
	}
	a.mu.Unlock()
	if wake != nil {
		time.AfterFunc(findingRetryAfter, wake)
	}
}

// forget drops what is remembered of a resource that is gone.
func (a *audits) forget(key auditKey) {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if l, ok := a.pending[key]; ok {
		l.line.Withdraw(l.lineKey)
		delete(a.pending, key)
	}
	delete(a.findings, key)
}

// forgetConnection drops what is remembered of a connection that is gone or no longer looks up.
func (a *audits) forgetConnection(key string) {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.conns, key)
	a.countRefusedLocked()
}

// tellFinding gives the DriftDetected event of a finding the pass took, once, and marks it told.
func (r *OverviewReconciler) tellFinding(p *overviewPass) {
	f := p.finding
	if f == nil || f.told {
		return
	}
	f.told = true
	r.recorder.Eventf(p.base, nil, corev1.EventTypeNormal, intunev1alpha1.ReasonDriftDetected, "Observe", "%s", f.message())
}

// takeFinding takes the finding that waits for the pass, if any, and gives its event.
func (r *OverviewReconciler) takeFinding(p *overviewPass, key types.NamespacedName) {
	p.finding = r.audit.take(auditKey{kind: r.kind.entity.Kind, NamespacedName: key}, p.base.GetUID())
	r.tellFinding(p)
}

// keepFinding puts the pass's finding back when its pass could not write status, or, when status
// did not show the drift it names yet, for a pass a moment later.
func (r *OverviewReconciler) keepFinding(p *overviewPass, key types.NamespacedName, written bool) {
	f := p.finding
	if f == nil || written && f.settled {
		return
	}
	ak := auditKey{kind: r.kind.entity.Kind, NamespacedName: key}
	if !written {
		r.audit.keep(ak, f, nil) // the pass's error brings the resource back
		return
	}
	if f.retries++; f.retries > findingRetries {
		return
	}
	r.audit.keep(ak, f, func() {
		select {
		case r.done <- event.TypedGenericEvent[reconcile.Request]{Object: reconcile.Request{NamespacedName: key}}:
		case <-time.After(time.Minute):
		}
	})
}

// nameAuthors writes the authors a finding names next to the drifted fields of status, and notes
// whether it is settled: every field it names is shown (or shows another value now), or, under
// Manage, status shows no drift to name. Called by deriveStatus before the drift of the pass's
// result replaces status.drift, which keeps the names of the fields whose value did not change.
func (p *overviewPass) nameAuthors() {
	f := p.finding
	if f == nil {
		return
	}
	st := p.obj.OverviewStatus()
	settled := true
	for _, d := range f.drift {
		i := slices.IndexFunc(st.Drift, func(s intunev1alpha1.FieldDrift) bool { return s.Field == d.Field })
		switch {
		case i < 0 && f.policy == intunev1alpha1.ManagementPolicyObserveOnly:
			settled = false // not in the cache yet
		case i < 0 || st.Drift[i].Observed != d.Observed:
			// Under Manage, set back; or changed again since: another look-up names that.
		default:
			if ev := f.by[d.Field]; ev != nil {
				st.Drift[i].ChangedBy = authorOf(ev)
				st.Drift[i].ChangedAt = &metav1.Time{Time: ev.ActivityDateTime.Truncate(time.Second)}
			}
		}
	}
	f.settled = settled
}

// keepAuthors returns drift with the authors status shows of the same fields at the same values:
// a resync that finds the same drift again does not forget who made it.
func keepAuthors(drift, shown []intunev1alpha1.FieldDrift) []intunev1alpha1.FieldDrift {
	if len(drift) == 0 || len(shown) == 0 {
		return drift
	}
	out := slices.Clone(drift)
	for i, d := range out {
		for _, s := range shown {
			if s.Field == d.Field && s.Observed == d.Observed && s.ChangedBy != "" {
				out[i].ChangedBy, out[i].ChangedAt = s.ChangedBy, s.ChangedAt.DeepCopy()
			}
		}
	}
	return out
}

// message is the DriftDetected event of a finding: each field with both sides and who changed it.
func (f *auditFinding) message() string {
	parts := make([]string, len(f.drift))
	for i, d := range f.drift {
		part := fmt.Sprintf("%s: spec %s, Graph %s", d.Field, d.Desired, d.Observed)
		if ev := f.by[d.Field]; ev != nil {
			part += fmt.Sprintf(" (changed by %s at %s)", authorOf(ev), formatTime(ev.ActivityDateTime))
		}
		parts[i] = part
	}
	var b strings.Builder
	if f.policy == intunev1alpha1.ManagementPolicyObserveOnly {
		b.WriteString("Graph differs from the spec in ")
	} else {
		b.WriteString("Graph was changed outside the operator in ")
	}
	b.WriteString(strings.Join(parts, "; "))
	switch {
	case f.why != "":
		b.WriteString("; who changed it is not known: " + f.why)
	case len(f.by) < len(f.drift):
		which := "them"
		if len(f.by) > 0 {
			which = "the others"
		}
		fmt.Fprintf(&b, "; Intune's audit log names no change of %s between %s and %s",
			which, formatTime(f.query.since), formatTime(f.query.seen))
	}
	if f.applied {
		b.WriteString("; the operator set it back to the spec")
	}
	return b.String()
}

// pickAuthors adds to best (by field) the events of a page that changed each field of the query:
// the newest that matches, as of the drift being seen. It is a pure function of the query and
// the events; best, which it returns, holds the newest of earlier pages.
func pickAuthors(q auditQuery, events []graph.AuditEvent, best map[string]*graph.AuditEvent) map[string]*graph.AuditEvent {
	for i := range events {
		ev := &events[i]
		for _, field := range q.fields {
			if !q.matches(ev, field) {
				continue
			}
			if b := best[field]; b != nil && !newer(ev, b) {
				continue
			}
			if best == nil {
				best = map[string]*graph.AuditEvent{}
			}
			e := *ev
			best[field] = &e
		}
	}
	return best
}

// newer orders events by time, then by id, so that the pick does not depend on the page order.
func newer(a, b *graph.AuditEvent) bool {
	if !a.ActivityDateTime.Equal(b.ActivityDateTime) {
		return a.ActivityDateTime.After(b.ActivityDateTime)
	}
	return a.ID > b.ID
}

// matches reports whether ev is a change of field of the query's configuration and entity, made
// between since and the moment the drift was seen.
func (q auditQuery) matches(ev *graph.AuditEvent, field string) bool {
	at := ev.ActivityDateTime
	if at.IsZero() || at.Before(q.since.Add(-auditClockSkew)) {
		return false
	}
	ownApp := q.ownApp != "" && strings.EqualFold(ev.Actor.ApplicationID, q.ownApp) && ev.Actor.UserPrincipalName == ""
	end := q.seen.Add(auditClockSkew)
	if ownApp {
		end = q.seen
	}
	if at.After(end) {
		return false
	}
	result := strings.ToLower(ev.ActivityResult)
	if strings.HasPrefix(result, "fail") || strings.EqualFold(ev.ActivityOperationType, "get") {
		return false // nothing changed
	}
	return slices.ContainsFunc(ev.Resources, func(r graph.AuditResource) bool {
		if !strings.EqualFold(r.ResourceID, q.configurationID) {
			return false
		}
		if slices.ContainsFunc(q.otherTypes, func(t string) bool { return strings.EqualFold(r.Type, t) }) {
			return false // the configuration's other overview
		}
		if len(r.ModifiedProperties) == 0 {
			return true // the event does not say which: it may be this one
		}
		return slices.ContainsFunc(r.ModifiedProperties, func(m graph.AuditProperty) bool {
			name := strings.ToLower(m.DisplayName)
			return name == strings.ToLower(field) || strings.HasSuffix(name, "."+strings.ToLower(field))
		})
	})
}

// authorOf names an event's actor as status.drift[].changedBy does: a person by their user
// principal name; an app as "app <name> (<application id>)"; else whatever id the event gives.
// It is at most maxChangedBy bytes.
func authorOf(ev *graph.AuditEvent) string {
	a := ev.Actor
	var s string
	switch {
	case a.UserPrincipalName != "":
		s = a.UserPrincipalName
	case a.ApplicationDisplayName != "" || a.ServicePrincipalName != "" || a.ApplicationID != "":
		name := a.ApplicationDisplayName
		if name == "" {
			name = a.ServicePrincipalName
		}
		switch {
		case name != "" && a.ApplicationID != "":
			s = fmt.Sprintf("app %s (%s)", name, a.ApplicationID)
		case name != "":
			s = "app " + name
		default:
			s = "app " + a.ApplicationID
		}
	case a.UserID != "":
		s = "user " + a.UserID
	default:
		s = "an actor the audit log does not name"
	}
	if len(s) > maxChangedBy {
		s = strings.ToValidUTF8(s[:maxChangedBy], "")
	}
	return s
}

// formatTime writes a time as the events and conditions do: UTC, to the second.
func formatTime(t time.Time) string {
	return t.UTC().Truncate(time.Second).Format(time.RFC3339)
}

// now is the reconciler's clock, or the real one for a reconciler built without one (tests).
func (r *OverviewReconciler) now() time.Time {
	if r.clock == nil {
		return time.Now()
	}
	return r.clock.Now()
}

// auditCondition sets a connection's AuditLogReadable condition from what the look-ups found,
// and reports whether it turned False (a Warning event says so once). A connection that does not
// set auditLookup has no such condition; one whose state this process does not know (after a
// restart) keeps what its status says, and a refusal it says resumes its backoff.
func (a *audits) auditCondition(c conditions, conn connectionObject) (refusedNow bool, message string) {
	if a == nil {
		return false, ""
	}
	key := connectionKey(kindOf(conn), conn.GetNamespace(), conn.GetName())
	was := c.find(intunev1alpha1.ConditionAuditLogReadable)
	if !conn.Settings().AuditLookup {
		meta.RemoveStatusCondition(c.list, intunev1alpha1.ConditionAuditLogReadable)
		a.forgetConnection(key)
		return false, ""
	}
	a.mu.Lock()
	s := a.conns[key]
	if s == nil || s.generation != conn.GetGeneration() {
		if was != nil && was.Status == metav1.ConditionFalse && was.ObservedGeneration == conn.GetGeneration() {
			// Refused before this process started: not asked again before the backoff ends.
			since := was.LastTransitionTime.Time
			s = &auditConn{generation: conn.GetGeneration(), refusedSince: since,
				retryAt: since.Add(failingBackoff(a.first, a.longest, a.clock.Since(since)))}
			a.conns[key] = s
			a.countRefusedLocked()
		}
		a.mu.Unlock()
		return false, ""
	}
	state := *s
	a.mu.Unlock()
	switch {
	case !state.refusedSince.IsZero():
		message = fmt.Sprintf("Graph refuses the app %s Intune's audit log (403): grant it the application permission %s with admin consent. "+
			"Until then drift is reported without who changed it, and the log is asked again at the first drift after %s, with a fresh token",
			conn.Settings().ClientID, intunev1alpha1.PermissionAuditLog, formatTime(state.retryAt))
		c.set(intunev1alpha1.ConditionAuditLogReadable, metav1.ConditionFalse, intunev1alpha1.ReasonForbidden, message)
		return was == nil || was.Status != metav1.ConditionFalse, message
	case state.read:
		c.set(intunev1alpha1.ConditionAuditLogReadable, metav1.ConditionTrue, intunev1alpha1.ReasonAuditLogRead,
			"Intune's audit log was read: drift names who changed it")
	}
	return false, ""
}

// auditChanged enqueues a connection whose audit state changed.
type auditChanged struct {
	handler.TypedFuncs[reconcile.Request, reconcile.Request]
}

// Generic implements handler.TypedEventHandler.
func (auditChanged) Generic(_ context.Context, e event.TypedGenericEvent[reconcile.Request], q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	q.Add(e.Object)
}
