package main

import (
	"slices"
	"testing"
)

// TestSweepSelection checks that -sweep-only keeps the named entries alone, in the sweep's order,
// that -sweep-scale scales n with a floor, and that an unknown label is refused.
func TestSweepSelection(t *testing.T) {
	c := config{sweep: true, sweepOnly: "lat100-t2, lat20-t1", sweepScale: 0.05}
	got, err := c.sweepSelection()
	if err != nil {
		t.Fatal(err)
	}
	var labels []string
	for _, e := range got {
		labels = append(labels, e.label)
		if e.n != 50 {
			t.Errorf("%s: n %d, want 1000 × 0.05 = 50", e.label, e.n)
		}
	}
	if want := []string{"lat20-t1", "lat100-t2"}; !slices.Equal(labels, want) {
		t.Errorf("entries %v, want %v", labels, want)
	}

	c = config{sweep: true, sweepScale: 0.001}
	all, err := c.sweepSelection()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(sweepEntries) {
		t.Errorf("without -sweep-only: %d entries, want all %d", len(all), len(sweepEntries))
	}
	for _, e := range all {
		if e.n != 10 {
			t.Errorf("%s at scale 0.001: n %d, want the floor of 10", e.label, e.n)
		}
	}

	c = config{sweep: true, sweepOnly: "lat20-t1,nope", sweepScale: 1}
	if _, err := c.sweepSelection(); err == nil {
		t.Error("an unknown label was accepted")
	}
}
