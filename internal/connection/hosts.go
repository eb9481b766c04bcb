package connection

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/graph"
)

// HostPolicy is the hosts a connection's endpoint and authorityHost may name: the national clouds'
// and those allowed besides. Whoever writes a connection chooses where its client secret and bearer
// tokens are sent; the policy keeps them on hosts the one who runs the client agreed to.
type HostPolicy struct {
	// hosts are lower-case host names; "*.example.com" matches every name under example.com.
	hosts []string
}

// NewHostPolicy checks the allowed hosts (host names, IP addresses or "*.<domain>", no scheme,
// port or path) and returns the policy of the clouds' hosts and those.
func NewHostPolicy(allowed []string) (HostPolicy, error) {
	p := HostPolicy{hosts: graph.CloudHosts()}
	var errs []error
	for _, h := range allowed {
		h = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")
		if h == "" {
			continue
		}
		if err := checkHostPattern(h); err != nil {
			errs = append(errs, err)
			continue
		}
		p.hosts = append(p.hosts, h)
	}
	return p, errors.Join(errs...)
}

// checkHostPattern accepts a host name, an IP address, or "*." and a host name.
func checkHostPattern(h string) error {
	name := strings.TrimPrefix(h, "*.")
	if net.ParseIP(name) != nil && name == h {
		return nil
	}
	if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 || strings.Contains(name, "*") {
		return fmt.Errorf("allowed endpoint host %q is not a host name, an IP address or *.<domain> (no scheme, port or path)", h)
	}
	return nil
}

// Allows says whether a host matches the policy.
func (p HostPolicy) Allows(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	return slices.ContainsFunc(p.hosts, func(pattern string) bool {
		if domain, ok := strings.CutPrefix(pattern, "*."); ok {
			return strings.HasSuffix(host, "."+domain)
		}
		return host == pattern
	})
}

// Refused returns the first of the spec's endpoint and authorityHost whose host the policy does
// not allow: the field's name and the host; ok is true when both are allowed (or unset). A value
// that is not a URL with a host passes: graph.Config refuses it with its own message.
func (p HostPolicy) Refused(spec *intunev1alpha1.ConnectionSpec) (field, host string, ok bool) {
	for _, o := range []struct{ field, raw string }{{"endpoint", spec.Endpoint}, {"authorityHost", spec.AuthorityHost}} {
		if o.raw == "" {
			continue
		}
		u, err := url.Parse(o.raw)
		if err != nil || u.Hostname() == "" {
			continue
		}
		if !p.Allows(u.Hostname()) {
			return o.field, u.Hostname(), false
		}
	}
	return "", "", true
}
