package graphtest

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestSelectOverview: a GET with $select answers only the properties asked for, plus id, and says
// so in @odata.context; a property the type does not have is a 400, as from Graph.
func TestSelectOverview(t *testing.T) {
	srv := newTestServer(t, Options{})
	tok := mustToken(t, srv, tenantA, clientRO)
	all := []string{"@odata.context", "@odata.type", "id", "pendingCount", "notApplicableCount", "successCount",
		"errorCount", "failedCount", "lastUpdateDateTime", "configurationVersion"}
	cases := map[string]struct {
		version, query string
		wantKeys       []string // besides @odata.context and @odata.type
		wantContext    string   // what follows userStatusOverview
		wantMessage    string   // for a 400
	}{
		"two properties":        {"v1.0", "$select=successCount,failedCount", []string{"id", "successCount", "failedCount"}, "(successCount,failedCount)/$entity", ""},
		"only id":               {"v1.0", "$select=id", []string{"id"}, "(id)/$entity", ""},
		"any case, repeated":    {"v1.0", "$select=FAILEDCOUNT,%20successcount,failedCount", []string{"id", "successCount", "failedCount"}, "(failedCount,successCount)/$entity", ""},
		"the key named":         {"v1.0", "$select=lastUpdateDateTime,id", []string{"id", "lastUpdateDateTime"}, "(lastUpdateDateTime,id)/$entity", ""},
		"escaped":               {"v1.0", "%24select=errorCount", []string{"id", "errorCount"}, "(errorCount)/$entity", ""},
		"everything":            {"v1.0", "$select=*", all[2:], "/$entity", ""},
		"conflictCount on beta": {"beta", "$select=conflictCount", []string{"id", "conflictCount"}, "(conflictCount)/$entity", ""},
		"no $select":            {"v1.0", "", all[2:], "/$entity", ""},
		"an unknown property":   {"v1.0", "$select=successCount,warningCount", nil, "", "Could not find a property named 'warningCount' on type 'microsoft.graph.deviceConfigurationUserOverview'."},
		"conflictCount on v1.0": {"v1.0", "$select=conflictCount", nil, "", "Could not find a property named 'conflictCount'"},
		"an empty name":         {"v1.0", "$select=successCount,", nil, "", "empty property name"},
		"$select given twice":   {"beta", "$select=successCount&$select=id", nil, "", "specified more than once"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			res := call(t, srv.Client(), http.MethodGet, srv.URL()+overviewPath(tc.version, configA)+"?"+tc.query, tok, "", nil)
			if tc.wantMessage != "" {
				if res.status != http.StatusBadRequest {
					t.Fatalf("status %d, want 400: %s", res.status, res.body)
				}
				if e := res.graphError(t); e.Code != "BadRequest" || !strings.Contains(e.Message, tc.wantMessage) {
					t.Errorf("error %+v, want BadRequest mentioning %q", e, tc.wantMessage)
				}
				return
			}
			if res.status != http.StatusOK {
				t.Fatalf("status %d: %s", res.status, res.body)
			}
			var got map[string]any
			if err := json.Unmarshal(res.body, &got); err != nil {
				t.Fatal(err)
			}
			want := append([]string{"@odata.context", "@odata.type"}, tc.wantKeys...)
			if d := cmp.Diff(sorted(want), sorted(slices.Collect(maps.Keys(got)))); d != "" {
				t.Errorf("properties (-want +got):\n%s", d)
			}
			if got["id"] != configA || (slices.Contains(tc.wantKeys, "successCount") && got["successCount"] != 3.0) {
				t.Errorf("values: %s", res.body)
			}
			wantContext := srv.URL() + "/" + tc.version + "/$metadata#deviceManagement/deviceConfigurations('" + configA + "')/userStatusOverview" + tc.wantContext
			if got["@odata.context"] != wantContext {
				t.Errorf("@odata.context %q, want %q", got["@odata.context"], wantContext)
			}
		})
	}
	// A PATCH answers with the whole entity whatever it asks.
	res := call(t, srv.Client(), http.MethodPatch, srv.URL()+overviewPath("v1.0", configA)+"?$select=id", mustToken(t, srv, tenantA, clientRW), `{"successCount":4}`, nil)
	var got map[string]any
	if err := json.Unmarshal(res.body, &got); err != nil || len(got) != len(all) {
		t.Errorf("PATCH with $select: %d %s", res.status, res.body)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
