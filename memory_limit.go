package main

import (
	"errors"
	"math"
	"os"
	"runtime/debug"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/go-logr/logr"
)

// What of the container's memory limit the Go runtime leaves to what it does not count: the
// binary's pages above all, which the kernel charges to the container as they are read and evicts
// again when the container is at its limit. The operator keeps about 27 MiB of them resident (its
// file-backed RSS, measured with 10,000 resources); evicted, they are read back from disk at
// the next call into them. So the runtime's limit is the container's less the larger of 10% and
// binaryReserve, but never less than half the container's: in a container that small the heap
// would otherwise get next to nothing, and the collector would run without pause.
const binaryReserve = 32 << 20

// goMemoryLimit is the Go runtime's memory limit in a container limited to limit bytes.
func goMemoryLimit(limit uint64) uint64 {
	reserve := max(limit/10, binaryReserve)
	return max(limit-min(reserve, limit), limit/2)
}

// setMemoryLimit sizes the Go runtime from the container's memory limit (goMemoryLimit). Without
// a limit the heap grows to twice what is live before a collection, which after a first sync's
// peak leaves a container near its limit or past it; with the container's whole limit as the
// runtime's (what the manifests once set through the downward API), the heap crowds the binary's
// pages out of the container, and every call into them reads the disk: measured with 10,000
// resources in a 96 MiB container, docs/performance-log.md "The Go runtime's limit and the
// binary's pages". The cgroup (v1 or v2) is read by automemlimit, a small, dependency-free library
// kept up with the cgroup layouts of the runtimes, rather than by code of our own. GOMEMLIMIT,
// when set, wins (AUTOMEMLIMIT=off turns this off). A process without a memory limit (a
// developer's shell) runs as before, with no limit. GOMEMLIMIT=0, which the runtime takes as a
// limit of 0 bytes (collecting without pause), is taken as unset.
func setMemoryLimit(log logr.Logger, cgroup memlimit.Provider) {
	if os.Getenv("GOMEMLIMIT") == "0" {
		log.Info("GOMEMLIMIT=0 would make the runtime collect garbage without pause; reading the container's limit instead")
		debug.SetMemoryLimit(math.MaxInt64)
		_ = os.Unsetenv("GOMEMLIMIT")
	}
	if os.Getenv("GOMEMLIMIT") != "" {
		return // the runtime has read it
	}
	var container uint64
	provider := func() (uint64, error) {
		limit, err := cgroup()
		if err != nil {
			return 0, err
		}
		container = limit
		return goMemoryLimit(limit), nil
	}
	limit, err := memlimit.Set(memlimit.WithRatio(1), memlimit.WithProvider(provider))
	switch {
	case errors.Is(err, memlimit.ErrNoLimit):
	case err != nil:
		log.Info("Could not read the container's memory limit; the Go runtime runs without one", "reason", err.Error())
	case limit > 0 && limit < math.MaxInt64:
		log.Info("GOMEMLIMIT set from the container's memory limit", "GOMEMLIMIT", limit, "containerLimit", container)
	}
}
