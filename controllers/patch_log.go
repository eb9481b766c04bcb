package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/graph"
)

// patchLogWriteTimeout bounds one write of a connection's pending PATCHes: a job waits for it
// before it sends its PATCH.
const patchLogWriteTimeout = 5 * time.Second

// patchLogLinger is how long a PATCH that starts a write waits for the others of its burst to be
// logged with it. Only a PATCH that follows another within it waits: a lone change (a person's
// edit) is logged at once, and the burst that follows its first PATCH is written together.
const patchLogLinger = 20 * time.Millisecond

// patchLogKeep is how long an entry that nothing settles stays in a log: that of a resource
// deleted while no process ran, whose report never comes.
const patchLogKeep = 7 * 24 * time.Hour

// patchLogs keeps, for each connection, the write-ahead record of the PATCHes sent through it
// whose resources' status does not show them yet (the connection's status.pendingPatches), so that
// a PATCH Graph accepted is not lost from the record when the process dies before its report.
//
// A job records its PATCH and waits until a status write of the connection holds it; only then is
// the PATCH sent. Jobs that record while a write is under way are written together by the next
// one (a group commit): a burst of a window's writes costs a write or two of the connection, not
// one per PATCH. An entry is dropped once the resource's status shows its PATCH; the drop is
// written with the next entry, and costs no write of its own.
type patchLogs struct {
	client client.Client // writes the connections' status
	clock  clock.PassiveClock

	mu   sync.Mutex
	logs map[string]*patchLog // by connectionKey
}

// patchLog is one connection's pending PATCHes, under patchLogs.mu.
type patchLog struct {
	conn connectionObject // names the connection whose status holds the log
	// ref is the connection by kind, namespace and name only, as the jobs' calls name it: one
	// object for all of them, never changed.
	ref     connectionObject
	entries map[string]intunev1alpha1.PendingPatch
	// version counts the changes of entries; written is the version the last successful write
	// held, failed the version the last failed one held, with its error.
	version, written, failed uint64
	err                      error
	writing                  chan struct{} // while a write is under way; closed when it ends
	lastRecord               time.Time     // when a PATCH was last recorded: a PATCH soon after it is part of a burst
}

func newPatchLogs(c client.Client, clk clock.PassiveClock) *patchLogs {
	return &patchLogs{client: c, clock: clk, logs: map[string]*patchLog{}}
}

// logFor returns conn's log, starting it from what conn's status holds: the entries a process
// before this one wrote and did not see reported. Called under l.mu.
func (l *patchLogs) logFor(conn connectionObject) *patchLog {
	key := logKey(conn)
	log, ok := l.logs[key]
	if !ok {
		log = &patchLog{conn: conn, ref: refOf(conn), entries: map[string]intunev1alpha1.PendingPatch{}}
		for _, e := range conn.ConnectionStatus().PendingPatches {
			log.entries[e.UID] = e
		}
		l.logs[key] = log
	}
	return log
}

// start starts conn's log from conn's status if it has not started yet, and returns the connection
// as a job's calls name it: its kind, namespace and name only, one object shared by all the jobs
// of the connection, which only read it. A job waits in its tenant's line for as long as Graph
// makes it, a first sync holds a whole tenant's jobs there at once, and neither the connection's
// status (this log among it) nor an object of its own need be held by each of them.
func (l *patchLogs) start(conn connectionObject) connectionObject {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.logFor(conn).ref
}

// logOf returns the log of conn, a job's name-only connection (start): the log the job's
// submission started or, when it was dropped since (another replica owned the connection's key for
// a while, and wrote the log), the log started again from the connection as the cache holds it
// now, with what the other replica left in its status. A log started from conn alone would hold
// none of that, and its next write would replace it. Called under l.mu.
func (l *patchLogs) logOf(ctx context.Context, conn connectionObject) (*patchLog, error) {
	if log, ok := l.logs[logKey(conn)]; ok {
		return log, nil
	}
	full := conn.DeepCopyObject().(connectionObject)
	if err := l.client.Get(ctx, client.ObjectKeyFromObject(conn), full); err != nil {
		return nil, err
	}
	return l.logFor(full), nil
}

// refOf returns conn by kind, namespace and name only.
func refOf(conn connectionObject) connectionObject {
	meta := metav1.ObjectMeta{Namespace: conn.GetNamespace(), Name: conn.GetName()}
	if _, ok := conn.(*intunev1alpha1.ClusterGraphConnection); ok {
		return &intunev1alpha1.ClusterGraphConnection{ObjectMeta: meta}
	}
	return &intunev1alpha1.GraphConnection{ObjectMeta: meta}
}

// patchLogMax is how many entries a connection's status.pendingPatches holds (its MaxItems).
const patchLogMax = 1024

// errPatchLogFull: the connection's log holds patchLogMax PATCHes whose reports have not come.
var errPatchLogFull = fmt.Errorf("%d PATCHes through this connection are waiting for their resources' status to show them", patchLogMax)

// record writes e to conn's log and returns once a write of the connection's status holds it, or
// with the error of the write that should have. When it returns an error, e's PATCH is not sent,
// and e leaves the log again (what it replaced, if anything, is back): a log the API server is slow
// to write does not grow with the PATCHes it kept from going.
func (l *patchLogs) record(ctx context.Context, conn connectionObject, e intunev1alpha1.PendingPatch) (err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	log, err := l.logOf(ctx, conn)
	if err != nil {
		return err
	}
	before, had := log.entries[e.UID]
	if !had && len(log.entries) >= patchLogMax {
		return errPatchLogFull
	}
	log.entries[e.UID] = e
	log.version++
	want := log.version
	defer func() {
		if err == nil {
			return
		}
		if cur, ok := log.entries[e.UID]; ok && cur.SentAt.Equal(&e.SentAt) {
			if had {
				log.entries[e.UID] = before
			} else {
				delete(log.entries, e.UID)
			}
			log.version++
		}
	}()
	now := l.clock.Now()
	burst := now.Sub(log.lastRecord) < patchLogLinger
	log.lastRecord = now
	for {
		switch {
		case log.written >= want:
			return nil
		case log.failed >= want:
			return log.err
		case log.writing != nil:
			done := log.writing
			l.mu.Unlock()
			select {
			case <-done:
			case <-ctx.Done():
				l.mu.Lock()
				return ctx.Err()
			}
			l.mu.Lock()
		default:
			// The PATCHes of a burst (a window's writes, dispatched together) are read a few
			// milliseconds apart: the writer waits a moment for them, so that one write holds
			// them all.
			log.writing = make(chan struct{})
			l.mu.Unlock()
			if burst {
				linger := time.NewTimer(patchLogLinger)
				select {
				case <-linger.C:
				case <-ctx.Done():
					linger.Stop()
				}
			}
			l.mu.Lock()
			l.write(ctx, log)
		}
	}
}

// write writes every entry of log to its connection's status, and ends the write under way
// (log.writing). Called under l.mu, which it releases while it waits on the API server.
func (l *patchLogs) write(ctx context.Context, log *patchLog) {
	v := log.version
	entries := make([]intunev1alpha1.PendingPatch, 0, len(log.entries))
	for uid, e := range log.entries {
		if l.clock.Since(e.SentAt.Time) > patchLogKeep {
			delete(log.entries, uid)
			continue
		}
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b intunev1alpha1.PendingPatch) int { return strings.Compare(a.UID, b.UID) })
	obj := log.conn.DeepCopyObject().(client.Object)
	l.mu.Unlock()

	err := writePendingPatches(ctx, l.client, obj, entries)

	l.mu.Lock()
	if err == nil {
		log.written = max(log.written, v)
	} else {
		log.failed, log.err = max(log.failed, v), err
	}
	close(log.writing)
	log.writing = nil
}

// writePendingPatches replaces the connection's status.pendingPatches with entries (none: the
// field goes).
func writePendingPatches(ctx context.Context, c client.Client, conn client.Object, entries []intunev1alpha1.PendingPatch) error {
	var list any
	if len(entries) > 0 {
		list = entries
	}
	body, err := json.Marshal(map[string]any{"status": map[string]any{"pendingPatches": list}})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, patchLogWriteTimeout)
	defer cancel()
	return c.Status().Patch(ctx, conn, client.RawPatch(types.MergePatchType, body), client.FieldOwner(fieldOwner))
}

// logKey is the connectionKey of conn, which names its log.
func logKey(conn connectionObject) string {
	return connectionKey(kindOf(conn), conn.GetNamespace(), conn.GetName())
}

// pending returns the entry of the resource uid in the log of the connection key, if there is
// one. A resource's report comes after its job was submitted, which started the log (start).
func (l *patchLogs) pending(key, uid string) (intunev1alpha1.PendingPatch, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	log, ok := l.logs[key]
	if !ok {
		return intunev1alpha1.PendingPatch{}, false
	}
	e, ok := log.entries[uid]
	return e, ok
}

// dropUnowned forgets the logs of the connections whose key owns refuses (sharding: another
// replica owns it now, and writes its log): if the key comes back, its log starts again from the
// connection's status as the other replica left it.
func (l *patchLogs) dropUnowned(owns func(connectionObject) bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for key, log := range l.logs {
		if log.writing == nil && !owns(log.conn) {
			delete(l.logs, key)
		}
	}
}

// forget drops the entries of the resource uid, which was deleted. The next write leaves them out.
func (l *patchLogs) forget(uid string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, log := range l.logs {
		if _, ok := log.entries[uid]; ok {
			delete(log.entries, uid)
			log.version++
		}
	}
}

// reported drops the resource uid's entry written at sentAt from the log of the connection key:
// the resource's status shows what came of it now. The next write leaves it out; an entry a newer
// job wrote meanwhile stays.
func (l *patchLogs) reported(key, uid string, sentAt metav1.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if log, ok := l.logs[key]; ok {
		if e, ok := log.entries[uid]; ok && e.SentAt.Equal(&sentAt) {
			delete(log.entries, uid)
			log.version++
		}
	}
}

// loggedCalls are a job's calls, with each PATCH written to the connection's log before it is
// sent: a PATCH the log cannot hold is not sent.
type loggedCalls struct {
	graph.Calls
	logs *patchLogs
	conn connectionObject
	uid  string
	now  func() time.Time
}

// Patch implements graph.Calls.
func (c loggedCalls) Patch(ctx context.Context, entity graph.Entity, configurationID string, f graph.Fields) (graph.Response, error) {
	e := intunev1alpha1.PendingPatch{UID: c.uid, Fields: overviewFieldsOf(entity, f), SentAt: metav1.NewTime(c.now())}
	if err := c.logs.record(ctx, c.conn, e); err != nil {
		return graph.Response{}, &unlogged{err: err}
	}
	return c.Calls.Patch(ctx, entity, configurationID, f)
}

// unlogged is a PATCH that was not sent because the connection's log could not hold it: the
// Kubernetes API failed, not Graph.
type unlogged struct{ err error }

func (e *unlogged) Error() string {
	return "the PATCH was not sent: its record could not be written to the connection's status: " + e.err.Error()
}

func (e *unlogged) Unwrap() error { return e.err }

// overviewFieldsOf is a PATCH of entity e's fields as the spec declares them.
func overviewFieldsOf(e graph.Entity, f graph.Fields) intunev1alpha1.OverviewFields {
	var o intunev1alpha1.OverviewFields
	for _, field := range e.Declared() {
		switch v := graph.FieldsFields.Declared(&f, field.Name).(type) {
		case *int32:
			declaredFields.Set(&o, field.Name, ptr.To(*v))
		case *time.Time:
			declaredFields.Set(&o, field.Name, ptr.To(formatDateTime(*v)))
		}
	}
	return o
}
