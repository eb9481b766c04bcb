package graphtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/overview-operator/overview-operator/internal/graph/entity"
)

// patch is a validated PATCH body: the properties it sets, nothing else.
type patch struct {
	counts map[string]int32     // Edm.Int32 properties, by name
	times  map[string]time.Time // Edm.DateTimeOffset properties, by name
	id     *string
}

// apply writes the patch's properties into o.
func (p patch) apply(o *Overview) {
	for name, v := range p.counts {
		overviewFields.SetCount(o, name, v)
	}
	for name, t := range p.times {
		overviewFields.SetTime(o, name, t)
	}
}

// parsePatch validates a PATCH body the way Graph's OData layer does and returns Graph-like
// messages for what it refuses: invalid JSON, anything but an object, unknown or duplicate
// properties, null, wrong types (such as the documentation's "Integer" placeholder), integers
// outside Int32, and timestamps that are not RFC 3339. A timestamp with more than 7 fractional
// digits is taken and rounded to Graph's precision (see graphTime). The properties are those entity
// e has under apiVersion (a beta-only one is unknown on v1.0, as Graph's metadata there does not
// have it); the @odata.type annotation is accepted when it names e's type.
func parsePatch(body []byte, e entity.Entity, apiVersion string) (patch, error) {
	p := patch{counts: map[string]int32{}, times: map[string]time.Time{}}
	if len(bytes.TrimSpace(body)) == 0 {
		return p, refuse("Empty Payload. JSON content expected.")
	}
	if !json.Valid(body) {
		return p, refuse("Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return p, refuse("An unexpected '%s' node was found when reading from the JSON reader. A 'StartObject' node was expected.", jsonKind(body))
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return p, err
		}
		name, _ := tok.(string) // json.Valid guarantees that object keys are strings
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return p, err
		}
		if seen[name] {
			return p, refuse("Duplicate property named '%s' is not allowed.", name)
		}
		seen[name] = true
		if err := p.set(e, name, raw, apiVersion); err != nil {
			return p, err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return p, err
	}
	// json.Valid already refused trailing data, so the decoder must be at the end now.
	if _, err := dec.Token(); err != io.EOF {
		return p, refuse("Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.")
	}
	return p, nil
}

// set validates one property of entity e and records it.
func (p *patch) set(e entity.Entity, name string, raw json.RawMessage, apiVersion string) error {
	f, known := e.Field(name)
	known = known && f.Served(apiVersion)
	if string(raw) == "null" && (known || name == "id") {
		expected := "Edm.String"
		if known {
			expected = f.Kind.String()
		}
		return refuse("A null value was found for the property named '%s', which has the expected type '%s[Nullable=False]'. The expected type '%s[Nullable=False]' does not allow null values.", name, expected, expected)
	}
	switch {
	case name == "@odata.type":
		var t string
		if err := json.Unmarshal(raw, &t); err != nil || strings.TrimPrefix(t, "#") != strings.TrimPrefix(odataType(e), "#") {
			return refuse("A type named '%s' could not be resolved by the model. When a model is available, each type name must resolve to a valid type.", strings.Trim(string(raw), `"`))
		}
		return nil
	case name == "id":
		var id string
		if err := json.Unmarshal(raw, &id); err != nil {
			return refuse("Cannot convert a primitive value to the expected type 'Edm.String'. See the inner exception for more details.")
		}
		p.id = &id
		return nil
	case !known:
		return refuse("The property '%s' does not exist on type 'microsoft.graph.%s'. Make sure to only use property names that are defined by the type or mark the type as open type.", name, e.Type)
	case f.Kind == entity.DateTime:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return refuse("Cannot convert a primitive value to the expected type 'Edm.DateTimeOffset'. See the inner exception for more details.")
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return refuse("Cannot convert the literal '%s' to the expected type 'Edm.DateTimeOffset'.", s)
		}
		p.times[name] = graphTime(t)
		return nil
	}
	if c := raw[0]; c != '-' && (c < '0' || c > '9') {
		return refuse("Cannot convert a primitive value to the expected type 'Edm.Int32'. See the inner exception for more details.")
	}
	v, err := strconv.ParseInt(string(raw), 10, 32)
	if err != nil {
		return refuse("Cannot convert the literal '%s' to the expected type 'Edm.Int32'.", raw)
	}
	p.counts[name] = int32(v)
	return nil
}

// invalidBody is a refusal of a PATCH body; its text is the message of Graph's 400 answer, worded
// like Graph's (which is why it reads like a sentence).
type invalidBody string

func (e invalidBody) Error() string { return string(e) }

func refuse(format string, args ...any) error { return invalidBody(fmt.Sprintf(format, args...)) }

// jsonKind names the kind of a JSON document's top-level value the way OData's reader does.
func jsonKind(body []byte) string {
	switch b := bytes.TrimSpace(body); {
	case len(b) == 0:
		return "None"
	case b[0] == '[':
		return "StartArray"
	default:
		return "PrimitiveValue"
	}
}
