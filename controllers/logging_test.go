package controllers

import (
	"testing"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
)

// countingSink is funcr's sink, counting the values it was handed by WithValues.
type countingSink struct {
	logr.LogSink
	withValues *int
}

func (s countingSink) WithValues(kv ...any) logr.LogSink {
	*s.withValues += len(kv) / 2
	return countingSink{LogSink: s.LogSink.WithValues(kv...), withValues: s.withValues}
}

// TestLazyValuesLogsTheSame: a logger of lazyValues writes the lines an eager one writes, and hands
// its values to the sink only for a line that is written.
func TestLazyValuesLogsTheSame(t *testing.T) {
	var lines []string
	var handed int
	base := logr.New(countingSink{LogSink: funcr.New(func(prefix, args string) { lines = append(lines, prefix+" "+args) }, funcr.Options{Verbosity: 0}).GetSink(), withValues: &handed})

	lazy := lazyValues(base.WithName("overview"), "deviceConfigurationUserOverview", "it/wifi").WithValues("deviceConfigurationId", "c1")
	lazy.V(1).Info("Observed the overview", "drift", 0) // not written at this verbosity
	if handed != 0 {
		t.Fatalf("%d values handed to the sink before any line was written", handed)
	}
	lazy.Info("Patched the overview", "fields", "successCount=12")
	base.WithName("overview").WithValues("deviceConfigurationUserOverview", "it/wifi", "deviceConfigurationId", "c1").
		Info("Patched the overview", "fields", "successCount=12")
	if len(lines) != 2 || lines[0] != lines[1] {
		t.Errorf("the lazy logger wrote %q, the eager one %q", lines[0], lines[len(lines)-1])
	}
}
