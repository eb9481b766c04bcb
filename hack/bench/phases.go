package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"path/filepath"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/overview-operator/overview-operator/hack/bench/proc"
	"github.com/overview-operator/overview-operator/internal/schedule"
	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

// firstSync is figure 1: n drifted resources are created at once; the time until all are Ready,
// what it took of Graph and of the API server, and the least time the emulator's windows allow.
func (b *bench) firstSync(ctx context.Context) (*FirstSync, error) {
	n := len(b.main)
	logf("Figure 1: first sync of %d drifted resources over %d tenant(s)", n, len(b.tenants))
	before := b.tracker.counts()
	passes := b.reconciles()
	expected := b.boundFor(b.perTenantWrites(b.main))
	apiBefore, cpuBefore := b.apiServerMetrics(ctx), b.snapshotCPU()
	t0 := time.Now()
	endKill := func() {}
	if len(b.replicas) > 1 {
		wait := b.disrupt(ctx)
		endKill = func() { b.killed, b.stopped = wait() }
	}
	took, created, err := createAllAt(ctx, b.client, b.main)
	if err != nil {
		endKill()
		return nil, err
	}
	cpuCreated := b.snapshotCPU()
	logf("Created %d resources in %v; the throttling bound is about %v", n, took.Round(time.Millisecond), expected.Round(time.Millisecond))
	ready, waitErr := b.tracker.waitReady(ctx, keysOf(b.main), firstGenerations(n), b.firstSyncTimeout(expected))
	endKill()
	b.firstT0, b.firstReady, b.firstCreated = t0, ready, created
	if waitErr != nil && !errors.Is(waitErr, errNotReady) {
		return nil, waitErr
	}
	// On a timeout the figures cover the resources that were Ready, up to when the wait gave up.
	after := b.tracker.counts()
	creating, shares := cpuShares(cpuBefore, cpuCreated), cpuShares(cpuBefore, b.snapshotCPU())
	var writes []APIWrites
	if apiAfter := b.apiServerMetrics(ctx); apiBefore != nil && apiAfter != nil {
		writes = apiWrites(apiBefore, apiAfter, max(n/100, 1))
	}
	done := slices.DeleteFunc(slices.Clone(ready), time.Time.IsZero)
	last := time.Now()
	if waitErr == nil {
		last = slices.MaxFunc(ready, time.Time.Compare)
	}
	fs := &FirstSync{
		Resources:     n,
		NotReady:      n - len(done),
		CreateSeconds: took.Seconds(),
		ReadySeconds:  last.Sub(t0).Seconds(),
		ReadyP50:      percentile(sinceAll(done, t0), 50).Seconds(),
		StatusWrites:  after.statusWrites - before.statusWrites,
		WriteLimit:    b.writeLimit(),
		readyByTenant: b.readyByTenant(ready, t0),
		CPUShares:     shares,
		CPUCreating:   creating,
		APIWrites:     writes,
	}
	fs.StatusWritesPerResource = float64(fs.StatusWrites) / float64(n)
	fs.ReconcilesPerResource = passesSince(passes, b.reconciles()) / float64(n)

	reqs := b.graphLog(t0, last.Add(time.Nanosecond))
	if len(reqs) > 0 {
		fs.FirstRequestSeconds = reqs[0].Time.Sub(t0).Seconds()
	}
	patched := map[target]bool{}
	readBack := map[target]bool{} // an accepted PATCH whose read-back has not come yet
	perTenant := map[string]*classCounts{}
	for _, r := range reqs {
		if r.Status == http.StatusTooManyRequests {
			fs.Throttled++
		}
		switch r.Method {
		case http.MethodGet:
			fs.GETs++
			switch {
			case readBack[targetOf(r)]:
				fs.ReadBackGETs++
				readBack[targetOf(r)] = false
			case patched[targetOf(r)]:
				fs.ResyncGETs++ // its sync slot came before the last resource was Ready
			}
		case http.MethodPatch:
			fs.PATCHes++
			if r.Status/100 == 2 {
				patched[targetOf(r)], readBack[targetOf(r)] = true, true
			}
		}
		if !r.Throttled {
			c := perTenant[r.TenantID]
			if c == nil {
				c = &classCounts{}
				perTenant[r.TenantID] = c
			}
			c.requests++
			if r.Method != http.MethodGet {
				c.writes++
			}
		}
	}
	fs.Requests = len(reqs)
	fs.Kinds = b.kindFigures(ready, reqs)
	fs.FirstPassesPerResource = fs.ReconcilesPerResource - 2*float64(fs.ResyncGETs)/float64(n)
	fs.GETPerResource = float64(fs.GETs) / float64(n)
	fs.PATCHPerResource = float64(fs.PATCHes) / float64(n)
	fs.ThrottledFraction = float64(fs.Throttled) / float64(max(1, len(reqs)))
	bound, why := b.throttlingBound(perTenant)
	fs.BoundSeconds, fs.Bound = bound.Seconds(), why
	if bound > 0 {
		fs.Ratio = fs.ReadySeconds / fs.BoundSeconds
	}
	if cb := b.creationBound(b.main, created, t0); cb > 0 {
		fs.CreationBoundSeconds = cb.Seconds()
		fs.CreationRatio = fs.ReadySeconds / fs.CreationBoundSeconds
	}
	if err := b.writeFirstSyncLog(filepath.Join(b.cfg.out, "firstsync.csv"), created, ready); err != nil {
		logf("Could not write the first sync's log: %v", err)
	}
	logf("%d of %d Ready after %.2fs (bound %.2fs, ratio %.2f; given the creates %.2fs, ratio %.2f); %d GET, %d PATCH, %d answered 429; %d status writes",
		n-fs.NotReady, n, fs.ReadySeconds, fs.BoundSeconds, fs.Ratio, fs.CreationBoundSeconds, fs.CreationRatio,
		fs.GETs, fs.PATCHes, fs.Throttled, fs.StatusWrites)
	return fs, waitErr
}

// kindFigures splits the first sync's resources, Ready and Graph requests by kind, when the run has
// DeviceConfigurationDeviceOverviews (nil otherwise: a run of the one kind has its figures above).
func (b *bench) kindFigures(ready []time.Time, reqs []graphtest.Request) []KindFigures {
	if b.cfg.deviceShare == 0 {
		return nil
	}
	byEntity := map[string]*KindFigures{}
	out := make([]KindFigures, len(kinds))
	for i, k := range kinds {
		out[i].Kind = k.String()
		byEntity[k.entity()] = &out[i]
	}
	for i, r := range b.main {
		f := byEntity[r.kind.entity()]
		f.Resources++
		if !ready[i].IsZero() {
			f.Ready++
		}
	}
	for _, r := range reqs {
		f := byEntity[r.Entity]
		if f == nil {
			continue
		}
		switch {
		case r.Status == http.StatusTooManyRequests:
			f.Throttled++
		case r.Method == http.MethodGet:
			f.GETs++
		case r.Method == http.MethodPatch:
			f.PATCHes++
		}
	}
	return out
}

// writeFirstSyncLog writes each resource of the first sync with when its create returned and when
// it was seen Ready (empty if never), in seconds since the operator started, the clock of
// requests.csv, so that the two can be read together.
func (b *bench) writeFirstSyncLog(path string, created, ready []time.Time) error {
	return writeCSV(path, "tenant,configuration,created,ready", func(w io.Writer) {
		for i, r := range b.main {
			at := ""
			if !ready[i].IsZero() {
				at = fmt.Sprintf("%.4f", ready[i].Sub(b.started).Seconds())
			}
			fmt.Fprintf(w, "%s,%s,%.4f,%s\n", r.tenant.id, r.configID, created[i].Sub(b.started).Seconds(), at)
		}
	})
}

// firstSyncTimeout is how long figure 1 waits for every resource, given the bound of its PATCHes.
// A sweep entry waits 3 bounds rather than 5: its slow cases take minutes each, and it records the
// resources left over instead of failing.
func (b *bench) firstSyncTimeout(bound time.Duration) time.Duration {
	if b.cfg.firstSyncOnly {
		return 3*bound + 2*time.Minute
	}
	return 5*bound + 2*time.Minute
}

// readyByTenant is, for each tenant, the seconds from t0 to each of its main resources' Ready, in
// order (those not Ready left out): the series of the first sync's picture.
func (b *bench) readyByTenant(ready []time.Time, t0 time.Time) [][]float64 {
	out := make([][]float64, len(b.tenants))
	for i, r := range b.main {
		if !ready[i].IsZero() {
			out[r.tenant.index] = append(out[r.tenant.index], ready[i].Sub(t0).Seconds())
		}
	}
	for _, s := range out {
		slices.Sort(s)
	}
	return out
}

// steadyState is figure 2: with every resource synced and no drift, what one full sync interval
// costs in Graph requests, status writes and operator CPU.
//
// Each resource's routine syncs fall on a grid of its own (every interval, at a phase taken from a
// hash of its UID; internal/schedule, which the operator schedules by), so a window of one interval holds exactly one slot of
// each resource. A GET belongs to the last slot of its resource before it; the figure counts, for
// each resource, the GETs that belong to its slot in the window (waiting a little past the window
// for the passes of its last slots): 1 is right, 0 a missed resync, 2 or more a resync that read
// Graph more than once.
func (b *bench) steadyState(ctx context.Context) (*SteadyState, error) {
	b.tracker.waitQuiet(ctx, 2*time.Second, 30*time.Second)
	interval := b.cfg.syncInterval
	n := len(b.main)
	const grace = 3 * time.Second // for the passes of the slots just before the end of the window
	logf("Figure 2: steady state over one sync interval (%v) with %d resources and no drift", interval, n)
	before := b.tracker.counts()
	passes := b.reconciles()
	cpu0, _ := proc.CPUSeconds(b.op.PID())
	t0 := time.Now()
	t1 := t0.Add(interval)
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(interval):
	}
	cpu1, _ := proc.CPUSeconds(b.op.PID())
	passes = passesSince(passes, b.reconciles())
	after := b.tracker.counts()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(grace):
	}
	ss := &SteadyState{IntervalSeconds: interval.Seconds(), StatusWrites: after.statusWrites - before.statusWrites,
		GETsByResource: map[int]int{}}

	gets := map[target][]time.Time{}
	for _, r := range b.graphLog(t0, t1.Add(grace)) {
		switch {
		case r.Status == http.StatusTooManyRequests:
			ss.Throttled++
		case r.Method == http.MethodGet:
			gets[targetOf(r)] = append(gets[targetOf(r)], r.Time)
		case r.Method == http.MethodPatch && r.Time.Before(t1):
			ss.PATCHes++
		}
	}
	var delays []time.Duration
	for _, res := range b.main {
		uid := b.tracker.uid(res.ref())
		slot := schedule.Last(uid, interval, t1)
		if !slot.Before(t1) || slot.Before(t0) {
			slot = slot.Add(-interval)
		}
		k := 0
		for _, at := range gets[res.target()] {
			if !at.Before(slot) && at.Before(slot.Add(interval)) {
				if k == 0 {
					delays = append(delays, at.Sub(slot))
				}
				k++
			}
		}
		ss.GETsByResource[k]++
		ss.GETs += k
	}
	ss.GETPerResource = float64(ss.GETs) / float64(n)
	ss.PATCHPerResource = float64(ss.PATCHes) / float64(n)
	ss.StatusWritesPerResource = float64(ss.StatusWrites) / float64(n)
	ss.ReconcilesPerResource = passes / float64(n)
	ss.CPUSeconds = cpu1 - cpu0
	ss.CPUMillisPerResync = 1000 * ss.CPUSeconds / float64(max(1, ss.GETs))
	ss.SlotDelayP50 = percentile(delays, 50).Seconds()
	ss.SlotDelayP99 = percentile(delays, 99).Seconds()
	logf("%d GET, %d PATCH, %d answered 429, %d status writes; %.2f CPU seconds; resources by GETs: %v",
		ss.GETs, ss.PATCHes, ss.Throttled, ss.StatusWrites, ss.CPUSeconds, ss.GETsByResource)
	return ss, nil
}

// changeLatency is figure 3: the spec of -changes resources changes, all at once and then one at a
// time; for each, the time from the update to the emulator receiving its PATCH.
func (b *bench) changeLatency(ctx context.Context) (*ChangeLatency, error) {
	k := b.cfg.changes
	picked := make([]resource, k)
	for i := range picked {
		picked[i] = b.main[i*len(b.main)/k]
	}
	logf("Figure 3: change -> PATCH, %d changes at once, %d resources idle", k, len(b.main))
	burst, err := b.changeRun(ctx, picked, 13, 0)
	if err != nil {
		return nil, err
	}
	b.tracker.waitQuiet(ctx, time.Second, 10*time.Second)
	// The burst took a whole window's writes: wait for them to leave Graph's window, so that the
	// paced changes measure a single edit, not the end of the burst's window.
	if err := b.waitWindow(ctx); err != nil {
		return nil, err
	}
	// Half Graph's sustained write rate: the changes never queue behind each other on the budget.
	spacing := 2 * b.limits.Window / time.Duration(b.limits.AppWrites)
	logf("Figure 3: change -> PATCH, %d changes one every %v", k, spacing)
	paced, err := b.changeRun(ctx, picked, 14, spacing)
	if err != nil {
		return nil, err
	}
	return &ChangeLatency{IdleResources: len(b.main), Burst: burst, Paced: paced}, nil
}

// waitWindow waits one of Graph's windows and the operator's margin: the writes sent before it
// have left both Graph's window and the operator's count.
func (b *bench) waitWindow(ctx context.Context) error {
	select {
	case <-time.After(b.limits.Window + b.budget.Per/50):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// changeRun sets spec.overview.successCount of each resource, every spacing (all at once for 0),
// waits until each is Ready at its new generation, and measures each change's latency to the PATCH.
func (b *bench) changeRun(ctx context.Context, rs []resource, success int, spacing time.Duration) (*Latency, error) {
	k := len(rs)
	updated, answered := make([]time.Time, k), make([]time.Time, k)
	gens := make([]int64, k)
	body := fmt.Appendf(nil, `{"spec":{"overview":{"successCount":%d}}}`, success)
	change := func(i int) error {
		obj := rs[i].kind.newObject()
		obj.SetNamespace(rs[i].key.Namespace)
		obj.SetName(rs[i].key.Name)
		updated[i] = time.Now()
		if err := b.client.Patch(ctx, obj, client.RawPatch(types.MergePatchType, body)); err != nil {
			return err
		}
		answered[i] = time.Now()
		gens[i] = obj.GetGeneration()
		return nil
	}
	before := b.tracker.counts()
	start := time.Now()
	if spacing == 0 {
		if err := forEach(ctx, k, k, change); err != nil {
			return nil, err
		}
	} else {
		for i := range k {
			if err := change(i); err != nil {
				return nil, err
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Until(start.Add(time.Duration(i+1) * spacing))):
			}
		}
	}
	if _, err := b.tracker.waitReady(ctx, keysOf(rs), gens, 2*time.Minute+b.boundFor(map[string]int{"": k})*4); err != nil {
		return nil, err
	}
	after := b.tracker.counts()

	first := map[target][]time.Time{} // arrivals of accepted PATCHes by overview
	gets := map[target][]time.Time{}  // arrivals of GETs by overview
	for _, r := range b.graphLog(start, time.Now()) {
		switch {
		case r.Method == http.MethodPatch && r.Status/100 == 2:
			first[targetOf(r)] = append(first[targetOf(r)], r.Time)
		case r.Method == http.MethodGet:
			gets[targetOf(r)] = append(gets[targetOf(r)], r.Time)
		}
	}
	lat := &Latency{Changes: k, SpacingSeconds: spacing.Seconds(), StatusWrites: after.statusWrites - before.statusWrites}
	var ds, us, gs []time.Duration
	for i, r := range rs {
		us = append(us, answered[i].Sub(updated[i]))
		after := func(t time.Time) bool { return !t.Before(updated[i]) }
		if j := slices.IndexFunc(gets[r.target()], after); j >= 0 {
			gs = append(gs, gets[r.target()][j].Sub(updated[i]))
		}
		j := slices.IndexFunc(first[r.target()], after)
		if j < 0 {
			lat.Missing++
			continue
		}
		ds = append(ds, first[r.target()][j].Sub(updated[i]))
	}
	if len(ds) > 0 {
		lat.P50, lat.P99 = percentile(ds, 50).Seconds(), percentile(ds, 99).Seconds()
		lat.Max = slices.Max(ds).Seconds()
	}
	lat.UpdateP50, lat.UpdateP99 = percentile(us, 50).Seconds(), percentile(us, 99).Seconds()
	if len(gs) > 0 {
		lat.GetP50, lat.GetP99 = percentile(gs, 50).Seconds(), percentile(gs, 99).Seconds()
	}
	logf("p50 %.3fs, p99 %.3fs, max %.3fs; the update's answer p50 %.3fs, p99 %.3fs; the first GET p50 %.3fs, p99 %.3fs; %d status writes; %d without a PATCH",
		lat.P50, lat.P99, lat.Max, lat.UpdateP50, lat.UpdateP99, lat.GetP50, lat.GetP99, lat.StatusWrites, lat.Missing)
	return lat, nil
}

// smallTenantResources is how many resources the small tenant of figure 5 has.
const smallTenantResources = 10

// fairness is figure 5: the small tenant's time to Ready for smallTenantResources drifted
// resources, alone and then while the big tenant works through a backlog of -n drifted resources.
func (b *bench) fairness(ctx context.Context) (*Fairness, error) {
	big, small := b.tenants[0], b.tenants[1]
	share := b.cfg.deviceShare
	alone := newResources("fair-alone", 3, smallTenantResources, []tenant{small}, share)
	backlog := newResources("fair-big", 4, b.cfg.n, []tenant{big}, share)
	loaded := newResources("fair-small", 5, smallTenantResources, []tenant{small}, share)
	for _, rs := range [][]resource{alone, backlog, loaded} {
		seed(b.env.Emulator, rs, true)
	}
	f := &Fairness{BigBacklog: len(backlog), SmallResources: smallTenantResources}

	logf("Figure 5: the small tenant's %d drifted resources, alone", smallTenantResources)
	timeout := 2*time.Minute + 4*b.boundFor(map[string]int{"": len(backlog)})
	t0 := time.Now()
	if _, err := createAll(ctx, b.client, alone); err != nil {
		return nil, err
	}
	ready, err := b.tracker.waitReady(ctx, keysOf(alone), firstGenerations(len(alone)), timeout)
	if err != nil {
		return nil, err
	}
	f.AloneSeconds = slices.MaxFunc(ready, time.Time.Compare).Sub(t0).Seconds()
	b.tracker.waitQuiet(ctx, time.Second, 10*time.Second)

	logf("Figure 5: the big tenant's backlog of %d drifted resources, then the small tenant's %d", len(backlog), smallTenantResources)
	if _, err := createAll(ctx, b.client, backlog); err != nil {
		return nil, err
	}
	t1 := time.Now()
	if _, err := createAll(ctx, b.client, loaded); err != nil {
		return nil, err
	}
	ready, err = b.tracker.waitReady(ctx, keysOf(loaded), firstGenerations(len(loaded)), timeout)
	if err != nil {
		return nil, err
	}
	last := slices.MaxFunc(ready, time.Time.Compare)
	f.LoadedSeconds = last.Sub(t1).Seconds()
	bigReady, _ := b.tracker.readyAt(keysOf(backlog), firstGenerations(len(backlog)))
	for _, at := range bigReady {
		if !at.IsZero() && !at.After(last) {
			f.BigReadyMeanwhile++
		}
	}
	f.BigDrainSeconds = b.boundFor(map[string]int{"": len(backlog)}).Seconds()
	logf("Small tenant alone %.2fs, behind the backlog %.2fs (%d of the backlog Ready by then)",
		f.AloneSeconds, f.LoadedSeconds, f.BigReadyMeanwhile)
	return f, nil
}

// graphLog returns the emulator's Graph requests that arrived in [from, to), by arrival time.
func (b *bench) graphLog(from, to time.Time) []graphtest.Request {
	var out []graphtest.Request
	for _, r := range b.env.Emulator.Requests() {
		if r.Kind == graphtest.KindGraph && !r.Time.Before(from) && r.Time.Before(to) {
			r.Body = nil
			out = append(out, r)
		}
	}
	slices.SortStableFunc(out, func(a, c graphtest.Request) int { return a.Time.Compare(c.Time) })
	return out
}

// perTenantWrites counts the PATCHes a first sync of rs needs, by tenant, whatever their kind: the
// two kinds share the tenant's windows (throttlingBound).
func (b *bench) perTenantWrites(rs []resource) map[string]int {
	out := map[string]int{}
	for _, r := range rs {
		out[r.tenant.id]++
	}
	return out
}

// boundFor is the throttling bound of one GET and one PATCH per resource, for writes[tenant]
// resources per tenant.
func (b *bench) boundFor(writes map[string]int) time.Duration {
	per := map[string]*classCounts{}
	for t, w := range writes {
		per[t] = &classCounts{requests: 2 * w, writes: w}
	}
	d, _ := b.throttlingBound(per)
	return d
}

// passesSince is the number of passes between two readings of reconciles, 0 if either failed.
func passesSince(before, after float64) float64 {
	if before < 0 || after < 0 {
		return 0
	}
	return after - before
}

func keysOf(rs []resource) []ref {
	out := make([]ref, len(rs))
	for i, r := range rs {
		out[i] = r.ref()
	}
	return out
}

// firstGenerations is the generation of n resources just created.
func firstGenerations(n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = 1
	}
	return out
}

func sinceAll(ts []time.Time, t0 time.Time) []time.Duration {
	out := make([]time.Duration, len(ts))
	for i, t := range ts {
		out[i] = t.Sub(t0)
	}
	return out
}

// percentile is the nearest-rank percentile p (0 < p <= 100) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}
