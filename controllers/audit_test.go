package controllers

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/graph"
)

const (
	auditConfig = "6d6c3b5e-0f9a-4c1e-9d7e-2f1f3a4b5c6d"
	auditApp    = "0b9c1d2e-3f4a-5b6c-7d8e-9f0a1b2c3d4e"
)

var auditT0 = time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)

// change is an event of the audit log: who changed field of the configuration's user overview at
// the minute after auditT0.
func change(id, who string, minute int, field string) graph.AuditEvent {
	ev := graph.AuditEvent{
		ID: id, ActivityDateTime: auditT0.Add(time.Duration(minute) * time.Minute), ActivityOperationType: "Patch", ActivityResult: "Success",
		Actor: graph.AuditActor{UserPrincipalName: who},
		Resources: []graph.AuditResource{{ResourceID: auditConfig, Type: "deviceConfigurationUserOverview",
			ModifiedProperties: []graph.AuditProperty{{DisplayName: field, OldValue: "12", NewValue: "3"}}}},
	}
	return ev
}

// with returns ev changed by edit.
func with(ev graph.AuditEvent, edit func(*graph.AuditEvent)) graph.AuditEvent {
	edit(&ev)
	return ev
}

// TestPickAuthors is the pick of who changed each drifted field, a pure function of the query and
// the events: of the events of the configuration's entity that changed the field between the last
// sync and the moment the drift was seen, the newest.
func TestPickAuthors(t *testing.T) {
	q := auditQuery{
		configurationID: auditConfig, entityType: "deviceConfigurationUserOverview",
		otherTypes: []string{"deviceConfigurationDeviceOverview"}, fields: []string{"successCount"},
		since: auditT0, seen: auditT0.Add(10 * time.Minute), ownApp: auditApp,
	}
	tests := map[string]struct {
		events []graph.AuditEvent
		want   string // the id of the event picked for successCount; "" for none
	}{
		"the one change":                 {events: []graph.AuditEvent{change("a", "alice", 5, "successCount")}, want: "a"},
		"several: the newest":            {events: []graph.AuditEvent{change("a", "alice", 5, "successCount"), change("b", "bob", 7, "successCount"), change("c", "carol", 6, "successCount")}, want: "b"},
		"the same time: the greatest id": {events: []graph.AuditEvent{change("b", "bob", 5, "successCount"), change("a", "alice", 5, "successCount")}, want: "b"},
		"another field":                  {events: []graph.AuditEvent{change("a", "alice", 5, "failedCount")}},
		"a qualified property name":      {events: []graph.AuditEvent{change("a", "alice", 5, "DeviceConfigurationUserOverview.SuccessCount")}, want: "a"},
		"no properties listed: it may be this one": {
			events: []graph.AuditEvent{with(change("a", "alice", 5, ""), func(e *graph.AuditEvent) { e.Resources[0].ModifiedProperties = nil })}, want: "a",
		},
		"another configuration": {
			events: []graph.AuditEvent{with(change("a", "alice", 5, "successCount"), func(e *graph.AuditEvent) { e.Resources[0].ResourceID = "other" })},
		},
		"the id in another case": {
			events: []graph.AuditEvent{with(change("a", "alice", 5, "successCount"), func(e *graph.AuditEvent) {
				e.Resources[0].ResourceID = strings.ToUpper(auditConfig)
			})}, want: "a",
		},
		"the configuration's device overview": {
			events: []graph.AuditEvent{with(change("a", "alice", 5, "successCount"), func(e *graph.AuditEvent) { e.Resources[0].Type = "DeviceConfigurationDeviceOverview" })},
		},
		"a resource type the operator does not know": {
			events: []graph.AuditEvent{with(change("a", "alice", 5, "successCount"), func(e *graph.AuditEvent) { e.Resources[0].Type = "DeviceConfiguration" })}, want: "a",
		},
		"a failed activity changed nothing": {
			events: []graph.AuditEvent{with(change("a", "alice", 5, "successCount"), func(e *graph.AuditEvent) { e.ActivityResult = "Failure" })},
		},
		"a read changed nothing": {
			events: []graph.AuditEvent{with(change("a", "alice", 5, "successCount"), func(e *graph.AuditEvent) { e.ActivityOperationType = "Get" })},
		},
		"no time":                      {events: []graph.AuditEvent{with(change("a", "alice", 5, "successCount"), func(e *graph.AuditEvent) { e.ActivityDateTime = time.Time{} })}},
		"before the last sync":         {events: []graph.AuditEvent{change("a", "alice", -1, "successCount")}},
		"after the drift was seen":     {events: []graph.AuditEvent{change("a", "alice", 11, "successCount")}},
		"a few seconds after: a clock": {events: []graph.AuditEvent{with(change("a", "alice", 10, "successCount"), func(e *graph.AuditEvent) { e.ActivityDateTime = e.ActivityDateTime.Add(2 * time.Second) })}, want: "a"},
		"the operator's own PATCH right after the read is not the author": {
			events: []graph.AuditEvent{
				change("a", "alice", 5, "successCount"),
				with(change("op", "", 10, "successCount"), func(e *graph.AuditEvent) {
					e.ActivityDateTime = e.ActivityDateTime.Add(100 * time.Millisecond)
					e.Actor = graph.AuditActor{ApplicationID: strings.ToUpper(auditApp)}
				}),
			},
			want: "a",
		},
		"the operator's app before the read is (another tool with its credentials)": {
			events: []graph.AuditEvent{change("a", "alice", 5, "successCount"),
				with(change("op", "", 6, "successCount"), func(e *graph.AuditEvent) { e.Actor = graph.AuditActor{ApplicationID: auditApp} })},
			want: "op",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			best := pickAuthors(q, tc.events, nil)
			got := ""
			if ev := best["successCount"]; ev != nil {
				got = ev.ID
			}
			if got != tc.want {
				t.Errorf("picked %q, want %q", got, tc.want)
			}
		})
	}

	t.Run("across pages, per field", func(t *testing.T) {
		q := q
		q.fields = []string{"successCount", "failedCount"}
		best := pickAuthors(q, []graph.AuditEvent{change("b", "bob", 7, "successCount")}, nil)
		best = pickAuthors(q, []graph.AuditEvent{change("a", "alice", 5, "successCount"), change("c", "carol", 3, "failedCount")}, best)
		if best["successCount"].ID != "b" || best["failedCount"].ID != "c" {
			t.Errorf("picked %s and %s, want b (the newest, of the first page) and c", best["successCount"].ID, best["failedCount"].ID)
		}
	})
}

func TestAuthorOf(t *testing.T) {
	long := strings.Repeat("é", 400)
	tests := map[string]struct {
		actor graph.AuditActor
		want  string
	}{
		"a person":                        {graph.AuditActor{UserPrincipalName: "alice@contoso.com", ApplicationID: "portal", ApplicationDisplayName: "Microsoft Intune portal extension"}, "alice@contoso.com"},
		"an app":                          {graph.AuditActor{ApplicationID: auditApp, ApplicationDisplayName: "Contoso sync"}, "app Contoso sync (" + auditApp + ")"},
		"an app by its service principal": {graph.AuditActor{ServicePrincipalName: "contoso-sync"}, "app contoso-sync"},
		"an app by its id":                {graph.AuditActor{ApplicationID: auditApp}, "app " + auditApp},
		"a user by id":                    {graph.AuditActor{UserID: "u-1"}, "user u-1"},
		"nobody":                          {graph.AuditActor{}, "an actor the audit log does not name"},
		"a name longer than status holds": {graph.AuditActor{UserPrincipalName: long}, strings.Repeat("é", maxChangedBy/2)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := authorOf(&graph.AuditEvent{Actor: tc.actor}); got != tc.want {
				t.Errorf("authorOf = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestNewDrift: only a resync of a generation status shows synced looks the author up, and only
// of the fields whose value in Graph status does not show yet.
func TestNewDrift(t *testing.T) {
	synced := metav1.NewTime(auditT0)
	found := []intunev1alpha1.FieldDrift{{Field: "successCount", Desired: "12", Observed: "3"}, {Field: "failedCount", Desired: "0", Observed: "1"}}
	seen := &graph.Overview{ID: auditConfig}
	tests := map[string]struct {
		st   intunev1alpha1.OverviewStatus
		res  syncResult
		want []string
	}{
		"a resync finds two fields changed": {
			st: intunev1alpha1.OverviewStatus{ObservedGeneration: 2, LastSyncTime: &synced}, res: syncResult{generation: 2, observed: seen, found: found},
			want: []string{"successCount", "failedCount"},
		},
		"one already shown at that value": {
			st:  intunev1alpha1.OverviewStatus{ObservedGeneration: 2, LastSyncTime: &synced, Drift: []intunev1alpha1.FieldDrift{{Field: "successCount", Desired: "12", Observed: "3"}}},
			res: syncResult{generation: 2, observed: seen, found: found}, want: []string{"failedCount"},
		},
		"one shown at another value: changed again": {
			st:  intunev1alpha1.OverviewStatus{ObservedGeneration: 2, LastSyncTime: &synced, Drift: []intunev1alpha1.FieldDrift{{Field: "successCount", Desired: "12", Observed: "5"}}},
			res: syncResult{generation: 2, observed: seen, found: found}, want: []string{"successCount", "failedCount"},
		},
		"a new generation: the spec's drift": {
			st: intunev1alpha1.OverviewStatus{ObservedGeneration: 1, LastSyncTime: &synced}, res: syncResult{generation: 2, observed: seen, found: found},
		},
		"the first sync": {st: intunev1alpha1.OverviewStatus{}, res: syncResult{generation: 1, observed: seen, found: found}},
		"no drift":       {st: intunev1alpha1.OverviewStatus{ObservedGeneration: 2, LastSyncTime: &synced}, res: syncResult{generation: 2, observed: seen}},
		"Graph not read": {st: intunev1alpha1.OverviewStatus{ObservedGeneration: 2, LastSyncTime: &synced}, res: syncResult{generation: 2, found: found}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var got []string
			for _, d := range newDrift(&tc.st, &tc.res) {
				got = append(got, d.Field)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("new drift (-want +got):\n%s", d)
			}
		})
	}
}

// A resync that finds the same drift keeps who made it; a field at another value does not.
func TestKeepAuthors(t *testing.T) {
	at := metav1.NewTime(auditT0)
	shown := []intunev1alpha1.FieldDrift{
		{Field: "successCount", Desired: "12", Observed: "3", ChangedBy: "alice@contoso.com", ChangedAt: &at},
		{Field: "failedCount", Desired: "0", Observed: "1", ChangedBy: "bob@contoso.com", ChangedAt: &at},
	}
	drift := []intunev1alpha1.FieldDrift{{Field: "successCount", Desired: "12", Observed: "3"}, {Field: "failedCount", Desired: "0", Observed: "2"}}
	want := []intunev1alpha1.FieldDrift{
		{Field: "successCount", Desired: "12", Observed: "3", ChangedBy: "alice@contoso.com", ChangedAt: &at},
		{Field: "failedCount", Desired: "0", Observed: "2"},
	}
	if d := cmp.Diff(want, keepAuthors(drift, shown)); d != "" {
		t.Errorf("drift (-want +got):\n%s", d)
	}
	if drift[0].ChangedBy != "" {
		t.Error("keepAuthors changed the result's own drift")
	}
}

// A finding names who changed each field next to it in status, and its event says it, or why it
// cannot.
func TestFindingInStatusAndEvent(t *testing.T) {
	alice := change("a", "alice@contoso.com", 5, "successCount")
	drift := []intunev1alpha1.FieldDrift{{Field: "successCount", Desired: "12", Observed: "3"}, {Field: "failedCount", Desired: "0", Observed: "1"}}
	q := auditQuery{since: auditT0, seen: auditT0.Add(10 * time.Minute)}
	observe := &auditFinding{drift: drift, policy: intunev1alpha1.ManagementPolicyObserveOnly, query: q, by: map[string]*graph.AuditEvent{"successCount": &alice}}

	p := &overviewPass{obj: &intunev1alpha1.DeviceConfigurationUserOverview{Status: intunev1alpha1.OverviewStatus{Drift: drift}}, finding: observe}
	p.nameAuthors()
	got := p.obj.OverviewStatus().Drift
	if got[0].ChangedBy != "alice@contoso.com" || got[0].ChangedAt == nil || !got[0].ChangedAt.Time.Equal(auditT0.Add(5*time.Minute)) {
		t.Errorf("successCount: %+v, want alice at 10:05", got[0])
	}
	if got[1].ChangedBy != "" || got[1].ChangedAt != nil || !observe.settled {
		t.Errorf("failedCount: %+v, settled %t: want no author, settled", got[1], observe.settled)
	}
	want := "Graph differs from the spec in successCount: spec 12, Graph 3 (changed by alice@contoso.com at 2026-11-28T10:05:00Z); " +
		"failedCount: spec 0, Graph 1; Intune's audit log names no change of the others between 2026-11-28T10:00:00Z and 2026-11-28T10:10:00Z"
	if msg := observe.message(); msg != want {
		t.Errorf("event:\n%s\nwant\n%s", msg, want)
	}

	// Status does not show the drift yet (the cache lags the write): not settled, tried again.
	lagging := &auditFinding{drift: drift, policy: intunev1alpha1.ManagementPolicyObserveOnly, by: observe.by}
	p = &overviewPass{obj: &intunev1alpha1.DeviceConfigurationUserOverview{}, finding: lagging}
	p.nameAuthors()
	if lagging.settled {
		t.Error("settled a finding whose drift status does not show")
	}

	manage := &auditFinding{drift: drift[:1], policy: intunev1alpha1.ManagementPolicyManage, applied: true, query: q, by: observe.by}
	p = &overviewPass{obj: &intunev1alpha1.DeviceConfigurationUserOverview{}, finding: manage}
	p.nameAuthors()
	if !manage.settled {
		t.Error("under Manage, a drift set back has nothing to name in status, and is settled")
	}
	if msg := manage.message(); msg != "Graph was changed outside the operator in successCount: spec 12, Graph 3 (changed by alice@contoso.com at 2026-11-28T10:05:00Z); the operator set it back to the spec" {
		t.Errorf("Manage event: %s", msg)
	}
	refused := &auditFinding{drift: drift[:1], policy: intunev1alpha1.ManagementPolicyObserveOnly, query: q, why: "Graph refuses the app Intune's audit log"}
	if msg := refused.message(); !strings.HasSuffix(msg, "; who changed it is not known: Graph refuses the app Intune's audit log") {
		t.Errorf("refused event: %s", msg)
	}
}

// A 403 stops the look-ups of the connection for a backoff that grows while Graph keeps refusing;
// a look-up that reads the log, or a new generation of the connection, ends it.
func TestAuditPermissionBackoff(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(auditT0)
	a := newAudits(clk, time.Minute)
	const conn = "GraphConnection/it-ops/contoso"
	forbidden := &graph.Error{StatusCode: http.StatusForbidden, Code: "Forbidden"}
	lookup := func(generation int64, err error) {
		t.Helper()
		key := auditKey{kind: "DeviceConfigurationUserOverview", NamespacedName: types.NamespacedName{Namespace: "it-ops", Name: "wifi"}}
		l := &auditLookup{key: key, conn: conn, generation: generation, wake: func() {}}
		a.pending[key] = l
		a.finish(l, err)
		if f := a.take(key, ""); f == nil {
			t.Fatal("the look-up left no finding")
		}
	}

	if a.refused(conn, 1) {
		t.Fatal("refused before any 403")
	}
	lookup(1, forbidden)
	if !a.refused(conn, 1) {
		t.Fatal("asked again right after a 403")
	}
	if a.refused(conn, 2) {
		t.Error("a new generation of the connection waits for the old one's backoff")
	}
	first := a.conns[conn].retryAt.Sub(auditT0)
	if first < 5*time.Minute || first > 10*time.Minute {
		t.Errorf("the first wait is %s, want 10 × the token renewal with equal jitter", first)
	}
	clk.SetTime(a.conns[conn].retryAt)
	if a.refused(conn, 1) {
		t.Fatal("still refused after the backoff")
	}
	lookup(1, forbidden)
	if second := a.conns[conn].retryAt.Sub(clk.Now()); second < first/2 {
		t.Errorf("the second wait %s is shorter than the first %s", second, first)
	}
	// Another failure says nothing of the permission.
	lookup(1, &graph.Error{StatusCode: http.StatusServiceUnavailable})
	if a.conns[conn].refusedSince.IsZero() {
		t.Error("a 503 ended the refusal")
	}
	clk.SetTime(a.conns[conn].retryAt)
	lookup(1, nil)
	if a.refused(conn, 1) || !a.conns[conn].read {
		t.Error("a look-up that read the log did not end the refusal")
	}
	lookup(1, errors.New("the Graph client cannot read the audit log"))
	if !a.conns[conn].read {
		t.Error("another error forgot that the log was read")
	}
}

// The connection's AuditLogReadable condition says what the look-ups found; after a restart, a
// refusal its status shows resumes its backoff instead of asking again at once.
func TestAuditCondition(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(auditT0)
	a := newAudits(clk, time.Minute)
	conn := &intunev1alpha1.GraphConnection{ObjectMeta: metav1.ObjectMeta{Namespace: "it-ops", Name: "contoso", Generation: 3}}
	conn.Spec.ClientID = auditApp
	key := connectionKey(kindOf(conn), "it-ops", "contoso")
	conds := func() conditions {
		st := conn.ConnectionStatus()
		return conditions{list: &st.Conditions, observedGeneration: &st.ObservedGeneration, generation: conn.Generation, now: clk.Now()}
	}
	cond := func() *metav1.Condition {
		return meta.FindStatusCondition(conn.Status.Conditions, intunev1alpha1.ConditionAuditLogReadable)
	}

	a.auditCondition(conds(), conn)
	if cond() != nil {
		t.Fatal("a condition on a connection without auditLookup")
	}
	conn.Spec.AuditLookup = true
	if refused, _ := a.auditCondition(conds(), conn); refused || cond() != nil {
		t.Fatal("a condition before any look-up")
	}
	a.mu.Lock()
	a.permissionLocked(key, 3, true)
	a.mu.Unlock()
	refused, msg := a.auditCondition(conds(), conn)
	c := cond()
	if !refused || c == nil || c.Status != metav1.ConditionFalse || c.Reason != intunev1alpha1.ReasonForbidden ||
		!strings.Contains(c.Message, intunev1alpha1.PermissionAuditLog) || !strings.Contains(c.Message, auditApp) || msg != c.Message {
		t.Fatalf("after a 403: refused %t, %+v", refused, c)
	}
	if again, _ := a.auditCondition(conds(), conn); again {
		t.Error("said it twice: the event is given when the condition turns False")
	}

	// A new process knows nothing but the status.
	restarted := newAudits(clk, time.Minute)
	restarted.auditCondition(conds(), conn)
	if !restarted.refused(key, 3) {
		t.Error("after a restart, the refusal in status did not resume its backoff")
	}
	if cond().Status != metav1.ConditionFalse {
		t.Error("after a restart, the condition changed before any look-up")
	}

	a.mu.Lock()
	a.permissionLocked(key, 3, false)
	a.mu.Unlock()
	a.auditCondition(conds(), conn)
	if c := cond(); c.Status != metav1.ConditionTrue || c.Reason != intunev1alpha1.ReasonAuditLogRead {
		t.Errorf("after a look-up read the log: %+v", c)
	}
	conn.Spec.AuditLookup = false
	a.auditCondition(conds(), conn)
	if cond() != nil {
		t.Error("the condition stayed after auditLookup was turned off")
	}
	if graph.PermissionAuditLog != intunev1alpha1.PermissionAuditLog {
		t.Errorf("the graph client and the API name different permissions: %s, %s", graph.PermissionAuditLog, intunev1alpha1.PermissionAuditLog)
	}
}
