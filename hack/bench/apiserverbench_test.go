package main

import (
	"math"
	"strings"
	"testing"
)

func TestParseAPIServerBench(t *testing.T) {
	out := `goos: linux
goarch: amd64
pkg: github.com/overview-operator/overview-operator/hack/bench/apiserver
BenchmarkCreate-2        	    1000	   1241110 ns/op	         1.840 apiserver-ms/op
BenchmarkStatusPatch-2   	    1000	   2235377 ns/op	         3.430 apiserver-ms/op
BenchmarkSpecPatch-2     	    1000	   1658051 ns/op	         2.580 apiserver-ms/op
BenchmarkEvent           	    1000	    605084 ns/op	         0.7600 apiserver-ms/op
PASS
`
	ab, err := parseAPIServerBench([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	want := []APIServerWrite{
		{Write: "create", CPUMillis: 1.84, PerSecond: 805.7},
		{Write: "status merge patch", CPUMillis: 3.43, PerSecond: 447.3},
		{Write: "spec merge patch", CPUMillis: 2.58, PerSecond: 603.1},
		{Write: "event", CPUMillis: 0.76, PerSecond: 1652.7},
	}
	if len(ab.Writes) != len(want) {
		t.Fatalf("got %d writes, want %d: %+v", len(ab.Writes), len(want), ab.Writes)
	}
	for i, w := range want {
		got := ab.Writes[i]
		if got.Write != w.Write || math.Abs(got.CPUMillis-w.CPUMillis) > 1e-9 || math.Abs(got.PerSecond-w.PerSecond) > 0.1 {
			t.Errorf("write %d: got %+v, want %+v", i, got, w)
		}
	}

	// A benchmark that did not run is an error that names it, not a figure of 0.
	_, err = parseAPIServerBench([]byte(strings.Replace(out, "BenchmarkEvent ", "BenchmarkOther ", 1)))
	if err == nil || !strings.Contains(err.Error(), "BenchmarkEvent") {
		t.Errorf("without BenchmarkEvent: got %v, want an error naming it", err)
	}
}
