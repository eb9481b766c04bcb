package monitoring

import (
	"testing"
)

func TestDashboardQueriesParse(t *testing.T) {
	queries := dashboardQueries(t, readDashboard(t))
	if len(queries) == 0 {
		t.Fatalf("%s holds no queries", dashboardFile)
	}
	for where, q := range queries {
		if _, err := promql.ParseExpr(q); err != nil {
			t.Errorf("%s: %q: %v", where, q, err)
		}
	}
}

// TestDashboardPanels checks what Grafana needs to import the dashboard into any instance: unique
// panel ids, and every panel on the data source variable rather than a uid of one Grafana.
func TestDashboardPanels(t *testing.T) {
	ids := map[int]string{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if other, ok := ids[p.ID]; ok {
				t.Errorf("panels %q and %q share id %d", other, p.Title, p.ID)
			}
			ids[p.ID] = p.Title
			if p.Type != "row" && p.Datasource["uid"] != "${datasource}" {
				t.Errorf("panel %q: data source %v, want uid ${datasource}", p.Title, p.Datasource)
			}
			walk(p.Panels)
		}
	}
	walk(readDashboard(t).Panels)
}
