// Package apiserver measures what the writes of a first sync cost the local control plane's API
// server, on its own: creating a DeviceConfigurationUserOverview, writing its status as the
// operator does, changing its spec, and recording an event. The figures say how much of the API
// server's time (and of the machine's cores, which the benchmark's control plane shares with the
// operator) a first sync's creates and reports need, whatever the operator does. Run with
//
//	go test -run '^$' -bench . -benchtime 1000x ./hack/bench/apiserver
//
// Each benchmark reports apiserver-ms/op: the kube-apiserver process's CPU time (user + system,
// from /proc) per operation; ns/op is the wall time over the operations, 16 of them in flight at
// once: the inverse of the API server's throughput.
package apiserver
