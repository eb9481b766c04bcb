package graph

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Overview is one of Graph's status overviews of a device configuration (see Entities): how
// many users or devices it reached, by state. Both entities have the properties of v1.0; the
// beta-only ones are pointers, nil when Graph did not serve them. Decoding ignores properties it
// does not know and the @odata.* annotations, since Graph adds properties over time.
type Overview struct {
	// ID is the entity's key.
	ID string `json:"id"`
	// PendingCount is the number of users whose state is pending.
	PendingCount int32 `json:"pendingCount"`
	// NotApplicableCount is the number of users the configuration does not apply to.
	NotApplicableCount int32 `json:"notApplicableCount"`
	// SuccessCount is the number of users the configuration succeeded for.
	SuccessCount int32 `json:"successCount"`
	// ErrorCount is the number of users with errors.
	ErrorCount int32 `json:"errorCount"`
	// FailedCount is the number of users for which the configuration failed.
	FailedCount int32 `json:"failedCount"`
	// ConfigurationVersion is the version of the device configuration.
	ConfigurationVersion int32 `json:"configurationVersion"`
	// LastUpdateDateTime is when the overview last changed.
	LastUpdateDateTime time.Time `json:"lastUpdateDateTime"`
	// ConflictCount is the number in conflict; Graph serves it on beta only.
	ConflictCount *int32 `json:"conflictCount,omitempty"`
	// NotApplicablePlatformCount is the number of devices of a platform the configuration is not
	// for; Graph serves it on beta only, in deviceConfigurationDeviceOverview.
	NotApplicablePlatformCount *int32 `json:"notApplicablePlatformCount,omitempty"`
}

// OverviewFields finds the properties of every entity in Overview, and FieldsFields those a
// resource declares in Fields: Overview holds what Graph serves of any entity, Fields what a PATCH
// can send (the beta-only properties through a beta client only: v1.0 refuses them).
var (
	OverviewFields = NewStructFields[Overview](false, Entities...)
	FieldsFields   = NewStructFields[Fields](false, Entities...)
)

// Fields is the body of a PATCH: only the non-nil fields are sent, and
// nothing else. Counts go out as JSON numbers and the time as an RFC 3339
// string.
type Fields struct {
	// PendingCount, if non-nil, sets pendingCount.
	PendingCount *int32 `json:"pendingCount,omitempty"`
	// NotApplicableCount, if non-nil, sets notApplicableCount.
	NotApplicableCount *int32 `json:"notApplicableCount,omitempty"`
	// SuccessCount, if non-nil, sets successCount.
	SuccessCount *int32 `json:"successCount,omitempty"`
	// ErrorCount, if non-nil, sets errorCount.
	ErrorCount *int32 `json:"errorCount,omitempty"`
	// FailedCount, if non-nil, sets failedCount.
	FailedCount *int32 `json:"failedCount,omitempty"`
	// ConflictCount, if non-nil, sets conflictCount: beta only.
	ConflictCount *int32 `json:"conflictCount,omitempty"`
	// NotApplicablePlatformCount, if non-nil, sets notApplicablePlatformCount: beta only, in
	// deviceConfigurationDeviceOverview only.
	NotApplicablePlatformCount *int32 `json:"notApplicablePlatformCount,omitempty"`
	// ConfigurationVersion, if non-nil, sets configurationVersion.
	ConfigurationVersion *int32 `json:"configurationVersion,omitempty"`
	// LastUpdateDateTime, if non-nil, sets lastUpdateDateTime.
	LastUpdateDateTime *time.Time `json:"lastUpdateDateTime,omitempty"`
}

// IsEmpty reports whether f sets no field at all.
func (f Fields) IsEmpty() bool {
	return f == Fields{}
}

// MarshalJSON encodes exactly the non-nil fields. The time is written in UTC,
// so that the body does not depend on the caller's time zone.
func (f Fields) MarshalJSON() ([]byte, error) {
	// wire has the same tags; the conversion drops this method, so there is no recursion.
	type wire Fields
	w := wire(f)
	if f.LastUpdateDateTime != nil {
		t := f.LastUpdateDateTime.UTC()
		w.LastUpdateDateTime = &t
	}
	return json.Marshal(w)
}

// Response is what Graph answered to a call.
type Response struct {
	// Overview is the entity Graph returned, when Entity says it returned one.
	Overview Overview
	// Entity is true when Graph's answer carried the entity: always for a GET,
	// and for a PATCH answered 200 with a body. A PATCH answered 204 (or 200
	// without a body) says only that Graph applied it; a GET shows what it holds.
	Entity bool
	// RequestID is the request-id of the last Graph response, which Microsoft
	// support asks for.
	RequestID string
}

// errMalformedBody is the cause of an *Error for a body that is not the
// entity Graph documents.
var errMalformedBody = errors.New("response body is not a valid status overview of a device configuration")

// decodeOverview decodes an entity body. It is strict about the types of the
// properties it knows (JSON numbers in the int32 range, an RFC 3339 time) and
// ignores everything else.
func decodeOverview(body []byte) (Overview, error) {
	var o Overview
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return o, fmt.Errorf("%w: empty body", errMalformedBody)
	}
	if trimmed[0] != '{' {
		return o, fmt.Errorf("%w: not a JSON object", errMalformedBody)
	}
	if !utf8.Valid(body) {
		// encoding/json would replace the bytes with U+FFFD and carry on: an id or a time that is
		// not what Graph meant would reach status.
		return o, fmt.Errorf("%w: it is not valid UTF-8", errMalformedBody)
	}
	if err := json.Unmarshal(body, &o); err != nil {
		return Overview{}, fmt.Errorf("%w: %s", errMalformedBody, describeJSONError(err))
	}
	if err := o.check(); err != nil {
		return Overview{}, fmt.Errorf("%w: %v", errMalformedBody, err)
	}
	return o, nil
}

// check holds an overview to what status can carry and the CRD allows: counts are never
// negative, the id is an id, and the time is one RFC 3339 can write (years 0001 to 9999), so
// that what Graph answered can always be written to status as it was read.
func (o Overview) check() error {
	if o.ID != "" && !validConfigurationID(o.ID) {
		return fmt.Errorf("its id %q is not a Graph id", clean(o.ID))
	}
	for _, e := range Entities {
		for _, f := range e.Fields {
			if f.Kind != Count {
				continue
			}
			if n, ok := OverviewFields.Count(&o, f.Name); ok && n < 0 {
				return fmt.Errorf("%s is negative (%d)", f.Name, n)
			}
		}
	}
	if y := o.LastUpdateDateTime.UTC().Year(); !o.LastUpdateDateTime.IsZero() && (y < 1 || y > 9999) {
		return fmt.Errorf("lastUpdateDateTime is outside the years 0001 to 9999")
	}
	return nil
}

// errOtherEntity is the cause of an *Error for an overview whose id is not the configuration
// asked for.
var errOtherEntity = errors.New("the answer is another configuration's overview")

// checkID holds an answer to the configuration asked for: an answer for another one (a broken
// cache or proxy, a hostile endpoint) must never be taken as this one's.
func (o Overview) checkID(configurationID string) error {
	if !strings.EqualFold(o.ID, configurationID) {
		if o.ID == "" {
			return fmt.Errorf("%w: %w: it has no id", errMalformedBody, errOtherEntity)
		}
		return fmt.Errorf("%w: %w: its id is %q, not %q", errMalformedBody, errOtherEntity, o.ID, configurationID)
	}
	return nil
}

// describeJSONError says what was wrong with a body without quoting it.
func describeJSONError(err error) string {
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	var timeErr *time.ParseError
	switch {
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("invalid JSON at offset %d", syntaxErr.Offset)
	case errors.As(err, &typeErr):
		return fmt.Sprintf("property %q holds a JSON %s, not a valid %s", typeErr.Field, typeErr.Value, typeErr.Type)
	case errors.As(err, &timeErr):
		return "lastUpdateDateTime is not an RFC 3339 time"
	default:
		return "invalid JSON"
	}
}
