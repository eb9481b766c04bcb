package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

const mib = 1 << 20

// minResourcesForEstimate is the fewest resources from which the RSS at 10,000 is extrapolated:
// below, the fixed costs of the run (connections, buffers, the GC's headroom) swamp the part that
// grows with the resources.
const minResourcesForEstimate = 1000

// evaluate compares the figures with the targets.
func (r *Results) evaluate() {
	r.Targets = nil
	add := func(t Target) { r.Targets = append(r.Targets, t) }
	if s := r.Steady; s != nil {
		// every resource read Graph exactly once for its slot, and nothing was written
		ok := len(s.GETsByResource) == 1 && s.GETsByResource[1] > 0 && s.PATCHes == 0 && s.StatusWrites == 0
		add(Target{Name: "Steady state", Target: "exactly 1 GET, 0 PATCH, 0 status writes per resource per resync",
			Measured: fmt.Sprintf("%.3f GET, %.3f PATCH, %.3f status writes", s.GETPerResource, s.PATCHPerResource, s.StatusWritesPerResource),
			Met:      yesNo(ok)})
	}
	if f := r.FirstSync; f != nil {
		add(Target{Name: "First sync time", Target: "≤ 1.1 × throttling bound",
			Measured: fmt.Sprintf("%.2f × bound (%.2f s / %.2f s)", f.Ratio, f.ReadySeconds, f.BoundSeconds), Met: yesNo(f.Ratio <= 1.1 && f.NotReady == 0)})
		add(Target{Name: "First sync 429s", Target: "< 1% of requests",
			Measured: fmt.Sprintf("%.2f%% (%d of %d)", 100*f.ThrottledFraction, f.Throttled, f.Requests), Met: yesNo(f.ThrottledFraction < 0.01)})
	}
	if c := r.Change; c != nil {
		note := ""
		if c.IdleResources < 5000 {
			note = fmt.Sprintf("measured with %d idle resources, not 5000", c.IdleResources)
		}
		add(Target{Name: "Change → PATCH, all at once", Target: "p99 ≤ 0.5 s into an idle tenant",
			Measured: fmt.Sprintf("p99 %.3f s", c.Burst.P99), Met: yesNo(c.Burst.P99 <= 0.5 && c.Burst.Missing == 0)})
		add(Target{Name: "Change → PATCH, one at a time", Target: "p99 < 1 s with 5000 idle resources",
			Measured: fmt.Sprintf("p99 %.3f s", c.Paced.P99), Met: yesNo(c.Paced.P99 < 1 && c.Paced.Missing == 0), Note: note})
	}
	if c := r.Cost; c != nil {
		t := Target{Name: "Operator RSS", Target: "< 100 MiB with 10,000 resources"}
		switch {
		case c.Resources >= 10000:
			t.Measured, t.Met = fmt.Sprintf("%.0f MiB with %d resources", c.PeakRSSBytes/mib, c.Resources), yesNo(c.PeakRSSBytes < 100*mib)
		case c.Resources >= minResourcesForEstimate && c.IdleRSSBytes > 0:
			c.RSSAt10kBytes = c.IdleRSSBytes + (c.PeakRSSBytes-c.IdleRSSBytes)*10000/float64(c.Resources)
			t.Measured = fmt.Sprintf("%.0f MiB with %d; about %.0f MiB at 10,000 (rough linear estimate)", c.PeakRSSBytes/mib, c.Resources, c.RSSAt10kBytes/mib)
			t.Met = yesNo(c.RSSAt10kBytes < 100*mib) + " (estimate)"
			t.Note = "run with -n 10000 to measure it"
		default:
			t.Measured = fmt.Sprintf("%.0f MiB with %d", c.PeakRSSBytes/mib, c.Resources)
			t.Met, t.Note = "n/a", fmt.Sprintf("too few resources to extrapolate (%d needed); run with -n 10000 to measure it", minResourcesForEstimate)
		}
		add(t)
	}
	if rr := r.Replicas; rr != nil {
		r.replicaTargets(rr, add)
	}
	if r.Settings.Replicas <= 1 { // a -replicas run has no fairness figure
		t := Target{Name: "Fairness", Target: "small tenant not held up by a big tenant's backlog (here: at most one throttling window later than alone)",
			Met: "n/a", Note: "run with -tenants 2"}
		if f := r.Fairness; f != nil {
			t.Measured = fmt.Sprintf("%.2f s behind a backlog of %d vs %.2f s alone (window %.3g s)", f.LoadedSeconds, f.BigBacklog,
				f.AloneSeconds, r.Settings.EmulatorWindowSeconds)
			t.Met, t.Note = yesNo(fairnessMet(f, r.Settings.EmulatorWindowSeconds)), ""
		}
		add(t)
	}
}

// fairnessMet is figure 5's target as the benchmark reads it: the small tenant is Ready behind the
// big backlog at most one throttling window (in seconds) later than alone.
func fairnessMet(f *Fairness, window float64) bool {
	return f.LoadedSeconds <= f.AloneSeconds+window
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "no"
}

// markdown renders the results as the table that bench.md and docs/performance-log.md show.
func (r *Results) markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	s, m := r.Settings, r.Machine
	p("## overview-operator benchmark, %s\n\n", r.Date.Format("2006-01-02 15:04 UTC"))
	p("%d resources%s over %d tenant(s); time scale **%g×** (Intune's 20 s windows last %.3g s in the emulator and in the operator's budget); "+
		"emulator latency %.0f ms; sync interval %.0f s.  \n", s.Resources, kindMix(s), s.Tenants, s.TimeScale, s.EmulatorWindowSeconds,
		s.LatencySeconds*1000, s.SyncIntervalSeconds)
	if s.Replicas > 1 {
		p("**%d replicas** with `--sharding` (figure 8).  \n", s.Replicas)
	}
	p("Operator built from `%s`.  \n", r.Commit)
	p("Machine: %d CPUs (%s), %d MiB, Linux %s, %s, load average %s at the start.\n\n", m.CPUs, m.CPUModel, m.MemoryMiB, m.Kernel, m.Go, m.LoadAverage)

	p("| # | Figure | Measured |\n|---|---|---|\n")
	row := func(n, name, format string, args ...any) {
		p("| %s | %s | %s |\n", n, name, fmt.Sprintf(format, args...))
	}
	if f := r.FirstSync; f != nil {
		row("1", "First sync: time to all Ready", "%s%.2f s (median %.2f s; creating them took %.2f s, first Graph request after %.2f s%s)",
			atLeast(f.NotReady), f.ReadySeconds, f.ReadyP50, f.CreateSeconds, f.FirstRequestSeconds, notReady(f.NotReady))
		row("1", "Throttling bound", "%.2f s (%s)", f.BoundSeconds, f.Bound)
		row("1", "Measured / bound", "**%s%.2f**", atLeast(f.NotReady), f.Ratio)
		row("1", "Bound given when each resource was created", "%.2f s (measured / it: %s%.2f)", f.CreationBoundSeconds, atLeast(f.NotReady), f.CreationRatio)
		for _, k := range f.Kinds {
			row("1", "… of them "+k.Kind+"s", "%d, %d Ready; %d GET, %d PATCH, %d answered 429", k.Resources, k.Ready, k.GETs, k.PATCHes, k.Throttled)
		}
		row("1", "Graph requests per resource", "%.3f GET (%d of them read-backs after a PATCH, %d resyncs), %.3f PATCH",
			f.GETPerResource, f.ReadBackGETs, f.ResyncGETs, f.PATCHPerResource)
		row("1", "429 answers", "%d of %d requests (%.2f%%)", f.Throttled, f.Requests, 100*f.ThrottledFraction)
		row("1", "Status writes per resource", "%.3f", f.StatusWritesPerResource)
		row("1", "Operator passes (reconciles) per resource", "%.1f (%.1f without the resyncs' passes, two each)", f.ReconcilesPerResource, f.FirstPassesPerResource)
		if len(f.CPUShares) > 0 {
			row("1", "Cores used from the first create to the last Ready", "%s (while creating: %s)",
				formatShares(f.CPUShares), formatShares(f.CPUCreating))
		}
		if len(f.APIWrites) > 0 {
			row("1", "API server writes over the same time", "%s", formatAPIWrites(f.APIWrites))
		}
	}
	if st := r.Steady; st != nil {
		row("2", fmt.Sprintf("Steady state, one sync interval (%.0f s): requests per resource per resync", st.IntervalSeconds),
			"%.3f GET, %.3f PATCH, %d answered 429", st.GETPerResource, st.PATCHPerResource, st.Throttled)
		row("2", "Resources by GETs after their sync slot", "%s (GET p50 %.0f ms, p99 %.0f ms after the slot)",
			byCount(st.GETsByResource), st.SlotDelayP50*1000, st.SlotDelayP99*1000)
		row("2", "Status writes per resource per resync", "%.3f (%d in all)", st.StatusWritesPerResource, st.StatusWrites)
		row("2", "Operator passes (reconciles) per resource per resync", "%.1f", st.ReconcilesPerResource)
		row("2", "Operator CPU per resync", "%.2f ms (%.2f CPU s over the interval)", st.CPUMillisPerResync, st.CPUSeconds)
	}
	if c := r.Change; c != nil {
		for _, l := range []struct {
			name string
			lat  *Latency
		}{{fmt.Sprintf("Change → PATCH, %d changes at once", c.Burst.Changes), c.Burst},
			{fmt.Sprintf("Change → PATCH, %d changes one every %.0f ms", c.Paced.Changes, c.Paced.SpacingSeconds*1000), c.Paced}} {
			row("3", l.name, "p50 %.3f s, p99 **%.3f s**, max %.3f s (%d idle resources; %d status writes%s); the update's own answer p50 %.3f s, p99 %.3f s; the first GET p50 %.3f s, p99 %.3f s",
				l.lat.P50, l.lat.P99, l.lat.Max, c.IdleResources, l.lat.StatusWrites, missing(l.lat.Missing),
				l.lat.UpdateP50, l.lat.UpdateP99, l.lat.GetP50, l.lat.GetP99)
		}
	}
	if c := r.Cost; c != nil {
		row("4", "Operator peak heap", "%.0f MiB; at most %.0f MiB live after a collection (%d collections)",
			c.PeakHeapBytes/mib, c.PeakLiveHeapBytes/mib, c.GCs)
		est := ""
		if c.RSSAt10kBytes > 0 {
			est = fmt.Sprintf("; about %.0f MiB at 10,000 resources (rough linear estimate)", c.RSSAt10kBytes/mib)
		}
		row("4", "Operator peak RSS", "%.1f MiB with %d resources (%.1f MiB before any)%s", c.PeakRSSBytes/mib, c.Resources, c.IdleRSSBytes/mib, est)
		row("4", "Size of one resource (JSON)", "%.1f KiB, of which managedFields %.1f KiB", c.ObjectBytes/1024, c.ManagedFieldsBytes/1024)
		row("4", "Operator CPU", "%.1f s over %.0f s of wall time", c.CPUSeconds, c.WallSeconds)
	}
	if f := r.Fairness; f != nil {
		row("5", fmt.Sprintf("Small tenant (%d resources): time to Ready alone", f.SmallResources), "%.2f s", f.AloneSeconds)
		row("5", fmt.Sprintf("… while the big tenant has a backlog of %d", f.BigBacklog),
			"**%.2f s** (%d of the backlog Ready by then; the backlog's own bound is %.1f s)", f.LoadedSeconds, f.BigReadyMeanwhile, f.BigDrainSeconds)
	}
	if c := r.Client; c != nil {
		row("6", "Graph client, GET+PATCH pair", "%.0f µs/op, %.0f allocs/op, %.1f KiB/op", c.Client.NsPerOp/1000, c.Client.AllocsPerOp, c.Client.BytesPerOp/1024)
		row("6", "Same requests with net/http alone", "%.0f µs/op, %.0f allocs/op, %.1f KiB/op (the emulator's side is in both)",
			c.HTTP.NsPerOp/1000, c.HTTP.AllocsPerOp, c.HTTP.BytesPerOp/1024)
	}
	if a := r.APIServer; a != nil {
		for _, w := range a.Writes {
			row("7", "API server alone: "+w.Write, "%.2f ms of its CPU each; %.0f a second, 16 at once", w.CPUMillis, w.PerSecond)
		}
	}
	if rr := r.Replicas; rr != nil {
		replicaRows(rr, row)
	}

	if len(r.Targets) > 0 {
		p("\n| Target | Goal | Measured | Met |\n|---|---|---|---|\n")
		for _, t := range r.Targets {
			met := t.Met
			if t.Note != "" {
				met += " — " + t.Note
			}
			p("| %s | %s | %s | %s |\n", t.Name, t.Target, t.Measured, met)
		}
	}
	return b.String()
}

// kindMix says how many of the resources were of each kind, e.g. " (500 DeviceConfigurationUserOverviews
// + 500 DeviceConfigurationDeviceOverviews, sharing each tenant's budget)"; "" when the run stopped
// before it had any.
func kindMix(s Settings) string {
	var parts []string
	for _, k := range []struct {
		n    int
		kind kind
	}{{s.UserOverviews, userKind}, {s.DeviceOverviews, deviceKind}} {
		if k.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %ss", k.n, k.kind))
		}
	}
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return " (" + parts[0] + ")"
	}
	return " (" + strings.Join(parts, " + ") + ", sharing each tenant's budget)"
}

// byCount renders {1: 998, 2: 1, 0: 1} as "998 with 1, 1 with 2, 1 with 0", most common first.
func byCount(m map[int]int) string {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b int) int {
		if m[a] != m[b] {
			return m[b] - m[a]
		}
		return a - b
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d with %d", m[k], k)
	}
	return strings.Join(parts, ", ")
}

// atLeast marks a time that is a lower bound, when n resources were still not Ready at the timeout.
func atLeast(n int) string {
	if n == 0 {
		return ""
	}
	return "≥ "
}

// notReady says how many resources were still not Ready when the wait gave up, if any.
func notReady(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("; **%d not Ready** when the wait gave up", n)
}

func missing(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("; %d reached Ready without a PATCH", n)
}

// replicaRows are figure 8's rows.
func replicaRows(rr *ReplicaRun, row func(n, name, format string, args ...any)) {
	for _, m := range rr.Members {
		fate := "ran to the end"
		switch m.Ended {
		case "SIGKILL":
			fate = fmt.Sprintf("**killed** (SIGKILL) %.2f s after the first create; figures up to then", m.EndedSeconds)
		case "SIGTERM":
			fate = fmt.Sprintf("stopped (SIGTERM) %.2f s after the first create; figures up to then", m.EndedSeconds)
		}
		row("8", "Replica "+m.Name, "tenants owned %d at the start, %d at the end; sent for %d in the first sync (%d requests, %d PATCH); %.1f CPU s (%.1f until the kill); RSS %.1f MiB idle, %.1f MiB peak; %s",
			m.TenantsAtStart, m.TenantsAtEnd, m.TenantsSentFor, m.Requests, m.PATCHes, m.CPUSeconds, m.CPUSecondsAtKill, m.IdleRSSBytes/mib, m.PeakRSSBytes/mib, fate)
	}
	if rr.Killed != "" {
		row("8", "Replica killed half-way through the first sync", "%s at %.2f s, with %d resources Ready; lease duration %.0f s",
			rr.Killed, rr.KilledAtSeconds, rr.ReadyAtKill, rr.LeaseDurationSeconds)
		row("8", "Hand-over after SIGKILL, by tenant (s from the kill)", "%s", formatHandOvers(rr.AfterKill))
		if rr.OthersReadySeconds > 0 {
			row("8", "The first sync of the tenants the kill did not touch", "%.2f s to all Ready (%.2f × bound; %.2f × their bound given the creates)",
				rr.OthersReadySeconds, rr.OthersRatio, rr.OthersCreationRatio)
		}
	}
	if rr.Stopped != "" {
		row("8", "Replica stopped (SIGTERM) at three quarters", "%s at %.2f s, with %d resources Ready", rr.Stopped, rr.StoppedAtSeconds, rr.ReadyAtStop)
		row("8", "Hand-over after SIGTERM, by tenant (s from the signal)", "%s", formatHandOvers(rr.AfterStop))
	}
	row("8", "Two-writer moments (a replica sending for a tenant again after another had)", "**%d** (in %d tenants); %d hand-overs between live replicas", rr.TwoWriterMoments, rr.TwoWriterTenants, rr.LiveMoves)
	row("8", "Duplicate PATCHes in the first sync", "%d", rr.DuplicatePATCHes)
	unnamed := ""
	if rr.Unnamed > 0 {
		unnamed = fmt.Sprintf("; **%d Graph requests without the replica header**", rr.Unnamed)
	}
	row("8", "CPU spread between the replicas", "%.2f× (most over fewest CPU seconds, until the kill)%s", rr.CPUSpread, unnamed)
}

// formatHandOvers lists each tenant's hand-over: claimed, first request and completion, in seconds,
// and its 429s.
func formatHandOvers(hs []HandOver) string {
	secs := func(s float64) string {
		if s < 0 {
			return "—"
		}
		return fmt.Sprintf("%.2f", s)
	}
	parts := make([]string, len(hs))
	for i, h := range hs {
		pending := ""
		if h.Pending > 0 {
			pending = fmt.Sprintf(", %d left", h.Pending)
		}
		throttled := ""
		if h.Throttled > 0 {
			throttled = fmt.Sprintf(", **%d answered 429**", h.Throttled)
		}
		parts[i] = fmt.Sprintf("%s%s: claimed %s (%s), first request %s (%s), all Ready %s%s",
			shortTenant(h.Tenant), pending, secs(h.ClaimSeconds), shortReplica(h.ClaimedBy), secs(h.FirstRequestSeconds), shortReplica(h.FirstRequestBy),
			secs(h.CompleteSeconds), throttled)
	}
	return strings.Join(parts, "; ")
}

// shortTenant is a bench tenant's id as its number, "t3" for 00000004-7e7e-…; other ids whole.
func shortTenant(id string) string {
	var n int
	if _, err := fmt.Sscanf(id, "%08x-7e7e-", &n); err == nil && n > 0 {
		return fmt.Sprintf("t%d", n-1)
	}
	return id
}

// shortReplica is a replica's name as its number, "r2" for bench-replica-2; "—" for none.
func shortReplica(name string) string {
	if name == "" {
		return "—"
	}
	if n, ok := strings.CutPrefix(name, "bench-replica-"); ok {
		return "r" + n
	}
	return name
}

// replicaTargets are the targets for several replicas.
func (r *Results) replicaTargets(rr *ReplicaRun, add func(Target)) {
	add(Target{Name: "Two writers of one tenant", Target: "0 moments", Measured: fmt.Sprintf("%d", rr.TwoWriterMoments), Met: yesNo(rr.TwoWriterMoments == 0)})
	add(Target{Name: "Duplicate PATCHes with a replica killed", Target: "0", Measured: fmt.Sprintf("%d", rr.DuplicatePATCHes), Met: yesNo(rr.DuplicatePATCHes == 0)})
	if rr.Killed != "" {
		worst, never := 0.0, false
		for _, h := range rr.AfterKill {
			if h.Pending > 0 && h.FirstRequestSeconds < 0 {
				never = true
			}
			worst = max(worst, h.FirstRequestSeconds)
		}
		t := Target{Name: "Hand-over after SIGKILL", Target: "a killed replica's tenants resume within the lease duration + 5 s",
			Measured: fmt.Sprintf("first request %.2f s after the kill at the latest (lease %.0f s)", worst, rr.LeaseDurationSeconds),
			Met:      yesNo(!never && worst <= rr.LeaseDurationSeconds+5)}
		if never {
			t.Measured += "; a tenant with resources left never resumed"
		}
		add(t)
	}
	if rr.Stopped != "" {
		worst, throttled := 0.0, 0
		for _, h := range rr.AfterStop {
			worst, throttled = max(worst, h.FirstRequestSeconds), throttled+h.Throttled
		}
		add(Target{Name: "Hand-over after SIGTERM (a rollout)", Target: "within seconds, and no 429",
			Measured: fmt.Sprintf("first request %.2f s after the signal at the latest; %d answered 429", worst, throttled),
			Met:      yesNo(worst <= 5 && throttled == 0), Note: "5 s taken as \"seconds\""})
	}
	if rr.CPUSpread > 0 {
		add(Target{Name: "CPU spread between replicas", Target: "within 1.5×", Measured: fmt.Sprintf("%.2f× (CPU seconds from their start to the kill)", rr.CPUSpread),
			Met: yesNo(rr.CPUSpread <= 1.5)})
	}
}

// logReplicas prints figure 8's gist.
func logReplicas(rr *ReplicaRun) {
	for _, m := range rr.Members {
		logf("%s: tenants %d → %d, sent for %d; %.1f CPU s, peak RSS %.1f MiB %s", m.Name, m.TenantsAtStart, m.TenantsAtEnd, m.TenantsSentFor,
			m.CPUSeconds, m.PeakRSSBytes/mib, m.Ended)
	}
	if rr.Killed != "" {
		logf("After killing %s: %s", rr.Killed, formatHandOvers(rr.AfterKill))
	}
	if rr.Stopped != "" {
		logf("After stopping %s: %s", rr.Stopped, formatHandOvers(rr.AfterStop))
	}
	logf("%d two-writer moments, %d hand-overs between live replicas, %d duplicate PATCHes, %d requests without the replica header",
		rr.TwoWriterMoments, rr.LiveMoves, rr.DuplicatePATCHes, rr.Unnamed)
}
