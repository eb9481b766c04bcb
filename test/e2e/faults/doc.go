// Package faults holds the fault suite of the end-to-end tests: one operator (and a second replica)
// against a control plane and a Graph emulator of its own, driven through every kind of fault of
// Graph, the token endpoint, the API server and the process, with the promises checked at the end.
// It is a package of its own so that go test runs it beside the rest of test/e2e.
//
// Build what it runs first: make envtest build (make test does both).
package faults
