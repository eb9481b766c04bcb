package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

// TestAnswers plays every class of Graph answer to GetOverview and
// PatchOverview, and checks what the caller gets and what Graph saw.
func TestAnswers(t *testing.T) {
	patch := Fields{SuccessCount: ptr[int32](12)}
	patched := wantOverview(func() graphtest.Overview {
		o := newEmulatorSeed()
		o.SuccessCount = 12
		return o
	}())
	type want struct {
		Overview *Overview       // on success
		NoEntity bool            // on success: Graph's answer carried no entity
		Class    Class           // on failure
		Kind     Kind            // on failure
		Statuses []int           // the Graph requests the emulator answered, in order
		Tokens   int             // token requests
		Says     string          // a part of the classification's description
		Methods  []string        // the methods of the Graph requests, if not all the call's
		Status   int             // the *Error's StatusCode
		Code     string          // the *Error's Code
		Extra    func(*emulator) // a further check on the emulator
		// Tries bounds the number of distinct client-request-ids, when Go's
		// transport resends a GET on its own after a dropped connection
		// (with the same id), and a try on a connection the server already
		// closed may never reach it; otherwise every request has its own.
		Tries int
	}
	tests := map[string]struct {
		fault  *graphtest.Fault
		setup  func(*emulator)
		method string // GET (default) or PATCH
		id     string
		want   want
	}{
		"200 GET": {
			want: want{Overview: ptr(wantOverview(newEmulatorSeed())), Statuses: []int{200}, Tokens: 1},
		},
		"200 PATCH": {
			method: http.MethodPatch,
			want:   want{Overview: &patched, Statuses: []int{200}, Tokens: 1},
		},
		"204 PATCH: no entity, and nothing read back (the caller reads)": {
			method: http.MethodPatch,
			fault:  &graphtest.Fault{Method: http.MethodPatch, NoContent: true, Times: 1},
			want: want{Overview: &Overview{}, NoEntity: true, Statuses: []int{204}, Methods: []string{"PATCH"}, Tokens: 1,
				Extra: func(e *emulator) {
					if o, _ := e.Overview(testTenant, configID); o.SuccessCount != 12 {
						t.Errorf("the emulator kept successCount %d, want 12", o.SuccessCount)
					}
				}},
		},
		"400": {
			method: http.MethodPatch,
			fault:  &graphtest.Fault{Status: 400, Message: "Invalid value"},
			want: want{Class: ClassNeedsPerson, Kind: KindBadRequest, Statuses: []int{400}, Tokens: 1,
				Status: 400, Code: "BadRequest", Says: "Graph refused the request as invalid (BadRequest: Invalid value)"},
		},
		"401 once: a fresh token, then success": {
			fault: &graphtest.Fault{Status: 401, Times: 1},
			want:  want{Overview: ptr(wantOverview(newEmulatorSeed())), Statuses: []int{401, 200}, Tokens: 2},
		},
		"401 always: one fresh token, then an error": {
			fault: &graphtest.Fault{Status: 401},
			want: want{Class: ClassNeedsPerson, Kind: KindTokenRejected, Statuses: []int{401, 401}, Tokens: 2,
				Status: 401, Code: "InvalidAuthenticationToken", Says: "refused the app's access token even after a fresh one"},
		},
		"403: the app may only read": {
			method: http.MethodPatch,
			setup: func(e *emulator) {
				e.AddApp(graphtest.App{TenantID: testTenant, ClientID: testClient, ClientSecret: testSecret,
					Permissions: []string{graphtest.PermissionRead}})
			},
			// One fresh token and one more try, in case the permission was granted since.
			want: want{Class: ClassNeedsPerson, Kind: KindForbidden, Statuses: []int{403, 403}, Tokens: 2, Status: 403,
				Says: "the app lacks a permission"},
		},
		"404": {
			id: otherConfigID,
			want: want{Class: ClassNotFound, Kind: KindNotFound, Statuses: []int{404}, Tokens: 1, Status: 404, Code: "ResourceNotFound",
				Says: "Graph has no device configuration with this id"},
		},
		"409: returned at once, for a later try": {
			method: http.MethodPatch,
			fault:  &graphtest.Fault{Status: 409, Times: 1},
			want:   want{Class: ClassRetryable, Kind: KindUnavailable, Statuses: []int{409}, Tokens: 1, Status: 409, Says: "Graph answered 409 Conflict"},
		},
		"500: returned at once, no retry": {
			fault: &graphtest.Fault{Status: 500},
			want: want{Class: ClassRetryable, Kind: KindUnavailable, Statuses: []int{500}, Tokens: 1,
				Status: 500, Code: "InternalError", Says: "Graph answered 500 Internal Server Error"},
		},
		"503 with Retry-After": {
			fault: &graphtest.Fault{Status: 503, RetryAfter: "30"},
			want:  want{Class: ClassThrottled, Kind: KindThrottled, Statuses: []int{503}, Tokens: 1, Status: 503, Says: "Graph is unavailable and asked to retry later"},
		},
		"429 with Retry-After": {
			method: http.MethodPatch,
			fault:  &graphtest.Fault{Status: 429, RetryAfter: "12.5"},
			want: want{Class: ClassThrottled, Kind: KindThrottled, Statuses: []int{429}, Tokens: 1, Status: 429, Code: "TooManyRequests",
				Says: "Graph is throttling the app in this tenant"},
		},
		"dropped connection": {
			method: http.MethodPatch,
			fault:  &graphtest.Fault{DropConnection: true},
			want:   want{Class: ClassRetryable, Kind: KindTransport, Tokens: 1, Says: "dropped"},
		},
		"malformed body": {
			fault: &graphtest.Fault{MalformedBody: true},
			want: want{Class: ClassRetryable, Kind: KindUnreadableAnswer, Statuses: []int{200}, Tokens: 1, Status: 200,
				Says: "not a deviceConfigurationUserOverview"},
		},
		"an id that is not one": {
			id:   "../../me",
			want: want{Class: ClassNeedsPerson, Kind: KindInvalidID, Tokens: 0, Says: "is not a Graph id"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			e := newEmulator(t, graphtest.Options{})
			if tc.setup != nil {
				tc.setup(e)
			}
			if tc.fault != nil {
				e.Inject(*tc.fault)
			}
			c := e.client(t, e.config(), fastOptions())
			ctx := testContext(t)
			id := configID
			if tc.id != "" {
				id = tc.id
			}
			var resp Response
			var err error
			if tc.method == http.MethodPatch {
				resp, err = c.Patch(ctx, UserOverview, id, patch)
			} else {
				resp, err = c.Get(ctx, UserOverview, id)
			}

			reqs := e.graphRequests()
			if tc.want.Overview != nil {
				if err != nil {
					t.Fatalf("error %v", err)
				}
				if diff := cmp.Diff(*tc.want.Overview, resp.Overview); diff != "" {
					t.Errorf("overview (-want +got):\n%s", diff)
				}
				if resp.Entity == tc.want.NoEntity {
					t.Errorf("Entity %v, want %v", resp.Entity, !tc.want.NoEntity)
				}
				if last := reqs[len(reqs)-1]; resp.RequestID != last.RequestID {
					t.Errorf("request-id %q, want the last answer's %q", resp.RequestID, last.RequestID)
				}
			} else {
				var gerr *Error
				if !errors.As(err, &gerr) {
					t.Fatalf("error %v (%T), want an *Error", err, err)
				}
				got := Classify(err)
				if got.Class != tc.want.Class || got.Kind != tc.want.Kind {
					t.Errorf("%v classified %+v, want %s %s", err, got, tc.want.Class, tc.want.Kind)
				}
				if tc.want.Says == "" {
					t.Errorf("the case names no part of the description to check; the description is %q", got.Description)
				} else if !strings.Contains(got.Description, tc.want.Says) {
					t.Errorf("description %q does not contain %q", got.Description, tc.want.Says)
				}
				if gerr.StatusCode != tc.want.Status {
					t.Errorf("StatusCode %d, want %d", gerr.StatusCode, tc.want.Status)
				}
				if tc.want.Code != "" && gerr.Code != tc.want.Code {
					t.Errorf("Code %q, want %q", gerr.Code, tc.want.Code)
				}
				if gerr.StatusCode != 0 && (gerr.RequestID == "" || gerr.RequestID != reqs[len(reqs)-1].RequestID) {
					t.Errorf("request-id %q, want the last answer's %q", gerr.RequestID, reqs[len(reqs)-1].RequestID)
				}
			}

			if tc.want.Statuses != nil {
				var statuses []int
				var methods []string
				for _, r := range reqs {
					statuses = append(statuses, r.Status)
					methods = append(methods, r.Method)
				}
				if diff := cmp.Diff(tc.want.Statuses, statuses); diff != "" {
					t.Errorf("statuses Graph answered (-want +got):\n%s", diff)
				}
				wantMethods := tc.want.Methods
				if wantMethods == nil {
					m := tc.method
					if m == "" {
						m = http.MethodGet
					}
					for range tc.want.Statuses {
						wantMethods = append(wantMethods, m)
					}
				}
				if diff := cmp.Diff(wantMethods, methods); diff != "" {
					t.Errorf("methods Graph saw (-want +got):\n%s", diff)
				}
			}
			if n := e.tokenRequests(); n != tc.want.Tokens {
				t.Errorf("%d token requests, want %d", n, tc.want.Tokens)
			}
			// Every try carries a fresh client-request-id.
			seen := map[string]bool{}
			for _, r := range reqs {
				if _, err := uuid.Parse(r.ClientRequestID); err != nil || (seen[r.ClientRequestID] && tc.want.Tries == 0) {
					t.Errorf("client-request-id %q is not a fresh GUID", r.ClientRequestID)
				}
				seen[r.ClientRequestID] = true
			}
			if tc.want.Tries != 0 && (len(seen) < 2 || len(seen) > tc.want.Tries) {
				t.Errorf("%d tries, want 2 to %d", len(seen), tc.want.Tries)
			}
			if tc.want.Extra != nil {
				tc.want.Extra(e)
			}
		})
	}
}

func newEmulatorSeed() graphtest.Overview {
	return graphtest.Overview{
		ID: configID, PendingCount: 1, NotApplicableCount: 2, SuccessCount: 3, ErrorCount: 4, FailedCount: 5,
		ConfigurationVersion: 6, LastUpdateDateTime: time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC),
	}
}

// TestPatchBody checks, on Graph's side, that a PATCH holds exactly the
// fields asked for, as JSON numbers, and that Graph kept them.
func TestPatchBody(t *testing.T) {
	e := newEmulator(t, graphtest.Options{})
	c := e.client(t, e.config(), fastOptions())
	when := time.Date(2026, 12, 1, 8, 30, 0, 0, time.UTC)
	resp, err := c.Patch(testContext(t), UserOverview, configID, Fields{
		SuccessCount:       ptr[int32](12),
		FailedCount:        ptr[int32](0),
		LastUpdateDateTime: &when,
	})
	if err != nil {
		t.Fatal(err)
	}
	reqs := e.graphRequests()
	if len(reqs) != 1 || reqs[0].Method != http.MethodPatch {
		t.Fatalf("requests %+v, want one PATCH", reqs)
	}
	dec := json.NewDecoder(bytes.NewReader(reqs[0].Body))
	dec.UseNumber()
	var body map[string]any
	if err := dec.Decode(&body); err != nil {
		t.Fatalf("body %s: %v", reqs[0].Body, err)
	}
	wantBody := map[string]any{
		"successCount":       json.Number("12"),
		"failedCount":        json.Number("0"),
		"lastUpdateDateTime": "2026-12-01T08:30:00Z",
	}
	if diff := cmp.Diff(wantBody, body); diff != "" {
		t.Errorf("PATCH body (-want +got):\n%s", diff)
	}

	want := newEmulatorSeed()
	want.SuccessCount, want.FailedCount, want.LastUpdateDateTime = 12, 0, when
	if diff := cmp.Diff(wantOverview(want), resp.Overview); diff != "" {
		t.Errorf("answer (-want +got):\n%s", diff)
	}
	kept, _ := e.Overview(testTenant, configID)
	if diff := cmp.Diff(want, kept); diff != "" {
		t.Errorf("the emulator's state (-want +got):\n%s", diff)
	}
}

func TestBeta(t *testing.T) {
	e := newEmulator(t, graphtest.Options{})
	seed := newEmulatorSeed()
	seed.ConflictCount = 9
	e.Seed(testTenant, configID, seed)
	cfg := e.config()
	cfg.APIVersion = APIVersionBeta
	c := e.client(t, cfg, fastOptions())
	resp, err := c.Get(testContext(t), UserOverview, configID)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Overview.ConflictCount == nil || *resp.Overview.ConflictCount != 9 {
		t.Errorf("conflictCount %v, want 9", resp.Overview.ConflictCount)
	}
	if reqs := e.graphRequests(); reqs[0].APIVersion != "beta" {
		t.Errorf("API version %q, want beta", reqs[0].APIVersion)
	}
}

// TestBetaPatch: through a beta client, a PATCH of the beta-only properties (conflictCount on both
// overviews, notApplicablePlatformCount on the device one) sends them as numbers, Graph keeps them,
// and a read shows them; a v1.0 client's PATCH of one is refused as Graph refuses it, a request
// the client reports as BadRequest.
func TestBetaPatch(t *testing.T) {
	e := newEmulator(t, graphtest.Options{})
	e.Seed(testTenant, configID, newEmulatorSeed())
	e.SeedDevice(testTenant, configID, newEmulatorSeed())
	cfg := e.config()
	cfg.APIVersion = APIVersionBeta
	beta := e.client(t, cfg, fastOptions())
	for _, tc := range []struct {
		entity Entity
		f      Fields
		want   map[string]any
	}{
		{UserOverview, Fields{ConflictCount: ptr[int32](13)}, map[string]any{"conflictCount": json.Number("13")}},
		{DeviceOverview, Fields{ConflictCount: ptr[int32](13), NotApplicablePlatformCount: ptr[int32](10), SuccessCount: ptr[int32](12)},
			map[string]any{"conflictCount": json.Number("13"), "notApplicablePlatformCount": json.Number("10"), "successCount": json.Number("12")}},
	} {
		before := len(e.graphRequests())
		if _, err := beta.Patch(testContext(t), tc.entity, configID, tc.f); err != nil {
			t.Fatalf("%s: %v", tc.entity.Type, err)
		}
		reqs := e.graphRequests()[before:]
		if len(reqs) != 1 || reqs[0].APIVersion != APIVersionBeta {
			t.Fatalf("%s: requests %+v, want one PATCH on beta", tc.entity.Type, reqs)
		}
		dec := json.NewDecoder(bytes.NewReader(reqs[0].Body))
		dec.UseNumber()
		var body map[string]any
		if err := dec.Decode(&body); err != nil {
			t.Fatalf("body %s: %v", reqs[0].Body, err)
		}
		if d := cmp.Diff(tc.want, body); d != "" {
			t.Errorf("%s: PATCH body (-want +got):\n%s", tc.entity.Type, d)
		}
		got, err := beta.Get(testContext(t), tc.entity, configID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Overview.ConflictCount == nil || *got.Overview.ConflictCount != 13 {
			t.Errorf("%s: conflictCount read back %v, want 13", tc.entity.Type, got.Overview.ConflictCount)
		}
		if tc.f.NotApplicablePlatformCount != nil &&
			(got.Overview.NotApplicablePlatformCount == nil || *got.Overview.NotApplicablePlatformCount != 10) {
			t.Errorf("%s: notApplicablePlatformCount read back %v, want 10", tc.entity.Type, got.Overview.NotApplicablePlatformCount)
		}
	}
	held, _ := e.DeviceOverview(testTenant, configID)
	if held.ConflictCount != 13 || held.NotApplicablePlatformCount != 10 || held.SuccessCount != 12 {
		t.Errorf("the emulator holds %+v", held)
	}

	v1 := e.client(t, e.config(), fastOptions())
	_, err := v1.Patch(testContext(t), UserOverview, configID, Fields{ConflictCount: ptr[int32](1)})
	if f := Classify(err); err == nil || f.Kind != KindBadRequest || !strings.Contains(f.Message, "conflictCount") {
		t.Errorf("a v1.0 PATCH of conflictCount: %v (%+v), want BadRequest naming the property", err, f)
	}
}

// TestFractionalRetryAfter checks, with the emulator's clock, that a job
// throttled with a fractional Retry-After runs again once it has passed, at its
// place in the line, and that the tenant's other jobs waited too.
func TestFractionalRetryAfter(t *testing.T) {
	t.Parallel() // waits on the emulator's clock: runs beside the package's other waiting tests
	e := newEmulator(t, graphtest.Options{})
	e.Inject(graphtest.Fault{Method: http.MethodGet, Status: 429, RetryAfter: "1.234", Times: 1})
	c := e.client(t, e.config(), fastOptions())
	var order []string
	var mu sync.Mutex
	done := make(chan struct{}, 2)
	job := func(name string, call func(context.Context, Calls) error) Job {
		return Job{Run: call, Done: func(err error) {
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			mu.Lock()
			order = append(order, name)
			mu.Unlock()
			done <- struct{}{}
		}}
	}
	var second sync.Once
	c.Line().Submit("first", ReadJob, job("first", func(ctx context.Context, calls Calls) error {
		_, err := calls.Get(ctx, UserOverview, configID)
		// Once the client has read the 429 (the pause is set when Get returns it), the other
		// job comes: the pause holds it back too, since the pacer is the tenant's.
		second.Do(func() {
			c.Line().Submit("second", ReadJob, job("second", func(ctx context.Context, calls Calls) error {
				_, err := calls.Get(ctx, UserOverview, configID)
				return err
			}))
		})
		return err
	}))
	<-done
	<-done
	reqs := e.graphRequests()
	if len(reqs) != 3 || reqs[0].Status != 429 || reqs[1].Status != 200 || reqs[2].Status != 200 {
		t.Fatalf("requests %+v, want 429, 200, 200", reqs)
	}
	if len(order) != 2 {
		t.Errorf("jobs that ended: %v, want both", order)
	}
	for _, r := range reqs[1:] {
		if gap := r.Time.Sub(reqs[0].Time); gap < 1234*time.Millisecond || gap > 3*time.Second {
			t.Errorf("a call came %s after the 429, want just after its Retry-After of 1.234s", gap)
		}
	}
}

// waitFor polls cond for up to 10 seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
	}
}

// TestNoSleeping checks that a call never sleeps: a 429 returns at once and
// pauses the tenant, and a slow try is cut at the timeout, not tried again.
func TestNoSleeping(t *testing.T) {
	t.Parallel() // waits on the emulator's clock: runs beside the package's other waiting tests
	t.Run("a 429 returns at once and pauses the tenant", func(t *testing.T) {
		e := newEmulator(t, graphtest.Options{})
		e.Inject(graphtest.Fault{Status: 429, RetryAfter: "5", Times: 1})
		c := e.client(t, e.config(), fastOptions())
		start := time.Now()
		_, err := c.Get(testContext(t), UserOverview, configID)
		if took := time.Since(start); took > time.Second {
			t.Errorf("returned after %s, want at once", took)
		}
		got := Classify(err)
		if got.Class != ClassThrottled || got.RetryAfter != 5*time.Second {
			t.Errorf("%v classified %+v, want throttled for 5s", err, got)
		}
		if until := got.PausedUntil; until.Sub(start) < 5*time.Second || until.Sub(start) > 7*time.Second {
			t.Errorf("the tenant is paused until %s after the call, want 5s", until.Sub(start))
		}
		// A job of the tenant waits for the pause, without a place lost or a call made.
		c.Line().Submit("waits", ReadJob, Job{Run: func(context.Context, Calls) error {
			t.Error("a job ran during the pause")
			return nil
		}})
		time.Sleep(200 * time.Millisecond)
		if !c.Line().Withdraw("waits") {
			t.Error("the job did not wait in line")
		}
		if n := len(e.graphRequests()); n != 1 {
			t.Errorf("%d Graph requests, want 1", n)
		}
	})

	t.Run("a Retry-After of a day pauses the tenant for 5 minutes at most, and a date in the past until the window admits again", func(t *testing.T) {
		// Without a usable Retry-After the pause lasts until the pacer's window admits again: here
		// the throttled call was the window's only one, so a window (20 s and its margin) after it.
		window := DefaultLimits().Per + DefaultLimits().Per/50
		for value, want := range map[string]time.Duration{"86400": maxPause, "Wed, 21 Oct 2015 07:28:00 GMT": window, "0": window} {
			e := newEmulator(t, graphtest.Options{})
			e.Inject(graphtest.Fault{Status: 429, RetryAfter: value, Times: 1})
			c := e.client(t, e.config(), fastOptions())
			start := time.Now()
			_, err := c.Get(testContext(t), UserOverview, configID)
			if Classify(err).Class != ClassThrottled {
				t.Fatalf("Retry-After %q: %v, want throttled", value, err)
			}
			if got := Classify(err).PausedUntil.Sub(start); got < want || got > want+time.Second {
				t.Errorf("Retry-After %q paused the tenant for %v, want %v", value, got, want)
			}
		}
	})

	t.Run("a try that takes too long", func(t *testing.T) {
		e := newEmulator(t, graphtest.Options{})
		e.Inject(graphtest.Fault{Latency: 5 * time.Second, Times: 1})
		opts := fastOptions()
		opts.Timeout = 300 * time.Millisecond
		c := e.client(t, e.config(), opts)
		if err := c.CheckCredentials(testContext(t)); err != nil { // the token is not what is timed here
			t.Fatal(err)
		}
		start := time.Now()
		_, err := c.Get(testContext(t), UserOverview, configID)
		if got := Classify(err); got.Class != ClassRetryable {
			t.Errorf("%v classified %+v, want retryable", err, got)
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("took %s: the slow try was not cut at 300ms", took)
		}
		// The emulator logs the abandoned answer when its handler ends, a moment after the client
		// gave up on it.
		waitFor(t, func() bool { return len(e.graphRequests()) >= 1 })
		if n := len(e.graphRequests()); n != 1 {
			t.Errorf("%d Graph requests, want the slow one only", n)
		}
	})

	t.Run("the caller's deadline cuts a slow answer", func(t *testing.T) {
		e := newEmulator(t, graphtest.Options{})
		e.Inject(graphtest.Fault{Latency: 5 * time.Second})
		c := e.client(t, e.config(), fastOptions())
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		_, err := c.Get(ctx, UserOverview, configID)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error %v, want the deadline", err)
		}
		if got := Classify(err); got.Class != ClassRetryable {
			t.Errorf("classified %+v, want retryable", got)
		}
	})
}

// A guarded write asks its precondition after the token is obtained, just before the PATCH goes:
// a refusal sends nothing, is returned as it is, and gives the write back to the budget.
func TestGuardedWrite(t *testing.T) {
	e := newEmulator(t, graphtest.Options{})
	opts := fastOptions()
	opts.Pacers = NewPacers(Limits{Requests: 100, Writes: 1, Per: time.Hour}, 0)
	c := e.client(t, e.config(), opts)
	gone := errors.New("the resource was deleted")
	tokenRequests := func() int {
		return e.CountRequests(func(r graphtest.Request) bool { return r.Kind == graphtest.KindToken })
	}
	var askedAfterToken bool
	guard := Guarded(c, func() error {
		askedAfterToken = tokenRequests() == 1
		return gone
	})
	n := int32(12)
	_, err := guard.Patch(testContext(t), UserOverview, configID, Fields{SuccessCount: &n})
	if !errors.Is(err, gone) {
		t.Fatalf("error %v, want the precondition's", err)
	}
	if !askedAfterToken {
		t.Error("the precondition was asked before the token was obtained")
	}
	if got := len(e.graphRequests()); got != 0 {
		t.Errorf("%d Graph requests, want none", got)
	}
	// Wanted, it goes, as a write job: the tenant's one write of the hour is still free, since
	// the refused write was given back.
	if err := runJob(t, c, WriteJob, func(ctx context.Context, calls Calls) error {
		_, err := Guarded(calls, func() error { return nil }).Patch(ctx, UserOverview, configID, Fields{SuccessCount: &n})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if o, _ := e.Overview(testTenant, configID); o.SuccessCount != 12 {
		t.Errorf("successCount %d after a wanted write, want 12", o.SuccessCount)
	}
}
