package graphtest

import (
	"time"
)

// Overview is the emulator's state of one deviceConfigurationUserOverview.
type Overview struct {
	// ID is the entity's id property; Seed sets it to the configuration id when empty.
	ID                 string
	PendingCount       int32
	NotApplicableCount int32
	SuccessCount       int32
	ErrorCount         int32
	FailedCount        int32
	// ConflictCount is kept on every API version but served (and accepted by PATCH) on beta only.
	ConflictCount        int32
	ConfigurationVersion int32
	// LastUpdateDateTime is held at Graph's precision, 100 ns (Seed and PATCH round to it), and
	// served with at most 7 fractional digits.
	LastUpdateDateTime time.Time
}

// entityType is the OData type name Graph puts in @odata.type.
const entityType = "#microsoft.graph.deviceConfigurationUserOverview"

// dateTimeLayout is how Graph writes an Edm.DateTimeOffset: in UTC, with at most 7 fractional
// digits and no trailing zeros ("2026-11-28T10:00:00.1234567Z", "2026-11-28T10:00:00Z").
const dateTimeLayout = "2006-01-02T15:04:05.9999999Z07:00"

// graphTime is t as Graph holds it: .NET's DateTimeOffset counts 100 ns ticks, so a time with
// more precision (Go's nanoseconds, a PATCH with 8 or 9 fractional digits) is rounded to the
// nearest tick, as .NET's parser rounds the digits past the seventh.
func graphTime(t time.Time) time.Time {
	return t.Round(100 * time.Nanosecond).UTC()
}

// Seed creates or overwrites the overview of a device configuration in a tenant, as if someone
// had changed it in Intune (use it to make drift in tests). o.ID defaults to configurationID.
// o.LastUpdateDateTime is kept in UTC at Graph's precision, 100 ns. A configuration that was not
// seeded before is created with default properties (see SeedConfiguration).
func (s *Server) Seed(tenantID, configurationID string, o Overview) {
	if o.ID == "" {
		o.ID = configurationID
	}
	o.LastUpdateDateTime = graphTime(o.LastUpdateDateTime)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.configurationLocked(tenantID, configurationID).overview = o
}

// Overview returns the current state of a seeded overview, and false if it was never seeded.
func (s *Server) Overview(tenantID, configurationID string) (Overview, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.configurations[newConfigurationKey(tenantID, configurationID)]
	if !ok {
		return Overview{}, false
	}
	return c.overview, true
}

// overviewProperties are the names of the entity's properties under an API version, in the order
// of Graph's metadata.
func overviewProperties(apiVersion string) []string {
	props := make([]string, 0, 9)
	for _, p := range (Overview{}).properties(apiVersion) {
		props = append(props, p.name)
	}
	return props
}

// properties are the overview's properties as Graph serves them under apiVersion, in the order
// of Graph's metadata.
func (o Overview) properties(apiVersion string) []property {
	props := []property{
		{"id", o.ID},
		{"pendingCount", o.PendingCount},
		{"notApplicableCount", o.NotApplicableCount},
		{"successCount", o.SuccessCount},
		{"errorCount", o.ErrorCount},
		{"failedCount", o.FailedCount},
	}
	if apiVersion == "beta" {
		props = append(props, property{"conflictCount", o.ConflictCount})
	}
	return append(props,
		property{"lastUpdateDateTime", o.LastUpdateDateTime.UTC().Format(dateTimeLayout)},
		property{"configurationVersion", o.ConfigurationVersion})
}

// marshalEntity renders an overview as Graph answers it under apiVersion, with the properties of
// sel; baseURL is the scheme and host the client called, which Graph repeats in @odata.context
// along with the selection.
func marshalEntity(o Overview, baseURL, apiVersion, configurationID string, sel selection) []byte {
	context := baseURL + "/" + apiVersion + "/$metadata#deviceManagement/deviceConfigurations('" +
		configurationID + "')/userStatusOverview" + sel.contextSuffix() + "/$entity"
	return marshalObject([]property{{"@odata.context", context}, {"@odata.type", entityType}}, o.properties(apiVersion), sel)
}
