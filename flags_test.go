package main

import (
	"flag"
	"io"
	"strings"
	"testing"
)

// TestFlagsValidate parses the operator's command line as main does and validates it: every
// setting with which the operator could not work stops it at start with a message naming the
// flag, the value it was given and why, and the defaults and workable edges start.
func TestFlagsValidate(t *testing.T) {
	cases := map[string]struct {
		args  []string
		want  []string // substrings of the error; none: valid
		lines int      // lines of the error, when it refuses several flags
	}{
		"the defaults": {},
		"the least request budget a write fits in":                          {args: []string{"--graph-requests-per-window=3", "--graph-writes-per-window=1"}},
		"a request budget above the write budget":                           {args: []string{"--graph-requests-per-window=200", "--graph-writes-per-window=20"}},
		"the least tenant budget a write fits in":                           {args: []string{"--graph-tenant-requests-per-window=3", "--graph-tenant-writes-per-window=1"}},
		"a tenant budget below its apps' own, for other apps of the tenant": {args: []string{"--graph-tenant-requests-per-window=500", "--graph-tenant-writes-per-window=50"}},
		"short intervals, as the end-to-end tests run": {args: []string{"--sync-interval=1s", "--graph-timeout=1s",
			"--retry-base-delay=100ms", "--retry-max-delay=2s", "--credentials-retry=500ms", "--graph-budget-window=2s"}},
		"equal retry delays":                {args: []string{"--retry-base-delay=5s", "--retry-max-delay=5s"}},
		"no graceful shutdown":              {args: []string{"--graceful-shutdown-timeout=0"}},
		"a graceful shutdown without limit": {args: []string{"--graceful-shutdown-timeout=-1s"}},

		"a request budget one write does not fit in": {args: []string{"--graph-requests-per-window=2"},
			want: []string{"--graph-requests-per-window must be at least 3, not 2", "no write could ever start"}},
		"a request budget of one":   {args: []string{"--graph-requests-per-window=1"}, want: []string{"--graph-requests-per-window must be at least 3, not 1"}},
		"no request budget":         {args: []string{"--graph-requests-per-window=0"}, want: []string{"--graph-requests-per-window must be at least 3, not 0"}},
		"a negative request budget": {args: []string{"--graph-requests-per-window=-5"}, want: []string{"--graph-requests-per-window must be at least 3, not -5"}},
		"no write budget":           {args: []string{"--graph-writes-per-window=0"}, want: []string{"--graph-writes-per-window must be at least 1, not 0"}},
		"a negative write budget":   {args: []string{"--graph-writes-per-window=-1"}, want: []string{"--graph-writes-per-window must be at least 1, not -1"}},
		"a tenant request budget one write does not fit in": {args: []string{"--graph-tenant-requests-per-window=2"},
			want: []string{"--graph-tenant-requests-per-window must be at least 3, not 2", "no write could ever start"}},
		"no tenant request budget": {args: []string{"--graph-tenant-requests-per-window=0"}, want: []string{"--graph-tenant-requests-per-window must be at least 3, not 0"}},
		"no tenant write budget":   {args: []string{"--graph-tenant-writes-per-window=0"}, want: []string{"--graph-tenant-writes-per-window must be at least 1, not 0"}},
		"a negative tenant write budget": {args: []string{"--graph-tenant-writes-per-window=-1"},
			want: []string{"--graph-tenant-writes-per-window must be at least 1, not -1"}},
		"no budget window":         {args: []string{"--graph-budget-window=0"}, want: []string{"--graph-budget-window must be a positive duration, not 0s"}},
		"a negative budget window": {args: []string{"--graph-budget-window=-20s"}, want: []string{"--graph-budget-window must be a positive duration, not -20s"}},
		"no Graph call in flight":  {args: []string{"--graph-max-in-flight=0"}, want: []string{"--graph-max-in-flight must be at least 1, not 0"}},
		"no Graph timeout":         {args: []string{"--graph-timeout=0s"}, want: []string{"--graph-timeout must be a positive duration, not 0s"}},
		"a negative Graph timeout": {args: []string{"--graph-timeout=-1s"}, want: []string{"--graph-timeout must be a positive duration, not -1s"}},
		"no sync interval":         {args: []string{"--sync-interval=0"}, want: []string{"--sync-interval must be a positive duration, not 0s"}},
		"a negative sync interval": {args: []string{"--sync-interval=-10m"}, want: []string{"--sync-interval must be a positive duration, not -10m0s"}},
		"no workers":               {args: []string{"--max-concurrent-reconciles=0"}, want: []string{"--max-concurrent-reconciles must be at least 1, not 0"}},
		"negative workers":         {args: []string{"--max-concurrent-reconciles=-4"}, want: []string{"--max-concurrent-reconciles must be at least 1, not -4"}},
		"no retry delay":           {args: []string{"--retry-base-delay=0"}, want: []string{"--retry-base-delay must be a positive duration, not 0s"}},
		"no longest retry delay":   {args: []string{"--retry-max-delay=0"}, want: []string{"--retry-max-delay must be a positive duration, not 0s"}},
		"a first retry longer than the longest": {args: []string{"--retry-base-delay=10m"},
			want: []string{"--retry-base-delay (10m0s) must not be longer than --retry-max-delay (5m0s)"}},
		"no credentials retry":         {args: []string{"--credentials-retry=0"}, want: []string{"--credentials-retry must be a positive duration, not 0s"}},
		"a negative credentials retry": {args: []string{"--credentials-retry=-30s"}, want: []string{"--credentials-retry must be a positive duration, not -30s"}},
		"bad leader election timings": {args: []string{"--leader-elect", "--leader-elect-renew-deadline=30s"},
			want: []string{"--leader-elect-renew-deadline (30s) must be shorter than --leader-elect-lease-duration (30s)"}},
		"sharding with its defaults":  {args: []string{"--sharding"}},
		"sharding with short timings": {args: []string{"--sharding", "--sharding-lease-duration=3s", "--sharding-renew-deadline=2s", "--sharding-retry-period=500ms"}},
		"sharding and leader election": {args: []string{"--sharding", "--leader-elect"},
			want: []string{"--sharding and --leader-elect cannot be used together"}},
		"a sharding renew deadline past the lease": {args: []string{"--sharding", "--sharding-renew-deadline=15s"},
			want: []string{"--sharding-renew-deadline (15s) must be shorter than --sharding-lease-duration (15s)"}},
		"a sharding retry period over half the deadline": {args: []string{"--sharding", "--sharding-retry-period=6s"},
			want: []string{"--sharding-retry-period (6s) must be at most half of --sharding-renew-deadline (10s)"}},
		"no sharding lease duration": {args: []string{"--sharding", "--sharding-lease-duration=0"},
			want: []string{"--sharding-lease-duration, --sharding-renew-deadline and --sharding-retry-period must be positive"}},
		"every refusal at once": {args: []string{"--graph-requests-per-window=2", "--graph-writes-per-window=0", "--graph-timeout=0"},
			want: []string{"--graph-requests-per-window", "--graph-writes-per-window", "--graph-timeout"}, lines: 3},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			fs := flag.NewFlagSet("manager", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			f, _, err := parseFlags(fs, tc.args)
			if err != nil {
				t.Fatalf("parse %v: %v", tc.args, err)
			}
			err = f.validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("%v refused: %v", tc.args, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("%v accepted", tc.args)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%v: the error %q does not say %q", tc.args, err, w)
				}
			}
			if got := strings.Count(err.Error(), "\n") + 1; tc.lines > 0 && got != tc.lines {
				t.Errorf("%v: %d lines, want one per refused flag:\n%v", tc.args, got, err)
			}
		})
	}
}
