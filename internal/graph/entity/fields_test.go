package entity

import (
	"testing"
	"time"
)

// TestStructFieldsTime: a DateTime property reads from a time.Time or a *time.Time field (the zero
// time when the pointer is nil) and SetTime writes a time.Time field.
func TestStructFieldsTime(t *testing.T) {
	type plain struct {
		LastUpdateDateTime time.Time `json:"lastUpdateDateTime"`
	}
	type pointer struct {
		LastUpdateDateTime *time.Time `json:"lastUpdateDateTime"`
	}
	at := time.Date(2026, 11, 28, 10, 0, 0, 100, time.UTC)
	plainFields := NewStructFields[plain](true)
	var p plain
	plainFields.SetTime(&p, "lastUpdateDateTime", at)
	if got := plainFields.Time(&p, "lastUpdateDateTime"); !got.Equal(at) {
		t.Errorf("time.Time field: %v, want %v", got, at)
	}
	pointerFields := NewStructFields[pointer](true)
	if got := pointerFields.Time(&pointer{}, "lastUpdateDateTime"); !got.IsZero() {
		t.Errorf("nil *time.Time: %v, want the zero time", got)
	}
	if got := pointerFields.Time(&pointer{LastUpdateDateTime: &at}, "lastUpdateDateTime"); !got.Equal(at) {
		t.Errorf("*time.Time field: %v, want %v", got, at)
	}
}

// TestServed: a beta-only property is served on beta only.
func TestServed(t *testing.T) {
	for _, e := range Entities {
		for _, f := range e.Fields {
			if !f.Served("beta") || f.Served("v1.0") == f.Beta {
				t.Errorf("%s.%s (beta-only %v): served on beta %v, on v1.0 %v", e.Type, f.Name, f.Beta, f.Served("beta"), f.Served("v1.0"))
			}
		}
	}
}
