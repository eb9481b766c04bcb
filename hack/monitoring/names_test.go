package monitoring

import (
	"flag"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/metric-names.txt from the rules and the dashboard")

// TestMetricNamesUpToDate keeps testdata/metric-names.txt, which the end-to-end suite checks
// against a running operator's metrics (test/e2e/metrics_test.go), the list of metric names the
// rules and the dashboard select. After changing either: go test ./... -run TestMetricNames -update.
func TestMetricNamesUpToDate(t *testing.T) {
	var names []string
	for _, g := range parseRules(t).Groups {
		for _, r := range g.Rules {
			expr, err := promql.ParseExpr(r.Expr)
			if err != nil {
				t.Fatalf("%s%s: %v", r.Alert, r.Record, err)
			}
			names = append(names, metricNames(t, expr)...)
		}
	}
	for where, q := range dashboardQueries(t, readDashboard(t)) {
		expr, err := promql.ParseExpr(q)
		if err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		names = append(names, metricNames(t, expr)...)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	want := strings.Join(names, "\n") + "\n"

	if *update {
		if err := os.WriteFile(namesFile, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(namesFile)
	if err != nil {
		t.Fatalf("%v: run go test ./... -run TestMetricNames -update in hack/monitoring", err)
	}
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("%s is stale: run go test ./... -run TestMetricNames -update in hack/monitoring (-want +got):\n%s", namesFile, diff)
	}
}
