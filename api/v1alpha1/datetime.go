package v1alpha1

import "time"

// DateTimePattern is the form of spec.overview.lastUpdateDateTime, decided once for the API server
// and the operator: an RFC 3339 date-time (section 5.6) whose date exists (Feb 29 in leap years
// only), with hours 00 to 23, seconds 00 to 59 (no leap second: Go cannot read one), an optional
// fraction of at most 7 digits, a "T" and "Z" in either case, and an offset within ±23:59.
//
// Graph holds an Edm.DateTimeOffset in 100 ns ticks: an eighth digit (Go's RFC3339Nano, date
// +%FT%T.%N) would be stored as another instant than the spec's, and the operator would PATCH
// it again on every pass. For the same reason the instant must lie within Graph's range in UTC,
// 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.9999999Z, which the pattern cannot check for the
// first and last day with an offset: the rule reads a value on 0001-01-01 or 9999-12-31 as a
// timestamp with the year changed to 0002 or 9998 (the same calendar, and inside CEL's range
// whatever the offset) and compares it with the start of 0002 or 9999; the operator compares with
// MinDateTime and MaxDateTime.
//
// The CEL rule on OverviewFields.LastUpdateDateTime spells the same expression (a marker cannot name
// a constant), and the operator reads the field with it; testdata/lastUpdateDateTime.yaml is the
// one list of values both are tested against.
const DateTimePattern = `^([0-9]{4}-((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)|02-(0[1-9]|1[0-9]|2[0-8]))|([0-9]{2}(0[48]|[2468][048]|[13579][26])|([02468][048]|[13579][26])00)-02-29)[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]([.][0-9]{1,7})?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$`

// MinDateTime and MaxDateTime bound the instant of spec.overview.lastUpdateDateTime in UTC: Graph's
// Edm.DateTimeOffset (.NET's DateTimeOffset) holds nothing outside them, and Go cannot write a year
// after 9999 in JSON.
var (
	MinDateTime = time.Date(1, time.January, 1, 0, 0, 0, 0, time.UTC)
	MaxDateTime = time.Date(9999, time.December, 31, 23, 59, 59, 999999900, time.UTC)
)
