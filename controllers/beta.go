package controllers

import (
	"strings"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/graph"
)

// graphAPI is the Graph API version a resource's client calls, and the connection that chose it,
// which the message of a spec the version cannot serve names.
type graphAPI struct {
	// version is graph.APIVersionV1 or graph.APIVersionBeta ("" counts as v1.0).
	version string
	kind    intunev1alpha1.ConnectionKind
	name    string
}

// apiOf is the Graph API version conn's client calls: beta when conn says so, else v1.0 (the
// CRD's default).
func apiOf(conn connectionObject) graphAPI {
	version := graph.APIVersionV1
	if conn.Settings().APIVersion == intunev1alpha1.APIVersionBeta {
		version = graph.APIVersionBeta
	}
	return graphAPI{version: version, kind: kindOf(conn), name: conn.GetName()}
}

// check refuses a spec that declares a property of entity e that Graph does not serve under the
// API's version: a beta-only one (conflictCount, notApplicablePlatformCount) through a v1.0
// connection. The API server cannot know the connection a resource will resolve to, so this is the
// operator's check, made before any Graph call: InvalidSpec, naming the fields and both fixes. A
// change of the connection (its generation) or of the spec brings the resource back.
func (a graphAPI) check(e graph.Entity, want *intunev1alpha1.OverviewFields) error {
	var fields []string
	for _, f := range e.Declared() {
		if !f.Served(a.version) && declaredFields.Declared(want, f.Name) != nil {
			fields = append(fields, "spec.overview."+f.Name)
		}
	}
	switch len(fields) {
	case 0:
		return nil
	case 1:
		return stalledf(intunev1alpha1.ReasonInvalidSpec,
			"%s is a property of Graph's beta API: set apiVersion: beta on %s %q, or remove the field",
			fields[0], a.kind, a.name)
	}
	return stalledf(intunev1alpha1.ReasonInvalidSpec,
		"%s and %s are properties of Graph's beta API: set apiVersion: beta on %s %q, or remove the fields",
		strings.Join(fields[:len(fields)-1], ", "), fields[len(fields)-1], a.kind, a.name)
}
