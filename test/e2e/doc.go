// Package e2e holds the end-to-end tests: the operator's built binary (bin/manager) runs as a
// process of its own against a real local control plane and the Graph emulator (internal/localenv),
// and the tests drive it the way a user does, with kubectl, signals and a metrics scraper.
//
// Build what they run first: make envtest build (make test does both).
package e2e
