package graph

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestEntityTable holds the table to Graph's documentation: both overviews have the seven
// properties of v1.0, and the beta-only ones are where Graph's beta metadata has them. A resource
// declares them all (the beta-only ones through a beta connection), and each API version serves its
// own.
func TestEntityTable(t *testing.T) {
	v1 := []string{"pendingCount", "notApplicableCount", "successCount", "errorCount", "failedCount", "lastUpdateDateTime", "configurationVersion"}
	tests := []struct {
		e          Entity
		kind, path string
		beta       []string
	}{
		{UserOverview, "DeviceConfigurationUserOverview", "userStatusOverview", []string{"conflictCount"}},
		{DeviceOverview, "DeviceConfigurationDeviceOverview", "deviceStatusOverview", []string{"notApplicablePlatformCount", "conflictCount"}},
	}
	if len(Entities) != len(tests) {
		t.Fatalf("%d entities, the test knows %d", len(Entities), len(tests))
	}
	for i, tc := range tests {
		t.Run(tc.e.Type, func(t *testing.T) {
			if Entities[i].Type != tc.e.Type || tc.e.Kind != tc.kind || tc.e.Segment != tc.path {
				t.Errorf("entity %d is %s (%s, %s), want %s at %s", i, Entities[i].Type, tc.e.Kind, tc.e.Segment, tc.kind, tc.path)
			}
			var declared, onV1, onBeta, beta []string
			for _, f := range tc.e.Declared() {
				declared = append(declared, f.Name)
			}
			for _, f := range tc.e.ServedOn(APIVersionV1) {
				onV1 = append(onV1, f.Name)
			}
			for _, f := range tc.e.ServedOn(APIVersionBeta) {
				onBeta = append(onBeta, f.Name)
			}
			for _, f := range tc.e.Fields {
				if f.Beta {
					beta = append(beta, f.Name)
				}
				if want := DateTime; strings.HasSuffix(f.Name, "DateTime") != (f.Kind == want) {
					t.Errorf("%s is a %v", f.Name, f.Kind)
				}
			}
			all := slices.Concat(v1[:5], tc.beta, v1[5:])
			if d := cmp.Diff(all, declared); d != "" {
				t.Errorf("declared fields (-want +got):\n%s", d)
			}
			if d := cmp.Diff(v1, onV1); d != "" {
				t.Errorf("fields served on v1.0 (-want +got):\n%s", d)
			}
			if d := cmp.Diff(all, onBeta); d != "" {
				t.Errorf("fields served on beta (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.beta, beta); d != "" {
				t.Errorf("beta-only fields (-want +got):\n%s", d)
			}
			if e, ok := EntityOfKind(strings.ToLower(tc.kind)); !ok || e.Type != tc.e.Type {
				t.Errorf("EntityOfKind(%q) = %s, %v", tc.kind, e.Type, ok)
			}
		})
	}
}

// TestStructFieldsFollowTheTable shows that a struct's fields are found by the table's names, and
// that a struct missing one of them is refused when it is indexed.
func TestStructFieldsFollowTheTable(t *testing.T) {
	o := Overview{SuccessCount: 3, ConflictCount: ptr[int32](2), LastUpdateDateTime: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	for _, tc := range []struct {
		name string
		want int32
		ok   bool
	}{
		{"successCount", 3, true}, {"failedCount", 0, true}, {"conflictCount", 2, true},
		{"notApplicablePlatformCount", 0, false}, {"noSuchProperty", 0, false},
	} {
		if n, ok := OverviewFields.Count(&o, tc.name); n != tc.want || ok != tc.ok {
			t.Errorf("Count(%s) = %d, %v, want %d, %v", tc.name, n, ok, tc.want, tc.ok)
		}
	}
	if got := OverviewFields.Time(&o, "lastUpdateDateTime"); !got.Equal(o.LastUpdateDateTime) {
		t.Errorf("Time = %v", got)
	}

	var f Fields
	for _, e := range Entities {
		for _, field := range e.Declared() {
			if field.Kind == Count {
				FieldsFields.SetCount(&f, field.Name, 7)
			} else {
				FieldsFields.Set(&f, field.Name, &o.LastUpdateDateTime)
			}
		}
	}
	body, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	var sent map[string]any
	if err := json.Unmarshal(body, &sent); err != nil {
		t.Fatal(err)
	}
	var names []string
	for n := range sent {
		names = append(names, n)
	}
	slices.Sort(names)
	want := []string{"configurationVersion", "conflictCount", "errorCount", "failedCount", "lastUpdateDateTime", "notApplicableCount",
		"notApplicablePlatformCount", "pendingCount", "successCount"}
	if d := cmp.Diff(want, names); d != "" {
		t.Errorf("a PATCH of every declared field sends (-want +got):\n%s", d)
	}

	type missing struct {
		PendingCount int32 `json:"pendingCount"`
	}
	defer func() {
		if recover() == nil {
			t.Error("a struct without the table's properties was indexed")
		}
	}()
	NewStructFields[missing](true, UserOverview)
}
