package sharding

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// RingLabel labels each replica's Lease with its ring's name.
const RingLabel = "intune.overview-operator.io/shard-ring"

// ClaimsAnnotation holds, in a replica's Lease, the keys it claims, space-separated.
const ClaimsAnnotation = "intune.overview-operator.io/shard-claims"

// ReleasingAnnotation holds, in a replica's Lease, the keys among its claims that it no longer
// holds: the assignment gave them to another member, and it claims them only until none of its
// calls for them is in flight or counted. The others take every other claimed key as held, and
// leave it where it is while its holder has room (Assign).
const ReleasingAnnotation = "intune.overview-operator.io/shard-releasing"

// LeavingAnnotation marks the Lease of a replica that is leaving the ring (SIGTERM): the others
// give it no keys, and take each of its claims as it drops it, while it holds on to those whose
// calls Graph may still count.
const LeavingAnnotation = "intune.overview-operator.io/shard-leaving"

// claimDelay is how soon a replica writes a claim it decided to take.
const claimDelay = 100 * time.Millisecond

// Options configure a Ring.
type Options struct {
	// Client writes the replica's own Lease.
	Client client.Client
	// Reader lists the ring's Leases. It must read the API server itself, not a cache: a list
	// made after the replica wrote its claim must see every claim written before it.
	Reader client.Reader
	// Namespace holds the ring's Leases; Ring names it, and Identity the replica (its pod's name).
	Namespace, Ring, Identity string
	// LeaseDuration is how long the others wait after a replica's last renewal, as they observe
	// it, before they take its keys; RenewDeadline how long a replica keeps sending after its
	// last renewal that succeeded (shorter than LeaseDuration); RetryPeriod how often it renews
	// and looks at the ring.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// Counted is how long the API may still count a call against its limits after it was sent
	// (its throttling window). The claims of a replica that stopped renewing hold for the longer
	// of it and LeaseDuration after its last renewal: its last calls may have gone just before.
	Counted time.Duration
	// Clock tells the time (default: the real clock).
	Clock clock.Clock
	// Keys returns the keys the replica knows of now: what it would send for if it owned them.
	Keys func(context.Context) []string
	// Sending returns the keys that Owns refuses now with calls in flight or that the API may
	// still count (sent within its throttling window): a key leaves the replica's claim only when
	// none of its calls is, so that its next owner starts with the API's window clear of them. Each
	// key leaves on its own: one the replica never sent for leaves at once.
	Sending func() map[string]bool
	// Changed, if set, hears that what Owns or Leads answers has changed; it is called on the
	// ring's goroutine and must not block.
	Changed func()
	// Logger logs the ring's changes.
	Logger logr.Logger
}

// Validate says what is wrong with o's names and timings, nil if nothing is.
func (o Options) Validate() error {
	var errs []error
	if errs2 := validation.IsDNS1123Subdomain(o.Namespace); o.Namespace == "" || len(errs2) > 0 {
		errs = append(errs, fmt.Errorf("the namespace %q is not a namespace name", o.Namespace))
	}
	if errs2 := validation.IsValidLabelValue(o.Ring); o.Ring == "" || len(errs2) > 0 {
		errs = append(errs, fmt.Errorf("the ring %q is not a label value: %s", o.Ring, strings.Join(errs2, "; ")))
	}
	if errs2 := validation.IsDNS1123Subdomain(o.leaseName()); o.Identity == "" || len(errs2) > 0 {
		errs = append(errs, fmt.Errorf("the replica's identity %q does not make a Lease name with the ring's (%s): set POD_NAME", o.Identity, strings.Join(errs2, "; ")))
	}
	switch {
	case o.RetryPeriod <= 0 || o.RenewDeadline <= 0 || o.LeaseDuration <= 0:
		errs = append(errs, errors.New("the lease duration, renew deadline and retry period must be positive"))
	case o.RenewDeadline >= o.LeaseDuration:
		errs = append(errs, fmt.Errorf("the renew deadline (%v) must be shorter than the lease duration (%v)", o.RenewDeadline, o.LeaseDuration))
	case o.RetryPeriod*2 > o.RenewDeadline:
		errs = append(errs, fmt.Errorf("the retry period (%v) must be at most half the renew deadline (%v), so that a renewal that fails once is tried again in time", o.RetryPeriod, o.RenewDeadline))
	}
	return errors.Join(errs...)
}

func (o Options) leaseName() string { return o.Ring + "-" + o.Identity }

// Ring is one replica's part in its ring: it renews the replica's Lease, follows the others',
// and answers which keys the replica may send for. Start runs it.
type Ring struct {
	o      Options
	log    logr.Logger
	state  atomic.Pointer[state]
	shared atomic.Pointer[map[string][]string] // keys claimed by other rings too, with those rings

	// The rest belongs to the goroutine of Start.
	lease   *coordinationv1.Lease // as last written; nil until written, and after a conflict until read again
	joined  bool                  // a Lease of the replica's was written: there is one to renew and delete
	claims  []string              // as the Lease last written holds them
	renewed time.Time             // when the last write that succeeded was sent
	next    []string              // what the next renewal claims
	release []string              // which of next it claims only until their calls are over
	seen    map[string]observed   // the others' Leases, by name
	leaving bool                  // set by leave: the Lease says so from its next write
}

// state is what Owns and Leads answer from.
type state struct {
	owned   map[string]bool
	members []string  // the live members, the replica among them, sorted
	renewed time.Time // when the write of the claim behind owned was sent
}

// observed is when a replica's Lease was last seen to change, on this replica's clock.
type observed struct {
	resourceVersion string
	at              time.Time
}

// New returns the ring of o's replica. It owns nothing until Start has run.
func New(o Options) (*Ring, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	r := &Ring{o: o, log: o.Logger.WithValues("ring", o.Ring, "replica", o.Identity), seen: map[string]observed{}}
	r.state.Store(&state{})
	return r, nil
}

// Owns reports whether the replica may send for key now: it claims the key, the assignment gives
// it the key, no other live member claims it, and its claim was renewed within the renew deadline.
func (r *Ring) Owns(key string) bool {
	s := r.state.Load()
	return s.owned[key] && r.fresh(s)
}

// Leads reports whether the replica is the one live member that speaks for name (Pick), for what
// no key covers.
func (r *Ring) Leads(name string) bool {
	s := r.state.Load()
	return r.fresh(s) && Pick(s.members, name) == r.o.Identity
}

// Members are the live members as the replica saw them last, and Owned how many keys it owns.
func (r *Ring) Members() []string { return slices.Clone(r.state.Load().members) }

// Owned is how many keys the replica owns.
func (r *Ring) Owned() int {
	s := r.state.Load()
	if !r.fresh(s) {
		return 0
	}
	return len(s.owned)
}

func (r *Ring) fresh(s *state) bool {
	return !s.renewed.IsZero() && r.o.Clock.Since(s.renewed) < r.o.RenewDeadline
}

// NeedLeaderElection implements manager.LeaderElectionRunnable: every replica runs its ring.
func (r *Ring) NeedLeaderElection() bool { return false }

// Start renews the replica's Lease and follows the ring every retry period until ctx ends; then
// it stops sending, waits (up to the renew deadline) for its calls in flight, and deletes its
// Lease, so that the others take its keys over at once.
func (r *Ring) Start(ctx context.Context) error {
	r.log.Info("Joining the ring", "namespace", r.o.Namespace, "lease", r.o.leaseName())
	for {
		wait := r.o.RetryPeriod
		if r.Tick(ctx) && !slices.Equal(r.next, r.claims) {
			// A claim to take: write it at once, rather than a retry period later (the replica
			// starts sending for the key the round after).
			wait = min(wait, claimDelay)
		}
		select {
		case <-ctx.Done():
			r.leave()
			return nil
		case <-r.o.Clock.After(wait):
		}
	}
}

// Tick is one round of the ring: renew the Lease with the claim decided last round, read the
// ring's Leases, decide what the replica owns now and what it claims next round. Start calls it
// every retry period; tests call it themselves. It reports whether the round went through.
func (r *Ring) Tick(ctx context.Context) bool {
	if err := r.renew(ctx, r.next); err != nil {
		// Owns ends at the renew deadline, unless a renewal succeeds before it.
		r.log.Error(err, "Could not renew the replica's Lease", "sinceLastRenewal", r.o.Clock.Since(r.renewed).Round(time.Millisecond))
		return false
	}
	others, err := r.others(ctx)
	if err != nil {
		// What it owned it still claims, renewed: no one else may have taken it.
		r.log.Error(err, "Could not read the ring's Leases")
		old := r.state.Load()
		r.publish(old.owned, old.members)
		return false
	}
	// Keys go to the members seen renewing lately; a member that stopped (killed, cut off) is
	// given no more, while its claim still holds what it had until its Lease expires.
	members := []string{r.o.Identity}
	claimed := map[string]bool{}
	holders := map[string][]string{r.o.Identity: without(r.claims, r.release)}
	for id, m := range others {
		if m.fresh && !m.leaving {
			members = append(members, id)
		}
		for _, k := range m.claims {
			claimed[k] = true
		}
		holders[id] = without(m.claims, m.releasing)
	}
	slices.Sort(members)
	held := heldBy(holders)
	keys := r.o.Keys(ctx)
	desired := map[string]bool{}
	for k, m := range Assign(members, keys, held) {
		if m == r.o.Identity {
			desired[k] = true
		}
	}
	owned := map[string]bool{}
	for _, k := range r.claims {
		if desired[k] && !claimed[k] {
			owned[k] = true
		}
	}
	r.publish(owned, members)

	// The claim drops a key only once no call for it is in flight or counted; it takes a key at
	// once (a claim alone sends nothing), and the replica sends for it from the round after, once
	// a read made after the claim was written shows no one else claims it.
	next := slices.Sorted(maps.Keys(desired))
	var release []string
	sending := r.o.Sending()
	for _, k := range r.claims {
		if !desired[k] && sending[k] {
			next = append(next, k)
			release = append(release, k)
		}
	}
	slices.Sort(next)
	slices.Sort(release)
	r.next, r.release = next, release
	return true
}

// publish stores what Owns and Leads answer, and tells Changed when it changed.
func (r *Ring) publish(owned map[string]bool, members []string) {
	old := r.state.Load()
	r.state.Store(&state{owned: owned, members: members, renewed: r.renewed})
	if !maps.Equal(old.owned, owned) || !slices.Equal(old.members, members) {
		r.log.Info("The ring changed", "members", members, "owned", len(owned), "keys", len(r.next))
		if r.o.Changed != nil {
			r.o.Changed()
		}
	}
}

// renew writes the replica's Lease with claims, creating it if need be.
func (r *Ring) renew(ctx context.Context, claims []string) error {
	ctx, cancel := context.WithTimeout(ctx, r.o.RenewDeadline)
	defer cancel()
	start := r.o.Clock.Now()
	if r.lease == nil {
		l := &coordinationv1.Lease{}
		err := r.o.Reader.Get(ctx, client.ObjectKey{Namespace: r.o.Namespace, Name: r.o.leaseName()}, l)
		switch {
		case apierrors.IsNotFound(err):
			l = &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: r.o.Namespace, Name: r.o.leaseName()}}
			r.fill(l, start, claims)
			l.Spec.AcquireTime = l.Spec.RenewTime
			if err := r.o.Client.Create(ctx, l); err != nil {
				return err
			}
			r.lease, r.claims, r.renewed, r.joined = l, claims, start, true
			return nil
		case err != nil:
			return err
		}
		// A Lease of the replica's name is the replica's own, from before its container restarted:
		// that process is gone, and what it claimed with it.
		r.lease = l
	}
	l := r.lease.DeepCopy()
	r.fill(l, start, claims)
	if err := r.o.Client.Update(ctx, l); err != nil {
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			r.lease = nil // read it again next round
		}
		return err
	}
	r.lease, r.claims, r.renewed, r.joined = l, claims, start, true
	return nil
}

// fill sets the Lease's holder, timings, ring label and claims.
func (r *Ring) fill(l *coordinationv1.Lease, now time.Time, claims []string) {
	if l.Labels == nil {
		l.Labels = map[string]string{}
	}
	l.Labels[RingLabel] = r.o.Ring
	if l.Annotations == nil {
		l.Annotations = map[string]string{}
	}
	l.Annotations[ClaimsAnnotation] = strings.Join(claims, " ")
	if release := r.releasing(claims); len(release) > 0 {
		l.Annotations[ReleasingAnnotation] = strings.Join(release, " ")
	} else {
		delete(l.Annotations, ReleasingAnnotation)
	}
	if r.leaving {
		l.Annotations[LeavingAnnotation] = "true"
	}
	l.Spec.HolderIdentity = ptr.To(r.o.Identity)
	l.Spec.LeaseDurationSeconds = ptr.To(int32(r.o.LeaseDuration.Round(time.Second) / time.Second))
	l.Spec.RenewTime = &metav1.MicroTime{Time: now}
}

// without returns the keys of claims that are not in drop.
func without(claims, drop []string) []string {
	return slices.DeleteFunc(slices.Clone(claims), func(k string) bool { return slices.Contains(drop, k) })
}

// releasing returns the keys of claims that the replica releases: every one while it leaves.
func (r *Ring) releasing(claims []string) []string {
	if r.leaving {
		return claims
	}
	return slices.DeleteFunc(slices.Clone(claims), func(k string) bool { return !slices.Contains(r.release, k) })
}

// member is another live member of the ring, as this replica saw it last.
type member struct {
	claims []string
	// releasing are the claims it no longer holds (ReleasingAnnotation).
	releasing []string
	// fresh is true when its Lease was seen to change within freshness: it renews as it should.
	fresh bool
	// leaving is true when its Lease says it is leaving the ring: it is given no keys.
	leaving bool
}

// freshness is how long after a member's last renewal it is given keys: three rounds, so that one
// slow or failed renewal does not move keys, and a member killed or cut off is given no more
// long before its Lease expires.
func (r *Ring) freshness() time.Duration { return min(3*r.o.RetryPeriod, r.o.LeaseDuration) }

// staleAfter is how long after a Lease of the ring was last seen to change that a replica deletes
// it: its holder is gone (killed, its pod deleted) and it would stay for ever.
func (r *Ring) staleAfter() time.Duration { return 2 * max(r.o.LeaseDuration, r.o.Counted) }

// others lists the ring's other live members and what each claims. A Lease is live while it has a
// holder and was seen to change within the lease duration, on this replica's clock: the others'
// clocks are never compared with it. The live Leases of other rings in the namespace tell which
// keys another deployment claims too (Shared).
func (r *Ring) others(ctx context.Context) (map[string]member, error) {
	var list coordinationv1.LeaseList
	if err := r.o.Reader.List(ctx, &list, client.InNamespace(r.o.Namespace), client.HasLabels{RingLabel}); err != nil {
		return nil, err
	}
	now := r.o.Clock.Now()
	out := map[string]member{}
	present := map[string]bool{}
	shared := map[string][]string{} // key: the other rings that claim it
	mine := map[string]bool{}
	for _, k := range r.claims {
		mine[k] = true
	}
	for i := range list.Items {
		l := &list.Items[i]
		if l.Name == r.o.leaseName() {
			continue
		}
		if ring := l.Labels[RingLabel]; ring != r.o.Ring {
			if r.live(l, now, present) {
				for _, k := range strings.Fields(l.Annotations[ClaimsAnnotation]) {
					if mine[k] && !slices.Contains(shared[k], ring) {
						shared[k] = append(shared[k], ring)
					}
				}
			}
			continue
		}
		holder := ptr.Deref(l.Spec.HolderIdentity, "")
		if !r.live(l, now, present) {
			if now.Sub(r.seen[l.Name].at) >= r.staleAfter() {
				r.collect(ctx, l)
			}
			continue
		}
		if holder == r.o.Identity {
			continue
		}
		out[holder] = member{claims: strings.Fields(l.Annotations[ClaimsAnnotation]), releasing: strings.Fields(l.Annotations[ReleasingAnnotation]),
			fresh:   now.Sub(r.seen[l.Name].at) < r.freshness(),
			leaving: l.Annotations[LeavingAnnotation] == "true"}
	}
	for name := range r.seen {
		if !present[name] {
			delete(r.seen, name)
		}
	}
	r.share(shared)
	return out, nil
}

// collect deletes l, a Lease of the ring that has not changed for staleAfter, unless it changed
// since it was read.
func (r *Ring) collect(ctx context.Context, l *coordinationv1.Lease) {
	err := r.o.Client.Delete(ctx, l, client.Preconditions{UID: &l.UID, ResourceVersion: &l.ResourceVersion})
	if err != nil {
		if !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			r.log.V(1).Info("Could not delete a stale Lease of the ring", "lease", l.Name, "error", err.Error())
		}
		return
	}
	r.log.Info("Deleted the stale Lease of a replica gone", "lease", l.Name, "holder", ptr.Deref(l.Spec.HolderIdentity, ""))
}

// live notes that the Lease l is present and reports whether it is live at now: it has a holder
// and was seen to change within the lease duration.
func (r *Ring) live(l *coordinationv1.Lease, now time.Time, present map[string]bool) bool {
	present[l.Name] = true
	if o, ok := r.seen[l.Name]; !ok || o.resourceVersion != l.ResourceVersion {
		r.seen[l.Name] = observed{resourceVersion: l.ResourceVersion, at: now}
	}
	return ptr.Deref(l.Spec.HolderIdentity, "") != "" && now.Sub(r.seen[l.Name].at) < max(r.o.LeaseDuration, r.o.Counted)
}

// share records the keys this replica claims that the live replicas of other rings claim too, and
// says so when they change: two deployments that share a tenant each spend its whole budget.
func (r *Ring) share(shared map[string][]string) {
	old := r.shared.Load()
	if old != nil && maps.EqualFunc(*old, shared, slices.Equal) {
		return
	}
	r.shared.Store(&shared)
	if len(shared) > 0 {
		r.log.Error(errSharedKeys, "Another deployment's ring claims tenants this replica claims: each spends the whole of their Graph budget, and Graph answers 429. Shard by tenant: give each tenant's resources to one deployment.",
			"keys", slices.Sorted(maps.Keys(shared)), "rings", sharedRings(shared))
	}
}

// errSharedKeys is what the log says when another ring claims keys this replica claims.
var errSharedKeys = errors.New("a tenant is shared with another deployment")

// sharedRings are the other rings that share keys, sorted.
func sharedRings(shared map[string][]string) []string {
	var rings []string
	for _, rs := range shared {
		for _, ring := range rs {
			if !slices.Contains(rings, ring) {
				rings = append(rings, ring)
			}
		}
	}
	slices.Sort(rings)
	return rings
}

// Shared is how many of the keys this replica claims the live replicas of other rings in its
// namespace claim too.
func (r *Ring) Shared() int {
	if s := r.shared.Load(); s != nil {
		return len(*s)
	}
	return 0
}

// leave ends the replica's part: it owns nothing from now, and deletes its Lease once none of its
// calls is in flight or still counted by the API (Sending), so that the others take its keys at
// their next look instead of after the lease duration. Until then it keeps renewing the Lease with
// the claims whose calls Graph may still count, dropping each key as its last call leaves the
// window (at once, one it never sent for), so that no one takes a key whose calls Graph still
// counts and no one waits for a key that has none. If the process ends first (the manager's
// graceful shutdown timeout), the Lease expires a lease duration after its last renewal.
func (r *Ring) leave() {
	r.state.Store(&state{})
	r.leaving = true
	ctx := context.Background()
	for said := false; ; said = true {
		sending := r.o.Sending()
		if len(sending) == 0 {
			break
		}
		// Renewed at once (saying it leaves), then each round, and at once when a key's last call
		// left the window.
		// A renewal that failed on a conflict (the last one of Start, cut short by the shutdown,
		// may have been written all the same) left r.lease nil: renew reads it again.
		claims := slices.DeleteFunc(slices.Clone(r.claims), func(k string) bool { return !sending[k] })
		if r.joined && (!said || r.lease == nil || !slices.Equal(claims, r.claims) || r.o.Clock.Since(r.renewed) >= r.o.RetryPeriod) {
			if err := r.renew(ctx, claims); err != nil {
				r.log.Error(err, "Could not renew the Lease while leaving")
			}
		}
		<-r.o.Clock.After(min(r.o.RetryPeriod, claimDelay))
	}
	if !r.joined {
		return
	}
	if r.lease == nil {
		if err := r.renew(ctx, nil); err != nil {
			r.log.Error(err, "Could not read the replica's Lease again to delete it: the others take its keys when it expires")
			return
		}
	}
	ctx, cancel := context.WithTimeout(ctx, r.o.RenewDeadline)
	defer cancel()
	err := r.o.Client.Delete(ctx, r.lease, client.Preconditions{UID: &r.lease.UID})
	if err != nil && !apierrors.IsNotFound(err) {
		r.log.Error(err, "Could not delete the replica's Lease: the others take its keys when it expires")
		return
	}
	r.log.Info("Left the ring")
}

// heldBy turns the members' claims (member → the keys it holds, less those it releases) into each
// key's holder. A key two members hold (one saw the other's claim late) is the first's by name, as
// every replica that sees both claims decides: the other lets it go.
func heldBy(holders map[string][]string) map[string]string {
	held := map[string]string{}
	for _, id := range slices.Sorted(maps.Keys(holders)) {
		for _, k := range holders[id] {
			if _, ok := held[k]; !ok {
				held[k] = id
			}
		}
	}
	return held
}
