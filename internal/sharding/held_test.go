package sharding

import (
	"maps"
	"testing"
)

// TestHeldBy: each key's holder from the members' claims; a key two members claim (one saw the
// other's claim late) is the first's by name, whatever order the claims come in, and a key no
// member claims has no holder.
func TestHeldBy(t *testing.T) {
	cases := map[string]struct {
		holders map[string][]string
		want    map[string]string
	}{
		"one holder each": {
			holders: map[string][]string{"a": {"k1"}, "b": {"k2", "k3"}},
			want:    map[string]string{"k1": "a", "k2": "b", "k3": "b"},
		},
		"a key claimed twice is the first's by name": {
			holders: map[string][]string{"c": {"k1", "k2"}, "b": {"k2"}},
			want:    map[string]string{"k1": "c", "k2": "b"},
		},
		"three claims of one key": {
			holders: map[string][]string{"z": {"k"}, "m": {"k"}, "n": {"k"}},
			want:    map[string]string{"k": "m"},
		},
		"a member that claims nothing": {
			holders: map[string][]string{"a": nil, "b": {"k"}},
			want:    map[string]string{"k": "b"},
		},
		"no claims": {holders: map[string][]string{}, want: map[string]string{}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			for range 20 { // map order differs from run to run; the answer must not
				if got := heldBy(c.holders); !maps.Equal(got, c.want) {
					t.Fatalf("heldBy(%v) = %v, want %v", c.holders, got, c.want)
				}
			}
		})
	}
}
