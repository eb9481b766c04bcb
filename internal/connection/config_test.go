package connection

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/graph"
)

func TestGraphConfig(t *testing.T) {
	base := intunev1alpha1.ConnectionSpec{TenantID: "t", ClientID: "c", Endpoint: "https://127.0.0.1:1", CABundle: "pem"}
	with := func(creds intunev1alpha1.Credentials) *intunev1alpha1.ConnectionSpec {
		s := base
		s.Credentials = creds
		return &s
	}
	cases := map[string]struct {
		spec      *intunev1alpha1.ConnectionSpec
		data      map[string][]byte
		tokenFile string
		wantName  string
		wantKeys  []string
		want      graph.Credential
		wantErr   error
	}{
		"client secret": {
			spec:     with(intunev1alpha1.Credentials{Source: intunev1alpha1.CredentialSourceClientSecret, ClientSecret: &intunev1alpha1.SecretKeyReference{Name: "s", Key: "k"}}),
			data:     map[string][]byte{"k": []byte("v")},
			wantName: "s", wantKeys: []string{"k"},
			want: graph.Credential{Kind: graph.CredentialClientSecret, ClientSecret: "v"},
		},
		"client certificate with a password": {
			spec: with(intunev1alpha1.Credentials{Source: intunev1alpha1.CredentialSourceClientCertificate, ClientCertificate: &intunev1alpha1.CertificateReference{
				Name: "tls", CertificateKey: "tls.crt", PrivateKeyKey: "tls.key", PasswordKey: "pw"}}),
			data:     map[string][]byte{"tls.crt": []byte("CERT"), "tls.key": []byte("KEY"), "pw": []byte("p")},
			wantName: "tls", wantKeys: []string{"tls.crt", "tls.key", "pw"},
			want: graph.Credential{Kind: graph.CredentialClientCertificate, CertificatePEM: []byte("CERT\nKEY"), CertificatePassword: []byte("p")},
		},
		"workload identity": {
			spec:      with(intunev1alpha1.Credentials{Source: intunev1alpha1.CredentialSourceWorkloadIdentity}),
			tokenFile: "/var/run/token",
			want:      graph.Credential{Kind: graph.CredentialWorkloadIdentity, TokenFile: "/var/run/token"},
		},
		"workload identity without a token": {
			spec:    with(intunev1alpha1.Credentials{Source: intunev1alpha1.CredentialSourceWorkloadIdentity}),
			wantErr: ErrNoFederatedToken,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			secret, keys := SecretKeys(tc.spec.Credentials)
			if secret != tc.wantName || !cmp.Equal(keys, tc.wantKeys) {
				t.Errorf("SecretKeys = %q %q, want %q %q", secret, keys, tc.wantName, tc.wantKeys)
			}
			cfg, err := GraphConfig(tc.spec, tc.data, tc.tokenFile)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("GraphConfig: %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if d := cmp.Diff(tc.want, cfg.Credential); d != "" {
				t.Errorf("credential (-want +got):\n%s", d)
			}
			if cfg.TenantID != "t" || cfg.ClientID != "c" || cfg.Endpoint != base.Endpoint || string(cfg.CABundle) != "pem" {
				t.Errorf("settings not carried over: %+v", cfg)
			}
		})
	}
}
