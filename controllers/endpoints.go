package controllers

import (
	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/connection"
)

// endpointPolicy says where a connection may send the operator: the national clouds' hosts, and
// those the operator's administrator allowed. Without it anyone who may create a GraphConnection
// could make the operator's pod send HTTPS requests, with a bearer token, to any host it can reach,
// in-cluster ones included.
type endpointPolicy struct {
	hosts connection.HostPolicy
	// namespacedCABundle lets a GraphConnection bring CA certificates of its own, which make hosts
	// with private certificates reachable. A ClusterGraphConnection, which only cluster
	// administrators create, always may.
	namespacedCABundle bool
}

// newEndpointPolicy checks the allowed hosts and returns the policy: the clouds' hosts and those.
func newEndpointPolicy(allowed []string, namespacedCABundle bool) (endpointPolicy, error) {
	hosts, err := connection.NewHostPolicy(allowed)
	return endpointPolicy{hosts: hosts, namespacedCABundle: namespacedCABundle}, err
}

// check refuses a connection whose overrides the policy does not allow, saying which setting and
// what would allow it.
func (p endpointPolicy) check(conn connectionObject) error {
	spec := conn.Settings()
	if field, host, ok := p.hosts.Refused(spec); !ok {
		return stalledf(intunev1alpha1.ReasonEndpointNotAllowed,
			"%s %q: spec.%s names host %q, which the operator does not allow: only the national clouds' hosts are allowed, "+
				"and those its administrator adds with the operator's --allowed-endpoint-hosts flag",
			kindOf(conn), conn.GetName(), field, host)
	}
	if spec.CABundle != "" && !p.namespacedCABundle && kindOf(conn) == intunev1alpha1.ConnectionKindNamespaced {
		return stalledf(intunev1alpha1.ReasonEndpointNotAllowed,
			"GraphConnection %q: spec.caBundle is not allowed on a GraphConnection unless the operator runs with --allow-namespaced-ca-bundle; "+
				"remove it, or use a ClusterGraphConnection", conn.GetName())
	}
	return nil
}
