package export

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/connection"
	"github.com/overview-operator/overview-operator/internal/graph"
	"github.com/overview-operator/overview-operator/internal/scheme"
)

// TestConnectionConfig: a connection and its Secret become the Graph settings the operator would
// use; what is missing or not allowed is an error that says what.
func TestConnectionConfig(t *testing.T) {
	spec := func(endpoint, secret string) intunev1alpha1.ConnectionSpec {
		return intunev1alpha1.ConnectionSpec{TenantID: tenant, ClientID: app, Endpoint: endpoint,
			Credentials: intunev1alpha1.Credentials{Source: intunev1alpha1.CredentialSourceClientSecret,
				ClientSecret: &intunev1alpha1.SecretKeyReference{Name: secret, Key: "clientSecret"}}}
	}
	c := fake.NewClientBuilder().WithScheme(scheme.New()).WithObjects(
		&intunev1alpha1.GraphConnection{ObjectMeta: metav1.ObjectMeta{Namespace: "it-ops", Name: "contoso"},
			Spec: intunev1alpha1.GraphConnectionSpec{ConnectionSpec: spec("", "contoso-graph")}},
		&intunev1alpha1.GraphConnection{ObjectMeta: metav1.ObjectMeta{Namespace: "it-ops", Name: "proxied"},
			Spec: intunev1alpha1.GraphConnectionSpec{ConnectionSpec: spec("https://graph-proxy.example.com", "contoso-graph")}},
		&intunev1alpha1.GraphConnection{ObjectMeta: metav1.ObjectMeta{Namespace: "it-ops", Name: "no-secret"},
			Spec: intunev1alpha1.GraphConnectionSpec{ConnectionSpec: spec("", "missing")}},
		&intunev1alpha1.GraphConnection{ObjectMeta: metav1.ObjectMeta{Namespace: "it-ops", Name: "no-key"},
			Spec: intunev1alpha1.GraphConnectionSpec{ConnectionSpec: spec("", "empty")}},
		&intunev1alpha1.ClusterGraphConnection{ObjectMeta: metav1.ObjectMeta{Name: "fabrikam"},
			Spec: intunev1alpha1.ClusterGraphConnectionSpec{ConnectionSpec: spec("", "contoso-graph"), SecretNamespace: "it-ops"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "it-ops", Name: "contoso-graph"}, Data: map[string][]byte{"clientSecret": []byte("s")}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "it-ops", Name: "empty"}},
	).Build()
	ns := func(kind intunev1alpha1.ConnectionKind, name string) intunev1alpha1.ConnectionReference {
		return intunev1alpha1.ConnectionReference{Kind: kind, Name: name}
	}
	cases := map[string]struct {
		ref     intunev1alpha1.ConnectionReference
		allowed []string
		wantErr string
	}{
		"a GraphConnection":                     {ref: ns(intunev1alpha1.ConnectionKindNamespaced, "contoso")},
		"a ClusterGraphConnection":              {ref: ns(intunev1alpha1.ConnectionKindCluster, "fabrikam")},
		"an unknown connection":                 {ref: ns(intunev1alpha1.ConnectionKindNamespaced, "nope"), wantErr: `GraphConnection "nope" in namespace "it-ops" does not exist`},
		"an unknown cluster connection":         {ref: ns(intunev1alpha1.ConnectionKindCluster, "nope"), wantErr: `ClusterGraphConnection "nope" does not exist`},
		"an endpoint not allowed":               {ref: ns(intunev1alpha1.ConnectionKindNamespaced, "proxied"), wantErr: "--allowed-endpoint-hosts=graph-proxy.example.com"},
		"an endpoint allowed":                   {ref: ns(intunev1alpha1.ConnectionKindNamespaced, "proxied"), allowed: []string{"*.example.com"}},
		"a missing Secret":                      {ref: ns(intunev1alpha1.ConnectionKindNamespaced, "no-secret"), wantErr: `its Secret "missing" does not exist in namespace "it-ops"`},
		"a Secret without the credentials' key": {ref: ns(intunev1alpha1.ConnectionKindNamespaced, "no-key"), wantErr: `has no key "clientSecret"`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			hosts, err := connection.NewHostPolicy(tc.allowed)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := ConnectionConfig(context.Background(), client.Reader(c), tc.ref, "it-ops", hosts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one that says %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.TenantID != tenant || cfg.Credential.Kind != graph.CredentialClientSecret || cfg.Credential.ClientSecret != "s" {
				t.Errorf("config %+v", cfg)
			}
		})
	}
}
