// Package testutil holds the helpers that more than one of overview-operator's test suites needs:
// a namespace for each test, kubectl in a spec (internal/kubectl's runner, failing the spec when
// kubectl fails) and as an envtest control plane's administrator, a self-signed client
// certificate, and the lists of values that the CRDs and the operator are both tested against. It
// knows nothing of the process harness (internal/localenv): a suite passes it the client, the
// envtest environment or the kubectl it has. Reading a metric is internal/metricstest's, which the
// benchmark's program uses too and so must not bring Ginkgo's flags with it.
package testutil
