package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/overview-operator/overview-operator/internal/metricstest"
)

// readMetrics reads the metric families a Prometheus text endpoint serves.
func readMetrics(ctx context.Context, url string) (metricstest.Families, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, res.Status)
	}
	return metricstest.Parse(io.LimitReader(res.Body, 32<<20))
}

// samples are the series of the named families, keyed by the sample's name with its labels as the
// text format writes them, e.g. `overview_graph_requests_total{code="200",method="GET"}`; a
// histogram gives its _sum and _count.
func samples(families metricstest.Families, names ...string) map[string]float64 {
	out := map[string]float64{}
	for _, name := range names {
		for _, m := range families[name].GetMetric() {
			if h := m.GetHistogram(); h != nil {
				out[sampleName(name+"_sum", m)] = h.GetSampleSum()
				out[sampleName(name+"_count", m)] = float64(h.GetSampleCount())
				continue
			}
			out[sampleName(name, m)] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return out
}

// sampleName is a series' name and labels as the text format writes them.
func sampleName(name string, m *dto.Metric) string {
	if len(m.GetLabel()) == 0 {
		return name
	}
	labels := make([]string, 0, len(m.GetLabel()))
	for _, l := range m.GetLabel() {
		labels = append(labels, l.GetName()+`="`+labelValue.Replace(l.GetValue())+`"`)
	}
	return name + "{" + strings.Join(labels, ",") + "}"
}

// labelValue escapes a label value as the text format does.
var labelValue = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// procStatus reads a "kB" field of /proc/PID/status, in bytes.
func procStatus(pid int, field string) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// gcTrace matches the heap sizes of a GODEBUG=gctrace=1 line, "… 4->5->2 MB, …": the heap when the
// collection started, when it ended, and what was left live (marked).
var gcTrace = regexp.MustCompile(`^gc \d+ .* (\d+)->(\d+)->(\d+) MB`)

// gcFigures reads the GC trace lines of the operator's log: the largest heap seen (at the start or
// end of a collection: the heap only grows between them), the largest heap left live after one,
// and how many collections there were. The trace is in whole MiB.
func gcFigures(logPath string) (peak, live float64, gcs int) {
	f, err := os.Open(logPath)
	if err != nil {
		return 0, 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		m := gcTrace.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		gcs++
		start, _ := strconv.ParseFloat(m[1], 64)
		end, _ := strconv.ParseFloat(m[2], 64)
		marked, _ := strconv.ParseFloat(m[3], 64)
		peak = max(peak, start*mib, end*mib)
		live = max(live, marked*mib)
	}
	return peak, live, gcs
}
