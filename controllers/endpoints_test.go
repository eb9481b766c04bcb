package controllers

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
)

func TestEndpointPolicy(t *testing.T) {
	graphConnection := func(spec intunev1alpha1.ConnectionSpec) connectionObject {
		c := &intunev1alpha1.GraphConnection{Spec: intunev1alpha1.GraphConnectionSpec{ConnectionSpec: spec}}
		c.Name = "contoso"
		return c
	}
	clusterConnection := func(spec intunev1alpha1.ConnectionSpec) connectionObject {
		c := &intunev1alpha1.ClusterGraphConnection{Spec: intunev1alpha1.ClusterGraphConnectionSpec{ConnectionSpec: spec}}
		c.Name = "shared"
		return c
	}
	cases := map[string]struct {
		allowed    []string
		caBundle   bool
		conn       connectionObject
		wantReason string // "" when allowed
	}{
		"no override": {
			conn: graphConnection(intunev1alpha1.ConnectionSpec{}),
		},
		"every national cloud's Graph and login hosts, by default": {
			conn: graphConnection(intunev1alpha1.ConnectionSpec{Endpoint: "https://dod-graph.microsoft.us", AuthorityHost: "https://login.chinacloudapi.cn/"}),
		},
		"a cloud host with a path, a port and upper case": {
			conn: graphConnection(intunev1alpha1.ConnectionSpec{Endpoint: "https://Graph.Microsoft.com:443/v1.0"}),
		},
		"an in-cluster host, by default": {
			conn:       graphConnection(intunev1alpha1.ConnectionSpec{Endpoint: "https://kubernetes.default.svc"}),
			wantReason: intunev1alpha1.ReasonEndpointNotAllowed,
		},
		"a look-alike of a cloud host": {
			conn:       graphConnection(intunev1alpha1.ConnectionSpec{AuthorityHost: "https://login.microsoftonline.com.evil.example"}),
			wantReason: intunev1alpha1.ReasonEndpointNotAllowed,
		},
		"a cluster connection is held to the same hosts": {
			conn:       clusterConnection(intunev1alpha1.ConnectionSpec{Endpoint: "https://10.0.0.1"}),
			wantReason: intunev1alpha1.ReasonEndpointNotAllowed,
		},
		"a host the flag allows": {
			allowed: []string{" Proxy.Example.com. "},
			conn:    graphConnection(intunev1alpha1.ConnectionSpec{Endpoint: "https://proxy.example.com:8443"}),
		},
		"a wildcard allows the names under its domain": {
			allowed: []string{"*.proxy.example.com"},
			conn:    graphConnection(intunev1alpha1.ConnectionSpec{Endpoint: "https://eu.graph.proxy.example.com"}),
		},
		"a wildcard does not allow its domain itself": {
			allowed:    []string{"*.proxy.example.com"},
			conn:       graphConnection(intunev1alpha1.ConnectionSpec{Endpoint: "https://proxy.example.com"}),
			wantReason: intunev1alpha1.ReasonEndpointNotAllowed,
		},
		"an IP address the flag allows": {
			allowed: []string{"127.0.0.1"},
			conn:    graphConnection(intunev1alpha1.ConnectionSpec{Endpoint: "https://127.0.0.1:9443", AuthorityHost: "https://127.0.0.1:9443"}),
		},
		"a caBundle on a GraphConnection, by default": {
			conn:       graphConnection(intunev1alpha1.ConnectionSpec{CABundle: "-----BEGIN CERTIFICATE-----"}),
			wantReason: intunev1alpha1.ReasonEndpointNotAllowed,
		},
		"a caBundle on a GraphConnection, with the flag": {
			caBundle: true,
			conn:     graphConnection(intunev1alpha1.ConnectionSpec{CABundle: "-----BEGIN CERTIFICATE-----"}),
		},
		"a caBundle on a ClusterGraphConnection": {
			conn: clusterConnection(intunev1alpha1.ConnectionSpec{CABundle: "-----BEGIN CERTIFICATE-----"}),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p, err := newEndpointPolicy(tc.allowed, tc.caBundle)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			var s *stalled
			if err := p.check(tc.conn); errors.As(err, &s) {
				got = s.reason
			} else if err != nil {
				t.Fatalf("check: %v", err)
			}
			if diff := cmp.Diff(tc.wantReason, got); diff != "" {
				t.Errorf("reason (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEndpointPolicyRefusesMalformedHosts(t *testing.T) {
	for _, h := range []string{"*", "https://proxy.example.com", "proxy.example.com:443", "proxy.example.com/graph", "a.*.example.com", "under_score.example.com"} {
		if _, err := newEndpointPolicy([]string{h}, false); err == nil {
			t.Errorf("%q: accepted", h)
		}
	}
}
