package graphtest

import (
	"bytes"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
)

// selection is a parsed $select: the properties asked for, named as in the metadata, in the order
// asked and without repeats. A nil selection is every property.
type selection []string

// has reports whether the selection includes a property; id always is, as Graph always sends the key.
func (sel selection) has(name string) bool {
	return sel == nil || name == "id" || slices.Contains(sel, name)
}

// contextSuffix is what a selection adds to a resource's @odata.context, like "(id,displayName)".
func (sel selection) contextSuffix() string {
	if sel == nil {
		return ""
	}
	return "(" + strings.Join(sel, ",") + ")"
}

// parseSelect reads the $select query option against the names of a type's properties. Names are
// matched without regard to case, as Graph does; "*" (or no $select) selects every property. An
// unknown name is refused with the message of Graph's OData layer.
func parseSelect(query url.Values, typeName string, properties []string) (selection, error) {
	values, ok := query["$select"]
	switch {
	case !ok:
		return nil, nil
	case len(values) > 1:
		return nil, refuse("Query option '$select' was specified more than once, but it must be specified at most once.")
	}
	sel := selection{}
	for _, name := range strings.Split(values[0], ",") {
		name = strings.TrimSpace(name)
		if name == "*" {
			return nil, nil
		}
		if name == "" {
			return nil, refuse("Syntax error: an empty property name in '$select=%s'.", values[0])
		}
		canonical := ""
		for _, p := range properties {
			if strings.EqualFold(p, name) {
				canonical = p
			}
		}
		if canonical == "" {
			return nil, refuse("Could not find a property named '%s' on type '%s'.", name, typeName)
		}
		if !slices.Contains(sel, canonical) {
			sel = append(sel, canonical)
		}
	}
	return sel, nil
}

// property is one name and value of an entity, for writing it in the metadata's order.
type property struct {
	name  string
	value any
}

// marshalObject writes a JSON object: the annotations, then the properties the selection includes,
// each in the order given.
func marshalObject(annotations, properties []property, sel selection) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	write := func(p property) {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		name, _ := json.Marshal(p.name)
		value, err := json.Marshal(p.value)
		if err != nil {
			// Properties are strings and integers, which always marshal.
			panic(err)
		}
		b.Write(name)
		b.WriteByte(':')
		b.Write(value)
	}
	for _, a := range annotations {
		write(a)
	}
	for _, p := range properties {
		if sel.has(p.name) {
			write(p)
		}
	}
	b.WriteByte('}')
	return b.Bytes()
}
