package monitoring

import (
	"bufio"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
)

// runbooks is where every alert's runbook_url points: the anchor is the alert's name in lower case,
// as GitHub makes it of the heading.
const runbooks = "https://github.com/overview-operator/overview-operator/blob/main/docs/runbooks.md#"

// parseRules parses the PrometheusRule's groups as Prometheus parses a rule file: unknown fields,
// expressions and annotation templates that do not parse are errors.
func parseRules(t *testing.T) *rulefmt.RuleGroups {
	t.Helper()
	groups, errs := rulefmt.Parse(readRule(t), false, model.LegacyValidation, promql, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, err := range errs {
		t.Errorf("%s: %v", rulesFile, err)
	}
	if len(errs) > 0 {
		t.FailNow()
	}
	return groups
}

func TestRulesParse(t *testing.T) {
	n := 0
	for _, g := range parseRules(t).Groups {
		for _, r := range g.Rules {
			n++
			if _, err := promql.ParseExpr(r.Expr); err != nil {
				t.Errorf("%s%s: %v", r.Alert, r.Record, err)
			}
		}
	}
	if n == 0 {
		t.Errorf("%s holds no rules", rulesFile)
	}
}

// TestAlertsSayWhatToDo checks what a person paged needs: a severity to route on, a summary and a
// description, and a runbook that exists.
func TestAlertsSayWhatToDo(t *testing.T) {
	headings := runbookHeadings(t)
	alerts := map[string]bool{}
	for _, g := range parseRules(t).Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			alerts[r.Alert] = true
			switch r.Labels["severity"] {
			case "critical", "warning", "info":
			default:
				t.Errorf("%s: severity %q, want critical, warning or info", r.Alert, r.Labels["severity"])
			}
			for _, a := range []string{"summary", "description", "runbook_url"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("%s has no %s annotation", r.Alert, a)
				}
			}
			if want := runbooks + strings.ToLower(r.Alert); r.Annotations["runbook_url"] != want {
				t.Errorf("%s: runbook_url %q, want %q", r.Alert, r.Annotations["runbook_url"], want)
			}
			if !headings[r.Alert] {
				t.Errorf("%s has no section \"## %s\" in %s", r.Alert, r.Alert, runbooksFile)
			}
			if r.For == 0 {
				t.Errorf("%s fires on a single evaluation: give it a for", r.Alert)
			}
		}
	}
	for h := range headings {
		if !alerts[h] {
			t.Errorf("%s has a section for %s, which is no alert", runbooksFile, h)
		}
	}
}

// runbookHeadings returns the second-level headings of the runbooks page.
func runbookHeadings(t *testing.T) map[string]bool {
	t.Helper()
	f, err := os.Open(runbooksFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	headings := map[string]bool{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		if h, ok := strings.CutPrefix(s.Text(), "## "); ok {
			headings[strings.TrimSpace(h)] = true
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return headings
}
