package entity

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestArchitectureListsTheTable holds the entities' table in docs/architecture.md to the table
// here: one row per entity with its kind, path segment, Graph type, the fields a resource declares
// and those beta serves alone.
func TestArchitectureListsTheTable(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "..", "docs", "architecture.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string][]string{} // kind → the row's cells
	for _, line := range strings.Split(string(doc), "\n") {
		cells := strings.Split(strings.Trim(line, "| "), "|")
		if len(cells) == 5 && strings.HasPrefix(strings.TrimSpace(cells[0]), "`DeviceConfiguration") {
			rows[names(cells[0])[0]] = cells
		}
	}
	if len(rows) != len(Entities) {
		t.Errorf("docs/architecture.md lists %d entities, the table %d", len(rows), len(Entities))
	}
	for _, e := range Entities {
		cells, ok := rows[e.Kind]
		if !ok {
			t.Errorf("docs/architecture.md has no row for %s", e.Kind)
			continue
		}
		var declared, beta []string
		for _, f := range e.Fields {
			if f.Beta {
				beta = append(beta, f.Name)
			} else {
				declared = append(declared, f.Name)
			}
		}
		want := [][]string{{e.Segment}, {e.Type}, declared, beta}
		for i, w := range want {
			if d := cmp.Diff(w, names(cells[i+1])); d != "" {
				t.Errorf("%s, column %d (-table +doc):\n%s", e.Kind, i+2, d)
			}
		}
	}
}

var (
	codeSpan  = regexp.MustCompile("`([^`]+)`")
	camelCase = regexp.MustCompile(`^[a-z]+[A-Z][A-Za-z]*$`)
)

// names returns the code spans of a cell, in order.
func names(cell string) []string {
	var out []string
	for _, m := range codeSpan.FindAllStringSubmatch(cell, -1) {
		out = append(out, m[1])
	}
	return out
}

// TestResourcesListsTheFields holds the field rows of docs/resources.md's "Fields and validation"
// to the table: the spec.overview row names every field served in v1.0 and no other, and the beta
// row every beta-only field, saying which kinds have it.
func TestResourcesListsTheFields(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "..", "docs", "resources.md"))
	if err != nil {
		t.Fatal(err)
	}
	var v1, beta []string // the rows' cells
	for _, line := range strings.Split(string(doc), "\n") {
		cells := strings.Split(strings.Trim(line, "| "), "|")
		if len(cells) != 2 {
			continue
		}
		switch strings.TrimSpace(cells[0]) {
		case "`spec.overview.*`":
			v1 = cells
		case "`spec.overview.*`, beta only":
			beta = cells
		}
	}
	if v1 == nil || beta == nil {
		t.Fatal("docs/resources.md lacks the row of spec.overview.* or of its beta-only fields")
	}

	var served []string
	kindsOf := map[string][]string{} // beta-only field → the kinds that have it
	var betaOnly []string
	for _, e := range Entities {
		for _, f := range e.Fields {
			switch {
			case !f.Beta && !slices.Contains(served, f.Name):
				served = append(served, f.Name)
			case f.Beta:
				if kindsOf[f.Name] == nil {
					betaOnly = append(betaOnly, f.Name)
				}
				kindsOf[f.Name] = append(kindsOf[f.Name], e.Kind)
			}
		}
	}
	// The rows' code spans that are property names (camelCase), whatever their order.
	fieldsIn := func(cell string) []string {
		out := slices.DeleteFunc(names(cell), func(s string) bool { return !camelCase.MatchString(s) })
		slices.Sort(out)
		return out
	}
	slices.Sort(served)
	slices.Sort(betaOnly)
	if d := cmp.Diff(served, fieldsIn(v1[1])); d != "" {
		t.Errorf("docs/resources.md's spec.overview.* row (-table +doc):\n%s", d)
	}
	if d := cmp.Diff(betaOnly, fieldsIn(beta[1])); d != "" {
		t.Errorf("docs/resources.md's beta-only row (-table +doc):\n%s", d)
	}
	// Each beta-only field is followed by the kinds that have it: "(both kinds)" or their names.
	for field, kinds := range kindsOf {
		_, after, _ := strings.Cut(beta[1], "`"+field+"`")
		said, _, _ := strings.Cut(after, ")")
		if len(kinds) == len(Entities) {
			if !strings.Contains(said, "both kinds") {
				t.Errorf("docs/resources.md does not say that %s is a field of both kinds: %q", field, said)
			}
			continue
		}
		for _, k := range kinds {
			if !strings.Contains(said, "`"+k+"`") {
				t.Errorf("docs/resources.md does not say that %s is a field of %s: %q", field, k, said)
			}
		}
	}
}
