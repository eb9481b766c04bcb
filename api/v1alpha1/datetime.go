package v1alpha1

// DateTimePattern is the form of spec.overview.lastUpdateDateTime, decided once for the API server
// and the operator: an RFC 3339 date-time (section 5.6) whose date exists (Feb 29 in leap years
// only), with hours 00 to 23, seconds 00 to 59 (no leap second: Go cannot read one), an optional
// fraction of any precision, a "T" and "Z" in either case, and an offset within ±23:59.
//
// The CEL rule on OverviewFields.LastUpdateDateTime spells the same expression (a marker cannot name
// a constant), and the operator reads the field with it; testdata/lastUpdateDateTime.yaml is the
// one list of values both are tested against.
const DateTimePattern = `^([0-9]{4}-((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)|02-(0[1-9]|1[0-9]|2[0-8]))|([0-9]{2}(0[48]|[2468][048]|[13579][26])|([02468][048]|[13579][26])00)-02-29)[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]([.][0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$`
