package main

import (
	"errors"
	"math"
	"runtime/debug"
	"testing"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/go-logr/logr"
)

// TestSetMemoryLimit: the Go runtime's limit is the container's less room for the binary's pages
// when the environment sets none, what GOMEMLIMIT says when it does, and none without a container
// limit; GOMEMLIMIT=0 does not stop the start (it would leave a limit of 0 bytes).
func TestSetMemoryLimit(t *testing.T) {
	const mib = 1 << 20
	cases := map[string]struct {
		gomemlimit, automemlimit string
		cgroup                   memlimit.Provider
		want                     int64
	}{
		"a container limit, no GOMEMLIMIT": {cgroup: memlimit.Limit(256 * mib), want: 224 * mib},
		"GOMEMLIMIT set by hand": {gomemlimit: "268435456", cgroup: memlimit.Limit(512 * mib),
			want: math.MaxInt64}, // the runtime read it at start; this test's process started without
		"GOMEMLIMIT=0 is taken as unset":   {gomemlimit: "0", cgroup: memlimit.Limit(256 * mib), want: 224 * mib},
		"no container limit":               {cgroup: func() (uint64, error) { return 0, memlimit.ErrNoLimit }, want: math.MaxInt64},
		"AUTOMEMLIMIT=off":                 {automemlimit: "off", cgroup: memlimit.Limit(256 * mib), want: math.MaxInt64},
		"the cgroup cannot be read":        {cgroup: func() (uint64, error) { return 0, errUnreadable }, want: math.MaxInt64},
		"GOMEMLIMIT=0, no container limit": {gomemlimit: "0", cgroup: func() (uint64, error) { return 0, memlimit.ErrNoLimit }, want: math.MaxInt64},
	}
	was := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(was) })
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			debug.SetMemoryLimit(math.MaxInt64)
			t.Setenv("GOMEMLIMIT", c.gomemlimit)
			if c.automemlimit != "" {
				t.Setenv("AUTOMEMLIMIT", c.automemlimit)
			}
			setMemoryLimit(logr.Discard(), c.cgroup)
			if got := debug.SetMemoryLimit(-1); got != c.want {
				t.Errorf("memory limit %d, want %d", got, c.want)
			}
		})
	}
}

// TestGoMemoryLimit: the runtime leaves the container 32 MiB or 10% of its limit, whichever is
// more, and never takes less than half of it.
func TestGoMemoryLimit(t *testing.T) {
	const mib = 1 << 20
	for limit, want := range map[uint64]uint64{
		40 * mib:   20 * mib, // half: 8 MiB would leave the collector no pause
		64 * mib:   32 * mib,
		96 * mib:   64 * mib,
		256 * mib:  224 * mib,
		320 * mib:  288 * mib, // 10% is 32 MiB
		1024 * mib: 1024*mib - 1024*mib/10,
		0:          0,
	} {
		if got := goMemoryLimit(limit); got != want {
			t.Errorf("goMemoryLimit(%d MiB) = %d MiB, want %d MiB", limit/mib, got/mib, want/mib)
		}
	}
}

var errUnreadable = errors.New("no /sys/fs/cgroup")
