package main

import (
	"testing"
	"time"

	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

func TestCreationBound(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	at := func(ms ...int) []time.Time {
		var ts []time.Time
		for _, m := range ms {
			ts = append(ts, t0.Add(time.Duration(m)*time.Millisecond))
		}
		return ts
	}
	a, c := tenant{id: "a"}, tenant{id: "c"}
	tests := map[string]struct {
		rs      []resource
		created []time.Time
		want    time.Duration
	}{
		"all at once: the third waits a window": {
			rs: []resource{{tenant: a}, {tenant: a}, {tenant: a}}, created: at(0, 0, 0),
			want: 1000*time.Millisecond + 2*10*time.Millisecond,
		},
		"created late: the creation sets it": {
			rs: []resource{{tenant: a}, {tenant: a}, {tenant: a}}, created: at(0, 0, 1500),
			want: 1500*time.Millisecond + 2*10*time.Millisecond,
		},
		"spread creates: each window follows the one before": {
			rs: []resource{{tenant: a}, {tenant: a}, {tenant: a}, {tenant: a}}, created: at(0, 400, 500, 600),
			want: 1400*time.Millisecond + 2*10*time.Millisecond,
		},
		"tenants are paced apart": {
			rs: []resource{{tenant: a}, {tenant: c}, {tenant: a}, {tenant: c}}, created: at(0, 100, 200, 300),
			want: 300*time.Millisecond + 2*10*time.Millisecond,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			b := &bench{cfg: config{latency: 10 * time.Millisecond},
				limits: graphtest.Limits{Window: time.Second, AppWrites: 2, TenantWrites: 2}}
			if got := b.creationBound(tc.rs, tc.created, t0); got != tc.want {
				t.Errorf("creationBound = %v, want %v", got, tc.want)
			}
		})
	}
}
