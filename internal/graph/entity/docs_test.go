package entity

import (
	"os"
	"path/filepath"
	"regexp"
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

var codeSpan = regexp.MustCompile("`([^`]+)`")

// names returns the code spans of a cell, in order.
func names(cell string) []string {
	var out []string
	for _, m := range codeSpan.FindAllStringSubmatch(cell, -1) {
		out = append(out, m[1])
	}
	return out
}
