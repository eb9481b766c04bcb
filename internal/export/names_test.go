package export

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/overview-operator/overview-operator/internal/graph"
)

func TestBaseName(t *testing.T) {
	cases := map[string]struct{ in, want string }{
		"plain":                       {in: "Wi-Fi HQ", want: "wi-fi-hq"},
		"runs of symbols":             {in: "  VPN -- (Berlin) / 2026!", want: "vpn-berlin-2026"},
		"dots and accents":            {in: "Büro.Drucker", want: "b-ro-drucker"},
		"nothing left":                {in: "¿¡!?", want: ""},
		"other script":                {in: "無線LAN", want: "lan"},
		"too long":                    {in: strings.Repeat("a", 300), want: strings.Repeat("a", 253-1-16)},
		"too long, a dash at the cut": {in: strings.Repeat("a", 235) + " b" + strings.Repeat("c", 30), want: strings.Repeat("a", 235)},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if d := cmp.Diff(tc.want, baseName(tc.in)); d != "" {
				t.Errorf("baseName(%q) (-want +got):\n%s", tc.in, d)
			}
		})
	}
}

// TestNames: every configuration gets a valid name, unique among them; display names that make the
// same name (or none) are told apart by a hash of the id, whatever the order of the list.
func TestNames(t *testing.T) {
	configs := []graph.Configuration{
		{ID: "00000000-0000-4000-8000-000000000001", DisplayName: "Wi-Fi HQ"},
		{ID: "00000000-0000-4000-8000-000000000002", DisplayName: "Wi-Fi HQ"},
		{ID: "00000000-0000-4000-8000-000000000003", DisplayName: "wi-fi hq!"},
		{ID: "00000000-0000-4000-8000-000000000004", DisplayName: "VPN"},
		{ID: "00000000-0000-4000-8000-000000000005", DisplayName: "!!!"},
		{ID: "00000000-0000-4000-8000-000000000006", DisplayName: "???"},
		{ID: "00000000-0000-4000-8000-000000000007", DisplayName: strings.Repeat("x", 400)},
	}
	names := Names(configs)
	seen := map[string]string{}
	for _, c := range configs {
		name := names[c.ID]
		if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
			t.Errorf("%q: name %q is not valid: %v", c.DisplayName, name, msgs)
		}
		if other, dup := seen[name]; dup {
			t.Errorf("%s and %s both named %q", other, c.ID, name)
		}
		seen[name] = c.ID
	}
	if names[configs[3].ID] != "vpn" {
		t.Errorf("a unique display name: %q, want vpn", names[configs[3].ID])
	}
	if want := "wi-fi-hq-" + idHash(configs[0].ID, hashLen); names[configs[0].ID] != want {
		t.Errorf("a shared display name: %q, want %q", names[configs[0].ID], want)
	}
	if !strings.HasPrefix(names[configs[4].ID], "configuration-") {
		t.Errorf("a display name of symbols: %q, want configuration-<hash>", names[configs[4].ID])
	}
	reversed := make([]graph.Configuration, len(configs))
	for i, c := range configs {
		reversed[len(configs)-1-i] = c
	}
	if d := cmp.Diff(names, Names(reversed)); d != "" {
		t.Errorf("names depend on the list's order (-first +reversed):\n%s", d)
	}
}
