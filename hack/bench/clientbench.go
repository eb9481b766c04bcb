package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// clientBenchPackage holds the Go benchmarks of figure 6.
const clientBenchPackage = "./hack/bench/graphclient"

// benchLine matches a line of `go test -bench -benchmem` output.
var benchLine = regexp.MustCompile(`^(Benchmark\w+)(?:-\d+)?\s+(\d+)\s+([\d.]+) ns/op\s+([\d.]+) B/op\s+([\d.]+) allocs/op`)

// goTestBench runs the Go benchmarks of pkg under root, no test, once, and returns go test's
// output.
func goTestBench(ctx context.Context, root, pkg string, flags ...string) ([]byte, error) {
	args := append([]string{"test", "-run", "^$", "-bench", ".", "-count", "1"}, flags...)
	cmd := exec.CommandContext(ctx, "go", append(args, pkg)...)
	cmd.Dir = root
	cmd.Env = os.Environ()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("go test -bench %s: %w\n%s", pkg, err, out)
	}
	return out, nil
}

// runClientBench runs the Graph client benchmarks and reads their figures.
func runClientBench(ctx context.Context, root string) (*ClientBench, error) {
	out, err := goTestBench(ctx, root, clientBenchPackage, "-benchmem", "-benchtime", "2s")
	if err != nil {
		return nil, err
	}
	cb := &ClientBench{Command: "go test -run '^$' -bench . -benchmem -benchtime 2s " + clientBenchPackage}
	for _, line := range strings.Split(string(out), "\n") {
		m := benchLine.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		r := BenchFigures{}
		r.Iterations, _ = strconv.Atoi(m[2])
		r.NsPerOp, _ = strconv.ParseFloat(m[3], 64)
		r.BytesPerOp, _ = strconv.ParseFloat(m[4], 64)
		r.AllocsPerOp, _ = strconv.ParseFloat(m[5], 64)
		switch m[1] {
		case "BenchmarkClientGetPatch":
			cb.Client = r
		case "BenchmarkHTTPGetPatch":
			cb.HTTP = r
		}
	}
	if cb.Client.Iterations == 0 || cb.HTTP.Iterations == 0 {
		return nil, fmt.Errorf("no benchmark figures in the output of go test:\n%s", out)
	}
	return cb, nil
}
