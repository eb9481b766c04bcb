package pacer

import (
	"slices"
	"sync"
	"time"
)

// tenant is what the pacers of one tenant's keys share (Options.Tenant): the tenant's budget over
// the API's window, against Limits.TenantRequests and TenantWrites, which every call of its keys
// counts against besides its key's own; and the pacers that wait for it, in turn.
//
// A job of a key starts only when its key's budget and its tenant's both admit it, and a call goes
// only when both have room for it. The tenant's room goes to the least served first: while other
// pacers of the tenant wait for it, a pacer starts a job only while it uses less of the tenant's
// window than each of them, plus a quantum (1/32 of the window). What a pacer uses is the larger
// share of the tenant's two limits that its calls in the window and its bookings take. So no app
// of a tenant starves however many jobs the others have, and the room that frees is shared out a
// few jobs at a time; a pacer that waits only for the write window holds back no one's reads.
//
// A pacer waits for the tenant from a look (dispatch) whose last candidate the tenant refused
// until a look that ends otherwise. The tenant wakes its waiting pacers, as the ceiling wakes
// those it grants a place, when room frees other than by the window's passing (a job gave back
// what it booked and did not send, a call left the window unsent or throttled), when a pacer took
// room (another may be the least served now) and when a waiting pacer stops waiting; for the
// window's passing each sets its own timer, at the time the tenant said.
type tenant struct {
	mu      sync.Mutex
	budget  budget
	use     map[*Pacer]*budget // each pacer's share of budget: its calls in the window and its bookings
	members int                // the pacers of the tenant; guarded by the registry's lock
	waiting []waiter           // in turn
}

// waiter is a pacer that waits for its tenant's budget.
type waiter struct {
	p     *Pacer
	reads bool // it waits for the request window too, which reads need (else for the write window only)
}

// fairQuantum is how much more of the tenant's window a pacer may use than one that waits.
const fairQuantum = 1.0 / 32

func newTenant(l Limits) *tenant {
	return &tenant{budget: newBudget(l.tenant()), use: map[*Pacer]*budget{}}
}

// useOf is p's share of the tenant's budget, expired for now. t.mu must be held.
func (t *tenant) useOf(p *Pacer, now time.Time) *budget {
	u := t.use[p]
	if u == nil {
		b := newBudget(t.budget.limits)
		u = &b
		t.use[p] = u
	}
	u.expire(now)
	return u
}

// used is how much of the tenant's window p uses at now: the larger share of the tenant's two
// limits that its calls in the window and its bookings take. t.mu must be held.
func (t *tenant) used(p *Pacer, now time.Time) float64 {
	return t.useOf(p, now).used(t.budget.limits)
}

// refusal is what the tenant refused in one look of a pacer, for wait.
type refusal struct {
	refused bool // the tenant refused a candidate
	reads   bool // it refused one for the request window, or for its turn behind a pacer that waits for it
}

// admits reports whether the tenant admits a job of kind of p at now: its window has room (lead
// and writesWaiting as for budget.admits), and no pacer less served than p waits for it. When it
// does not, retry is when to look again (the zero time: when the tenant wakes p), and ref says
// what p waits for. p.mu and t.mu must be held.
func (t *tenant) admits(p *Pacer, now time.Time, kind Kind, lead time.Duration, writesWaiting bool) (ok bool, retry time.Time, ref refusal) {
	t.budget.expire(now)
	r, w := t.budget.roomFor(now, kind, lead, writesWaiting || t.othersWait(p))
	if ok, retry := admitted(now, r, w); !ok {
		return false, retry, refusal{refused: true, reads: !r.fits(now)}
	}
	if ahead, reads := t.ahead(p, now, kind); ahead {
		// Its own calls leaving the window make it less served: it looks again then at the latest.
		return false, t.useOf(p, now).oldestLeaves(), refusal{refused: true, reads: reads}
	}
	return true, time.Time{}, refusal{}
}

// ahead reports whether a pacer that waits for the tenant, for what a job of kind needs too, is
// less served than p at now by the quantum or more: that one goes first. reads says whether one
// such waits for the request window. t.mu must be held.
func (t *tenant) ahead(p *Pacer, now time.Time, kind Kind) (ahead, reads bool) {
	used := t.used(p, now)
	for _, w := range t.waiting {
		if w.p == p || kind == Read && !w.reads {
			continue
		}
		if used >= t.used(w.p, now)+fairQuantum {
			ahead, reads = true, reads || w.reads
		}
	}
	return ahead, reads
}

// wait notes what p waits for after a look the tenant refused ref in (p.mu and t.mu held); p
// keeps its turn if it waited already. A look without a refusal changes nothing: settle decides.
func (t *tenant) wait(p *Pacer, ref refusal) {
	if !ref.refused {
		return
	}
	w := waiter{p: p, reads: ref.reads}
	if i := t.index(p); i >= 0 {
		t.waiting[i] = w
		return
	}
	t.waiting = append(t.waiting, w)
}

// settle ends a look of p (p.mu held): p waits for the tenant still if the tenant refused its last
// candidate (waits), else it no longer does. It returns the other pacers waiting, to wake once no
// lock is held, if p took room (took) or stopped waiting: either may make another the least served.
func (t *tenant) settle(p *Pacer, waits, took bool) []*Pacer {
	t.mu.Lock()
	defer t.mu.Unlock()
	left := false
	if i := t.index(p); i >= 0 && !waits {
		t.waiting = slices.Delete(t.waiting, i, i+1)
		left = true
	}
	if !took && !left {
		return nil
	}
	return t.others(p)
}

// forget drops p (its pacer is dropped, its calls out of the window), and returns the pacers
// waiting, to wake, if it waited.
func (t *tenant) forget(p *Pacer) []*Pacer {
	woken := t.settle(p, false, false)
	t.mu.Lock()
	delete(t.use, p)
	t.mu.Unlock()
	return woken
}

// book books what a job of p booked. t.mu must be held.
func (t *tenant) book(p *Pacer, now time.Time, bk booking) {
	t.budget.book(bk)
	t.useOf(p, now).book(bk)
}

// release gives back what a job of p booked and did not send (p.mu held), and returns the other
// pacers waiting, to wake: room freed.
func (t *tenant) release(p *Pacer, bk booking) []*Pacer {
	if bk == (booking{}) {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.budget.release(bk)
	if u := t.use[p]; u != nil {
		u.release(bk)
	}
	return t.others(p)
}

// send records a call of p's job that booked bk (nil: a call outside any job) as it is sent at
// now, in p's budget and the tenant's, if both let it go (see budget.check; a write a job did not
// book goes only while no other pacer waits for the tenant): it returns the times each recorded it
// at, or the wait for a booked write, or ErrBudgetExhausted. p.mu must be held.
func (t *tenant) send(p *Pacer, now time.Time, bk *booking, write, writesWaiting bool) (at, tenantAt time.Time, wait time.Duration, err error) {
	p.budget.expire(now)
	if wait, err = p.budget.check(now, bk, write, writesWaiting); err != nil || wait > 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.budget.expire(now)
	if wait, err = t.budget.check(now, bk, write, writesWaiting || t.othersWait(p)); err != nil || wait > 0 {
		return
	}
	s := spend(bk, write)
	at = p.budget.record(now, write, s)
	tenantAt = t.budget.record(now, write, s)
	t.useOf(p, now).record(tenantAt, write, s)
	return at, tenantAt, 0, nil
}

// unsend drops a call of p recorded at at (of writes too, for a write), and returns the other
// pacers waiting, to wake: room freed.
func (t *tenant) unsend(p *Pacer, at time.Time, write bool) []*Pacer {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.budget.unsend(at, write)
	if u := t.use[p]; u != nil {
		u.unsend(at, write)
	}
	return t.others(p)
}

// counted moves a call of p recorded at at to arrived, when the API most likely counted it.
func (t *tenant) counted(p *Pacer, at time.Time, write bool, arrived time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.budget.counted(at, write, arrived)
	if u := t.use[p]; u != nil {
		u.counted(at, write, arrived)
	}
}

// readmits is when the tenant's window admits again a call of the class of one the API throttled
// without saying until when, recorded at at (see budget.readmits).
func (t *tenant) readmits(now, at time.Time, write bool) time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.budget.expire(now)
	return t.budget.readmits(at, write)
}

// index is p's place among the waiting, or -1. t.mu must be held.
func (t *tenant) index(p *Pacer) int {
	return slices.IndexFunc(t.waiting, func(w waiter) bool { return w.p == p })
}

// othersWait reports whether a pacer other than p waits for the tenant. t.mu must be held.
func (t *tenant) othersWait(p *Pacer) bool {
	return len(t.waiting) > 1 || len(t.waiting) == 1 && t.waiting[0].p != p
}

// others returns the pacers waiting for the tenant but p, in turn. t.mu must be held.
func (t *tenant) others(p *Pacer) []*Pacer {
	var ps []*Pacer
	for _, w := range t.waiting {
		if w.p != p {
			ps = append(ps, w.p)
		}
	}
	return ps
}
