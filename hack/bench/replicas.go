package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/overview-operator/overview-operator/hack/bench/proc"
	"github.com/overview-operator/overview-operator/internal/graph"
	"github.com/overview-operator/overview-operator/internal/localenv"
	"github.com/overview-operator/overview-operator/internal/sharding"
	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

// shardNamespace holds the replicas' Leases in a -replicas run; shardRing is their ring, the
// operator's default name.
const (
	shardNamespace = "bench-shards"
	shardRing      = "overview-operator"
)

// replica is one operator process of a -replicas run, named by its POD_NAME, which it sends in
// the X-Overview-Operator-Replica header of every Graph request.
type replica struct {
	name     string
	op       *localenv.Operator
	idleRSS  float64 // its resident set once the ring had settled, before any resource
	keysHeld float64 // overview_shard_keys_owned once the ring had settled

	mu   sync.Mutex
	gone time.Time  // when it was killed or sent SIGTERM; zero while it runs
	how  string     // "SIGKILL" or "SIGTERM"
	last replicaUse // read just before then
}

// replicaUse is what a replica had used and done when it was read.
type replicaUse struct {
	cpuSeconds, peakRSS float64
	passes              float64 // its overview controllers' passes; -1 when its metrics could not be read
	keysOwned           float64 // overview_shard_keys_owned
}

// readNow reads the running process: /proc and its metrics.
func (r *replica) readNow() replicaUse {
	var u replicaUse
	u.cpuSeconds, _ = proc.CPUSeconds(r.op.PID())
	u.peakRSS, _ = procStatus(r.op.PID(), "VmHWM")
	families, err := readMetrics(context.Background(), "http://"+r.op.MetricsAddr+"/metrics")
	if err != nil {
		u.passes = -1
		return u
	}
	for _, k := range kinds {
		u.passes += families.Value("controller_runtime_reconcile_total", "controller", k.controller())
	}
	u.keysOwned = families.Value("overview_shard_keys_owned")
	return u
}

// use is what the replica has used so far, or had when it was killed or stopped.
func (r *replica) use() replicaUse {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.gone.IsZero() {
		return r.last
	}
	return r.readNow()
}

// cpuSeconds is use's CPU time alone, without scraping the replica.
func (r *replica) cpuSeconds() (float64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.gone.IsZero() {
		return r.last.cpuSeconds, nil
	}
	return proc.CPUSeconds(r.op.PID())
}

// goneAt is when the replica was killed or sent SIGTERM, zero while it runs.
func (r *replica) goneAt() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.gone
}

// kill reads the replica one last time and kills it (SIGKILL), as a crash or a lost node would.
// done is closed at once: the process has ended.
func (r *replica) kill() (at time.Time, done <-chan error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last = r.readNow()
	r.op.Kill()
	r.gone, r.how = time.Now(), "SIGKILL"
	ch := make(chan error)
	close(ch)
	return r.gone, ch
}

// terminate reads the replica one last time and sends it SIGTERM, as a rollout does; done gets the
// process's exit error once it has ended.
func (r *replica) terminate() (at time.Time, done <-chan error) {
	r.mu.Lock()
	r.last = r.readNow()
	r.gone, r.how = time.Now(), "SIGTERM"
	r.mu.Unlock()
	ch := make(chan error, 1)
	go func() {
		_, err := r.op.Stop(30 * time.Second)
		ch <- err
	}()
	return r.gone, ch
}

// replicaName is the POD_NAME of the i-th replica.
func replicaName(i int) string { return fmt.Sprintf("bench-replica-%d", i) }

// startReplicas runs -replicas operator processes with --sharding, each with a POD_NAME of its
// own, and waits until every tenant's connection is Ready and the ring has settled: every replica
// sees them all, and every tenant is owned.
func (b *bench) startReplicas(ctx context.Context) error {
	if err := b.env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: shardNamespace}}); err != nil {
		return fmt.Errorf("create the namespace of the ring's Leases: %w", err)
	}
	flags := append(b.baseOperatorFlags(), "--sharding", "--sharding-namespace="+shardNamespace)
	flags = append(flags, strings.Fields(b.cfg.operatorArgs)...) // later flags win
	b.results.Settings.OperatorFlags = flags
	logf("Starting %d replicas: POD_NAME=%s… bin/manager %v", b.cfg.replicas, replicaName(0), flags)
	for i := range b.cfg.replicas {
		name := replicaName(i)
		op, err := b.env.StartOperatorWithEnv("operator-"+name, []string{"GODEBUG=gctrace=1", "POD_NAME=" + name}, flags...)
		if err != nil {
			return err
		}
		b.replicas = append(b.replicas, &replica{name: name, op: op})
		if i == 0 {
			b.op, b.started = op, time.Now()
		}
	}
	for _, t := range b.tenants {
		if err := t.waitConnectionReady(ctx, b.env, time.Minute); err != nil {
			return fmt.Errorf("%w\n%s", err, b.tails())
		}
	}
	if err := b.waitRing(ctx, time.Minute); err != nil {
		return fmt.Errorf("%w\n%s", err, b.tails())
	}
	for _, r := range b.replicas {
		r.idleRSS, _ = procStatus(r.op.PID(), "VmRSS")
	}
	b.leaseSeconds = b.readLeaseSeconds(ctx)
	return nil
}

// waitRing waits until, for two seconds on end, every replica counts them all as members and
// the keys they own add up to the tenants.
func (b *bench) waitRing(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var settled time.Time
	for {
		ok, owned := true, 0.0
		held := make([]float64, len(b.replicas))
		for i, r := range b.replicas {
			families, err := readMetrics(ctx, "http://"+r.op.MetricsAddr+"/metrics")
			if err != nil || families.Value("overview_shard_members") != float64(len(b.replicas)) {
				ok = false
				break
			}
			held[i] = families.Value("overview_shard_keys_owned")
			owned += held[i]
		}
		switch {
		case !ok || owned != float64(len(b.tenants)):
			settled = time.Time{}
		case settled.IsZero():
			settled = time.Now()
		case time.Since(settled) >= 2*time.Second:
			for i, r := range b.replicas {
				r.keysHeld = held[i]
			}
			logf("The ring has settled: tenants owned by replica %v", held)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the ring of %d replicas did not settle within %v", len(b.replicas), timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// tails is the end of every replica's log, for error messages.
func (b *bench) tails() string {
	const lines = 20
	if len(b.replicas) == 0 {
		return "operator log:\n" + b.op.Tail(lines)
	}
	var s strings.Builder
	for _, r := range b.replicas {
		fmt.Fprintf(&s, "log of %s:\n%s\n", r.name, r.op.Tail(lines))
	}
	return s.String()
}

// live are the replicas neither killed nor stopped.
func (b *bench) live() []*replica {
	return slices.DeleteFunc(slices.Clone(b.replicas), func(r *replica) bool { return !r.goneAt().IsZero() })
}

// tenantOfKey maps each tenant's pacer key ID, as the replicas claim it in their Leases, to the
// tenant's id.
func (b *bench) tenantOfKey() map[string]string {
	out := map[string]string{}
	for _, t := range b.tenants {
		k, err := graph.KeyOf(graph.Config{AuthorityHost: b.env.Emulator.URL(), TenantID: t.id, ClientID: t.clientID})
		if err == nil {
			out[k.ShardID()] = t.id
		}
	}
	return out
}

// claims reads the ring's Leases: the tenants each running replica's Lease claims, by replica. The
// Lease of a replica killed keeps its claims until the others see it expire, and that of one
// stopped until it is deleted: neither counts.
func (b *bench) claims(ctx context.Context) (map[string][]string, error) {
	var list coordinationv1.LeaseList
	if err := b.client.List(ctx, &list, client.InNamespace(shardNamespace), client.MatchingLabels{sharding.RingLabel: shardRing}); err != nil {
		return nil, err
	}
	tenantOf := b.tenantOfKey()
	gone := map[string]bool{}
	for _, r := range b.replicas {
		gone[r.name] = !r.goneAt().IsZero()
	}
	out := map[string][]string{}
	for _, l := range list.Items {
		holder := ptr.Deref(l.Spec.HolderIdentity, "")
		if gone[holder] {
			continue
		}
		for _, k := range strings.Fields(l.Annotations[sharding.ClaimsAnnotation]) {
			if t, ok := tenantOf[k]; ok {
				out[holder] = append(out[holder], t)
			}
		}
	}
	return out, nil
}

// readLeaseSeconds is the lease duration the first replica's Lease states (0 if it cannot be read).
func (b *bench) readLeaseSeconds(ctx context.Context) float64 {
	l := &coordinationv1.Lease{}
	if err := b.client.Get(ctx, types.NamespacedName{Namespace: shardNamespace, Name: shardRing + "-" + replicaName(0)}, l); err != nil {
		return 0
	}
	return float64(ptr.Deref(l.Spec.LeaseDurationSeconds, 0))
}

// handOver follows the tenants a replica held when it was killed or stopped.
type handOver struct {
	from    *replica
	at      time.Time
	tenants []string             // the tenants its Lease claimed then
	pending map[string]int       // their resources not Ready then, by tenant
	claimed map[string]time.Time // when another replica's Lease first claimed each (watchClaims)
	by      map[string]string    // and which
	exited  <-chan error         // gets the process's exit error once it has ended
	cpu     map[string]float64   // every replica's CPU seconds just before the signal
	stop    func()               // stops watchClaims and waits for it
}

// watchClaims notes, every 50 ms until stop, when a Lease other than h.from's first claims each of
// h's tenants: the claim comes before the new owner sends, from the ring's next round.
func (b *bench) watchClaims(ctx context.Context, h *handOver) {
	h.claimed, h.by = map[string]time.Time{}, map[string]string{}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for len(h.claimed) < len(h.tenants) {
			claims, err := b.claims(ctx)
			now := time.Now()
			if err == nil {
				for holder, ts := range claims {
					for _, t := range ts {
						if _, seen := h.claimed[t]; !seen && holder != h.from.name && slices.Contains(h.tenants, t) {
							h.claimed[t], h.by[t] = now, holder
						}
					}
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	h.stop = func() { cancel(); <-done }
}

// disrupt starts what, during the first sync, kills one replica (SIGKILL) once half the
// resources are Ready, and stops another (SIGTERM, as a rollout does) once three quarters are, if
// two are left: each time the live replica whose tenants have the most resources left. wait stops
// it where it is, waits for the stopped replica to exit, and returns what it did (nil for what it
// did not).
func (b *bench) disrupt(ctx context.Context) (wait func() (killed, stopped *handOver)) {
	ctx, cancel := context.WithCancel(ctx)
	var killed, stopped *handOver
	done := make(chan struct{})
	go func() {
		defer close(done)
		keys, gens := keysOf(b.main), firstGenerations(len(b.main))
		for {
			ready, missing := b.tracker.readyAt(keys, gens)
			switch {
			case killed == nil && missing <= len(keys)/2:
				if killed = b.signalBusiest(ctx, ready, (*replica).kill); killed == nil {
					return
				}
			case killed != nil && missing <= len(keys)/4:
				if len(b.live()) >= 2 {
					stopped = b.signalBusiest(ctx, ready, (*replica).terminate)
				}
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return func() (*handOver, *handOver) {
		cancel()
		<-done
		for _, h := range []*handOver{killed, stopped} {
			if h != nil {
				h.stop()
			}
		}
		if stopped != nil {
			if err := <-stopped.exited; err != nil {
				logf("%s did not exit cleanly after SIGTERM: %v", stopped.from.name, err)
			}
		}
		return killed, stopped
	}
}

// signalBusiest ends, with end (kill or terminate), the live replica whose claimed tenants have
// the most resources not Ready, and follows the claims of its tenants.
func (b *bench) signalBusiest(ctx context.Context, ready []time.Time, end func(*replica) (time.Time, <-chan error)) *handOver {
	claims, err := b.claims(ctx)
	if err != nil {
		logf("Could not read the ring's Leases, so end no replica: %v", err)
		return nil
	}
	pending := map[string]int{}
	for i, r := range b.main {
		if ready[i].IsZero() {
			pending[r.tenant.id]++
		}
	}
	var victim *replica
	best := -1
	for _, r := range b.live() {
		n := 0
		for _, t := range claims[r.name] {
			n += pending[t]
		}
		if n > best {
			victim, best = r, n
		}
	}
	if victim == nil {
		return nil
	}
	h := &handOver{from: victim, tenants: slices.Sorted(slices.Values(claims[victim.name])), pending: map[string]int{}, cpu: map[string]float64{}}
	for _, t := range h.tenants {
		h.pending[t] = pending[t]
	}
	for _, r := range b.replicas {
		h.cpu[r.name], _ = r.cpuSeconds()
	}
	h.at, h.exited = end(victim)
	b.watchClaims(ctx, h)
	_, missing := b.tracker.readyAt(keysOf(b.main), firstGenerations(len(b.main)))
	victim.mu.Lock()
	how := victim.how
	victim.mu.Unlock()
	logf("Sent %s to %s with %d of %d resources Ready: its %d tenant(s) had %d resources left",
		how, victim.name, len(b.main)-missing, len(b.main), len(h.tenants), best)
	return h
}

// countZero counts the zero times.
func countZero(ts []time.Time) int {
	n := 0
	for _, t := range ts {
		if t.IsZero() {
			n++
		}
	}
	return n
}

// replicaFigures is figure 8, from the whole request log: what each replica did, the hand-overs
// after the kill and the SIGTERM, and the moments two replicas sent for one tenant.
func (b *bench) replicaFigures(fs *FirstSync, t0 time.Time, ready []time.Time, killed, stopped *handOver) *ReplicaRun {
	reqs := b.graphLog(time.Time{}, time.Now().Add(time.Hour))
	rr := &ReplicaRun{Replicas: len(b.replicas), LeaseDurationSeconds: b.leaseSeconds}
	end := t0.Add(time.Duration(fs.ReadySeconds * float64(time.Second)))
	first := slices.DeleteFunc(slices.Clone(reqs), func(r graphtest.Request) bool { return r.Time.Before(t0) || r.Time.After(end) })

	var cpus []float64 // until the kill, when each had its share; else until the end
	for _, r := range b.replicas {
		u := r.use()
		f := ReplicaFigures{Name: r.name, CPUSeconds: u.cpuSeconds, PeakRSSBytes: u.peakRSS, IdleRSSBytes: r.idleRSS,
			TenantsAtStart: int(r.keysHeld), TenantsAtEnd: int(u.keysOwned)}
		r.mu.Lock()
		f.Ended = r.how
		if !r.gone.IsZero() {
			f.EndedSeconds = r.gone.Sub(t0).Seconds()
		}
		r.mu.Unlock()
		tenants := map[string]bool{}
		for _, q := range first {
			if q.Replica == r.name {
				f.Requests++
				if q.Method == http.MethodPatch {
					f.PATCHes++
				}
				tenants[q.TenantID] = true
			}
		}
		f.TenantsSentFor = len(tenants)
		if killed != nil {
			f.CPUSecondsAtKill = killed.cpu[r.name]
			cpus = append(cpus, f.CPUSecondsAtKill)
		} else {
			cpus = append(cpus, u.cpuSeconds)
		}
		rr.Members = append(rr.Members, f)
	}
	if len(cpus) > 0 && slices.Min(cpus) > 0 {
		rr.CPUSpread = slices.Max(cpus) / slices.Min(cpus)
	}

	rr.TwoWriterMoments, rr.TwoWriterTenants = twoWriterMoments(reqs)
	rr.LiveMoves = b.liveMoves(reqs)
	rr.DuplicatePATCHes = duplicatePatches(first)
	rr.Unnamed = countFunc(reqs, func(q graphtest.Request) bool { return q.Replica == "" })

	if killed != nil {
		rr.Killed = killed.from.name
		rr.KilledAtSeconds = killed.at.Sub(t0).Seconds()
		rr.ReadyAtKill = len(ready) - countZero(readyBefore(ready, killed.at))
		rr.AfterKill = b.handOvers(reqs, killed, ready)
		// The first sync of the tenants the kill did not touch.
		var others time.Time
		var rs []resource
		var created []time.Time
		for i, r := range b.main {
			if slices.Contains(killed.tenants, r.tenant.id) {
				continue
			}
			rs, created = append(rs, r), append(created, b.firstCreated[i])
			if ready[i].After(others) {
				others = ready[i]
			}
		}
		if !others.IsZero() {
			rr.OthersReadySeconds = others.Sub(t0).Seconds()
			if fs.BoundSeconds > 0 {
				rr.OthersRatio = rr.OthersReadySeconds / fs.BoundSeconds
			}
			if cb := b.creationBound(rs, created, t0); cb > 0 {
				rr.OthersCreationRatio = rr.OthersReadySeconds / cb.Seconds()
			}
		}
	}
	if stopped != nil {
		rr.Stopped = stopped.from.name
		rr.StoppedAtSeconds = stopped.at.Sub(t0).Seconds()
		rr.ReadyAtStop = len(ready) - countZero(readyBefore(ready, stopped.at))
		rr.AfterStop = b.handOvers(reqs, stopped, ready)
	}
	return rr
}

// handOvers are the hand-over figures of each of h's tenants: when another replica's Lease claimed
// it, its first request from another replica, when its last resource was Ready (if some were left),
// and the 429s its requests were answered after the signal.
func (b *bench) handOvers(reqs []graphtest.Request, h *handOver, ready []time.Time) []HandOver {
	var out []HandOver
	for _, t := range h.tenants {
		ho := HandOver{Tenant: t, Pending: h.pending[t], ClaimedBy: h.by[t], ClaimSeconds: -1, FirstRequestSeconds: -1, CompleteSeconds: -1}
		if at, ok := h.claimed[t]; ok {
			ho.ClaimSeconds = at.Sub(h.at).Seconds()
		}
		for _, q := range reqs {
			if q.TenantID != t || !q.Time.After(h.at) {
				continue
			}
			if q.Replica != h.from.name && ho.FirstRequestSeconds < 0 {
				ho.FirstRequestSeconds, ho.FirstRequestBy = q.Time.Sub(h.at).Seconds(), q.Replica
			}
			if q.Status == http.StatusTooManyRequests {
				ho.Throttled++
			}
		}
		if ho.Pending > 0 {
			var last time.Time
			for i, r := range b.main {
				if r.tenant.id == t && ready[i].After(last) {
					last = ready[i]
				}
			}
			if !last.IsZero() {
				ho.CompleteSeconds = last.Sub(h.at).Seconds()
			}
		}
		out = append(out, ho)
	}
	return out
}

// readyBefore is ready with the times after t zeroed.
func readyBefore(ready []time.Time, t time.Time) []time.Time {
	out := slices.Clone(ready)
	for i, at := range out {
		if at.After(t) {
			out[i] = time.Time{}
		}
	}
	return out
}

// twoWriterMoments counts, over each tenant's requests in order of arrival, the runs of requests
// from one replica that come after a run of another replica's and after a run of their own: the
// replica sent for the tenant again after another replica had (A … B … A). A clean hand-over gives
// each replica one run per tenant, and none. It also says how many tenants had any.
func twoWriterMoments(reqs []graphtest.Request) (moments, tenants int) {
	byTenant := map[string][]string{} // tenant → the replica of each run, in order
	for _, q := range reqs {
		runs := byTenant[q.TenantID]
		if len(runs) == 0 || runs[len(runs)-1] != q.Replica {
			byTenant[q.TenantID] = append(runs, q.Replica)
		}
	}
	for _, runs := range byTenant {
		seen, n := map[string]bool{}, 0
		for _, r := range runs {
			if seen[r] {
				n++
			}
			seen[r] = true
		}
		moments += n
		if n > 0 {
			tenants++
		}
	}
	return moments, tenants
}

// liveMoves counts the times a tenant's requests went from one replica to another while the first
// was still running: hand-overs between live replicas, which the ring makes when its members
// change (a key that moves to make room), besides those of a replica that died or left.
func (b *bench) liveMoves(reqs []graphtest.Request) int {
	gone := map[string]time.Time{}
	for _, r := range b.replicas {
		gone[r.name] = r.goneAt()
	}
	last := map[string]string{}
	n := 0
	for _, q := range reqs {
		if prev, ok := last[q.TenantID]; ok && prev != q.Replica {
			if g := gone[prev]; g.IsZero() || g.After(q.Time) {
				n++
			}
		}
		last[q.TenantID] = q.Replica
	}
	return n
}

// duplicatePatches counts the PATCHes Graph accepted for an overview it had accepted one for
// already: a first sync PATCHes each resource once.
func duplicatePatches(reqs []graphtest.Request) int {
	seen := map[target]bool{}
	n := 0
	for _, q := range reqs {
		if q.Method != http.MethodPatch || q.Status/100 != 2 {
			continue
		}
		if seen[targetOf(q)] {
			n++
		}
		seen[targetOf(q)] = true
	}
	return n
}

func countFunc[T any](s []T, f func(T) bool) int {
	n := 0
	for _, v := range s {
		if f(v) {
			n++
		}
	}
	return n
}
