package sharding

import (
	"hash/fnv"
	"slices"
)

// Assign gives each key to one of members, by rendezvous hashing with bounded loads, keeping
// each key with the member that holds it now (held: key → member, from the members' claims) while
// that member has room. Every member ends with ⌊len(keys)/len(members)⌋ keys or one more, at most
// len(keys) mod len(members) of them one more. Keys are taken in an order of their own (by a hash
// of the key alone): first those whose holder is a member with room keep it, then each of the
// others goes to the member that ranks highest for it among those with room. It is a pure function
// of its inputs: replicas that see the same members, keys and holders agree, whatever the order
// they list them in. No members: no key is assigned.
//
// When a member leaves, its keys go to the others and no other key moves: each other member had
// room for what it held, and has at least as much now. When one joins, only the keys of members
// that held more than the new bound allows move, to the newcomer or another member with room
// (TestAssignMovesOnlyWhatMust). Without holders (the ring's first look) the keys go to their
// rendezvous choices within the bound.
func Assign(members, keys []string, held map[string]string) map[string]string {
	out := make(map[string]string, len(keys))
	if len(members) == 0 {
		return out
	}
	members = slices.Compact(slices.Sorted(slices.Values(members)))
	keys = slices.Compact(slices.Sorted(slices.Values(keys)))
	slices.SortStableFunc(keys, func(a, b string) int {
		ha, hb := hash64("", a), hash64("", b)
		switch {
		case ha < hb:
			return -1
		case ha > hb:
			return 1
		}
		return 0
	})
	l := newLoads(members, len(keys))
	for _, k := range keys {
		if m, ok := held[k]; ok && l.room(m) {
			out[k] = m
			l.add(m)
		}
	}
	for _, k := range keys {
		if _, ok := out[k]; ok {
			continue
		}
		best, bestScore := "", uint64(0)
		for _, m := range members {
			if !l.room(m) {
				continue
			}
			if s := hash64(m, k); best == "" || s > bestScore || s == bestScore && m < best {
				best, bestScore = m, s
			}
		}
		out[k] = best
		l.add(best)
	}
	return out
}

// loads counts the keys given to each member against the bound: each may take base keys, and
// extra of them one more.
type loads struct {
	n     map[string]int // by member: a name not in it is not a member
	base  int
	extra int // how many members may still take one key over base
}

func newLoads(members []string, keys int) *loads {
	l := &loads{n: make(map[string]int, len(members)), base: keys / len(members), extra: keys % len(members)}
	for _, m := range members {
		l.n[m] = 0
	}
	return l
}

// room reports whether m is a member that may take one more key.
func (l *loads) room(m string) bool {
	n, ok := l.n[m]
	return ok && (n < l.base || n == l.base && l.extra > 0)
}

// add gives m one more key; room(m) must be true.
func (l *loads) add(m string) {
	if l.n[m] == l.base {
		l.extra--
	}
	l.n[m]++
}

// hash64 is the rendezvous score of member for key (a hash of the key alone with member ""):
// FNV-1a of both, mixed so that keys that differ in one character spread over the whole range.
func hash64(member, key string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(member))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(key))
	return mix64(h.Sum64())
}

// mix64 is SplitMix64's finaliser.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// Pick is the member that ranks highest for name by plain rendezvous hashing, "" without
// members: the one replica that speaks for something no key covers (a resource whose connection
// cannot be resolved).
func Pick(members []string, name string) string {
	best, bestScore := "", uint64(0)
	for _, m := range members {
		if s := hash64(m, name); best == "" || s > bestScore || s == bestScore && m < best {
			best, bestScore = m, s
		}
	}
	return best
}
