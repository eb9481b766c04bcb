package main

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// apiServerBenchPackage holds the Go benchmarks of figure 7.
const apiServerBenchPackage = "./hack/bench/apiserver"

// apiServerBenchLine matches a line of that package's `go test -bench` output.
var apiServerBenchLine = regexp.MustCompile(`^Benchmark(\w+?)(?:-\d+)?\s+(\d+)\s+([\d.]+) ns/op\s+([\d.]+) apiserver-ms/op`)

// apiServerWrites are the writes figure 7 reports, by benchmark name, in the order of the report.
var apiServerWrites = []struct{ bench, name string }{
	{"Create", "create"},
	{"StatusPatch", "status merge patch"},
	{"SpecPatch", "spec merge patch"},
	{"Event", "event"},
}

// runAPIServerBench runs the API server benchmarks, in a control plane of their own once the run's
// is stopped, and reads their figures.
func runAPIServerBench(ctx context.Context, root string) (*APIServerBench, error) {
	out, err := goTestBench(ctx, root, apiServerBenchPackage, "-benchtime", "1000x")
	if err != nil {
		return nil, err
	}
	ab, err := parseAPIServerBench(out)
	if err != nil {
		return nil, err
	}
	ab.Command = "go test -run '^$' -bench . -benchtime 1000x " + apiServerBenchPackage
	return ab, nil
}

// parseAPIServerBench reads figure 7 from go test's output: every write of apiServerWrites, or an
// error naming the one missing.
func parseAPIServerBench(out []byte) (*APIServerBench, error) {
	ab := &APIServerBench{}
	found := map[string]APIServerWrite{}
	for _, line := range strings.Split(string(out), "\n") {
		m := apiServerBenchLine.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		ns, _ := strconv.ParseFloat(m[3], 64)
		cpu, _ := strconv.ParseFloat(m[4], 64)
		if ns > 0 {
			found[m[1]] = APIServerWrite{PerSecond: 1e9 / ns, CPUMillis: cpu}
		}
	}
	for _, w := range apiServerWrites {
		f, ok := found[w.bench]
		if !ok {
			return nil, fmt.Errorf("no figure for Benchmark%s in the output of go test:\n%s", w.bench, out)
		}
		f.Write = w.name
		ab.Writes = append(ab.Writes, f)
	}
	return ab, nil
}
