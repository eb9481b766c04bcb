package graphtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// listPageBody is one page of the list as a client decodes it.
type listPageBody struct {
	Context  string           `json:"@odata.context"`
	NextLink string           `json:"@odata.nextLink"`
	Value    []map[string]any `json:"value"`
}

// listAll follows @odata.nextLink from first and returns every item and every page.
func listAll(t *testing.T, srv *Server, token, first string, between func(page int)) (items []map[string]any, pages []listPageBody) {
	t.Helper()
	for next := first; next != ""; {
		res := call(t, srv.Client(), http.MethodGet, next, token, "", nil)
		if res.status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", next, res.status, res.body)
		}
		var p listPageBody
		if err := json.Unmarshal(res.body, &p); err != nil {
			t.Fatalf("page %s: %v", res.body, err)
		}
		pages = append(pages, p)
		items = append(items, p.Value...)
		next = p.NextLink
		if between != nil {
			between(len(pages))
		}
	}
	return items, pages
}

// seedConfigurations seeds n configurations in tenantA with ids that sort in the order seeded.
func seedConfigurations(srv *Server, n int) (ids []string) {
	for i := range n {
		id := fmt.Sprintf("%08x-0000-4000-8000-000000000000", i+1)
		srv.SeedConfiguration(tenantA, id, Configuration{DisplayName: fmt.Sprintf("Wi-Fi %d", i+1)})
		ids = append(ids, id)
	}
	return ids
}

func ids(items []map[string]any) []string {
	var out []string
	for _, it := range items {
		out = append(out, it["id"].(string))
	}
	return out
}

// TestListConfigurations: the list serves the tenant's configurations, each once, in a stable
// order, with $select, a page at a time at the page size (or $top), as issue 12's export reads it.
func TestListConfigurations(t *testing.T) {
	srv := newTestServer(t, Options{})
	srv.AddApp(App{TenantID: tenantB, ClientID: clientRW, ClientSecret: secret})
	srv.SeedConfiguration(tenantB, "ffffffff-0000-4000-8000-000000000000", Configuration{DisplayName: "another tenant's"})
	want := append(seedConfigurations(srv, 60), configA) // configA (6d6c...) sorts last; Seed made it
	tok := mustToken(t, srv, tenantA, clientRO)
	base := srv.URL() + "/v1.0/deviceManagement/deviceConfigurations"

	items, pages := listAll(t, srv, tok, base+"?$select=id,displayName", nil)
	if d := cmp.Diff(want, ids(items)); d != "" {
		t.Errorf("ids (-want +got):\n%s", d)
	}
	if len(pages) != 3 || len(pages[0].Value) != DefaultPageSize || len(pages[2].Value) != 11 {
		t.Errorf("%d pages, want 3 of %d, %d and 11", len(pages), DefaultPageSize, DefaultPageSize)
	}
	if d := cmp.Diff(map[string]any{"@odata.type": "#microsoft.graph.windows10CustomConfiguration", "id": want[0], "displayName": "Wi-Fi 1"}, items[0]); d != "" {
		t.Errorf("first item (-want +got):\n%s", d)
	}
	if got := items[60]["displayName"]; got != configA {
		t.Errorf("displayName of a configuration made by Seed: %v, want its id", got)
	}
	if want := srv.URL() + "/v1.0/$metadata#deviceManagement/deviceConfigurations(id,displayName)"; pages[0].Context != want {
		t.Errorf("@odata.context %q, want %q", pages[0].Context, want)
	}
	if !strings.HasPrefix(pages[0].NextLink, base+"?$select=id,displayName&$skiptoken=") || strings.Contains(pages[0].NextLink, want[24]) {
		t.Errorf("nextLink %q: want the same $select and an opaque $skiptoken", pages[0].NextLink)
	}

	// $top lowers the page size and stays in nextLink; it does not raise it.
	items, pages = listAll(t, srv, tok, base+"?$top=10", nil)
	if len(pages) != 7 || !slices.Equal(ids(items), want) || !strings.Contains(pages[0].NextLink, "$top=10") {
		t.Errorf("$top=10: %d pages, %d items, nextLink %q", len(pages), len(items), pages[0].NextLink)
	}
	if _, pages = listAll(t, srv, tok, base+"?$top=1000", nil); len(pages) != 3 {
		t.Errorf("$top=1000: %d pages, want the server's 3", len(pages))
	}
	if _, pages = listAll(t, srv, tok, base+"?$top=0", nil); len(pages) != 1 || len(pages[0].Value) != 0 {
		t.Errorf("$top=0: %+v", pages)
	}

	// Without $select, every modelled property; beta serves the list too.
	created := time.Date(2026, 11, 1, 9, 0, 0, 123456789, time.UTC)
	srv.SeedConfiguration(tenantA, want[0], Configuration{DisplayName: "Wi-Fi HQ", Description: "the office", Version: 3,
		CreatedDateTime: created, ODataType: "microsoft.graph.windows10GeneralConfiguration"})
	items, _ = listAll(t, srv, tok, srv.URL()+"/beta/deviceManagement/deviceConfigurations?$top=2", nil)
	wantItem := map[string]any{"@odata.type": "#microsoft.graph.windows10GeneralConfiguration", "id": want[0],
		"displayName": "Wi-Fi HQ", "description": "the office", "version": 3.0,
		"createdDateTime": "2026-11-01T09:00:00.1234568Z", "lastModifiedDateTime": "2026-11-01T09:00:00.1234568Z"}
	if d := cmp.Diff(wantItem, items[0]); d != "" {
		t.Errorf("item without $select (-want +got):\n%s", d)
	}
	if items[1]["description"] != nil {
		t.Errorf("an empty description is %v, want null", items[1]["description"])
	}
	if o, _ := srv.Overview(tenantA, want[0]); o.ID != want[0] {
		t.Errorf("a configuration made by SeedConfiguration has the overview %+v", o)
	}

	// A tenant with no configurations lists none.
	srv.AddApp(App{TenantID: "00000000-0000-4000-8000-0000000000e0", ClientID: clientRW, ClientSecret: secret})
	if items, pages := listAll(t, srv, mustToken(t, srv, "00000000-0000-4000-8000-0000000000e0", clientRW), base, nil); len(items) != 0 || len(pages) != 1 {
		t.Errorf("an empty tenant: %d items over %d pages", len(items), len(pages))
	}
}

// TestListWhileSeeding: configurations seeded while a client pages do not make it see one twice
// or miss one that was there before it started.
func TestListWhileSeeding(t *testing.T) {
	srv := newTestServer(t, Options{PageSize: 10})
	before := append(seedConfigurations(srv, 30), configA)
	tok := mustToken(t, srv, tenantA, clientRO)
	items, _ := listAll(t, srv, tok, srv.URL()+"/v1.0/deviceManagement/deviceConfigurations?$select=id", func(page int) {
		// One before the cursor, one after it.
		srv.SeedConfiguration(tenantA, fmt.Sprintf("00000000-%04d-4000-8000-000000000000", page), Configuration{})
		srv.SeedConfiguration(tenantA, fmt.Sprintf("0000001f-%04d-4000-8000-000000000000", page), Configuration{})
	})
	got := ids(items)
	seen := map[string]int{}
	for _, id := range got {
		seen[id]++
		if seen[id] > 1 {
			t.Errorf("%s listed twice", id)
		}
	}
	for _, id := range before {
		if seen[id] != 1 {
			t.Errorf("%s, there from the start, listed %d times", id, seen[id])
		}
	}
	if !slices.IsSortedFunc(got, func(a, b string) int { return strings.Compare(a, b) }) {
		t.Errorf("not in a stable order: %v", got)
	}
}

func TestListRefuses(t *testing.T) {
	srv := newTestServer(t, Options{ThrottlingDisabled: true})
	srv.AddApp(App{TenantID: tenantA, ClientID: clientRW2, ClientSecret: secret, Permissions: []string{}})
	base := srv.URL() + "/v1.0/deviceManagement/deviceConfigurations"
	cases := map[string]struct {
		client, method, query string
		wantStatus            int
		wantMessage           string
	}{
		"an app without the permission": {clientRW2, http.MethodGet, "", http.StatusForbidden, PermissionRead},
		"a POST":                        {clientRW, http.MethodPost, "", http.StatusMethodNotAllowed, "POST"},
		"an unknown property":           {clientRW, http.MethodGet, "$select=id,userStatusOverview", http.StatusBadRequest, "Could not find a property named 'userStatusOverview' on type 'microsoft.graph.deviceConfiguration'."},
		"a negative $top":               {clientRW, http.MethodGet, "$top=-1", http.StatusBadRequest, "Invalid value '-1' for $top"},
		"$top not a number":             {clientRW, http.MethodGet, "$top=ten", http.StatusBadRequest, "Invalid value 'ten' for $top"},
		"a $skiptoken not its own":      {clientRW, http.MethodGet, "$skiptoken=*", http.StatusBadRequest, "$skiptoken"},
		"$filter":                       {clientRW, http.MethodGet, "$filter=displayName%20eq%20'x'", http.StatusBadRequest, "not supported by the emulator"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			res := call(t, srv.Client(), tc.method, base+"?"+tc.query, mustToken(t, srv, tenantA, tc.client), "", nil)
			if res.status != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", res.status, tc.wantStatus, res.body)
			}
			if e := res.graphError(t); !strings.Contains(e.Message, tc.wantMessage) {
				t.Errorf("message %q, want it to mention %q", e.Message, tc.wantMessage)
			}
		})
	}

	// A list GET counts against the throttling limits like any read.
	srv = newTestServer(t, Options{Limits: Limits{AppRequests: 3}})
	base = srv.URL() + "/v1.0/deviceManagement/deviceConfigurations"
	tok := mustToken(t, srv, tenantA, clientRO)
	for i := range 3 {
		if res := call(t, srv.Client(), http.MethodGet, base, tok, "", nil); res.status != http.StatusOK {
			t.Fatalf("list GET %d: %d %s", i, res.status, res.body)
		}
	}
	res := call(t, srv.Client(), http.MethodGet, base, tok, "", nil)
	if log := srv.Requests(); res.status != http.StatusTooManyRequests || res.header.Get("Retry-After") == "" || !log[len(log)-1].Throttled {
		t.Errorf("the fourth list GET in the window: %d, Retry-After %q", res.status, res.header.Get("Retry-After"))
	}
}

// FuzzParseListQuery checks that no query makes the list's parser panic, and that the nextLink of
// whatever it accepts parses back to the same selection and page size.
func FuzzParseListQuery(f *testing.F) {
	for _, seed := range []string{
		"", "$select=id,displayName", "$top=10&$select=*", "$skiptoken=MDAwMA", "$top=-1", "$select=ID,,x",
		"$filter=x", "$select=a&$select=b", "%24top=3",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		query, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := parseListQuery(query, DefaultPageSize)
		if err != nil {
			if _, ok := err.(invalidBody); !ok {
				t.Errorf("an unworded error: %v", err)
			}
			return
		}
		nextQuery, err := url.ParseQuery(q.next("Some-ID"))
		if err != nil {
			t.Fatalf("nextLink query %q: %v", q.next("Some-ID"), err)
		}
		again, err := parseListQuery(nextQuery, DefaultPageSize)
		if err != nil || !slices.Equal(again.sel, q.sel) || again.pageSize != q.pageSize || again.after != "some-id" {
			t.Errorf("%q: nextLink %q parses to %+v, %v; want %+v after some-id", raw, q.next("Some-ID"), again, err, q)
		}
	})
}
