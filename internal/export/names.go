package export

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/overview-operator/overview-operator/internal/graph"
)

// hashLen is how many hex digits of the id's hash tell apart configurations whose display names
// make the same name.
const hashLen = 8

// baseName makes a DNS-1123 subdomain of a display name: lower case, every run of characters other
// than a-z and 0-9 one '-', no '-' at either end, at most validation.DNS1123SubdomainMaxLength less
// room for a hash suffix. It is "" when nothing of the name is left (a name of symbols only, or in a
// script other than Latin).
func baseName(displayName string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(displayName) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
			continue
		}
		dash = true
	}
	name := b.String()
	if longest := validation.DNS1123SubdomainMaxLength - 1 - 2*hashLen; len(name) > longest {
		name = strings.TrimRight(name[:longest], "-")
	}
	return name
}

// idHash is the first n hex digits of the SHA-256 of a configuration id.
func idHash(id string, n int) string {
	sum := sha256.Sum256([]byte(strings.ToLower(id)))
	return hex.EncodeToString(sum[:])[:n]
}

// Names gives every configuration a resource name made from its display name, unique among them:
// when display names make the same name (or none), each of those configurations gets a short hash
// of its id as a suffix. The names depend on the set of configurations only, not on their order, so
// an export of the whole tenant and one filtered by name give a configuration the same name as long
// as no new configuration of the same display name appears.
func Names(configs []graph.Configuration) map[string]string {
	byBase := map[string][]string{}
	for _, c := range configs {
		b := baseName(c.DisplayName)
		byBase[b] = append(byBase[b], c.ID)
	}
	names := make(map[string]string, len(configs))
	taken := map[string]bool{}
	for b, ids := range byBase {
		if len(ids) == 1 && b != "" {
			names[ids[0]] = b
			taken[b] = true
		}
	}
	for b, ids := range byBase {
		if len(ids) == 1 && b != "" {
			continue
		}
		prefix := b
		if prefix == "" {
			prefix = "configuration"
		}
		for _, id := range ids {
			// A longer hash in the unlikely case that the suffixed name is taken by a display name
			// that reads like one.
			for n := hashLen; ; n++ {
				name := prefix + "-" + idHash(id, min(n, 2*hashLen))
				if !taken[name] || n >= 2*hashLen {
					names[id] = name
					taken[name] = true
					break
				}
			}
		}
	}
	return names
}
