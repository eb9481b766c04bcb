package graph

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/overview-operator/overview-operator/internal/testutil"
	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

func TestCredentialKinds(t *testing.T) {
	tests := map[string]func(t *testing.T, e *emulator) Credential{
		"client secret": func(t *testing.T, e *emulator) Credential {
			return Credential{Kind: CredentialClientSecret, ClientSecret: testSecret}
		},
		"client certificate": func(t *testing.T, e *emulator) Credential {
			cert := testutil.SelfSignedCertificate()
			e.AddApp(graphtest.App{TenantID: testTenant, ClientID: testClient, Certificate: cert.Cert})
			return Credential{Kind: CredentialClientCertificate, CertificatePEM: cert.PEM()}
		},
		"workload identity": func(t *testing.T, e *emulator) Credential {
			e.AddApp(graphtest.App{TenantID: testTenant, ClientID: testClient})
			file := writeFile(t, "token", []byte(e.FederatedToken(testTenant, testClient, time.Hour)))
			return Credential{Kind: CredentialWorkloadIdentity, TokenFile: file}
		},
	}
	for name, credential := range tests {
		t.Run(name, func(t *testing.T) {
			e := newEmulator(t, graphtest.Options{})
			cfg := e.config()
			cfg.Credential = credential(t, e)
			c := e.client(t, cfg, fastOptions())
			ctx := testContext(t)

			if err := c.CheckCredentials(ctx); err != nil {
				t.Fatalf("CheckCredentials: %v", err)
			}
			got, err := c.Get(ctx, UserOverview, configID)
			if err != nil {
				t.Fatalf("GetOverview: %v", err)
			}
			if diff := cmp.Diff(wantOverview(e.seeded), got.Overview); diff != "" {
				t.Errorf("overview (-want +got):\n%s", diff)
			}
			reqs := e.graphRequests()
			if len(reqs) != 1 || reqs[0].ClientID != testClient || reqs[0].TenantID != testTenant {
				t.Fatalf("Graph requests %+v, want one from the app", reqs)
			}
			if got.RequestID == "" || got.RequestID != reqs[0].RequestID {
				t.Errorf("request-id %q, the emulator answered %q", got.RequestID, reqs[0].RequestID)
			}
			// CheckCredentials' token is cached and used for the call.
			if n := e.tokenRequests(); n != 1 {
				t.Errorf("%d token requests, want 1", n)
			}
		})
	}
}

func TestCredentialFailures(t *testing.T) {
	tests := map[string]struct {
		credential func(t *testing.T, e *emulator) Credential
		kind       Kind
		says       string // a part of the description
	}{
		"wrong client secret": {
			credential: func(t *testing.T, e *emulator) Credential {
				return Credential{Kind: CredentialClientSecret, ClientSecret: "wrong-" + testSecret}
			},
			kind: KindCredentialsRefused, says: "with the ClientSecret credential: the login endpoint answered 401 invalid_client: AADSTS7000215",
		},
		"unregistered certificate": {
			credential: func(t *testing.T, e *emulator) Credential {
				// A certificate the app does not know: the test certificate is registered on no
				// app here.
				return Credential{Kind: CredentialClientCertificate, CertificatePEM: testutil.SelfSignedCertificate().PEM()}
			},
			kind: KindCredentialsRefused, says: "with the ClientCertificate credential: the login endpoint answered 401 invalid_client: AADSTS",
		},
		"missing token file": {
			credential: func(t *testing.T, e *emulator) Credential {
				return Credential{Kind: CredentialWorkloadIdentity, TokenFile: filepath.Join(t.TempDir(), "absent")}
			},
			kind: KindTokenFileUnreadable, says: "absent cannot be read",
		},
		"expired federated token": {
			credential: func(t *testing.T, e *emulator) Credential {
				file := writeFile(t, "token", []byte(e.FederatedToken(testTenant, testClient, -time.Hour)))
				return Credential{Kind: CredentialWorkloadIdentity, TokenFile: file}
			},
			kind: KindCredentialsRefused, says: "with the WorkloadIdentity credential: the login endpoint answered 401 invalid_client: AADSTS700024",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			e := newEmulator(t, graphtest.Options{})
			cfg := e.config()
			cfg.Credential = tc.credential(t, e)
			c := e.client(t, cfg, fastOptions())
			ctx := testContext(t)

			for call, err := range map[string]error{
				"CheckCredentials": c.CheckCredentials(ctx),
				"GetOverview":      func() error { _, err := c.Get(ctx, UserOverview, configID); return err }(),
			} {
				got := Classify(err)
				if got.Class != ClassNeedsPerson || got.Kind != tc.kind || got.Credential != cfg.Credential.Kind {
					t.Errorf("%s: %v classified %+v, want NeedsPerson %s of %s", call, err, got, tc.kind, cfg.Credential.Kind)
				}
				if !strings.Contains(got.Description, tc.says) {
					t.Errorf("%s: description %q does not contain %q", call, got.Description, tc.says)
				}
				if strings.Contains(err.Error(), testSecret) || strings.Contains(got.Description, testSecret) {
					t.Errorf("%s: the secret leaked: %v", call, err)
				}
			}
			if n := len(e.graphRequests()); n != 0 {
				t.Errorf("%d Graph requests without a token", n)
			}
		})
	}
}

func TestLoginEndpointUnreachable(t *testing.T) {
	t.Parallel() // waits on the emulator's clock: runs beside the package's other waiting tests
	e := newEmulator(t, graphtest.Options{})
	cfg := e.config()
	cfg.AuthorityHost = "https://127.0.0.1:1" // nothing listens there
	c := e.client(t, cfg, fastOptions())
	err := c.CheckCredentials(testContext(t))
	if got := Classify(err); got.Class != ClassRetryable || got.Kind != KindTransport {
		t.Errorf("%v classified %+v, want Retryable Transport", err, got)
	}
}

func TestUntrustedServer(t *testing.T) {
	t.Parallel() // waits on the emulator's clock: runs beside the package's other waiting tests
	e := newEmulator(t, graphtest.Options{})
	cfg := e.config()
	cfg.CABundle = nil // the emulator's CA is not among the system roots
	c := e.client(t, cfg, fastOptions())
	_, err := c.Get(testContext(t), UserOverview, configID)
	got := Classify(err)
	if got.Class != ClassRetryable || got.Kind != KindUntrustedCertificate || got.Description != "cannot obtain a token: the TLS certificate of the login endpoint is not trusted" {
		t.Errorf("%v classified %+v, want Retryable UntrustedCertificate of the login endpoint, the first to answer", err, got)
	}
}

// TestTokenEndpointFaults: a token endpoint that fails for a while (an outage page with status 200,
// 5xx, no answer in time, a dropped connection, a truncated answer) is a transient fault, retried
// on the normal backoff, not a refusal of the credentials; once it answers again the same client
// works.
func TestTokenEndpointFaults(t *testing.T) {
	tests := map[string]struct {
		fault   graphtest.Fault
		timeout time.Duration // the client's; the hang outlasts the short one
	}{
		"an HTML page with status 200": {graphtest.Fault{HTMLPage: true}, 300 * time.Millisecond},
		"an HTML page with status 502": {graphtest.Fault{HTMLPage: true, Status: 502}, 300 * time.Millisecond},
		"500":                          {graphtest.Fault{Status: 500}, 300 * time.Millisecond},
		"502":                          {graphtest.Fault{Status: 502}, 300 * time.Millisecond},
		"503":                          {graphtest.Fault{Status: 503, RetryAfter: "1"}, 300 * time.Millisecond},
		"504":                          {graphtest.Fault{Status: 504}, 300 * time.Millisecond},
		"a hang":                       {graphtest.Fault{Hang: true}, 300 * time.Millisecond},
		"a dropped connection":         {graphtest.Fault{DropConnection: true}, 300 * time.Millisecond},
		"a truncated answer":           {graphtest.Fault{MalformedBody: true}, 300 * time.Millisecond},
		// azidentity retries a 5xx twice, and gives up within the default timeout.
		"503, azidentity's retries spent": {graphtest.Fault{Status: 503}, DefaultTimeout},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEmulator(t, graphtest.Options{})
			tc.fault.Token = true
			e.Inject(tc.fault)
			opts := fastOptions()
			opts.Timeout = tc.timeout
			c := e.client(t, e.config(), opts)
			ctx := testContext(t)

			for call, err := range map[string]error{
				"CheckCredentials": c.CheckCredentials(ctx),
				"GetOverview":      func() error { _, err := c.Get(ctx, UserOverview, configID); return err }(),
			} {
				got := Classify(err)
				if got.Class != ClassRetryable || (got.Kind != KindLoginUnavailable && got.Kind != KindTransport) {
					t.Errorf("%s: %v classified %+v, want Retryable LoginUnavailable or Transport", call, err, got)
				}
				t.Logf("%s: %s: %s", call, got.Kind, got.Description)
				if !strings.HasPrefix(got.Description, "cannot obtain a token: ") || !strings.Contains(got.Description, "login endpoint") {
					t.Errorf("%s: description %q does not say that the login endpoint failed", call, got.Description)
				}
			}
			if n := len(e.graphRequests()); n != 0 {
				t.Errorf("%d Graph requests without a token", n)
			}
			e.ClearFaults()
			if _, err := c.Get(ctx, UserOverview, configID); err != nil {
				t.Errorf("after the token endpoint recovered: %v", err)
			}
		})
	}
}
