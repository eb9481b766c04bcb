// Package entity is the table of the Graph entities the operator manages: their paths, types and
// properties. The Graph client (package graph, which re-exports it), the diff, the emulator
// (pkg/graphtest) and the export read it; it is a package of its own because graph's tests run
// against the emulator, which could not import graph without a cycle.
package entity

import "strings"

// FieldKind is the Graph (EDM) type of an entity's property.
type FieldKind int

const (
	// Count is an Edm.Int32 that counts users or devices, or a version: never negative.
	Count FieldKind = iota
	// DateTime is an Edm.DateTimeOffset, written in RFC 3339.
	DateTime
)

// Field is one property of an entity, besides its id.
type Field struct {
	// Name is the property's name in Graph, in spec.overview and in status.observed.
	Name string
	// Kind is its type.
	Kind FieldKind
	// Beta is true when only Graph's beta API has the property. A resource declares and observes it
	// only through a connection with apiVersion beta: through a v1.0 one the operator refuses the
	// spec (InvalidSpec) before any call, and Graph (and the emulator) refuse a PATCH of it on v1.0.
	// Microsoft supports Intune's beta, but changes it more often than v1.0.
	Beta bool
}

// Served reports whether Graph serves the property under apiVersion ("v1.0" or "beta").
func (f Field) Served(apiVersion string) bool { return !f.Beta || apiVersion == "beta" }

// Entity is one kind of status overview of a device configuration that the operator manages: a
// navigation property of /deviceManagement/deviceConfigurations/{id} whose properties the tables
// below list. Everything specific to an entity on the Graph side is here: the client's paths, the
// checks of its answers, the diff's fields, the emulator's routes and the export read it.
type Entity struct {
	// Kind is the Kubernetes kind whose resources declare the entity.
	Kind string
	// Type is the entity's Graph type, as @odata.type names it (without #microsoft.graph.).
	Type string
	// Segment is the navigation property of the device configuration that holds it.
	Segment string
	// Fields are its properties in the order of Graph's metadata, id excepted.
	Fields []Field
}

// overviewFields are the properties both overviews have in v1.0 (and in beta).
var overviewFields = []Field{
	{Name: "pendingCount"},
	{Name: "notApplicableCount"},
	{Name: "successCount"},
	{Name: "errorCount"},
	{Name: "failedCount"},
	{Name: "lastUpdateDateTime", Kind: DateTime},
	{Name: "configurationVersion"},
}

// The entities, and Entities, the table of them all.
var (
	// UserOverview is deviceConfigurationUserOverview, the overview of a configuration's users.
	UserOverview = Entity{
		Kind:    "DeviceConfigurationUserOverview",
		Type:    "deviceConfigurationUserOverview",
		Segment: "userStatusOverview",
		Fields:  withBeta(overviewFields, Field{Name: "conflictCount", Beta: true}),
	}
	// DeviceOverview is deviceConfigurationDeviceOverview, the overview of a configuration's devices.
	DeviceOverview = Entity{
		Kind:    "DeviceConfigurationDeviceOverview",
		Type:    "deviceConfigurationDeviceOverview",
		Segment: "deviceStatusOverview",
		Fields: withBeta(overviewFields, Field{Name: "notApplicablePlatformCount", Beta: true},
			Field{Name: "conflictCount", Beta: true}),
	}
	// Entities are every entity the operator manages.
	Entities = []Entity{UserOverview, DeviceOverview}
)

// withBeta returns v1.0's fields with the beta-only ones after the counts, where Graph's metadata
// puts them (before lastUpdateDateTime).
func withBeta(v1 []Field, beta ...Field) []Field {
	out := make([]Field, 0, len(v1)+len(beta))
	for _, f := range v1 {
		if f.Kind == DateTime {
			out = append(out, beta...)
		}
		out = append(out, f)
	}
	return out
}

// OfKind returns the entity a Kubernetes kind declares, and false for a kind that declares none.
func OfKind(kind string) (Entity, bool) {
	for _, e := range Entities {
		if strings.EqualFold(e.Kind, kind) {
			return e, true
		}
	}
	return Entity{}, false
}

// Field returns the entity's property called name, and false if it has none.
func (e Entity) Field(name string) (Field, bool) {
	for _, f := range e.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// Declared returns the fields a resource of the entity's kind can declare in spec.overview: every
// property, the beta-only ones through a beta connection only (see ServedOn). It is the table's
// own slice, to read.
func (e Entity) Declared() []Field {
	return e.Fields
}

// ServedOn returns the fields Graph serves, and takes in a PATCH, under apiVersion ("v1.0" or
// "beta"), in the table's order.
func (e Entity) ServedOn(apiVersion string) []Field {
	var out []Field
	for _, f := range e.Fields {
		if f.Served(apiVersion) {
			out = append(out, f)
		}
	}
	return out
}
