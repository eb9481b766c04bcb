package graphtest

import (
	"strings"
	"time"

	"github.com/overview-operator/overview-operator/internal/graph/entity"
)

// The overviews of a device configuration, named as Fault.Entity and Request.Entity name them: by
// the navigation property of the configuration that holds each, as in its path.
const (
	// UserStatusOverview is the configuration's deviceConfigurationUserOverview, which Seed and
	// Overview hold.
	UserStatusOverview = "userStatusOverview"
	// DeviceStatusOverview is the configuration's deviceConfigurationDeviceOverview, which
	// SeedDevice and DeviceOverview hold.
	DeviceStatusOverview = "deviceStatusOverview"
)

// Overview is the emulator's state of one overview of a device configuration: its
// deviceConfigurationUserOverview or its deviceConfigurationDeviceOverview. Each entity serves the
// properties its type has under the API version called; the others are kept and not served.
type Overview struct {
	// ID is the entity's id property; Seed and SeedDevice set it to the configuration id when empty.
	ID                 string `json:"id"`
	PendingCount       int32  `json:"pendingCount"`
	NotApplicableCount int32  `json:"notApplicableCount"`
	SuccessCount       int32  `json:"successCount"`
	ErrorCount         int32  `json:"errorCount"`
	FailedCount        int32  `json:"failedCount"`
	// ConflictCount is served (and accepted by PATCH) on beta only.
	ConflictCount int32 `json:"conflictCount"`
	// NotApplicablePlatformCount is served (and accepted by PATCH) on beta only, by the device
	// overview only.
	NotApplicablePlatformCount int32 `json:"notApplicablePlatformCount"`
	ConfigurationVersion       int32 `json:"configurationVersion"`
	// LastUpdateDateTime is held at Graph's precision, 100 ns (Seed and PATCH round to it), and
	// served with at most 7 fractional digits.
	LastUpdateDateTime time.Time `json:"lastUpdateDateTime"`
}

// overviewFields finds each property of the entity table in Overview, so that the routes, the
// answers, $select and PATCH read the table rather than a list of their own.
var overviewFields = entity.NewStructFields[Overview](false, entity.Entities...)

// entityOfSegment returns the entity a path's last segment names, without regard to case as Graph
// matches segments, and false for a segment that names none.
func entityOfSegment(segment string) (entity.Entity, bool) {
	for _, e := range entity.Entities {
		if strings.EqualFold(e.Segment, segment) {
			return e, true
		}
	}
	return entity.Entity{}, false
}

// odataType is the entity's type as @odata.type names it.
func odataType(e entity.Entity) string { return "#microsoft.graph." + e.Type }

// dateTimeLayout is how Graph writes an Edm.DateTimeOffset: in UTC, with at most 7 fractional
// digits and no trailing zeros ("2026-11-28T10:00:00.1234567Z", "2026-11-28T10:00:00Z").
const dateTimeLayout = "2006-01-02T15:04:05.9999999Z07:00"

// graphTime is t as Graph holds it: .NET's DateTimeOffset counts 100 ns ticks, so a time with
// more precision (Go's nanoseconds, a PATCH with 8 or 9 fractional digits) is rounded to the
// nearest tick, as .NET's parser rounds the digits past the seventh.
func graphTime(t time.Time) time.Time {
	return t.Round(100 * time.Nanosecond).UTC()
}

// Seed creates or overwrites the user overview (userStatusOverview) of a device configuration in
// a tenant, as if someone had changed it in Intune (use it to make drift in tests). o.ID defaults
// to configurationID. o.LastUpdateDateTime is kept in UTC at Graph's precision, 100 ns. A
// configuration that was not seeded before is created with default properties (see
// SeedConfiguration) and a device overview of zeros.
func (s *Server) Seed(tenantID, configurationID string, o Overview) {
	s.seed(tenantID, configurationID, UserStatusOverview, o)
}

// SeedDevice is Seed for the configuration's device overview (deviceStatusOverview). A
// configuration it creates has a user overview of zeros.
func (s *Server) SeedDevice(tenantID, configurationID string, o Overview) {
	s.seed(tenantID, configurationID, DeviceStatusOverview, o)
}

// Overview returns the current state of a configuration's user overview, and false if the
// configuration was never seeded.
func (s *Server) Overview(tenantID, configurationID string) (Overview, bool) {
	return s.overview(tenantID, configurationID, UserStatusOverview)
}

// DeviceOverview returns the current state of a configuration's device overview, and false if
// the configuration was never seeded.
func (s *Server) DeviceOverview(tenantID, configurationID string) (Overview, bool) {
	return s.overview(tenantID, configurationID, DeviceStatusOverview)
}

func (s *Server) seed(tenantID, configurationID, segment string, o Overview) {
	if o.ID == "" {
		o.ID = configurationID
	}
	o.LastUpdateDateTime = graphTime(o.LastUpdateDateTime)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.configurationLocked(tenantID, configurationID).overviews[segment] = o
}

func (s *Server) overview(tenantID, configurationID, segment string) (Overview, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.configurations[newConfigurationKey(tenantID, configurationID)]
	if !ok {
		return Overview{}, false
	}
	return c.overviews[segment], true
}

// properties are the names of an entity's properties under an API version, id first, then in the
// order of Graph's metadata.
func properties(e entity.Entity, apiVersion string) []string {
	names := []string{"id"}
	for _, f := range e.Fields {
		if f.Served(apiVersion) {
			names = append(names, f.Name)
		}
	}
	return names
}

// values are o's properties as Graph serves entity e under apiVersion, in properties' order.
func (o Overview) values(e entity.Entity, apiVersion string) []property {
	props := []property{{"id", o.ID}}
	for _, f := range e.Fields {
		if !f.Served(apiVersion) {
			continue
		}
		switch f.Kind {
		case entity.DateTime:
			t := overviewFields.Time(&o, f.Name)
			props = append(props, property{f.Name, t.UTC().Format(dateTimeLayout)})
		default:
			n, _ := overviewFields.Count(&o, f.Name)
			props = append(props, property{f.Name, n})
		}
	}
	return props
}

// marshalEntity renders an overview as Graph answers it for route, with the properties of sel;
// baseURL is the scheme and host the client called, which Graph repeats in @odata.context along
// with the selection.
func marshalEntity(o Overview, baseURL string, route graphRoute, sel selection) []byte {
	context := baseURL + "/" + route.apiVersion + "/$metadata#deviceManagement/deviceConfigurations('" +
		route.configurationID + "')/" + route.entity.Segment + sel.contextSuffix() + "/$entity"
	annotations := []property{{"@odata.context", context}, {"@odata.type", odataType(route.entity)}}
	return marshalObject(annotations, o.values(route.entity, route.apiVersion), sel)
}
