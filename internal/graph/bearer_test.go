package graph

import (
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

// TestForbiddenRecoversAfterConsent: a permission granted and consented after the token was
// issued is taken up on the next call, without waiting for the token to expire; a truly forbidden
// app asks for a fresh token at most once a minute.
func TestForbiddenRecoversAfterConsent(t *testing.T) {
	e := newEmulator(t, graphtest.Options{})
	if err := e.Grant(testTenant, testClient, graphtest.PermissionRead); err != nil {
		t.Fatal(err)
	}
	clk := testingclock.NewFakeClock(time.Now())
	opts := fastOptions()
	opts.Clock = clk
	c := e.client(t, e.config(), opts)
	ctx := testContext(t)
	patch := Fields{SuccessCount: ptr[int32](12)}
	statuses := func() []int {
		var s []int
		for _, r := range e.graphRequests() {
			s = append(s, r.Status)
		}
		return s
	}

	// Forbidden: one fresh token, one more try, then the error.
	_, err := c.Patch(ctx, UserOverview, configID, patch)
	if got := Classify(err); got.Kind != KindForbidden {
		t.Fatalf("%v classified %+v, want Forbidden", err, got)
	}
	if n := e.tokenRequests(); n != 2 {
		t.Errorf("%d token requests after the first 403, want 2 (the token, a fresh one)", n)
	}
	// Still forbidden, and within the minute: no further token request, one try.
	for range 5 {
		if _, err := c.Patch(ctx, UserOverview, configID, patch); Classify(err).Kind != KindForbidden {
			t.Fatalf("%v, want Forbidden", err)
		}
	}
	if n := e.tokenRequests(); n != 2 {
		t.Errorf("%d token requests after 6 forbidden calls within a minute, want 2", n)
	}
	if diff := cmp.Diff([]int{403, 403, 403, 403, 403, 403, 403}, statuses()); diff != "" {
		t.Errorf("Graph answers (-want +got):\n%s", diff)
	}

	// An admin grants the permission and consents; the held token still lacks the role.
	if err := e.Grant(testTenant, testClient, graphtest.PermissionReadWrite); err != nil {
		t.Fatal(err)
	}
	clk.Step(defaultForbiddenRenewal)
	resp, err := c.Patch(ctx, UserOverview, configID, patch)
	if err != nil {
		t.Fatalf("after consent: %v", err)
	}
	if resp.Overview.SuccessCount != 12 {
		t.Errorf("successCount %d, want 12", resp.Overview.SuccessCount)
	}
	if n := e.tokenRequests(); n != 3 {
		t.Errorf("%d token requests after consent, want 3", n)
	}
	// The fresh token is kept.
	if _, err := c.Get(ctx, UserOverview, configID); err != nil {
		t.Fatal(err)
	}
	if n := e.tokenRequests(); n != 3 {
		t.Errorf("%d token requests after a further call, want 3", n)
	}
}

// TestConcurrentRefusalsRenewOnce: calls that get a 401 or a 403 for the same token at the same
// time get one fresh token between them.
func TestConcurrentRefusalsRenewOnce(t *testing.T) {
	for name, fault := range map[string]graphtest.Fault{
		// The latency holds the answers until all eight calls have sent their first try.
		"401": {Status: http.StatusUnauthorized, Times: 8, Latency: 300 * time.Millisecond},
		"403": {Status: http.StatusForbidden, Times: 8, Latency: 300 * time.Millisecond},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEmulator(t, graphtest.Options{})
			c := e.client(t, e.config(), fastOptions())
			ctx := testContext(t)
			if err := c.CheckCredentials(ctx); err != nil {
				t.Fatal(err)
			}
			e.Inject(fault)
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() { _, _ = c.Get(ctx, UserOverview, configID) })
			}
			wg.Wait()
			if n := e.tokenRequests(); n != 2 {
				t.Errorf("%d token requests, want 2 (the first token, one fresh one)", n)
			}
		})
	}
}

// TestRefusalHeld: once the login endpoint has refused the credentials, every call of the
// connection gets that refusal without asking again until the hold is over; then the first call
// asks, and credentials fixed in Entra ID meanwhile work. A passing failure is not held.
func TestRefusalHeld(t *testing.T) {
	e := newEmulator(t, graphtest.Options{})
	clk := testingclock.NewFakeClock(time.Now())
	opts := fastOptions()
	opts.Clock, opts.RefusalHold = clk, 30*time.Second
	cfg := e.config()
	cfg.Credential.ClientSecret = "rotated-" + testSecret // written to the Secret before Entra ID knows it
	c := e.client(t, cfg, opts)
	ctx := testContext(t)
	refused := func(err error) bool {
		var terr *tokenError
		return errors.As(err, &terr) && !terr.transient
	}

	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { _, errs[i] = c.Get(ctx, UserOverview, configID) })
	}
	wg.Wait()
	for i, err := range errs {
		if !refused(err) {
			t.Fatalf("call %d: %v, want the refusal of the credentials", i, err)
		}
	}
	if n := e.tokenRequests(); n != 1 {
		t.Errorf("%d token requests for 8 calls, want 1: the refusal answers the others", n)
	}

	// Entra ID learns the new secret; within the hold the refusal still answers.
	e.AddApp(graphtest.App{TenantID: testTenant, ClientID: testClient, ClientSecret: cfg.Credential.ClientSecret})
	clk.Step(29 * time.Second)
	if _, err := c.Get(ctx, UserOverview, configID); !refused(err) {
		t.Fatalf("%v, want the held refusal", err)
	}
	if n := e.tokenRequests(); n != 1 {
		t.Errorf("%d token requests within the hold, want 1", n)
	}
	clk.Step(time.Second)
	if _, err := c.Get(ctx, UserOverview, configID); err != nil {
		t.Fatalf("after the hold: %v, want the overview", err)
	}
	if n := e.tokenRequests(); n != 2 {
		t.Errorf("%d token requests after the hold, want 2", n)
	}
	if n := len(e.graphRequests()); n != 1 {
		t.Errorf("%d Graph requests, want 1: a refused call never reaches Graph", n)
	}
}

// TestPassingTokenFailureNotHeld: a login endpoint that fails for a while (503) is asked again by
// the next call.
func TestPassingTokenFailureNotHeld(t *testing.T) {
	t.Parallel() // waits on the emulator's clock: runs beside the package's other waiting tests
	e := newEmulator(t, graphtest.Options{})
	e.Inject(graphtest.Fault{Token: true, Status: http.StatusServiceUnavailable})
	c := e.client(t, e.config(), fastOptions())
	ctx := testContext(t)
	asked := 0
	for i := range 2 {
		if _, err := c.Get(ctx, UserOverview, configID); err == nil {
			t.Fatalf("call %d succeeded, want the login endpoint's failure", i)
		}
		if n := e.tokenRequests(); n <= asked {
			t.Errorf("call %d sent no token request, want a new one: a passing failure is not held", i)
		} else {
			asked = n
		}
	}
	e.ClearFaults()
	if _, err := c.Get(ctx, UserOverview, configID); err != nil {
		t.Fatalf("once the login endpoint answers: %v", err)
	}
}

// TestShortLivedTokenKeptHalfItsLife: a token that lives less than twice the refresh margin (the
// login endpoint may give one of a few minutes) is kept for half its life, not asked for again
// at every call.
func TestShortLivedTokenKeptHalfItsLife(t *testing.T) {
	e := newEmulator(t, graphtest.Options{TokenLifetime: 2 * time.Minute})
	clk := testingclock.NewFakeClock(time.Now())
	opts := fastOptions()
	opts.Clock = clk
	c := e.client(t, e.config(), opts)
	ctx := testContext(t)
	if err := c.CheckCredentials(ctx); err != nil {
		t.Fatal(err)
	}
	clk.Step(30 * time.Second)
	if _, err := c.Get(ctx, UserOverview, configID); err != nil {
		t.Fatal(err)
	}
	if n := e.tokenRequests(); n != 1 {
		t.Errorf("%d token requests within the first half of a 2-minute token's life, want 1", n)
	}
	clk.Step(31 * time.Second)
	if _, err := c.Get(ctx, UserOverview, configID); err != nil {
		t.Fatal(err)
	}
	if n := e.tokenRequests(); n != 2 {
		t.Errorf("%d token requests past half the token's life, want 2", n)
	}
}
