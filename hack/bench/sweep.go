package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// sweepTimeScale is every sweep entry's time scale: the one its targets were set at.
const sweepTimeScale = 5

// sweepEntry is one configuration of the sweep, and the ratio its first sync should stay within.
type sweepEntry struct {
	label        string
	what         string // what the entry shows, for the log
	n, tenants   int
	latency      time.Duration
	syncInterval time.Duration // 0: the default, 10 min / sweepTimeScale = 120 s
	target       float64       // the first sync should take at most target × its throttling bound
}

// sweepEntries are the sweep's configurations, in the order they run. The latency is not scaled
// with the window, so at 5× 20 ms weighs against a window what 100 ms weighs at Graph's own pace,
// and 300 ms what 1.5 s would: the higher latencies get a looser target.
var sweepEntries = []sweepEntry{
	{label: "lat20-t1", what: "1000 resources at 20 ms", n: 1000, tenants: 1, latency: 20 * time.Millisecond, target: 1.05},
	{label: "lat20-t2", what: "1000 resources over 2 tenants at 20 ms", n: 1000, tenants: 2, latency: 20 * time.Millisecond, target: 1.05},
	{label: "lat100-t1", what: "1000 resources at 100 ms", n: 1000, tenants: 1, latency: 100 * time.Millisecond, target: 1.10},
	{label: "lat100-t2", what: "1000 resources over 2 tenants at 100 ms", n: 1000, tenants: 2, latency: 100 * time.Millisecond, target: 1.10},
	{label: "lat300-t1", what: "1000 resources at 300 ms", n: 1000, tenants: 1, latency: 300 * time.Millisecond, target: 1.10},
	{label: "lat300-t2", what: "1000 resources over 2 tenants at 300 ms", n: 1000, tenants: 2, latency: 300 * time.Millisecond, target: 1.10},
	// The line of writes (about 160 s) outlasts the sync interval (120 s): resources PATCHed early
	// come up for their resync while the line still drains.
	{label: "drain4000", what: "4000 resources, a line of writes longer than the sync interval", n: 4000, tenants: 1,
		latency: 20 * time.Millisecond, target: 1.05},
	// A line of about 36 s against a 20 s interval: the resources PATCHed first resync once or
	// twice before the last is Ready.
	{label: "drain1000-si10s", what: "1000 resources, a line of writes more than three sync intervals long", n: 1000, tenants: 1,
		latency: 20 * time.Millisecond, syncInterval: 10 * time.Second, target: 1.05},
	// Eight tenants' lines run side by side, each of 250 PATCHes (3 windows).
	{label: "tenants8", what: "8 tenants × 250 resources at 100 ms", n: 2000, tenants: 8, latency: 100 * time.Millisecond, target: 1.10},
}

// sweepLabels lists the entries' labels, comma-separated, for -sweep-only's help.
func sweepLabels() string {
	labels := make([]string, len(sweepEntries))
	for i, e := range sweepEntries {
		labels[i] = e.label
	}
	return strings.Join(labels, ",")
}

// validateSweep checks the sweep's flags.
func (c *config) validateSweep() error {
	if c.sweepScale <= 0 || c.sweepScale > 1 {
		return fmt.Errorf("-sweep-scale must be above 0 and at most 1, not %v", c.sweepScale)
	}
	if !c.sweep && (c.sweepOnly != "" || c.sweepScale != 1) {
		return errors.New("-sweep-only and -sweep-scale need -sweep")
	}
	_, err := c.sweepSelection()
	return err
}

// sweepSelection is the entries -sweep-only names (all without it), in the sweep's order, with n
// scaled by -sweep-scale.
func (c *config) sweepSelection() ([]sweepEntry, error) {
	want := map[string]bool{}
	for l := range strings.SplitSeq(c.sweepOnly, ",") {
		if l = strings.TrimSpace(l); l != "" {
			want[l] = true
		}
	}
	var out []sweepEntry
	for _, e := range sweepEntries {
		if len(want) > 0 && !want[e.label] {
			continue
		}
		// At least 10, and one per tenant: a smoke run still has every tenant and a line of writes.
		e.n = max(10, e.tenants, int(math.Round(float64(e.n)*c.sweepScale)))
		out = append(out, e)
	}
	var unknown []string
	for l := range want {
		if !slices.ContainsFunc(sweepEntries, func(e sweepEntry) bool { return e.label == l }) {
			unknown = append(unknown, l)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return nil, fmt.Errorf("-sweep-only: no entry %s (the entries: %s)", strings.Join(unknown, ", "), sweepLabels())
	}
	return out, nil
}

// config is the entry's run: the command line's root, operator flags and workers, the entry's own
// size, latency and intervals, figures 1 and 5 alone, results in -out/<label>.
func (e sweepEntry) config(base config) config {
	c := base
	c.sweep, c.sweepOnly = false, ""
	c.n, c.tenants, c.latency, c.timeScale = e.n, e.tenants, e.latency, sweepTimeScale
	c.syncInterval = e.syncInterval
	if c.syncInterval == 0 {
		c.syncInterval = defaultSyncInterval(sweepTimeScale)
	}
	c.changes = min(base.changes, e.n)
	c.firstSyncOnly, c.clientBench, c.apiServerBench = true, false, false
	c.out = filepath.Join(base.out, e.label)
	return c
}

// Sweep is sweep.json: where and when the sweep ran, and each entry's figures.
type Sweep struct {
	Date    time.Time `json:"date"`
	Commit  string    `json:"commit"`
	Machine Machine   `json:"machine"`
	// Scale is -sweep-scale: below 1, a smoke run whose ratios say little.
	Scale float64 `json:"sweepScale"`
	// DeviceShare is -device-overviews: the share of each entry's resources that are
	// DeviceConfigurationDeviceOverviews.
	DeviceShare float64      `json:"deviceOverviews,omitempty"`
	Entries     []SweepEntry `json:"entries"`
}

// SweepEntry is one entry's settings and results; its full Results are in <label>/bench.json.
type SweepEntry struct {
	Label                 string  `json:"label"`
	Resources             int     `json:"resources"`
	Tenants               int     `json:"tenants"`
	LatencySeconds        float64 `json:"latencySeconds"`
	TimeScale             float64 `json:"timeScale"`
	SyncIntervalSeconds   float64 `json:"syncIntervalSeconds"`
	EmulatorWindowSeconds float64 `json:"emulatorWindowSeconds"`
	// RatioTarget is the entry's target: time to all Ready ≤ RatioTarget × bound.
	RatioTarget float64 `json:"ratioTarget"`
	// RatioMet and FairnessMet are "yes", "no", or "n/a" when not measured.
	RatioMet    string     `json:"ratioMet"`
	FairnessMet string     `json:"fairnessMet"`
	FirstSync   *FirstSync `json:"firstSync,omitempty"`
	Fairness    *Fairness  `json:"fairness,omitempty"`
	// WallSeconds is the entry's whole run, environment included.
	WallSeconds float64 `json:"wallSeconds"`
	Error       string  `json:"error,omitempty"`
}

// runSweep runs the selected entries one after the other, each in an environment of its own, and
// rewrites sweep.md and sweep.json after each so that an interrupted sweep keeps what it measured.
// An entry that fails is recorded and the sweep goes on; the error lists the failed entries.
func runSweep(ctx context.Context, c config) error {
	entries, err := c.sweepSelection()
	if err != nil {
		return err
	}
	sw := &Sweep{Date: time.Now().UTC().Truncate(time.Second), Commit: commit(c.root), Machine: machine(), Scale: c.sweepScale,
		DeviceShare: c.deviceShare}
	var failed []string
	for i, e := range entries {
		if ctx.Err() != nil {
			break
		}
		logf("Sweep %d/%d, %s: %s (n %d, %d tenant(s), latency %v)", i+1, len(entries), e.label, e.what, e.n, e.tenants, e.latency)
		row := runSweepEntry(ctx, c, e)
		if row.Error != "" {
			failed = append(failed, e.label)
		}
		sw.Entries = append(sw.Entries, row)
		if err := writeSweep(c.out, sw); err != nil {
			return err
		}
	}
	os.Stdout.WriteString("\n" + sw.markdown())
	logf("Wrote %s/sweep.md and %s/sweep.json", c.out, c.out)
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case len(failed) > 0:
		return fmt.Errorf("sweep entries failed: %s (see sweep.json)", strings.Join(failed, ", "))
	}
	return nil
}

// runSweepEntry runs one entry as `run` runs the figures, writes its results to -out/<label> and
// its picture to -out/firstsync-<label>.svg, and returns its row.
func runSweepEntry(ctx context.Context, base config, e sweepEntry) SweepEntry {
	ec := e.config(base)
	row := SweepEntry{Label: e.label, Resources: e.n, Tenants: e.tenants, LatencySeconds: e.latency.Seconds(),
		TimeScale: ec.timeScale, SyncIntervalSeconds: ec.syncInterval.Seconds(), RatioTarget: e.target}
	start := time.Now()
	if err := os.MkdirAll(ec.out, 0o755); err != nil {
		row.Error = err.Error()
		return row
	}
	res, err := run(ctx, ec)
	row.WallSeconds = time.Since(start).Seconds()
	if err != nil {
		row.Error = err.Error()
		logf("Sweep entry %s failed: %s", e.label, firstLine(row.Error))
	}
	if res == nil {
		return row
	}
	row.FirstSync, row.Fairness = res.FirstSync, res.Fairness
	row.EmulatorWindowSeconds = res.Settings.EmulatorWindowSeconds
	row.judge()
	if err := writeResults(ec.out, res); err != nil {
		logf("Could not write %s's results: %v", e.label, err)
	}
	if res.FirstSync != nil {
		path := filepath.Join(base.out, "firstsync-"+e.label+".svg")
		if err := os.WriteFile(path, firstSyncSVG(res), 0o644); err != nil {
			logf("Could not write %s: %v", path, err)
		}
	}
	return row
}

// judge fills in whether the entry met its targets. A first sync that timed out did not, whatever
// its ratio (a lower bound then).
func (r *SweepEntry) judge() {
	r.RatioMet, r.FairnessMet = "n/a", "n/a"
	if f := r.FirstSync; f != nil && (f.BoundSeconds > 0 || f.NotReady > 0) {
		r.RatioMet = yesNo(f.NotReady == 0 && f.Ratio <= r.RatioTarget)
	}
	if f := r.Fairness; f != nil {
		r.FairnessMet = yesNo(fairnessMet(f, r.EmulatorWindowSeconds))
	}
}

// writeSweep writes sweep.md and sweep.json to dir.
func writeSweep(dir string, sw *Sweep) error {
	data, err := json.MarshalIndent(sw, "", "  ")
	if err != nil {
		return err
	}
	return errors.Join(os.WriteFile(filepath.Join(dir, "sweep.json"), append(data, '\n'), 0o644),
		os.WriteFile(filepath.Join(dir, "sweep.md"), []byte(sw.markdown()), 0o644))
}

// markdown renders the sweep as one table, with the entries that failed listed under it.
func (sw *Sweep) markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	m := sw.Machine
	p("## overview-operator first-sync sweep, %s\n\n", sw.Date.Format("2006-01-02 15:04 UTC"))
	p("Each entry in a fresh control plane, emulator and operator; first sync and (2+ tenants) fairness only; "+
		"time scale %d×. Operator built from `%s`.  \n", sweepTimeScale, sw.Commit)
	p("Machine: %d CPUs (%s), %d MiB, Linux %s, %s, load average %s at the start.\n\n", m.CPUs, m.CPUModel, m.MemoryMiB, m.Kernel, m.Go, m.LoadAverage)
	if sw.Scale != 1 {
		p("**Resources scaled by %g (-sweep-scale): a smoke run of the sweep, not a measurement against the targets.**\n\n", sw.Scale)
	}
	if sw.DeviceShare > 0 {
		p("A share of %g of each entry's resources (in each tenant) are DeviceConfigurationDeviceOverviews, the rest DeviceConfigurationUserOverviews (-device-overviews); each entry's bench.md counts them.\n\n", sw.DeviceShare)
	}
	p("| Entry | n | Tenants | Latency | Sync interval | First sync | Bound | Ratio | Target | Met | 429s | Passes / resource (without resyncs) | Ratio given the creates | Small tenant alone | Behind the backlog | Met |\n")
	p("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range sw.Entries {
		p("| %s | %d | %d | %.0f ms | %.0f s | %s | %s |\n", r.Label, r.Resources, r.Tenants, r.LatencySeconds*1000,
			r.SyncIntervalSeconds, r.firstSyncCells(), r.fairnessCells())
	}
	var failed []string
	for _, r := range sw.Entries {
		if r.Error != "" {
			failed = append(failed, fmt.Sprintf("- %s: %s", r.Label, firstLine(r.Error)))
		}
	}
	if len(failed) > 0 {
		p("\nFailed (the whole error is in sweep.json):\n\n%s\n", strings.Join(failed, "\n"))
	}
	return b.String()
}

// firstSyncCells are the row's first-sync columns: time, bound, ratio, target, met, 429s, passes.
func (r SweepEntry) firstSyncCells() string {
	f := r.FirstSync
	if f == nil {
		return fmt.Sprintf("— | — | — | ≤ %.2f | n/a | — | — | —", r.RatioTarget)
	}
	took := fmt.Sprintf("%.2f s", f.ReadySeconds)
	if f.NotReady > 0 {
		took = fmt.Sprintf("≥ %.2f s (**%d not Ready**)", f.ReadySeconds, f.NotReady)
	}
	ratio := "—" // no request reached Graph: no bound to divide by
	if f.BoundSeconds > 0 {
		ratio = fmt.Sprintf("**%s%.2f**", atLeast(f.NotReady), f.Ratio)
	}
	return fmt.Sprintf("%s | %.2f s | %s | ≤ %.2f | %s | %.2f%% | %.1f (%.1f) | %s%.2f (%.2f s)", took, f.BoundSeconds, ratio, r.RatioTarget,
		r.RatioMet, 100*f.ThrottledFraction, f.ReconcilesPerResource, f.FirstPassesPerResource, atLeast(f.NotReady), f.CreationRatio, f.CreationBoundSeconds)
}

// fairnessCells are the row's fairness columns: the small tenant alone, behind the backlog, met.
func (r SweepEntry) fairnessCells() string {
	f := r.Fairness
	if f == nil {
		return "— | — | n/a"
	}
	return fmt.Sprintf("%.2f s | %.2f s (backlog %d) | %s", f.AloneSeconds, f.LoadedSeconds, f.BigBacklog, r.FairnessMet)
}

// firstLine is s up to its first newline: an error's operator log stays in sweep.json.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
