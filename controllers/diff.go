package controllers

import (
	"regexp"
	"strconv"
	"strings"
	"time"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/graph"
)

// declaredFields finds each property a resource declares in spec.overview, and observedFields
// each property Graph serves in status.observed, by the names of graph's table of entities.
var (
	declaredFields = graph.NewStructFields[intunev1alpha1.OverviewFields](false, graph.Entities...)
	observedFields = graph.NewStructFields[intunev1alpha1.ObservedOverview](false, graph.Entities...)
)

// diffOverview compares the managed fields of entity e (those set in the spec) with Graph's
// entity. It returns the PATCH that makes Graph match, holding only the fields that differ, and
// the drift, counts first and then times, each in the order of the table, so that status does not
// change from pass to pass. A declared beta-only property must have been checked against the
// connection's API version (graphAPI.check) before: one that Graph's answer lacks all the same
// (beta changes more often than v1.0) is InvalidSpec, not drift from 0.
func diffOverview(e graph.Entity, want *intunev1alpha1.OverviewFields, got *graph.Overview) (graph.Fields, []intunev1alpha1.FieldDrift, error) {
	var (
		patch graph.Fields
		drift []intunev1alpha1.FieldDrift
	)
	for _, f := range e.Declared() {
		w, ok := declaredFields.Declared(want, f.Name).(*int32)
		if f.Kind != graph.Count || !ok {
			continue
		}
		g, served := graph.OverviewFields.Count(got, f.Name)
		if !served {
			return graph.Fields{}, nil, stalledf(intunev1alpha1.ReasonInvalidSpec,
				"spec.overview.%s is a property of Graph's beta API that Graph's %s did not return: "+
					"Graph may have changed or removed it (beta changes more often than v1.0); remove the field", f.Name, e.Type)
		}
		if *w != g {
			graph.FieldsFields.SetCount(&patch, f.Name, *w)
			drift = append(drift, intunev1alpha1.FieldDrift{Field: f.Name,
				Desired: strconv.FormatInt(int64(*w), 10), Observed: strconv.FormatInt(int64(g), 10)})
		}
	}
	for _, f := range e.Declared() {
		w, ok := declaredFields.Declared(want, f.Name).(*string)
		if f.Kind != graph.DateTime || !ok {
			continue
		}
		t, err := parseDateTime(f.Name, *w)
		if err != nil {
			return graph.Fields{}, nil, err
		}
		// Compared as instants: another offset or precision for the same moment is not drift.
		if g := graph.OverviewFields.Time(got, f.Name); !t.Equal(g) {
			graph.FieldsFields.Set(&patch, f.Name, &t)
			drift = append(drift, intunev1alpha1.FieldDrift{Field: f.Name, Desired: *w, Observed: formatDateTime(g)})
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
func parseDateTime(field, s string) (time.Time, error) {
	if dateTime.MatchString(s) {
		// Go reads only an upper-case T and Z; RFC 3339 allows either case.
		t, err := time.Parse(time.RFC3339Nano, strings.ToUpper(s))
		if err == nil && !t.Before(intunev1alpha1.MinDateTime) && !t.After(intunev1alpha1.MaxDateTime) {
			return t, nil
		}
	}
	return time.Time{}, stalledf(intunev1alpha1.ReasonInvalidSpec,
		"spec.overview.%s %q is not an RFC 3339 date-time such as 2026-03-01T08:00:00Z "+
			"with at most 7 fractional digits, from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.9999999Z in UTC: fix the spec", field, s)
}

// formatDateTime writes a time as Graph does, in UTC with the precision it has.
func formatDateTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}

// observedFrom is Graph's entity e as status.observed shows it: the properties of e that Graph
// served (a beta-only one only when it served it).
func observedFrom(e graph.Entity, o *graph.Overview) *intunev1alpha1.ObservedOverview {
	obs := &intunev1alpha1.ObservedOverview{ID: o.ID}
	for _, f := range e.Fields {
		switch f.Kind {
		case graph.Count:
			if n, ok := graph.OverviewFields.Count(o, f.Name); ok {
				observedFields.SetCount(obs, f.Name, n)
			}
		case graph.DateTime:
			observedFields.Set(obs, f.Name, formatDateTime(graph.OverviewFields.Time(o, f.Name)))
		}
	}
	return obs
}
