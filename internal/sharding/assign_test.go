package sharding_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/overview-operator/overview-operator/internal/sharding"
)

func keys(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("tenant-%03d", i)
	}
	return out
}

func loads(a map[string]string) map[string]int {
	out := map[string]int{}
	for _, m := range a {
		out[m]++
	}
	return out
}

func TestAssignBalances(t *testing.T) {
	for _, tc := range []struct {
		members []string
		keys    int
	}{
		{[]string{"a"}, 5},
		{[]string{"a", "b", "c"}, 12},
		{[]string{"a", "b", "c"}, 13},
		{[]string{"a", "b", "c"}, 2},
		{[]string{"r-1", "r-2", "r-3", "r-4", "r-5"}, 100},
		{[]string{"a", "b"}, 0},
	} {
		t.Run(fmt.Sprintf("%d keys over %v", tc.keys, tc.members), func(t *testing.T) {
			got := sharding.Assign(tc.members, keys(tc.keys))
			if len(got) != tc.keys {
				t.Fatalf("%d keys assigned, want %d", len(got), tc.keys)
			}
			bound := (tc.keys + len(tc.members) - 1) / len(tc.members)
			for m, n := range loads(got) {
				if !slices.Contains(tc.members, m) {
					t.Errorf("a key went to %q, not a member", m)
				}
				if n > bound || n < tc.keys/len(tc.members) {
					t.Errorf("%s holds %d keys, want %d or %d", m, n, tc.keys/len(tc.members), bound)
				}
			}
		})
	}
}

func TestAssignIsAPureFunctionOfTheSets(t *testing.T) {
	k := keys(40)
	want := sharding.Assign([]string{"a", "b", "c"}, k)
	reversed := slices.Clone(k)
	slices.Reverse(reversed)
	got := sharding.Assign([]string{"c", "a", "b", "a"}, append(reversed, k[0]))
	for key, m := range want {
		if got[key] != m {
			t.Errorf("%s: %s, then %s when the sets were listed in another order", key, m, got[key])
		}
	}
}

func TestAssignWithoutMembers(t *testing.T) {
	if got := sharding.Assign(nil, keys(3)); len(got) != 0 {
		t.Errorf("assigned %v without members", got)
	}
}

// TestAssignMovesFew: a member that leaves moves its own keys, and of the others only a few (a
// key whose higher-ranked member had no room before may get it now); one that joins takes its
// share, and a few keys move between the others. The counts are over 200 rings of 2 to 5 members
// and 12 to 51 keys.
func TestAssignMovesFew(t *testing.T) {
	var ownMoved, othersMoved, others, joinShuffled, total int
	for ring := range 200 {
		members := []string{}
		for i := range 2 + ring%4 {
			members = append(members, fmt.Sprintf("ring%d-replica-%d", ring, i))
		}
		k := keys(12 + ring%40)
		before := sharding.Assign(members, k)
		total += len(k)

		gone := members[ring%len(members)]
		after := sharding.Assign(slices.DeleteFunc(slices.Clone(members), func(m string) bool { return m == gone }), k)
		for key, m := range before {
			if m == gone {
				ownMoved++
				if after[key] == gone {
					t.Fatalf("key %s stayed with %s, which left", key, gone)
				}
				continue
			}
			others++
			if after[key] != m {
				othersMoved++
			}
		}

		joined := sharding.Assign(append(slices.Clone(members), fmt.Sprintf("ring%d-new", ring)), k)
		for key, m := range before {
			if n := joined[key]; n != m && n != fmt.Sprintf("ring%d-new", ring) {
				joinShuffled++
			}
		}
	}
	t.Logf("a member left: its %d keys moved, and %d of the other members' %d keys (%.1f%%); a member joined: %d of %d keys moved between the others (%.1f%%)",
		ownMoved, othersMoved, others, 100*float64(othersMoved)/float64(others), joinShuffled, total, 100*float64(joinShuffled)/float64(total))
	if othersMoved*10 > others {
		t.Errorf("a member's departure moved %d of the other members' %d keys: more than a tenth", othersMoved, others)
	}
	if joinShuffled*10 > total {
		t.Errorf("a member's arrival moved %d of %d keys between the others: more than a tenth", joinShuffled, total)
	}
}

func TestPick(t *testing.T) {
	members := []string{"a", "b", "c"}
	seen := map[string]int{}
	for i := range 300 {
		name := fmt.Sprintf("ns/resource-%d", i)
		m := sharding.Pick(members, name)
		if m != sharding.Pick([]string{"c", "b", "a"}, name) {
			t.Fatalf("%s: the pick depends on the order of the members", name)
		}
		seen[m]++
	}
	for _, m := range members {
		if seen[m] < 50 {
			t.Errorf("%s picked for %d of 300 names: %v", m, seen[m], seen)
		}
	}
	if got := sharding.Pick(nil, "x"); got != "" {
		t.Errorf("Pick without members = %q", got)
	}
}
