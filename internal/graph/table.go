package graph

import "github.com/overview-operator/overview-operator/internal/graph/entity"

// The table of entities lives in package entity, which the emulator reads too (this package's
// tests run against the emulator, so the emulator cannot import this package); these names keep
// it where the Graph side reads it.
type (
	// Entity is one kind of status overview of a device configuration: see entity.Entity.
	Entity = entity.Entity
	// Field is one property of an entity: see entity.Field.
	Field = entity.Field
	// FieldKind is the Graph (EDM) type of a property: see entity.FieldKind.
	FieldKind = entity.FieldKind
	// StructFields finds the Go field of each property in a struct: see entity.StructFields.
	StructFields = entity.StructFields
)

// The kinds of properties.
const (
	// Count is an Edm.Int32 that counts users or devices, or a version: never negative.
	Count = entity.Count
	// DateTime is an Edm.DateTimeOffset, written in RFC 3339.
	DateTime = entity.DateTime
)

// The entities, and Entities, the table of them all.
var (
	// UserOverview is deviceConfigurationUserOverview, the overview of a configuration's users.
	UserOverview = entity.UserOverview
	// DeviceOverview is deviceConfigurationDeviceOverview, the overview of a configuration's devices.
	DeviceOverview = entity.DeviceOverview
	// Entities are every entity the operator manages.
	Entities = entity.Entities
)

// EntityOfKind returns the entity a Kubernetes kind declares, and false for a kind that declares none.
func EntityOfKind(kind string) (Entity, bool) { return entity.OfKind(kind) }

// NewStructFields indexes the fields of struct type T by their JSON names and checks them against
// the entities' properties: see entity.NewStructFields.
func NewStructFields[T any](v1 bool, entities ...Entity) StructFields {
	return entity.NewStructFields[T](v1, entities...)
}
