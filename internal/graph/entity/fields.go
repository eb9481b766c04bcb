package entity

import (
	"fmt"
	"reflect"
	"strings"
	"time"
)

// StructFields finds the Go field of each of an entity's properties in a struct type whose JSON
// names are the properties' (graph.Overview and graph.Fields, the emulator's Overview; the API's OverviewFields and
// ObservedOverview in the controllers), so that no list of Go fields repeats the entity table.
type StructFields struct {
	t     reflect.Type
	index map[string]int // by JSON name
}

// NewStructFields indexes the fields of struct type T by their JSON names, and checks that T has
// every property of entities (besides the beta-only ones when v1 is true) as the kind says: an
// int32 or *int32 for a Count, a time.Time, *time.Time or *string for a DateTime. It panics
// otherwise: a struct that misses a property of the table is a programming error.
func NewStructFields[T any](v1 bool, entities ...Entity) StructFields {
	t := reflect.TypeFor[T]()
	s := StructFields{t: t, index: map[string]int{}}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			s.index[name] = i
		}
	}
	for _, e := range entities {
		for _, f := range e.Fields {
			if f.Beta && v1 {
				continue
			}
			i, ok := s.index[f.Name]
			if !ok {
				panic(fmt.Sprintf("entity: %s has no field for %s's property %s", t, e.Type, f.Name))
			}
			if !fits(t.Field(i).Type, f.Kind) {
				panic(fmt.Sprintf("entity: %s.%s is a %s, which cannot hold a %v", t, t.Field(i).Name, t.Field(i).Type, f.Kind))
			}
		}
	}
	return s
}

var (
	int32Type  = reflect.TypeFor[int32]()
	timeType   = reflect.TypeFor[time.Time]()
	stringType = reflect.TypeFor[string]()
)

// fits reports whether a Go field of type t can hold a property of kind k.
func fits(t reflect.Type, k FieldKind) bool {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch k {
	case Count:
		return t == int32Type
	case DateTime:
		return t == timeType || t == stringType
	}
	return false
}

// field returns the Go field of property name in v (a *T), or an invalid Value when T has none.
func (s StructFields) field(v any, name string) reflect.Value {
	rv := reflect.ValueOf(v)
	if rv.Type() != reflect.PointerTo(s.t) {
		panic(fmt.Sprintf("entity: a %s is not a *%s", rv.Type(), s.t))
	}
	i, ok := s.index[name]
	if !ok {
		return reflect.Value{}
	}
	return rv.Elem().Field(i)
}

// Count returns the value of the Count property name in v (a *T), and false when v holds none (a
// nil pointer, or T has no such field).
func (s StructFields) Count(v any, name string) (int32, bool) {
	f := s.field(v, name)
	switch {
	case !f.IsValid():
		return 0, false
	case f.Kind() == reflect.Pointer:
		if f.IsNil() {
			return 0, false
		}
		return int32(f.Elem().Int()), true
	}
	return int32(f.Int()), true
}

// Time returns the value of the DateTime property name in v (a *T whose field is a time.Time or a
// *time.Time), or the zero time when v holds none.
func (s StructFields) Time(v any, name string) time.Time {
	f := s.field(v, name)
	if !f.IsValid() || f.Kind() == reflect.Pointer && f.IsNil() {
		return time.Time{}
	}
	if f.Kind() == reflect.Pointer {
		f = f.Elem()
	}
	t, _ := f.Interface().(time.Time)
	return t
}

// SetCount sets the Count property name in v (a *T); a field of T that is a pointer gets a new value.
func (s StructFields) SetCount(v any, name string, n int32) {
	f := s.field(v, name)
	if !f.IsValid() {
		panic(fmt.Sprintf("entity: %s has no field %s", s.t, name))
	}
	if f.Kind() == reflect.Pointer {
		f.Set(reflect.ValueOf(&n))
		return
	}
	f.SetInt(int64(n))
}

// SetTime sets the DateTime property name in v (a *T whose field is a time.Time).
func (s StructFields) SetTime(v any, name string, t time.Time) {
	f := s.field(v, name)
	if !f.IsValid() || f.Type() != timeType {
		panic(fmt.Sprintf("entity: %s has no time.Time field %s", s.t, name))
	}
	f.Set(reflect.ValueOf(t))
}

// Declared returns the pointer field of property name in v (a *T whose fields are all optional,
// such as a PATCH's body or spec.overview): nil when it is not set. It is a *int32 for a Count, a
// *time.Time or *string for a DateTime.
func (s StructFields) Declared(v any, name string) any {
	f := s.field(v, name)
	if !f.IsValid() || f.Kind() != reflect.Pointer || f.IsNil() {
		return nil
	}
	return f.Interface()
}

// Set sets the pointer field of property name in v (a *T) to p (a pointer of the field's type).
func (s StructFields) Set(v any, name string, p any) {
	f := s.field(v, name)
	if !f.IsValid() {
		panic(fmt.Sprintf("entity: %s has no field %s", s.t, name))
	}
	f.Set(reflect.ValueOf(p))
}

// String names a kind as the API documents it.
func (k FieldKind) String() string {
	if k == DateTime {
		return "Edm.DateTimeOffset"
	}
	return "Edm.Int32"
}
