package pacer

import (
	"slices"
	"sync"
)

// ceiling bounds the jobs in flight across all tenants, and serves the tenants fairly: a place
// that frees goes to the tenants waiting for one in turn, before the tenant whose job ended takes
// it again, and a tenant holds more than its fair share (the ceiling over the tenants holding or
// waiting for places) only while no other tenant waits. The last eighth of the places is a
// reserve that a tenant takes from only while it holds fewer places than are left, so that a
// tenant that comes while others hold many places (slow or hung calls) gets places at once.
type ceiling struct {
	mu      sync.Mutex
	max, n  int // n counts places held and granted
	held    map[*Pacer]int
	granted map[*Pacer]int // places handed to a waiting pacer that it has not taken yet
	queue   []*Pacer       // the pacers waiting for a place, in turn
}

func newCeiling(places int) *ceiling {
	return &ceiling{max: places, held: map[*Pacer]int{}, granted: map[*Pacer]int{}}
}

// acquire takes a place for one of p's jobs, or puts p in the queue: a place that frees for it
// is granted to it, and it is woken. c.mu must not be held; p.mu may be.
func (c *ceiling) acquire(p *Pacer) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.granted[p] > 0 {
		c.granted[p]--
		c.held[p]++
		return true
	}
	if c.n < c.max && c.canTake(p) {
		c.n++
		c.held[p]++
		c.dequeue(p)
		return true
	}
	if !slices.Contains(c.queue, p) {
		c.queue = append(c.queue, p)
	}
	return false
}

// canTake reports whether p may take one of the free places. c.mu must be held.
func (c *ceiling) canTake(p *Pacer) bool {
	active := 0
	for q, n := range c.held {
		if n > 0 && q != p {
			active++
		}
	}
	othersWait := false
	for _, q := range c.queue {
		if q != p {
			othersWait = true
			if c.held[q] == 0 {
				active++
			}
		}
	}
	active++ // p
	mine := c.held[p] + c.granted[p]
	if othersWait && mine >= c.max/active {
		return false
	}
	// In the reserve, a tenant takes a place only while it holds fewer than are left: each
	// tenant that comes takes at most half of what is left, and the next still finds some.
	free := c.max - c.n
	return free > c.max/8 || mine < free
}

// release gives back a place p held, and returns the pacers granted a place, to wake once no
// lock is held.
func (c *ceiling) release(p *Pacer) []*Pacer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.held[p]--
	c.n--
	c.tidy(p)
	return c.handOut()
}

// handOut grants the free places to the waiting pacers, the one holding fewest first, and
// returns those granted one.
// c.mu must be held.
func (c *ceiling) handOut() []*Pacer {
	var woken []*Pacer
	for c.n < c.max {
		// The waiter that holds the fewest places goes first; among equals, the first in turn.
		i := -1
		for j, q := range c.queue {
			if c.canTake(q) && (i < 0 || c.held[q]+c.granted[q] < c.held[c.queue[i]]+c.granted[c.queue[i]]) {
				i = j
			}
		}
		if i < 0 {
			break
		}
		q := c.queue[i]
		c.queue = slices.Delete(c.queue, i, i+1)
		c.granted[q]++
		c.n++
		woken = append(woken, q)
	}
	return woken
}

// forget drops p (its pacer is dropped): it leaves the queue, and its grants go to others.
func (c *ceiling) forget(p *Pacer) []*Pacer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dequeue(p)
	c.n -= c.granted[p]
	delete(c.granted, p)
	c.tidy(p)
	return c.handOut()
}

// dequeue takes p out of the queue. c.mu must be held.
func (c *ceiling) dequeue(p *Pacer) {
	if i := slices.Index(c.queue, p); i >= 0 {
		c.queue = slices.Delete(c.queue, i, i+1)
	}
}

// tidy forgets the counts of a pacer that holds nothing. c.mu must be held.
func (c *ceiling) tidy(p *Pacer) {
	if c.held[p] <= 0 {
		delete(c.held, p)
	}
	if c.granted[p] <= 0 {
		delete(c.granted, p)
	}
}

// returnGrants gives back the places granted to p that it did not take (it had no job to start
// when it was woken), and returns the pacers granted them in turn.
func (c *ceiling) returnGrants(p *Pacer) []*Pacer {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.granted[p] == 0 {
		return nil
	}
	c.n -= c.granted[p]
	delete(c.granted, p)
	c.tidy(p)
	return c.handOut()
}
