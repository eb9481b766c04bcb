// Package controllers holds the reconcilers of overview-operator: one for
// DeviceConfigurationUserOverview, which keeps Intune's deviceConfigurationUserOverview in the state
// its spec declares, and one for each connection kind, which checks that the credentials work.
//
// SetupWithManager registers all three with a controller-runtime manager. It is exported so that a
// platform team's own envtest suite can run the operator in-process against pkg/graphtest; see
// docs/envtest.md.
package controllers
