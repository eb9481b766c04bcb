package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/overview-operator/overview-operator/hack/bench/proc"
)

// cpuSnapshot is the CPU time, in seconds, each process of the run had used at one moment: the
// operator, the control plane's kube-apiserver and etcd (children of this process), and this
// process, which holds the Graph emulator and the benchmark's own clients.
type cpuSnapshot struct {
	at      time.Time
	seconds map[string]float64
}

// The names a CPU share is reported under.
const (
	shareOperator  = "operator"
	shareAPIServer = "kube-apiserver"
	shareEtcd      = "etcd"
	shareBench     = "benchmark and emulator"
)

// snapshotCPU reads the CPU time of the run's processes; a process it cannot read is left out.
func (b *bench) snapshotCPU() cpuSnapshot {
	s := cpuSnapshot{at: time.Now(), seconds: map[string]float64{}}
	if len(b.replicas) > 0 {
		for _, r := range b.replicas { // each under its name; a replica killed keeps its last reading
			if v, err := r.cpuSeconds(); err == nil {
				s.seconds[r.name] = v
			}
		}
	} else if v, err := proc.CPUSeconds(b.op.PID()); err == nil {
		s.seconds[shareOperator] = v
	}
	if v, err := proc.CPUSeconds(os.Getpid()); err == nil {
		s.seconds[shareBench] = v
	}
	children := proc.Children()
	for _, name := range []string{shareAPIServer, shareEtcd} {
		for _, pid := range children[name] {
			if v, err := proc.CPUSeconds(pid); err == nil {
				s.seconds[name] += v
			}
		}
	}
	return s
}

// cpuShares is the cores each process used on average between two snapshots.
func cpuShares(from, to cpuSnapshot) map[string]float64 {
	wall := to.at.Sub(from.at).Seconds()
	if wall <= 0 {
		return nil
	}
	out := map[string]float64{}
	for name, v := range to.seconds {
		if was, ok := from.seconds[name]; ok {
			out[name] = (v - was) / wall
		}
	}
	return out
}

// formatShares lists shares largest first, as "kube-apiserver 1.45, operator 0.30".
func formatShares(shares map[string]float64) string {
	names := make([]string, 0, len(shares))
	for n := range shares {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int {
		if shares[a] != shares[b] {
			if shares[a] > shares[b] {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %.2f", n, shares[n])
	}
	return strings.Join(parts, ", ")
}

// APIWrites counts the API server's write requests of one kind.
type APIWrites struct {
	Verb        string  `json:"verb"`
	Resource    string  `json:"resource"`
	Subresource string  `json:"subresource,omitempty"`
	Count       int     `json:"count"`
	Seconds     float64 `json:"seconds"` // the sum of their durations, as the API server measured them
}

// sampleLabels matches the labels of one Prometheus text sample.
var sampleLabels = regexp.MustCompile(`(\w+)="([^"]*)"`)

// apiWrites is what the API server's write requests were between two scrapes of its metrics
// (apiserver_request_total and the sums of apiserver_request_duration_seconds), by verb, resource
// and subresource, the most first; kinds with fewer than min requests are left out.
func apiWrites(before, after []byte, minCount int) []APIWrites {
	b, a := parseAPIRequests(before), parseAPIRequests(after)
	var out []APIWrites
	for k, w := range a {
		w.Count -= b[k].Count
		w.Seconds -= b[k].Seconds
		if w.Count >= minCount {
			out = append(out, w)
		}
	}
	slices.SortFunc(out, func(x, y APIWrites) int {
		if x.Count != y.Count {
			return y.Count - x.Count
		}
		return strings.Compare(x.Verb+x.Resource+x.Subresource, y.Verb+y.Resource+y.Subresource)
	})
	return out
}

func parseAPIRequests(text []byte) map[string]APIWrites {
	out := map[string]APIWrites{}
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		name, _, _ := strings.Cut(line, "{")
		if name != "apiserver_request_total" && name != "apiserver_request_duration_seconds_sum" {
			continue
		}
		labels := map[string]string{}
		for _, m := range sampleLabels.FindAllStringSubmatch(line, -1) {
			labels[m[1]] = m[2]
		}
		switch labels["verb"] {
		case "POST", "PUT", "PATCH", "APPLY", "DELETE":
		default:
			continue
		}
		sep := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[sep+1:], 64)
		if err != nil {
			continue
		}
		k := labels["verb"] + " " + labels["resource"] + "/" + labels["subresource"]
		w := out[k]
		w.Verb, w.Resource, w.Subresource = labels["verb"], labels["resource"], labels["subresource"]
		if name == "apiserver_request_total" {
			w.Count += int(v)
		} else {
			w.Seconds += v
		}
		out[k] = w
	}
	return out
}

// formatAPIWrites lists the writes as "2000 POST deviceconfigurationuseroverviews (99.2 s)".
func formatAPIWrites(ws []APIWrites) string {
	parts := make([]string, len(ws))
	for i, w := range ws {
		what := w.Resource
		if w.Subresource != "" {
			what += "/" + w.Subresource
		}
		parts[i] = fmt.Sprintf("%d %s %s (%.1f s)", w.Count, w.Verb, what, w.Seconds)
	}
	return strings.Join(parts, ", ")
}
