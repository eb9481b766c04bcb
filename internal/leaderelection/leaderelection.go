// Package leaderelection names the Lease that overview-operator's replicas compete for with
// --leader-elect. It is a package of its own because the operator's main package sets the name and
// the end-to-end and fault suites, which cannot import a main package, look the Lease up by it.
package leaderelection

// LeaseName is the name of the Lease, in the operator's namespace, that its replicas compete for:
// the leader election ID.
const LeaseName = "overview-operator.intune.overview-operator.io"
