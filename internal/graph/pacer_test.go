package graph

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// handPacer is a pacer whose dispatcher the test plays by hand: next at a time of its choosing.
type handPacer struct {
	*Pacer
	now time.Time
}

func newHandPacer(l Limits) *handPacer {
	h := &handPacer{now: t0}
	h.Pacer = newPacer(l, &ceiling{max: 1 << 20, waiting: map[*Pacer]struct{}{}}, func() time.Time { return h.now })
	h.running = true // no dispatcher goroutine: the test calls take
	return h
}

func noop(context.Context, Calls) Outcome { return Done }

func (h *handPacer) submit(kind JobKind, keys ...string) {
	for _, k := range keys {
		h.Submit(k, kind, nil, noop)
	}
}

// take starts what the pacer would start at h.now and returns the keys, the tickets, and when to
// look again.
func (h *handPacer) take() (keys []string, tickets []*Ticket, retry time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for {
		j, t, at := h.next(h.now)
		if j == nil {
			return keys, tickets, at
		}
		keys, tickets = append(keys, j.key), append(tickets, t)
	}
}

// finish ends a started job: its unused bookings back, and Again puts it back in line.
func (h *handPacer) finish(t *Ticket, key string, kind JobKind, outcome Outcome, seq uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reads.release(t.reads)
	h.writes.release(t.writes)
	h.inFlight--
	if outcome == Again {
		j := &job{key: key, kind: kind, run: noop, seq: seq}
		h.waiting[key] = j
		h.insert(j)
	}
}

// sendAll records what the tickets booked as sent at h.now, and ends their jobs.
func (h *handPacer) sendAll(ts []*Ticket) {
	defer func() {
		for _, t := range ts {
			h.finish(t, "", WriteJob, Done, 0)
		}
	}()
	for _, t := range ts {
		for t.writes > 0 {
			if _, wait, err := h.sent(t, true); err != nil || wait > 0 {
				panic(fmt.Sprint("a booked write was held back: ", wait, err))
			}
		}
		for t.reads > 0 {
			if _, _, err := h.sent(t, false); err != nil {
				panic(err)
			}
		}
	}
}

func TestPacerLines(t *testing.T) {
	small := Limits{Requests: 100, Writes: 3, Per: time.Second}
	tests := map[string]struct {
		limits Limits
		play   func(h *handPacer) []string // returns the keys in the order they started
	}{
		"asking twice gives the same place": {
			limits: small,
			play: func(h *handPacer) []string {
				h.submit(WriteJob, "a", "b", "c")
				h.submit(WriteJob, "a", "b") // again: no new place
				keys, _, _ := h.take()
				return keys
			},
		},
		"the burst a window admits goes at once, the rest a window later, in order": {
			limits: small,
			play: func(h *handPacer) []string {
				h.submit(WriteJob, "a", "b", "c", "d", "e")
				first, ts, retry := h.take()
				if !retry.IsZero() {
					panic("booked calls fill the window: only a job's end can make room")
				}
				h.sendAll(ts)
				_, _, retry = h.take()
				if want := t0.Add(small.Per + windowMargin(small.Per)); !retry.Equal(want) {
					panic("look again at " + retry.String() + ", want " + want.String())
				}
				h.now = retry
				second, _, _ := h.take()
				return append(first, second...)
			},
		},
		"a stranger cannot jump the line": {
			limits: small,
			play: func(h *handPacer) []string {
				h.submit(WriteJob, "a", "b", "c")
				started, ts, _ := h.take()
				h.sendAll(ts)
				h.submit(WriteJob, "w1", "w2", "w3", "w4")
				_, _, retry := h.take()
				h.now = retry.Add(-time.Millisecond)
				if keys, _, _ := h.take(); len(keys) > 0 {
					panic("started before the window had room")
				}
				h.submit(WriteJob, "stranger")
				h.now = retry
				more, _, _ := h.take()
				return append(started, more...)
			},
		},
		"a released place shortens the line": {
			limits: small,
			play: func(h *handPacer) []string {
				h.submit(WriteJob, "a", "b", "c", "d", "e")
				h.Withdraw("b")
				h.Withdraw("c")
				keys, _, _ := h.take()
				return keys
			},
		},
		"a pause yields no place and takes none": {
			limits: small,
			play: func(h *handPacer) []string {
				h.submit(WriteJob, "a", "b")
				h.Pause(t0.Add(2 * time.Second))
				keys, _, retry := h.take()
				if len(keys) > 0 || !retry.Equal(t0.Add(2*time.Second)) {
					panic("a job started during the pause, or the pacer looks again before its end")
				}
				h.submit(WriteJob, "c")
				h.now = retry
				keys, _, _ = h.take() // one probes Graph, and the others follow its answer
				h.answered()
				more, _, _ := h.take()
				return append(keys, more...)
			},
		},
		"a job throttled keeps its place at the head": {
			limits: small,
			play: func(h *handPacer) []string {
				h.submit(WriteJob, "a")
				started, ts, _ := h.take()
				h.submit(WriteJob, "b", "c")
				h.Pause(t0.Add(time.Second))
				h.finish(ts[0], "a", WriteJob, Again, 1)
				h.now = t0.Add(time.Second)
				probe, _, _ := h.take() // after a pause, one job probes Graph
				h.answered()
				more, _, _ := h.take()
				return append(append(started, probe...), more...)
			},
		},
		"writes go first; reads leave the writes' share while writes wait": {
			limits: Limits{Requests: 20, Writes: 2, Per: time.Second},
			play: func(h *handPacer) []string {
				h.latency = time.Second // room in flight for all of them: the budget decides
				h.submit(ReadJob, "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10")
				h.submit(WriteJob, "w1", "w2", "w3")
				keys, _, _ := h.take()
				return keys
			},
		},
		"a read submitted again as a write keeps its place among the writes": {
			limits: small,
			play: func(h *handPacer) []string {
				h.submit(ReadJob, "x")
				h.submit(WriteJob, "a")
				h.submit(WriteJob, "x")
				keys, _, _ := h.take()
				return keys
			},
		},
	}
	want := map[string][]string{
		"asking twice gives the same place":                                         {"a", "b", "c"},
		"the burst a window admits goes at once, the rest a window later, in order": {"a", "b", "c", "d", "e"},
		"a stranger cannot jump the line":                                           {"a", "b", "c", "w1", "w2", "w3"},
		"a released place shortens the line":                                        {"a", "d", "e"},
		"a pause yields no place and takes none":                                    {"a", "b", "c"},
		"a job throttled keeps its place at the head":                               {"a", "a", "b", "c"},
		// 2 writes book 6 reads; the third write waits for the write window, and the reads may
		// take 20 - 3·2 = 14 in all while it waits: 8 more, not the 10 they ask.
		"writes go first; reads leave the writes' share while writes wait":   {"w1", "w2", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8"},
		"a read submitted again as a write keeps its place among the writes": {"x", "a"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := newHandPacer(tc.limits)
			got := tc.play(h)
			if diff := cmp.Diff(want[name], got); diff != "" {
				t.Errorf("jobs started (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPacerWaitingCounts(t *testing.T) {
	h := newHandPacer(Limits{Requests: 100, Writes: 1, Per: time.Second})
	h.submit(WriteJob, "a", "b", "c")
	h.submit(WriteJob, "b")
	if n := h.waitingJobs(); n != 3 {
		t.Errorf("%d waiting, want 3", n)
	}
	if h.Withdraw("nobody") {
		t.Error("withdrew a key that was not waiting")
	}
	h.take()
	if n := h.waitingJobs(); n != 2 {
		t.Errorf("%d waiting after one started, want 2", n)
	}
}

// TestSendLog checks the window arithmetic against the emulator's rule: a call is admitted when
// fewer than limit calls arrived in the last window.
func TestSendLog(t *testing.T) {
	at := func(ms ...int) []time.Time {
		var ts []time.Time
		for _, m := range ms {
			ts = append(ts, t0.Add(time.Duration(m)*time.Millisecond))
		}
		return ts
	}
	var l sendLog
	w := time.Second
	l.book(2)
	if at, ok := l.roomAt(t0, w, 3, 1); !ok || !at.Equal(t0) {
		t.Errorf("room for one more next to 2 booked of 3: %v %v", at, ok)
	}
	if _, ok := l.roomAt(t0, w, 3, 2); ok {
		t.Error("booked calls leave no room for two, but a time was given")
	}
	l.send(t0, true)
	l.send(t0.Add(100*time.Millisecond), true)
	l.send(t0.Add(200*time.Millisecond), false)
	if l.pending != 0 || len(l.sent) != 3 {
		t.Fatalf("pending %d, sent %d; want 0 and 3", l.pending, len(l.sent))
	}
	// The first send's answer shows it arrived after the third was sent: it moves behind it.
	l.move(t0, t0.Add(250*time.Millisecond))
	if want := at(100, 200, 250); !cmp.Equal(want, l.sent) {
		t.Errorf("after the move %v, want %v", l.sent, want)
	}
	l.move(t0.Add(250*time.Millisecond), t0) // an arrival is never before the send: ignored
	if want := at(100, 200, 250); !cmp.Equal(want, l.sent) {
		t.Errorf("after a move back %v, want it ignored: %v", l.sent, want)
	}
	l.sent = at(0, 100, 200)
	if at, _ := l.roomAt(t0.Add(300*time.Millisecond), w, 3, 2); !at.Equal(t0.Add(100*time.Millisecond + w)) {
		t.Errorf("room for two at %v, want when the second send leaves the window", at)
	}
	l.expire(t0.Add(w), w)
	if len(l.sent) != 2 {
		t.Errorf("%d sends in the window at t0+1s, want 2", len(l.sent))
	}
	l.release(5)
	if l.pending != 0 {
		t.Errorf("pending %d after releasing more than booked", l.pending)
	}
}

// TestPacerWriteLead checks that a write job starts one round trip before the write window has
// room (its GET comes first), and that its PATCH is held back if it is ready before then.
func TestPacerWriteLead(t *testing.T) {
	l := Limits{Requests: 100, Writes: 3, Per: time.Second}
	h := newHandPacer(l)
	h.latency = 100 * time.Millisecond
	h.submit(WriteJob, "a", "b", "c", "d")
	_, ts, _ := h.take()
	h.sendAll(ts)
	_, _, retry := h.take()
	room := t0.Add(l.Per + windowMargin(l.Per))
	if want := room.Add(-100 * time.Millisecond); !retry.Equal(want) {
		t.Fatalf("look again at %v, want one round trip before the window has room (%v)", retry, want)
	}
	h.now = retry
	keys, ts, _ := h.take()
	if diff := cmp.Diff([]string{"d"}, keys); diff != "" {
		t.Fatalf("jobs started (-want +got):\n%s", diff)
	}
	if _, _, err := h.sent(ts[0], false); err != nil { // its GET
		t.Fatal(err)
	}
	h.now = retry.Add(40 * time.Millisecond) // the GET came back early
	_, wait, err := h.sent(ts[0], true)
	if err != nil || wait != 60*time.Millisecond {
		t.Fatalf("the early PATCH was told to wait %v (%v), want 60ms", wait, err)
	}
	h.now = room
	if _, wait, err := h.sent(ts[0], true); err != nil || wait != 0 {
		t.Fatalf("the PATCH at the window's room was told to wait %v (%v)", wait, err)
	}
}

// TestPacerRefund checks that a write Graph answered 429 does not count against the window: the
// job that runs it again takes the place it had, not one a window later.
func TestPacerRefund(t *testing.T) {
	l := Limits{Requests: 100, Writes: 2, Per: time.Second}
	h := newHandPacer(l)
	h.submit(WriteJob, "a", "b", "c")
	_, ts, _ := h.take()
	at, _, _ := h.sent(ts[0], true) // a's PATCH, answered 429
	h.refund(at, true)
	h.sendAll(ts[1:])
	h.finish(ts[0], "a", WriteJob, Again, 1)
	keys, _, _ := h.take()
	if diff := cmp.Diff([]string{"a"}, keys); diff != "" {
		t.Errorf("after the 429, jobs started (-want +got):\n%s", diff)
	}
}

// One app in one tenant has one budget in Graph, however its connections spell the login host,
// the tenant or the app: they share one pacer.
func TestOnePacerPerAppAndTenant(t *testing.T) {
	ps := NewPacers(DefaultLimits(), 0)
	base := PacerKey{AuthorityHost: "https://login.microsoftonline.com", TenantID: "6d6c3b5e-0f9a-4c1e-9d7e-2f1f3a4b5c6d", ClientID: "a0a0a0a0-0000-4000-8000-000000000001"}
	same := map[string]PacerKey{
		"the default port":       {AuthorityHost: "https://login.microsoftonline.com:443", TenantID: base.TenantID, ClientID: base.ClientID},
		"upper case":             {AuthorityHost: "HTTPS://Login.MicrosoftOnline.com/", TenantID: strings.ToUpper(base.TenantID), ClientID: strings.ToUpper(base.ClientID)},
		"a trailing dot":         {AuthorityHost: "https://login.microsoftonline.com.", TenantID: base.TenantID, ClientID: base.ClientID},
		"the default port and /": {AuthorityHost: "https://login.microsoftonline.com:443/", TenantID: base.TenantID, ClientID: base.ClientID},
	}
	other := map[string]PacerKey{
		"another port":   {AuthorityHost: "https://login.microsoftonline.com:8443", TenantID: base.TenantID, ClientID: base.ClientID},
		"another cloud":  {AuthorityHost: "https://login.microsoftonline.us", TenantID: base.TenantID, ClientID: base.ClientID},
		"another app":    {AuthorityHost: base.AuthorityHost, TenantID: base.TenantID, ClientID: "a0a0a0a0-0000-4000-8000-000000000002"},
		"another tenant": {AuthorityHost: base.AuthorityHost, TenantID: "contoso.onmicrosoft.com", ClientID: base.ClientID},
	}
	p := ps.For(base)
	for name, k := range same {
		if ps.For(k) != p {
			t.Errorf("%s: another pacer for the same app and tenant", name)
		}
	}
	for name, k := range other {
		if ps.For(k) == p {
			t.Errorf("%s: the same pacer", name)
		}
	}
}

// Close ends every job: a call in flight is cancelled, and a job that runs after it sends nothing.
func TestPacersClose(t *testing.T) {
	e := newEmulator(t, graphtest.Options{})
	e.Inject(graphtest.Fault{Method: http.MethodGet, Hang: true, Times: 1})
	pacers := NewPacers(DefaultLimits(), 0)
	c := e.client(t, e.config(), Options{Pacers: pacers})
	if err := c.CheckCredentials(context.Background()); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 2)
	started := make(chan struct{}, 2)
	job := func(ctx context.Context, calls Calls) Outcome {
		started <- struct{}{}
		_, err := calls.Get(ctx, UserOverview, configID)
		errs <- err
		return Done
	}
	c.Submit("hanging", ReadJob, job)
	<-started // its GET hangs in Graph, or is about to be sent
	pacers.Close()
	select {
	case err := <-errs:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("the call in flight ended with %v, want it cancelled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the call in flight went on after Close")
	}
	c.Submit("after", ReadJob, job)
	if err := <-errs; err == nil {
		t.Error("a job after Close called Graph successfully")
	}
	if n := len(e.graphRequests()); n > 1 {
		t.Errorf("%d Graph requests, want at most the one before Close", n)
	}
}
