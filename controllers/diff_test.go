package controllers

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/utils/ptr"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/graph"
	"github.com/overview-operator/overview-operator/internal/testutil"
)

func TestDiffOverview(t *testing.T) {
	ten := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	graphHas := graph.Overview{ID: "x", SuccessCount: 3, FailedCount: 1, PendingCount: 7, LastUpdateDateTime: ten}
	cases := map[string]struct {
		want      intunev1alpha1.OverviewFields
		patch     graph.Fields
		drift     []intunev1alpha1.FieldDrift
		wantError bool
	}{
		"nothing managed": {},
		"managed and equal": {
			want: intunev1alpha1.OverviewFields{SuccessCount: ptr.To[int32](3), PendingCount: ptr.To[int32](7)},
		},
		"only the differing fields are patched": {
			want:  intunev1alpha1.OverviewFields{SuccessCount: ptr.To[int32](12), FailedCount: ptr.To[int32](1), ErrorCount: ptr.To[int32](2)},
			patch: graph.Fields{SuccessCount: ptr.To[int32](12), ErrorCount: ptr.To[int32](2)},
			drift: []intunev1alpha1.FieldDrift{
				{Field: "successCount", Desired: "12", Observed: "3"},
				{Field: "errorCount", Desired: "2", Observed: "0"},
			},
		},
		"zero is a value, not unset": {
			want:  intunev1alpha1.OverviewFields{FailedCount: ptr.To[int32](0)},
			patch: graph.Fields{FailedCount: ptr.To[int32](0)},
			drift: []intunev1alpha1.FieldDrift{{Field: "failedCount", Desired: "0", Observed: "1"}},
		},
		"the same instant in another offset and precision is not drift": {
			want: intunev1alpha1.OverviewFields{LastUpdateDateTime: ptr.To("2026-11-28T11:00:00.000+01:00")},
		},
		"another instant is drift": {
			want:  intunev1alpha1.OverviewFields{LastUpdateDateTime: ptr.To("2026-11-28T10:00:01Z")},
			patch: graph.Fields{LastUpdateDateTime: ptr.To(ten.Add(time.Second))},
			drift: []intunev1alpha1.FieldDrift{{Field: "lastUpdateDateTime", Desired: "2026-11-28T10:00:01Z", Observed: "2026-11-28T10:00:00Z"}},
		},
		"a time that is not RFC 3339": {
			want:      intunev1alpha1.OverviewFields{LastUpdateDateTime: ptr.To("yesterday")},
			wantError: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			patch, drift, err := diffOverview(graph.UserOverview, &tc.want, &graphHas)
			if (err != nil) != tc.wantError {
				t.Fatalf("error = %v, want error %v", err, tc.wantError)
			}
			if d := cmp.Diff(tc.patch, patch); d != "" {
				t.Errorf("patch (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.drift, drift); d != "" {
				t.Errorf("drift (-want +got):\n%s", d)
			}
		})
	}
}

// TestParseDateTime reads the list of values that the CRD's rule is also tested against
// (api/v1alpha1/validation_test.go): the operator reads exactly what the API server admits.
func TestParseDateTime(t *testing.T) {
	values, err := testutil.ReadValues("../api/v1alpha1/testdata/lastUpdateDateTime.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range values.Valid {
		got, err := parseDateTime("lastUpdateDateTime", s)
		if err != nil {
			t.Errorf("parseDateTime(%q) refused a value the API server admits: %v", s, err)
			continue
		}
		if want, _ := time.Parse(time.RFC3339Nano, strings.ToUpper(s)); !got.Equal(want) {
			t.Errorf("parseDateTime(%q) = %v, want %v", s, got, want)
		}
		// What the PATCH sends, Graph holds as it is, so the read back is no drift.
		if held, err := graphHolds(got); err != nil || !held.Equal(got) {
			t.Errorf("%q: Graph would hold %v (%v), not the instant the spec declares, and the operator would PATCH it on every pass", s, held, err)
		}
	}
	for _, s := range values.Invalid {
		_, err := parseDateTime("lastUpdateDateTime", s)
		if err == nil {
			t.Errorf("parseDateTime(%q) accepted a value the API server refuses", s)
			continue
		}
		// The operator's own reading failed, not Graph: a reason of its own, and a person fixes it.
		f := classify(err)
		if f.reason != intunev1alpha1.ReasonInvalidSpec || f.class != graph.ClassNeedsPerson {
			t.Errorf("parseDateTime(%q): reason %q, class %v; want InvalidSpec, needs a person", s, f.reason, f.class)
		}
		if !strings.Contains(f.message, "such as 2026-03-01T08:00:00Z") {
			t.Errorf("parseDateTime(%q): the message %q does not show the form expected", s, f.message)
		}
	}
}

func TestPatchMarkReverted(t *testing.T) {
	m := patchMark{replaced: map[string]string{"successCount": "3", "failedCount": "1"}}
	drift := []intunev1alpha1.FieldDrift{
		{Field: "successCount", Desired: "12", Observed: "3"}, // back to what the PATCH replaced
		{Field: "failedCount", Desired: "0", Observed: "5"},   // changed by someone else since
	}
	if got, want := m.reverted(drift), "successCount=12"; got != want {
		t.Errorf("reverted = %q, want %q", got, want)
	}
}

// graphHolds is what Graph holds after a PATCH that sets lastUpdateDateTime to t: the body as the
// client encodes it, read as an Edm.DateTimeOffset (.NET's DateTimeOffset: 100 ns ticks, rounded,
// from 0001-01-01 to 9999-12-31 in UTC).
func graphHolds(t time.Time) (time.Time, error) {
	body, err := json.Marshal(graph.Fields{LastUpdateDateTime: &t})
	if err != nil {
		return time.Time{}, err
	}
	var sent struct{ LastUpdateDateTime string }
	if err := json.Unmarshal(body, &sent); err != nil {
		return time.Time{}, err
	}
	held, err := time.Parse(time.RFC3339Nano, sent.LastUpdateDateTime)
	if err != nil {
		return time.Time{}, err
	}
	held = held.Round(100 * time.Nanosecond)
	if y := held.UTC().Year(); y < 1 || y > 9999 {
		return time.Time{}, fmt.Errorf("%s is outside Edm.DateTimeOffset's range", sent.LastUpdateDateTime)
	}
	return held, nil
}
