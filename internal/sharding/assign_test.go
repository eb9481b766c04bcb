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
			// Without holders, and with every key held by the first member: the loads are the same.
			for _, held := range []map[string]string{nil, heldBy(tc.members[0], keys(tc.keys))} {
				got := sharding.Assign(tc.members, keys(tc.keys), held)
				checkBalanced(t, tc.members, tc.keys, got)
			}
		})
	}
}

// heldBy is every key held by m.
func heldBy(m string, ks []string) map[string]string {
	out := map[string]string{}
	for _, k := range ks {
		out[k] = m
	}
	return out
}

// checkBalanced checks that every one of n keys went to a member, each member holding n/members
// keys or one more.
func checkBalanced(t *testing.T, members []string, n int, got map[string]string) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("%d keys assigned, want %d", len(got), n)
	}
	bound := (n + len(members) - 1) / len(members)
	for m, c := range loads(got) {
		if !slices.Contains(members, m) {
			t.Errorf("a key went to %q, not a member", m)
		}
		if c > bound || c < n/len(members) {
			t.Errorf("%s holds %d keys, want %d or %d", m, c, n/len(members), bound)
		}
	}
}

func TestAssignIsAPureFunctionOfTheSets(t *testing.T) {
	k := keys(40)
	held := map[string]string{k[0]: "c", k[1]: "c", k[2]: "gone", k[3]: "a"}
	for _, held := range []map[string]string{nil, held} {
		want := sharding.Assign([]string{"a", "b", "c"}, k, held)
		reversed := slices.Clone(k)
		slices.Reverse(reversed)
		got := sharding.Assign([]string{"c", "a", "b", "a"}, append(reversed, k[0]), held)
		for key, m := range want {
			if got[key] != m {
				t.Errorf("%s: %s, then %s when the sets were listed in another order", key, m, got[key])
			}
		}
	}
}

func TestAssignWithoutMembers(t *testing.T) {
	if got := sharding.Assign(nil, keys(3), heldBy("a", keys(3))); len(got) != 0 {
		t.Errorf("assigned %v without members", got)
	}
}

// TestAssignMovesOnlyWhatMust: with the keys held where the assignment put them, a member that
// leaves moves its own keys and no other; one that joins takes its share of the keys, and the
// only keys that move are those of members that held more than the new bound lets them keep. Over
// 200 rings of 2 to 5 members and 12 to 51 keys.
func TestAssignMovesOnlyWhatMust(t *testing.T) {
	for ring := range 200 {
		members := []string{}
		for i := range 2 + ring%4 {
			members = append(members, fmt.Sprintf("ring%d-replica-%d", ring, i))
		}
		k := keys(12 + ring%40)
		before := sharding.Assign(members, k, nil)

		gone := members[ring%len(members)]
		rest := slices.DeleteFunc(slices.Clone(members), func(m string) bool { return m == gone })
		after := sharding.Assign(rest, k, before)
		checkBalanced(t, rest, len(k), after)
		for key, m := range before {
			switch {
			case m == gone && after[key] == gone:
				t.Fatalf("ring %d: key %s stayed with %s, which left", ring, key, gone)
			case m != gone && after[key] != m:
				t.Errorf("ring %d: key %s moved from %s to %s when %s left", ring, key, m, after[key], gone)
			}
		}

		newcomer := fmt.Sprintf("ring%d-new", ring)
		grown := append(slices.Clone(members), newcomer)
		joined := sharding.Assign(grown, k, before)
		checkBalanced(t, grown, len(k), joined)
		had, kept := loads(before), map[string]int{}
		for key, m := range before {
			if joined[key] == m {
				kept[m]++
			}
		}
		floor := len(k) / len(grown)
		for _, m := range members {
			if kept[m] < had[m] && kept[m] < floor {
				t.Errorf("ring %d: %s kept %d of its %d keys when %s joined, fewer than the %d it may keep", ring, m, kept[m], had[m], newcomer, floor)
			}
		}
	}
}

// TestAssignKeepsALiveHoldersKey replays the e2e spec's two tenants over three replicas: the
// holder of one tenant is killed, and the other tenant stays with its live holder, whichever order
// the two keys hash in.
func TestAssignKeepsALiveHoldersKey(t *testing.T) {
	for i := range 50 {
		k := []string{fmt.Sprintf("north-%d", i), fmt.Sprintf("south-%d", i)}
		held := map[string]string{k[0]: "b", k[1]: "c"}
		got := sharding.Assign([]string{"a", "c"}, k, held)
		if got[k[1]] != "c" {
			t.Errorf("%v held by b and c, b gone: %v, want %s to stay with c", k, got, k[1])
		}
		if got[k[0]] != "a" {
			t.Errorf("%v held by b and c, b gone: %v, want %s with a, the member with room", k, got, k[0])
		}
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
