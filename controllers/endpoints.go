package controllers

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

// endpointPolicy says where a connection may send the operator: the national clouds' hosts, and
// those the operator's administrator allowed. Without it anyone who may create a GraphConnection
// could make the operator's pod send HTTPS requests, with a bearer token, to any host it can reach,
// in-cluster ones included.
type endpointPolicy struct {
	// hosts are lower-case host names; "*.example.com" matches every name under example.com.
	hosts []string
	// namespacedCABundle lets a GraphConnection bring CA certificates of its own, which make hosts
	// with private certificates reachable. A ClusterGraphConnection, which only cluster
	// administrators create, always may.
	namespacedCABundle bool
}

// newEndpointPolicy checks the allowed hosts and returns the policy: the clouds' hosts and those.
func newEndpointPolicy(allowed []string, namespacedCABundle bool) (endpointPolicy, error) {
	p := endpointPolicy{hosts: graph.CloudHosts(), namespacedCABundle: namespacedCABundle}
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

// allows says whether a host matches the policy.
func (p endpointPolicy) allows(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	return slices.ContainsFunc(p.hosts, func(pattern string) bool {
		if domain, ok := strings.CutPrefix(pattern, "*."); ok {
			return strings.HasSuffix(host, "."+domain)
		}
		return host == pattern
	})
}

// check refuses a connection whose overrides the policy does not allow, saying which setting and
// what would allow it.
func (p endpointPolicy) check(conn connectionObject) error {
	spec := conn.Settings()
	for _, o := range []struct{ field, raw string }{{"endpoint", spec.Endpoint}, {"authorityHost", spec.AuthorityHost}} {
		if o.raw == "" {
			continue
		}
		u, err := url.Parse(o.raw)
		if err != nil || u.Hostname() == "" {
			continue // graph.Config refuses it, with its own message
		}
		if !p.allows(u.Hostname()) {
			return stalledf(intunev1alpha1.ReasonEndpointNotAllowed,
				"%s %q: spec.%s names host %q, which the operator does not allow: only the national clouds' hosts are allowed, "+
					"and those its administrator adds with the operator's --allowed-endpoint-hosts flag",
				kindOf(conn), conn.GetName(), o.field, u.Hostname())
		}
	}
	if spec.CABundle != "" && !p.namespacedCABundle && kindOf(conn) == intunev1alpha1.ConnectionKindNamespaced {
		return stalledf(intunev1alpha1.ReasonEndpointNotAllowed,
			"GraphConnection %q: spec.caBundle is not allowed on a GraphConnection unless the operator runs with --allow-namespaced-ca-bundle; "+
				"remove it, or use a ClusterGraphConnection", conn.GetName())
	}
	return nil
}
