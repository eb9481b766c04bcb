package graph

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

// seedList seeds n configurations besides the emulator's own (configID) and returns every
// configuration of the tenant in the list's order (by id).
func seedList(e *emulator, n int) []Configuration {
	want := []Configuration{{ID: configID, DisplayName: configID}}
	for i := range n {
		id := fmt.Sprintf("%08x-0000-4000-8000-000000000000", i+1)
		e.SeedConfiguration(testTenant, id, graphtest.Configuration{DisplayName: fmt.Sprintf("Wi-Fi %d", i+1)})
		want = append(want, Configuration{ID: id, DisplayName: fmt.Sprintf("Wi-Fi %d", i+1)})
	}
	slices.SortFunc(want, func(a, b Configuration) int { return strings.Compare(a.ID, b.ID) })
	return want
}

func isListCall(r graphtest.Request) bool {
	return r.Kind == graphtest.KindGraph && r.ConfigurationID == "" && r.Method == http.MethodGet
}

// TestListConfigurationsThrottledPage: the list follows @odata.nextLink over several pages, and a
// page Graph answers 429 waits for the Retry-After pause and is read again: the list succeeds, with
// every configuration once.
func TestListConfigurationsThrottledPage(t *testing.T) {
	t.Parallel() // waits on the emulator's clock: runs beside the package's other waiting tests
	var e *emulator
	var lists atomic.Int32
	e = newEmulator(t, graphtest.Options{ThrottlingDisabled: true, OnRequest: func(r graphtest.Request) {
		if isListCall(r) && lists.Add(1) == 2 {
			// The third page, in the middle of the list, is throttled once.
			e.Inject(graphtest.Fault{Method: http.MethodGet, Status: http.StatusTooManyRequests, RetryAfter: "1", Times: 1})
		}
	}})
	want := seedList(e, 99) // 100 configurations: 4 pages of 25
	c := e.client(t, e.config(), fastOptions())

	var progress []int
	got, err := c.List(testContext(t), func(read int) { progress = append(progress, read) })
	if err != nil {
		t.Fatalf("ListConfigurations: %v", err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("configurations (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]int{25, 50, 75, 100}, progress); d != "" {
		t.Errorf("progress (-want +got):\n%s", d)
	}
	var calls []graphtest.Request
	for _, r := range e.graphRequests() {
		if isListCall(r) {
			calls = append(calls, r)
		}
	}
	if len(calls) != 5 || calls[2].Status != http.StatusTooManyRequests {
		t.Fatalf("list calls: %d, want 4 pages and one 429 (the third)", len(calls))
	}
	if !strings.Contains(calls[1].Path, "deviceConfigurations") || calls[3].Time.Sub(calls[2].Time) < time.Second {
		t.Errorf("the throttled page went again %s after the 429, want at least its Retry-After (1s)", calls[3].Time.Sub(calls[2].Time))
	}
}

// TestListConfigurationsKeepsTheBudget: each page is a read in the tenant's budget: with a budget
// of 2 requests a second, 4 pages take more than a second, and Graph, with the same limit, throttles
// none.
func TestListConfigurationsKeepsTheBudget(t *testing.T) {
	t.Parallel() // waits on the emulator's clock: runs beside the package's other waiting tests
	e := newEmulator(t, graphtest.Options{Limits: graphtest.Limits{Window: time.Second, AppRequests: 2}})
	want := seedList(e, 99)
	opts := fastOptions()
	opts.Pacers = NewPacers(Limits{Requests: 2, Per: time.Second}, 0)
	c := e.client(t, e.config(), opts)

	start := time.Now()
	got, err := c.List(testContext(t), nil)
	if err != nil {
		t.Fatalf("ListConfigurations: %v", err)
	}
	if len(got) != len(want) {
		t.Errorf("%d configurations, want %d", len(got), len(want))
	}
	if took := time.Since(start); took < time.Second {
		t.Errorf("4 pages at 2 a second took %s", took)
	}
	if n := e.CountRequests(func(r graphtest.Request) bool { return r.Throttled }); n > 0 {
		t.Errorf("%d requests throttled by Graph", n)
	}
}

// TestListConfigurationsFails: an error that is not throttling ends the list with that error.
func TestListConfigurationsFails(t *testing.T) {
	e := newEmulator(t, graphtest.Options{})
	seedList(e, 30)
	e.Inject(graphtest.Fault{Method: http.MethodGet, Status: http.StatusForbidden}) // every try: the client asks once more with a fresh token
	c := e.client(t, e.config(), fastOptions())
	_, err := c.List(testContext(t), nil)
	if got := Classify(err); got.Kind != KindForbidden {
		t.Errorf("ListConfigurations: %v (kind %s), want %s", err, got.Kind, KindForbidden)
	}
}

// TestCheckNextLink: a next link is followed only on the client's Graph endpoint, since the token
// goes with it.
func TestCheckNextLink(t *testing.T) {
	c := &client{base: "https://graph.example.com/v1.0/deviceManagement/deviceConfigurations"}
	cases := map[string]struct {
		link string
		ok   bool
	}{
		"none":         {link: "", ok: true},
		"same host":    {link: "https://graph.example.com/v1.0/deviceManagement/deviceConfigurations?$skiptoken=x", ok: true},
		"another host": {link: "https://evil.example.com/v1.0/deviceManagement/deviceConfigurations?$skiptoken=x"},
		"plain http":   {link: "http://graph.example.com/v1.0/deviceManagement/deviceConfigurations"},
		"not a URL":    {link: "://"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := c.checkNextLink(tc.link)
			if (err == nil) != tc.ok {
				t.Errorf("checkNextLink(%q) = %v, want ok %v", tc.link, err, tc.ok)
			}
		})
	}
}
