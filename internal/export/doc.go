// Package export is the kubectl-intune plugin's export: it lists a tenant's device configurations,
// reads each one's userStatusOverview and deviceStatusOverview (or one of them, --kind) within the
// tenant's Graph budget, and writes a DeviceConfigurationUserOverview and a
// DeviceConfigurationDeviceOverview per configuration, so that an existing tenant comes under Git in
// one step. cmd/kubectl-intune is its wiring.
package export
