// Package metricstest reads the operator's Prometheus metrics the way its tests and the benchmark
// check them: gathered from a registry in the same process, or parsed from the text a /metrics
// endpoint serves, then summed over the series that carry some labels or listed series by series.
// It uses no test framework, so that plain tests, Ginkgo suites and the benchmark's program can all
// use it.
package metricstest

import (
	"io"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Families are metric families by name.
type Families map[string]*dto.MetricFamily

// Parse reads the families of the Prometheus text format, as a /metrics endpoint serves it.
func Parse(r io.Reader) (Families, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	return parser.TextToMetricFamilies(r)
}

// Gather collects the families of a registry, such as controller-runtime's metrics.Registry.
func Gather(g prometheus.Gatherer) (Families, error) {
	gathered, err := g.Gather()
	if err != nil {
		return nil, err
	}
	families := Families{}
	for _, f := range gathered {
		families[f.GetName()] = f
	}
	return families, nil
}

// Value sums the counter or gauge family name over its series whose labels include labelPairs
// (name, value, name, value...): 0 when there is none.
func (f Families) Value(name string, labelPairs ...string) float64 {
	sum := 0.0
	for _, m := range f[name].GetMetric() {
		if hasLabels(m, labelPairs) {
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}

// SampleCount sums the sample counts of the histogram family name over its series whose labels
// include labelPairs (name, value, name, value...): 0 when there is none.
func (f Families) SampleCount(name string, labelPairs ...string) uint64 {
	var n uint64
	for _, m := range f[name].GetMetric() {
		if hasLabels(m, labelPairs) {
			n += m.GetHistogram().GetSampleCount()
		}
	}
	return n
}

// Series is one series of a counter or gauge family.
type Series struct {
	// Labels are the series' labels by name.
	Labels map[string]string
	// Value is the counter's or the gauge's value.
	Value float64
}

// Series returns every series of the counter or gauge family name, in the order gathered, for a
// test that checks which series a metric has and not only their sum.
func (f Families) Series(name string) []Series {
	var out []Series
	for _, m := range f[name].GetMetric() {
		out = append(out, Series{Labels: labels(m), Value: m.GetCounter().GetValue() + m.GetGauge().GetValue()})
	}
	return out
}

func labels(m *dto.Metric) map[string]string {
	l := make(map[string]string, len(m.GetLabel()))
	for _, p := range m.GetLabel() {
		l[p.GetName()] = p.GetValue()
	}
	return l
}

func hasLabels(m *dto.Metric, pairs []string) bool {
	have := labels(m)
	for i := 0; i+1 < len(pairs); i += 2 {
		if have[pairs[i]] != pairs[i+1] {
			return false
		}
	}
	return true
}
