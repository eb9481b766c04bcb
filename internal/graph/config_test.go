package graph

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"k8s.io/utils/clock"

	"github.com/overview-operator/overview-operator/internal/testutil"
)

func TestCloudEndpoints(t *testing.T) {
	tests := map[Cloud]CloudEndpoints{
		"":                   {Graph: "https://graph.microsoft.com", AuthorityHost: "https://login.microsoftonline.com"},
		CloudPublic:          {Graph: "https://graph.microsoft.com", AuthorityHost: "https://login.microsoftonline.com"},
		CloudUSGovernment:    {Graph: "https://graph.microsoft.us", AuthorityHost: "https://login.microsoftonline.us"},
		CloudUSGovernmentDoD: {Graph: "https://dod-graph.microsoft.us", AuthorityHost: "https://login.microsoftonline.us"},
		CloudChina:           {Graph: "https://microsoftgraph.chinacloudapi.cn", AuthorityHost: "https://login.chinacloudapi.cn"},
	}
	for cloud, want := range tests {
		t.Run(string(cloud), func(t *testing.T) {
			got, ok := cloud.Endpoints()
			if !ok {
				t.Fatal("unknown cloud")
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if _, ok := Cloud("AzureStack").Endpoints(); ok {
		t.Error("AzureStack is known")
	}
}

const (
	testTenant = "00000000-0000-0000-0000-00000000000a"
	testClient = "00000000-0000-0000-0000-00000000000b"
	testSecret = "s3cret-value-that-must-not-leak"
)

func secretConfig() Config {
	return Config{TenantID: testTenant, ClientID: testClient,
		Credential: Credential{Kind: CredentialClientSecret, ClientSecret: testSecret}}
}

func TestConfigResolve(t *testing.T) {
	with := func(f func(*Config)) Config {
		c := secretConfig()
		f(&c)
		return c
	}
	tests := map[string]struct {
		cfg  Config
		want settings
	}{
		"defaults: Public, v1.0": {
			cfg: secretConfig(),
			want: settings{graph: "https://graph.microsoft.com", authorityHost: "https://login.microsoftonline.com",
				scope: "https://graph.microsoft.com/.default", apiVersion: "v1.0"},
		},
		"US Government, beta": {
			cfg: with(func(c *Config) { c.Cloud, c.APIVersion = CloudUSGovernment, "beta" }),
			want: settings{graph: "https://graph.microsoft.us", authorityHost: "https://login.microsoftonline.us",
				scope: "https://graph.microsoft.us/.default", apiVersion: "beta"},
		},
		"DoD": {
			cfg: with(func(c *Config) { c.Cloud = CloudUSGovernmentDoD }),
			want: settings{graph: "https://dod-graph.microsoft.us", authorityHost: "https://login.microsoftonline.us",
				scope: "https://dod-graph.microsoft.us/.default", apiVersion: "v1.0"},
		},
		"China": {
			cfg: with(func(c *Config) { c.Cloud = CloudChina }),
			want: settings{graph: "https://microsoftgraph.chinacloudapi.cn", authorityHost: "https://login.chinacloudapi.cn",
				scope: "https://microsoftgraph.chinacloudapi.cn/.default", apiVersion: "v1.0"},
		},
		"overrides: the scope follows the endpoint, instance discovery is off": {
			cfg: with(func(c *Config) {
				c.Endpoint, c.AuthorityHost = "https://127.0.0.1:8443/", "https://127.0.0.1:8443"
			}),
			want: settings{graph: "https://127.0.0.1:8443", authorityHost: "https://127.0.0.1:8443", customAuth: true,
				scope: "https://127.0.0.1:8443/.default", apiVersion: "v1.0"},
		},
		"endpoint with a path prefix": {
			cfg: with(func(c *Config) { c.Endpoint = "https://proxy.example/graph/" }),
			want: settings{graph: "https://proxy.example/graph", authorityHost: "https://login.microsoftonline.com",
				scope: "https://proxy.example/.default", apiVersion: "v1.0"},
		},
		"certificate": {
			cfg: with(func(c *Config) {
				c.Credential = Credential{Kind: CredentialClientCertificate, CertificatePEM: testutil.SelfSignedCertificate().PEM()}
			}),
			want: settings{graph: "https://graph.microsoft.com", authorityHost: "https://login.microsoftonline.com",
				scope: "https://graph.microsoft.com/.default", apiVersion: "v1.0"},
		},
		"workload identity, domain tenant": {
			cfg: with(func(c *Config) {
				c.TenantID = "contoso.onmicrosoft.com"
				c.Credential = Credential{Kind: CredentialWorkloadIdentity, TokenFile: "/var/run/secrets/azure/tokens/azure-identity-token"}
			}),
			want: settings{graph: "https://graph.microsoft.com", authorityHost: "https://login.microsoftonline.com",
				scope: "https://graph.microsoft.com/.default", apiVersion: "v1.0"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := tc.cfg.resolve()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(settings{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestConfigResolveCABundle(t *testing.T) {
	cfg := secretConfig()
	cfg.CABundle = testutil.SelfSignedCertificate().CertPEM
	s, err := cfg.resolve()
	if err != nil {
		t.Fatal(err)
	}
	if s.roots == nil {
		t.Fatal("no roots")
	}
}

// TestOverrideURLsAgreeWithTheCRD reads the list of endpoint and authorityHost values that the
// CRD's rules are also tested against (api/v1alpha1/validation_test.go): what the API server admits,
// a connection can use, and what it refuses, the operator refuses too.
func TestOverrideURLsAgreeWithTheCRD(t *testing.T) {
	values, err := testutil.ReadValues("../../api/v1alpha1/testdata/url.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range values.Valid {
		cfg := secretConfig()
		cfg.Endpoint, cfg.AuthorityHost = s, s
		if _, err := cfg.resolve(); err != nil {
			t.Errorf("%q, which the API server admits, is refused: %v", s, err)
		}
	}
	setters := map[string]func(*Config, string){
		"endpoint":       func(c *Config, s string) { c.Endpoint = s },
		"authority host": func(c *Config, s string) { c.AuthorityHost = s },
	}
	for _, s := range values.Invalid {
		for name, set := range setters {
			cfg := secretConfig()
			set(&cfg, s)
			if _, err := cfg.resolve(); err == nil {
				t.Errorf("%s %q, which the API server refuses, is accepted", name, s)
			} else if !strings.Contains(err.Error(), name+": ") {
				t.Errorf("%s %q: the error %q does not name the setting", name, s, err)
			}
		}
	}
}

func TestConfigValidation(t *testing.T) {
	with := func(f func(*Config)) Config {
		c := secretConfig()
		f(&c)
		return c
	}
	tests := map[string]struct {
		cfg  Config
		want []string // parts of the error
	}{
		"unknown cloud":         {with(func(c *Config) { c.Cloud = "Mars" }), []string{`cloud "Mars" is not one of Public, USGovernment, USGovernmentDoD, China`}},
		"http endpoint":         {with(func(c *Config) { c.Endpoint = "http://graph.example" }), []string{`endpoint: "http://graph.example" must be an https URL`}},
		"endpoint with query":   {with(func(c *Config) { c.Endpoint = "https://graph.example/?a=b" }), []string{"must not have a query"}},
		"endpoint without host": {with(func(c *Config) { c.Endpoint = "https:///x" }), []string{"has no host"}},
		"endpoint with user": {with(func(c *Config) { c.Endpoint = "https://user:pw@graph.example" }),
			[]string{"endpoint: the URL must not carry user information"}},
		"http authority":  {with(func(c *Config) { c.AuthorityHost = "http://login.example" }), []string{`authority host: "http://login.example" must be an https URL`}},
		"api version":     {with(func(c *Config) { c.APIVersion = "v2.0" }), []string{`API version "v2.0" is not "v1.0" or "beta"`}},
		"no tenant":       {with(func(c *Config) { c.TenantID = "" }), []string{"tenant id is empty"}},
		"tenant with /":   {with(func(c *Config) { c.TenantID = "a/../b" }), []string{`tenant id "a/../b" is not a GUID or a domain name`}},
		"no client":       {with(func(c *Config) { c.ClientID = " " }), []string{"client id is empty"}},
		"client with ?":   {with(func(c *Config) { c.ClientID = "a?b" }), []string{`client id "a?b" is not an application id`}},
		"no secret":       {with(func(c *Config) { c.Credential.ClientSecret = "" }), []string{"the client secret is empty"}},
		"no kind":         {with(func(c *Config) { c.Credential.Kind = "" }), []string{"credential kind is empty"}},
		"unknown kind":    {with(func(c *Config) { c.Credential.Kind = "ManagedIdentity" }), []string{`credential kind "ManagedIdentity" is not one of`}},
		"no certificate":  {with(func(c *Config) { c.Credential = Credential{Kind: CredentialClientCertificate} }), []string{"the certificate PEM is empty"}},
		"no token file":   {with(func(c *Config) { c.Credential = Credential{Kind: CredentialWorkloadIdentity} }), []string{"the token file path is empty"}},
		"garbage bundle":  {with(func(c *Config) { c.CABundle = []byte("not a PEM") }), []string{"CA bundle holds no PEM certificate"}},
		"several at once": {with(func(c *Config) { c.Cloud, c.TenantID, c.APIVersion = "Mars", "", "v9" }), []string{"cloud", "tenant id is empty", "API version"}},
		"certificate without its key": {
			with(func(c *Config) {
				c.Credential = Credential{Kind: CredentialClientCertificate, CertificatePEM: testutil.SelfSignedCertificate().CertPEM}
			}),
			[]string{"the certificate PEM (a certificate and its private key) does not parse"},
		},
		"a certificate PEM that is garbage": {
			with(func(c *Config) {
				c.Credential = Credential{Kind: CredentialClientCertificate, CertificatePEM: []byte("-----BEGIN PRIVATE KEY-----\n" + testSecret + "\n-----END PRIVATE KEY-----\n")}
			}),
			[]string{"does not parse"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := tc.cfg.resolve()
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			for _, part := range tc.want {
				if !strings.Contains(msg, part) {
					t.Errorf("error %q does not contain %q", msg, part)
				}
			}
			if strings.Contains(msg, testSecret) || strings.Contains(msg, "pw@") {
				t.Errorf("error %q holds secret material", msg)
			}
			if _, err := NewClient(tc.cfg, Options{Pacers: NewPacers(Limits{}, 0)}); err == nil {
				t.Error("NewClient accepted it")
			}
		})
	}
}

func TestNewClientNeedsPacers(t *testing.T) {
	if _, err := NewClient(secretConfig(), Options{}); err == nil || !strings.Contains(err.Error(), "Pacers") {
		t.Errorf("error %v, want one about Pacers", err)
	}
}

func TestOptionsDefaults(t *testing.T) {
	got := Options{}.withDefaults()
	want := Options{Timeout: 30 * time.Second, ListTimeout: 30 * time.Minute, ForbiddenRenewal: time.Minute, RefusalHold: 30 * time.Second, Clock: clock.RealClock{}}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(Options{}, "Logger")); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
