package controllers

import (
	"regexp"
	"strconv"
	"strings"
	"time"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/graph"
)

// countField is one Int32 property of the overview: where the spec declares it, where Graph reports
// it and how a PATCH sets it. The table keeps the diff free of eight near-identical blocks.
type countField struct {
	name string
	want func(*intunev1alpha1.OverviewFields) *int32
	got  func(*graph.Overview) int32
	set  func(*graph.Fields, int32)
}

var countFields = []countField{
	{"pendingCount",
		func(o *intunev1alpha1.OverviewFields) *int32 { return o.PendingCount },
		func(g *graph.Overview) int32 { return g.PendingCount },
		func(f *graph.Fields, v int32) { f.PendingCount = &v }},
	{"notApplicableCount",
		func(o *intunev1alpha1.OverviewFields) *int32 { return o.NotApplicableCount },
		func(g *graph.Overview) int32 { return g.NotApplicableCount },
		func(f *graph.Fields, v int32) { f.NotApplicableCount = &v }},
	{"successCount",
		func(o *intunev1alpha1.OverviewFields) *int32 { return o.SuccessCount },
		func(g *graph.Overview) int32 { return g.SuccessCount },
		func(f *graph.Fields, v int32) { f.SuccessCount = &v }},
	{"errorCount",
		func(o *intunev1alpha1.OverviewFields) *int32 { return o.ErrorCount },
		func(g *graph.Overview) int32 { return g.ErrorCount },
		func(f *graph.Fields, v int32) { f.ErrorCount = &v }},
	{"failedCount",
		func(o *intunev1alpha1.OverviewFields) *int32 { return o.FailedCount },
		func(g *graph.Overview) int32 { return g.FailedCount },
		func(f *graph.Fields, v int32) { f.FailedCount = &v }},
	{"configurationVersion",
		func(o *intunev1alpha1.OverviewFields) *int32 { return o.ConfigurationVersion },
		func(g *graph.Overview) int32 { return g.ConfigurationVersion },
		func(f *graph.Fields, v int32) { f.ConfigurationVersion = &v }},
}

// diffOverview compares the managed fields (those set in the spec) with Graph's entity. It returns
// the PATCH that makes Graph match, holding only the fields that differ, and the drift, in the
// fixed order of the entity's properties so that status does not change from pass to pass.
func diffOverview(want *intunev1alpha1.OverviewFields, got *graph.Overview) (graph.Fields, []intunev1alpha1.FieldDrift, error) {
	var (
		patch graph.Fields
		drift []intunev1alpha1.FieldDrift
	)
	for _, f := range countFields {
		w := f.want(want)
		if w == nil || *w == f.got(got) {
			continue
		}
		f.set(&patch, *w)
		drift = append(drift, intunev1alpha1.FieldDrift{
			Field:    f.name,
			Desired:  strconv.FormatInt(int64(*w), 10),
			Observed: strconv.FormatInt(int64(f.got(got)), 10),
		})
	}
	if want.LastUpdateDateTime != nil {
		w, err := parseDateTime(*want.LastUpdateDateTime)
		if err != nil {
			return graph.Fields{}, nil, err
		}
		// Compared as instants: another offset or precision for the same moment is not drift.
		if !w.Equal(got.LastUpdateDateTime) {
			patch.LastUpdateDateTime = &w
			drift = append(drift, intunev1alpha1.FieldDrift{
				Field:    "lastUpdateDateTime",
				Desired:  *want.LastUpdateDateTime,
				Observed: formatDateTime(got.LastUpdateDateTime),
			})
		}
	}
	return patch, drift, nil
}

// dateTime is the form of spec.overview.lastUpdateDateTime that the CRD admits.
var dateTime = regexp.MustCompile(intunev1alpha1.DateTimePattern)

// parseDateTime reads spec.overview.lastUpdateDateTime. It accepts exactly what the CRD's rule
// admits: instants Graph holds as they are, at most 7 fractional digits within its range, so that
// what is PATCHed reads back equal. A value it refuses was stored under an older, looser CRD (more
// digits, which Graph would round, and the operator PATCH again on every pass): the spec must be
// fixed.
func parseDateTime(s string) (time.Time, error) {
	if dateTime.MatchString(s) {
		// Go reads only an upper-case T and Z; RFC 3339 allows either case.
		t, err := time.Parse(time.RFC3339Nano, strings.ToUpper(s))
		if err == nil && !t.Before(intunev1alpha1.MinDateTime) && !t.After(intunev1alpha1.MaxDateTime) {
			return t, nil
		}
	}
	return time.Time{}, stalledf(intunev1alpha1.ReasonInvalidSpec,
		"spec.overview.lastUpdateDateTime %q is not an RFC 3339 date-time such as 2026-03-01T08:00:00Z "+
			"with at most 7 fractional digits, from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.9999999Z in UTC: fix the spec", s)
}

// formatDateTime writes a time as Graph does, in UTC with the precision it has.
func formatDateTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}

// observedFrom is Graph's entity as status.observed shows it.
func observedFrom(o *graph.Overview) *intunev1alpha1.ObservedOverview {
	return &intunev1alpha1.ObservedOverview{
		ID:                   o.ID,
		PendingCount:         o.PendingCount,
		NotApplicableCount:   o.NotApplicableCount,
		SuccessCount:         o.SuccessCount,
		ErrorCount:           o.ErrorCount,
		FailedCount:          o.FailedCount,
		ConflictCount:        o.ConflictCount,
		ConfigurationVersion: o.ConfigurationVersion,
		LastUpdateDateTime:   formatDateTime(o.LastUpdateDateTime),
	}
}
