package main

import (
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestNewResourcesSplitsKinds checks that -device-overviews gives each tenant its share of
// DeviceConfigurationDeviceOverviews, interleaved with the user ones, on configurations of their own.
func TestNewResourcesSplitsKinds(t *testing.T) {
	tests := map[string]struct {
		n, tenants int
		share      float64
		want       map[string]map[kind]int // by namespace
		firstKinds string                  // the kinds of the first tenant's first six, u or d
	}{
		"the default: user overviews only": {
			n: 10, tenants: 1, share: 0,
			want: map[string]map[kind]int{"bench-t0": {userKind: 10}}, firstKinds: "uuuuuu",
		},
		"500 + 500 in one tenant": {
			n: 1000, tenants: 1, share: 0.5,
			want: map[string]map[kind]int{"bench-t0": {userKind: 500, deviceKind: 500}}, firstKinds: "dududu",
		},
		"half in each of two tenants": {
			n: 60, tenants: 2, share: 0.5,
			want:       map[string]map[kind]int{"bench-t0": {userKind: 15, deviceKind: 15}, "bench-t1": {userKind: 15, deviceKind: 15}},
			firstKinds: "dududu",
		},
		"a quarter": {
			n: 100, tenants: 1, share: 0.25,
			want: map[string]map[kind]int{"bench-t0": {userKind: 75, deviceKind: 25}}, firstKinds: "uduuud",
		},
		"device overviews only": {
			n: 7, tenants: 1, share: 1,
			want: map[string]map[kind]int{"bench-t0": {deviceKind: 7}}, firstKinds: "dddddd",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var tenants []tenant
			for i := range tc.tenants {
				tenants = append(tenants, newTenant(i))
			}
			rs := newResources("ov", 1, tc.n, tenants, tc.share)
			got := map[string]map[kind]int{}
			configs := map[string]bool{}
			var first strings.Builder
			for _, r := range rs {
				if got[r.key.Namespace] == nil {
					got[r.key.Namespace] = map[kind]int{}
				}
				got[r.key.Namespace][r.kind]++
				configs[r.configID] = true
				if r.tenant.index == 0 && first.Len() < len(tc.firstKinds) {
					first.WriteString(map[kind]string{userKind: "u", deviceKind: "d"}[r.kind])
				}
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("resources by namespace and kind (-want +got):\n%s", d)
			}
			if first.String() != tc.firstKinds {
				t.Errorf("the first tenant's first kinds %q, want %q (interleaved)", first.String(), tc.firstKinds)
			}
			if len(configs) != tc.n {
				t.Errorf("%d configurations for %d resources: the emulator's log would not name one resource", len(configs), tc.n)
			}
		})
	}
}

// TestValidateDeviceOverviews checks that -device-overviews takes a share from 0 to 1 and refuses
// anything else with an error that names the flag.
func TestValidateDeviceOverviews(t *testing.T) {
	tests := map[string]struct {
		share float64
		ok    bool
	}{
		"0, the default":       {share: 0, ok: true},
		"half":                 {share: 0.5, ok: true},
		"all":                  {share: 1, ok: true},
		"negative":             {share: -0.1},
		"a count, not a share": {share: 500},
		"NaN":                  {share: math.NaN()},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := config{root: t.TempDir(), out: t.TempDir(), n: 1000, deviceShare: tc.share, tenants: 1,
				timeScale: 5, changes: 100, sweepScale: 1}
			err := c.validate()
			switch {
			case tc.ok && err != nil:
				t.Errorf("refused: %v", err)
			case !tc.ok && err == nil:
				t.Error("accepted")
			case !tc.ok && !strings.Contains(err.Error(), "-device-overviews"):
				t.Errorf("error %q does not name -device-overviews", err)
			}
		})
	}
}

// TestKindMix checks bench.md's header: the kinds a run measured, and that both share the budget.
func TestKindMix(t *testing.T) {
	tests := map[string]struct {
		s    Settings
		want string
	}{
		"one kind": {s: Settings{UserOverviews: 1000}, want: " (1000 DeviceConfigurationUserOverviews)"},
		"both":     {s: Settings{UserOverviews: 500, DeviceOverviews: 500}, want: " (500 DeviceConfigurationUserOverviews + 500 DeviceConfigurationDeviceOverviews, sharing each tenant's budget)"},
		"none yet": {s: Settings{}, want: ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := kindMix(tc.s); got != tc.want {
				t.Errorf("kindMix = %q, want %q", got, tc.want)
			}
		})
	}
}
