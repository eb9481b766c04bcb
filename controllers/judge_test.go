package controllers

import (
	"errors"
	"testing"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/graph"
)

// TestJudge is the judgement of a job's result, a pure function of what it observed: synced,
// NotPersisted (a PATCH Graph lost, drift under Manage, a value back at what a PATCH replaced),
// Graph's error, or a sync again as a write.
func TestJudge(t *testing.T) {
	manage, observe := intunev1alpha1.ManagementPolicyManage, intunev1alpha1.ManagementPolicyObserveOnly
	seen := &graph.Overview{ID: "c"}
	success := func(desired, observed string) []intunev1alpha1.FieldDrift {
		return []intunev1alpha1.FieldDrift{{Field: "successCount", Desired: desired, Observed: observed}}
	}
	failed := []intunev1alpha1.FieldDrift{{Field: "failedCount", Desired: "0", Observed: "1"}}
	graphErr := &graph.Error{StatusCode: 503}
	tests := map[string]struct {
		res    syncResult
		policy intunev1alpha1.ManagementPolicy
		mark   *patchMark
		// want: "synced", "again", "notPersisted: <fields>" or "error"
		want     string
		reverted string
	}{
		"Graph holds the spec":                 {res: syncResult{generation: 2, observed: seen}, policy: manage, want: "synced"},
		"a PATCH Graph kept":                   {res: syncResult{generation: 2, observed: seen, found: success("12", "3"), applied: true}, policy: manage, want: "synced"},
		"Graph's error":                        {res: syncResult{generation: 2, err: graphErr}, policy: manage, want: "error"},
		"Graph's error after a read":           {res: syncResult{generation: 2, observed: seen, found: success("12", "3"), err: graphErr}, policy: manage, want: "error"},
		"a PATCH Graph accepted and lost":      {res: syncResult{generation: 2, observed: seen, found: success("12", "3"), applied: true, drift: success("12", "3"), lost: success("12", "3")}, policy: manage, want: "notPersisted: successCount=12"},
		"another field changed meanwhile":      {res: syncResult{generation: 2, observed: seen, found: success("12", "3"), applied: true, drift: failed}, policy: manage, want: "again"},
		"drift under Manage without a PATCH":   {res: syncResult{generation: 2, observed: seen, found: failed, drift: failed}, policy: manage, want: "notPersisted: failedCount=0"},
		"drift under ObserveOnly is observed":  {res: syncResult{generation: 2, observed: seen, found: failed, drift: failed}, policy: observe, want: "synced"},
		"ObserveOnly: no PATCH, nothing lost":  {res: syncResult{generation: 2, observed: seen, found: failed, drift: failed, lost: failed}, policy: observe, want: "synced"},
		"back at what the last PATCH replaced": {res: syncResult{generation: 2, observed: seen, found: success("12", "3")}, policy: observe, mark: &patchMark{generation: 2, replaced: map[string]string{"successCount": "3"}}, want: "notPersisted: successCount=12", reverted: "successCount=12"},
		"a mark of an older generation":        {res: syncResult{generation: 3, observed: seen, found: success("12", "3")}, policy: observe, mark: &patchMark{generation: 2, replaced: map[string]string{"successCount": "3"}}, want: "synced"},
		"a mark, and Graph shows it kept":      {res: syncResult{generation: 2, observed: seen}, policy: manage, mark: &patchMark{generation: 2, replaced: map[string]string{"successCount": "3"}}, want: "synced"},
		"a mark, and the GET failed":           {res: syncResult{generation: 2, err: graphErr}, policy: manage, mark: &patchMark{generation: 2, replaced: map[string]string{"successCount": "3"}}, want: "error"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			j := judge(&tc.res, tc.policy, tc.mark)
			var got string
			var np *notPersisted
			switch {
			case errors.As(j.failure, &np):
				got = "notPersisted: " + np.fields
			case j.failure != nil:
				got = "error"
			case j.again:
				got = "again"
			default:
				got = "synced"
			}
			if got != tc.want || j.reverted != tc.reverted {
				t.Errorf("judged %q (reverted %q), want %q (reverted %q)", got, j.reverted, tc.want, tc.reverted)
			}
		})
	}
}
