package main

import (
	"errors"
	"math"
	"os"
	"runtime/debug"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/go-logr/logr"
)

// memoryLimitRatio is the share of the container's memory limit the Go heap may grow to before the
// collector works harder to stay under it; the rest is for what the runtime does not count (the
// binary's pages, above all), as automemlimit's default.
const memoryLimitRatio = 0.9

// setMemoryLimit sizes the Go runtime from the container's memory limit when the environment does
// not: config/manager and the Helm chart set GOMEMLIMIT from limits.memory through the downward
// API, but `make demo`, `make run` or a Deployment of one's own may not. Without a limit the heap
// grows to twice what is live before a collection, which after a first sync's peak leaves a
// container near its limit or past it. The cgroup (v1 or v2) is read by automemlimit, a small,
// dependency-free library kept up with the cgroup layouts of the runtimes, rather than by code of
// our own; GOMEMLIMIT, when set, wins (AUTOMEMLIMIT=off turns this off). A process without a
// memory limit (a developer's shell) runs as before, with no limit. GOMEMLIMIT=0, which the
// runtime takes as a limit of 0 bytes (collecting without pause), is taken as unset.
func setMemoryLimit(log logr.Logger, cgroup memlimit.Provider) {
	if os.Getenv("GOMEMLIMIT") == "0" {
		log.Info("GOMEMLIMIT=0 would make the runtime collect garbage without pause; reading the container's limit instead")
		debug.SetMemoryLimit(math.MaxInt64)
		_ = os.Unsetenv("GOMEMLIMIT")
	}
	if os.Getenv("GOMEMLIMIT") != "" {
		return // the runtime has read it
	}
	limit, err := memlimit.Set(memlimit.WithRatio(memoryLimitRatio), memlimit.WithProvider(cgroup))
	switch {
	case errors.Is(err, memlimit.ErrNoLimit):
	case err != nil:
		log.Info("Could not read the container's memory limit; the Go runtime runs without one", "reason", err.Error())
	case limit > 0 && limit < math.MaxInt64:
		log.Info("GOMEMLIMIT set from the container's memory limit", "GOMEMLIMIT", limit, "ratio", memoryLimitRatio)
	}
}
