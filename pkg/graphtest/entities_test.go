package graphtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/overview-operator/overview-operator/internal/graph/entity"
)

// entityCase is one overview of a configuration, as the table-driven tests below see it: its
// path, its type, what it has on beta only, and the seed and read of its state.
type entityCase struct {
	segment, odataType string
	beta               []string // the properties beta adds, which v1.0 refuses
	notOnType          string   // a beta property of the other overview, which this one never has
	seed               func(*Server, string, string, Overview)
	read               func(*Server, string, string) (Overview, bool)
}

var entityCases = map[string]entityCase{
	"user": {
		segment: UserStatusOverview, odataType: "#microsoft.graph.deviceConfigurationUserOverview",
		beta: []string{"conflictCount"}, notOnType: "notApplicablePlatformCount",
		seed: (*Server).Seed, read: (*Server).Overview,
	},
	"device": {
		segment: DeviceStatusOverview, odataType: "#microsoft.graph.deviceConfigurationDeviceOverview",
		beta: []string{"notApplicablePlatformCount", "conflictCount"},
		seed: (*Server).SeedDevice, read: (*Server).DeviceOverview,
	},
}

func entityPath(segment, version, configurationID string) string {
	return "/" + version + "/deviceManagement/deviceConfigurations/" + configurationID + "/" + segment
}

// TestEntityNames holds the names users pass in Fault.Entity to the table the emulator serves.
func TestEntityNames(t *testing.T) {
	var got []string
	for _, e := range entity.Entities {
		got = append(got, e.Segment)
	}
	if d := cmp.Diff([]string{UserStatusOverview, DeviceStatusOverview}, got); d != "" {
		t.Errorf("the table's segments (-constants +table):\n%s", d)
	}
	if len(entityCases) != len(entity.Entities) {
		t.Errorf("the tests cover %d overviews, the table has %d", len(entityCases), len(entity.Entities))
	}
}

func TestEntityGetAndPatch(t *testing.T) {
	for name, ec := range entityCases {
		for _, version := range []string{"v1.0", "beta"} {
			t.Run(name+"/"+version, func(t *testing.T) {
				srv := newTestServer(t, Options{})
				ec.seed(srv, tenantA, configA, Overview{PendingCount: 4, ConflictCount: 7, NotApplicablePlatformCount: 9,
					LastUpdateDateTime: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)})
				client, tok := srv.Client(), mustToken(t, srv, tenantA, clientRW)
				u := srv.URL() + entityPath(ec.segment, version, configA)

				want := map[string]any{
					"@odata.context":       srv.URL() + "/" + version + "/$metadata#deviceManagement/deviceConfigurations('" + configA + "')/" + ec.segment + "/$entity",
					"@odata.type":          ec.odataType,
					"id":                   configA,
					"pendingCount":         4.0,
					"notApplicableCount":   0.0,
					"successCount":         0.0,
					"errorCount":           0.0,
					"failedCount":          0.0,
					"configurationVersion": 0.0,
					"lastUpdateDateTime":   "2026-01-02T03:04:05Z",
				}
				seeded := map[string]float64{"conflictCount": 7, "notApplicablePlatformCount": 9}
				if version == "beta" {
					for _, p := range ec.beta {
						want[p] = seeded[p]
					}
				}
				get := call(t, client, http.MethodGet, u, tok, "", nil)
				if d := cmp.Diff(want, decodeObject(t, get)); d != "" {
					t.Errorf("GET (-want +got):\n%s", d)
				}

				body := `{"@odata.type":"` + ec.odataType + `","successCount":12,"lastUpdateDateTime":"2026-11-28T11:00:00+01:00"`
				if version == "beta" {
					for _, p := range ec.beta {
						body += `,"` + p + `":-1`
						want[p] = -1.0
					}
				}
				body += "}"
				want["successCount"], want["lastUpdateDateTime"] = 12.0, "2026-11-28T10:00:00Z"
				patch := call(t, client, http.MethodPatch, u, tok, body, nil)
				if d := cmp.Diff(want, decodeObject(t, patch)); d != "" {
					t.Errorf("PATCH answer (-want +got):\n%s", d)
				}
				if again := call(t, client, http.MethodGet, u, tok, "", nil); string(again.body) != string(patch.body) {
					t.Errorf("GET after PATCH = %s, want %s", again.body, patch.body)
				}

				got, ok := ec.read(srv, tenantA, configA)
				if !ok || got.SuccessCount != 12 || !got.LastUpdateDateTime.Equal(time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)) {
					t.Errorf("state after PATCH: %+v, %v", got, ok)
				}
				// The configuration's other overview is left as it was.
				for other, oc := range entityCases {
					if other == name {
						continue
					}
					if o, _ := oc.read(srv, tenantA, configA); o.SuccessCount == 12 {
						t.Errorf("a PATCH of the %s overview changed the %s one: %+v", name, other, o)
					}
				}
				if n := srv.CountRequests(func(r Request) bool { return r.Entity == ec.segment && r.Held != nil }); n != 3 {
					t.Errorf("%d requests logged with Entity %s and what Graph held, want 3", n, ec.segment)
				}
			})
		}
	}
}

func decodeObject(t *testing.T, res response) map[string]any {
	t.Helper()
	if res.status != http.StatusOK {
		t.Fatalf("status %d: %s", res.status, res.body)
	}
	var got map[string]any
	if err := json.Unmarshal(res.body, &got); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestEntityPatchRefusesWhatTheTypeHasNot(t *testing.T) {
	for name, ec := range entityCases {
		t.Run(name, func(t *testing.T) {
			srv := newTestServer(t, Options{})
			tok := mustToken(t, srv, tenantA, clientRW)
			before, _ := ec.read(srv, tenantA, configA)
			cases := map[string]struct{ version, body, wantMessage string }{
				"null": {"v1.0", `{"lastUpdateDateTime":null}`, "'Edm.DateTimeOffset[Nullable=False]'"},
			}
			for other, oc := range entityCases {
				if other != name {
					cases["the "+other+" overview's type"] = struct{ version, body, wantMessage string }{"v1.0", `{"@odata.type":"` + oc.odataType + `"}`, "could not be resolved"}
				}
			}
			for _, p := range ec.beta {
				cases[p+" on v1.0"] = struct{ version, body, wantMessage string }{"v1.0", `{"` + p + `":1}`,
					"The property '" + p + "' does not exist on type 'microsoft.graph." + strings.TrimPrefix(ec.odataType, "#microsoft.graph.") + "'"}
			}
			if ec.notOnType != "" {
				cases[ec.notOnType+" on beta"] = struct{ version, body, wantMessage string }{"beta", `{"` + ec.notOnType + `":1}`, "does not exist"}
			}
			for cname, tc := range cases {
				res := call(t, srv.Client(), http.MethodPatch, srv.URL()+entityPath(ec.segment, tc.version, configA), tok, tc.body, nil)
				if res.status != http.StatusBadRequest {
					t.Errorf("%s: status %d, want 400: %s", cname, res.status, res.body)
					continue
				}
				if e := res.graphError(t); !strings.Contains(e.Message, tc.wantMessage) {
					t.Errorf("%s: message %q, want it to mention %q", cname, e.Message, tc.wantMessage)
				}
			}
			if after, _ := ec.read(srv, tenantA, configA); after != before {
				t.Errorf("a refused PATCH changed the state: %+v", after)
			}
		})
	}
}

func TestEntitySelect(t *testing.T) {
	for name, ec := range entityCases {
		t.Run(name, func(t *testing.T) {
			srv := newTestServer(t, Options{})
			tok := mustToken(t, srv, tenantA, clientRW)
			last := ec.beta[len(ec.beta)-1]
			q := "?$select=SuccessCount," + ec.beta[0]
			beta := call(t, srv.Client(), http.MethodGet, srv.URL()+entityPath(ec.segment, "beta", configA)+q, tok, "", nil)
			got := decodeObject(t, beta)
			wantContext := "/beta/$metadata#deviceManagement/deviceConfigurations('" + configA + "')/" + ec.segment + "(successCount," + ec.beta[0] + ")/$entity"
			if !strings.HasSuffix(fmt.Sprint(got["@odata.context"]), wantContext) || len(got) != 5 {
				t.Errorf("GET beta%s = %s, want id, successCount and %s in ...%s", q, beta.body, ec.beta[0], wantContext)
			}
			v1 := call(t, srv.Client(), http.MethodGet, srv.URL()+entityPath(ec.segment, "v1.0", configA)+"?$select="+last, tok, "", nil)
			if v1.status != http.StatusBadRequest || !strings.Contains(v1.graphError(t).Message, "'"+last+"'") {
				t.Errorf("GET v1.0?$select=%s: %d %s, want 400", last, v1.status, v1.body)
			}
		})
	}
}

func TestEntityPermissions(t *testing.T) {
	for name, ec := range entityCases {
		t.Run(name, func(t *testing.T) {
			srv := newTestServer(t, Options{})
			tok := mustToken(t, srv, tenantA, clientRO)
			u := srv.URL() + entityPath(ec.segment, "v1.0", configA)
			if res := call(t, srv.Client(), http.MethodGet, u, tok, "", nil); res.status != http.StatusOK {
				t.Errorf("GET with Read.All: %d %s", res.status, res.body)
			}
			res := call(t, srv.Client(), http.MethodPatch, u, tok, `{"successCount":1}`, nil)
			if res.status != http.StatusForbidden || !strings.Contains(res.graphError(t).Message, PermissionReadWrite) {
				t.Errorf("PATCH with Read.All: %d %s, want 403 naming %s", res.status, res.body, PermissionReadWrite)
			}
			if res := call(t, srv.Client(), http.MethodGet, srv.URL()+entityPath(ec.segment, "v1.0", "0d0d0d0d-0000-4000-8000-000000000000"), tok, "", nil); res.status != http.StatusNotFound {
				t.Errorf("GET of a configuration never seeded: %d, want 404", res.status)
			}
			if res := call(t, srv.Client(), http.MethodDelete, u, mustToken(t, srv, tenantA, clientRW), "", nil); res.status != http.StatusMethodNotAllowed || !strings.Contains(res.graphError(t).Message, ec.segment) {
				t.Errorf("DELETE: %d %s, want 405 naming %s", res.status, res.body, ec.segment)
			}
		})
	}
}

// TestConfigurationHasBothOverviews: seeding one overview, or the configuration, makes a
// configuration that serves both, the other with zeros.
func TestConfigurationHasBothOverviews(t *testing.T) {
	seeds := map[string]func(*Server, string){
		"Seed":              func(s *Server, id string) { s.Seed(tenantA, id, Overview{SuccessCount: 1}) },
		"SeedDevice":        func(s *Server, id string) { s.SeedDevice(tenantA, id, Overview{SuccessCount: 1}) },
		"SeedConfiguration": func(s *Server, id string) { s.SeedConfiguration(tenantA, id, Configuration{}) },
	}
	const id = "0c0c0c0c-0000-4000-8000-000000000000"
	for seedName, seed := range seeds {
		t.Run(seedName, func(t *testing.T) {
			srv := newTestServer(t, Options{})
			seed(srv, id)
			tok := mustToken(t, srv, tenantA, clientRW)
			for name, ec := range entityCases {
				got := decodeObject(t, call(t, srv.Client(), http.MethodGet, srv.URL()+entityPath(ec.segment, "v1.0", id), tok, "", nil))
				if got["id"] != id {
					t.Errorf("%s overview's id = %v, want %s", name, got["id"], id)
				}
				if o, ok := ec.read(srv, tenantA, id); !ok || o.ID != id {
					t.Errorf("%s overview held: %+v, %v", name, o, ok)
				}
			}
		})
	}
}

func TestFaultEntity(t *testing.T) {
	srv := newTestServer(t, Options{})
	srv.Inject(Fault{Entity: DeviceStatusOverview, Method: http.MethodGet, Status: 503, Times: 2})
	srv.Inject(Fault{Method: http.MethodPatch, Status: 500, Times: 2})
	tok := mustToken(t, srv, tenantA, clientRW)
	type req struct{ method, path string }
	reqs := []req{
		{http.MethodGet, entityPath(UserStatusOverview, "v1.0", configA)},     // not the entity
		{http.MethodGet, "/v1.0/deviceManagement/deviceConfigurations"},       // a fault that names an entity is not the list's
		{http.MethodGet, entityPath("DeviceStatusOverview", "beta", configA)}, // the first fault; segments match without case
		{http.MethodGet, entityPath(DeviceStatusOverview, "v1.0", configA)},   // the first fault, used up
		{http.MethodGet, entityPath(DeviceStatusOverview, "v1.0", configA)},   // none left
		{http.MethodPatch, entityPath(UserStatusOverview, "v1.0", configA)},   // a fault without an entity: either overview
		{http.MethodPatch, entityPath(DeviceStatusOverview, "v1.0", configA)}, // the same fault
		{http.MethodPatch, entityPath(DeviceStatusOverview, "v1.0", configA)}, // used up
	}
	var got []int
	for _, r := range reqs {
		body := ""
		if r.method == http.MethodPatch {
			body = `{}`
		}
		got = append(got, call(t, srv.Client(), r.method, srv.URL()+r.path, tok, body, nil).status)
	}
	if d := cmp.Diff([]int{200, 200, 503, 503, 200, 500, 500, 200}, got); d != "" {
		t.Errorf("statuses (-want +got):\n%s", d)
	}

	defer func() {
		if recover() == nil {
			t.Error("Inject took a fault on an overview the emulator does not serve")
		}
	}()
	srv.Inject(Fault{Entity: "statusOverview", Status: 500})
}

// TestEntitiesShareTheBudget: both overviews are Intune device configuration calls, so the
// tenant's per-app budget counts them together.
func TestEntitiesShareTheBudget(t *testing.T) {
	srv := newTestServer(t, Options{Limits: Limits{AppWrites: 2}})
	tok := mustToken(t, srv, tenantA, clientRW)
	var got []int
	for _, segment := range []string{UserStatusOverview, DeviceStatusOverview, DeviceStatusOverview, UserStatusOverview} {
		got = append(got, call(t, srv.Client(), http.MethodPatch, srv.URL()+entityPath(segment, "v1.0", configA), tok, `{"successCount":5}`, nil).status)
	}
	if d := cmp.Diff([]int{200, 200, 429, 429}, got); d != "" {
		t.Errorf("statuses (-want +got):\n%s", d)
	}
}
