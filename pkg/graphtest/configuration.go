package graphtest

import (
	"strings"
	"time"

	"github.com/overview-operator/overview-operator/internal/graph/entity"
)

// Configuration is the emulator's state of a deviceConfiguration's own properties: those that the
// list, GET /{v1.0|beta}/deviceManagement/deviceConfigurations, serves. Its userStatusOverview and
// deviceStatusOverview are Overviews; a configuration always has both, as in Intune.
type Configuration struct {
	// DisplayName is the name shown in Intune; SeedConfiguration sets it to the configuration id
	// when empty (Graph's displayName is never null).
	DisplayName string
	// Description is served as null when empty.
	Description string
	// Version is the configuration's version property.
	Version int32
	// CreatedDateTime defaults to when the configuration was first seeded, and
	// LastModifiedDateTime to CreatedDateTime. Both are held at Graph's precision, 100 ns.
	CreatedDateTime      time.Time
	LastModifiedDateTime time.Time
	// ODataType is what each list item carries as @odata.type: deviceConfiguration is abstract in
	// Graph's metadata, so every configuration is of a derived type. Default
	// "#microsoft.graph.windows10CustomConfiguration".
	ODataType string
}

// configurationType is the type whose properties $select on the list names.
const configurationType = "microsoft.graph.deviceConfiguration"

// defaultConfigurationType is the @odata.type of a configuration seeded without one.
const defaultConfigurationType = "#microsoft.graph.windows10CustomConfiguration"

// deviceConfiguration is everything the emulator holds of one device configuration: its own
// properties and its overviews, which live and die together.
type deviceConfiguration struct {
	id        string // as first seeded; the list serves it in this case
	props     Configuration
	overviews map[string]Overview // by entity Segment: one of each entity of the table
}

type configurationKey struct{ tenantID, configurationID string } // both lower case: Graph ids are GUIDs

func newConfigurationKey(tenantID, configurationID string) configurationKey {
	return configurationKey{strings.ToLower(tenantID), strings.ToLower(configurationID)}
}

// configurationLocked returns the record of a configuration, creating it, with default
// properties and overviews of zeros, if it does not exist. s.mu must be held.
func (s *Server) configurationLocked(tenantID, configurationID string) *deviceConfiguration {
	key := newConfigurationKey(tenantID, configurationID)
	if c, ok := s.configurations[key]; ok {
		return c
	}
	c := &deviceConfiguration{
		id:        configurationID,
		props:     Configuration{}.withDefaults(configurationID, time.Now()),
		overviews: map[string]Overview{},
	}
	for _, e := range entity.Entities {
		c.overviews[e.Segment] = Overview{ID: configurationID}
	}
	s.configurations[key] = c
	s.tenants[key.tenantID] = true
	return c
}

// withDefaults fills what a seed left empty; now is the time of creation.
func (c Configuration) withDefaults(configurationID string, now time.Time) Configuration {
	if c.DisplayName == "" {
		c.DisplayName = configurationID
	}
	if c.ODataType == "" {
		c.ODataType = defaultConfigurationType
	} else if !strings.HasPrefix(c.ODataType, "#") {
		c.ODataType = "#" + c.ODataType
	}
	if c.CreatedDateTime.IsZero() {
		c.CreatedDateTime = now
	}
	if c.LastModifiedDateTime.IsZero() {
		c.LastModifiedDateTime = c.CreatedDateTime
	}
	c.CreatedDateTime, c.LastModifiedDateTime = graphTime(c.CreatedDateTime), graphTime(c.LastModifiedDateTime)
	return c
}

// SeedConfiguration creates or overwrites a device configuration's own properties in a tenant (see
// Configuration for the defaults). A configuration it creates gets overviews of zeros; an
// existing one keeps its overviews. Seed and SeedDevice, in turn, create a configuration with
// default properties.
func (s *Server) SeedConfiguration(tenantID, configurationID string, c Configuration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.configurationLocked(tenantID, configurationID)
	created := rec.props.CreatedDateTime
	if c.CreatedDateTime.IsZero() {
		c.CreatedDateTime = created
	}
	rec.props = c.withDefaults(configurationID, created)
}

// Configuration returns a seeded configuration's properties, and false if it was never seeded
// (with Seed or SeedConfiguration).
func (s *Server) Configuration(tenantID, configurationID string) (Configuration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.configurations[newConfigurationKey(tenantID, configurationID)]
	if !ok {
		return Configuration{}, false
	}
	return c.props, true
}

// configurationProperties are the names of a configuration's properties that the emulator
// models, in the order of Graph's metadata.
var configurationProperties = []string{"id", "lastModifiedDateTime", "createdDateTime", "description", "displayName", "version"}

// properties are a configuration's properties as Graph serves them, in configurationProperties' order.
func (c *deviceConfiguration) properties() []property {
	var description any
	if c.props.Description != "" {
		description = c.props.Description
	}
	return []property{
		{"id", c.id},
		{"lastModifiedDateTime", c.props.LastModifiedDateTime.Format(dateTimeLayout)},
		{"createdDateTime", c.props.CreatedDateTime.Format(dateTimeLayout)},
		{"description", description},
		{"displayName", c.props.DisplayName},
		{"version", c.props.Version},
	}
}
