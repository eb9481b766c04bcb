package main

import (
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/overview-operator/overview-operator/internal/eventrecorder"
)

// newEventRecorder is the reconcilers' Event recorder, in place of the manager's: it aggregates a
// repeated Event into a series as the manager's does, but remembers only the most recent
// eventrecorder.DefaultSize Events (under 1 MiB), where the manager's remembers every Event of the
// last 6 to 12 minutes (8.7 MiB after a first sync of 10,000 resources, and ten times that at
// 100,000). It runs with the manager, which ends its series on time.
func newEventRecorder(mgr ctrl.Manager) (*eventrecorder.Recorder, error) {
	sink, err := eventrecorder.NewSink(mgr.GetConfig(), mgr.GetHTTPClient())
	if err != nil {
		return nil, fmt.Errorf("create the Event recorder: %w", err)
	}
	r := eventrecorder.New(sink, mgr.GetScheme(), "overview-operator", eventrecorder.Options{
		Size:   eventrecorder.DefaultSize,
		Logger: mgr.GetLogger().WithName("events"),
	})
	return r, mgr.Add(r)
}
