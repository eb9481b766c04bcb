// Package graphclient holds the benchmark of the Graph client alone, a GET+PATCH pair against the
// in-process emulator (`go test -bench . ./hack/bench/graphclient`), which `make bench` runs and
// reports as figure 6. It has no code of its own outside its tests.
package graphclient
