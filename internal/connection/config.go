package connection

import (
	"errors"
	"fmt"
	"slices"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/graph"
)

// ErrNoFederatedToken is the cause of GraphConfig's error for WorkloadIdentity credentials without
// a federated token file.
var ErrNoFederatedToken = errors.New("no federated token (AZURE_FEDERATED_TOKEN_FILE is unset)")

// SecretKeys returns the name of the Secret the credentials read and the keys they read from it
// ("" keys are optional ones left unset); name is "" for credentials without a Secret
// (WorkloadIdentity).
func SecretKeys(creds intunev1alpha1.Credentials) (name string, keys []string) {
	switch {
	case creds.Source == intunev1alpha1.CredentialSourceClientSecret && creds.ClientSecret != nil:
		return creds.ClientSecret.Name, []string{creds.ClientSecret.Key}
	case creds.Source == intunev1alpha1.CredentialSourceClientCertificate && creds.ClientCertificate != nil:
		ref := creds.ClientCertificate
		return ref.Name, []string{ref.CertificateKey, ref.PrivateKeyKey, ref.PasswordKey}
	}
	return "", nil
}

// GraphConfig turns a connection's settings into the Graph client's: data holds the values of the
// Secret SecretKeys names (checked by the caller to have its keys), tokenFile the federated token
// of WorkloadIdentity credentials. It does not check the endpoints against a HostPolicy, nor
// validate what graph.NewClient validates.
func GraphConfig(spec *intunev1alpha1.ConnectionSpec, data map[string][]byte, tokenFile string) (graph.Config, error) {
	cfg := graph.Config{
		Cloud:         graph.Cloud(spec.Cloud),
		APIVersion:    string(spec.APIVersion),
		Endpoint:      spec.Endpoint,
		AuthorityHost: spec.AuthorityHost,
		CABundle:      []byte(spec.CABundle),
		TenantID:      spec.TenantID,
		ClientID:      spec.ClientID,
		// Multi Admin Approval's justification of every write.
		ApprovalJustification: spec.ApprovalJustification,
	}
	creds := spec.Credentials
	switch creds.Source {
	case intunev1alpha1.CredentialSourceClientSecret:
		if creds.ClientSecret == nil {
			return cfg, errors.New("credentials.clientSecret is missing")
		}
		cfg.Credential = graph.Credential{Kind: graph.CredentialClientSecret, ClientSecret: string(data[creds.ClientSecret.Key])}
	case intunev1alpha1.CredentialSourceClientCertificate:
		ref := creds.ClientCertificate
		if ref == nil {
			return cfg, errors.New("credentials.clientCertificate is missing")
		}
		pem := append(append(slices.Clone(data[ref.CertificateKey]), '\n'), data[ref.PrivateKeyKey]...)
		cfg.Credential = graph.Credential{Kind: graph.CredentialClientCertificate, CertificatePEM: pem}
		if ref.PasswordKey != "" {
			cfg.Credential.CertificatePassword = data[ref.PasswordKey]
		}
	case intunev1alpha1.CredentialSourceWorkloadIdentity:
		if tokenFile == "" {
			return cfg, ErrNoFederatedToken
		}
		cfg.Credential = graph.Credential{Kind: graph.CredentialWorkloadIdentity, TokenFile: tokenFile}
	default:
		return cfg, fmt.Errorf("unknown credentials.source %q", creds.Source)
	}
	return cfg, nil
}
