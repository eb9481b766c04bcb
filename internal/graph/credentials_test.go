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
			got, err := c.GetOverview(ctx, configID)
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
		message    string
	}{
		"wrong client secret": {
			credential: func(t *testing.T, e *emulator) Credential {
				return Credential{Kind: CredentialClientSecret, ClientSecret: "wrong-" + testSecret}
			},
			message: "check the client secret",
		},
		"unregistered certificate": {
			credential: func(t *testing.T, e *emulator) Credential {
				// A certificate the app does not know: the test certificate is registered on no
				// app here.
				return Credential{Kind: CredentialClientCertificate, CertificatePEM: testutil.SelfSignedCertificate().PEM()}
			},
			message: "check that the certificate",
		},
		"missing token file": {
			credential: func(t *testing.T, e *emulator) Credential {
				return Credential{Kind: CredentialWorkloadIdentity, TokenFile: filepath.Join(t.TempDir(), "absent")}
			},
			message: "cannot be read",
		},
		"expired federated token": {
			credential: func(t *testing.T, e *emulator) Credential {
				file := writeFile(t, "token", []byte(e.FederatedToken(testTenant, testClient, -time.Hour)))
				return Credential{Kind: CredentialWorkloadIdentity, TokenFile: file}
			},
			message: "federated credential",
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
				"GetOverview":      func() error { _, err := c.GetOverview(ctx, configID); return err }(),
			} {
				got := Classify(err)
				if got.Class != ClassNeedsPerson || got.Reason != ReasonInvalidCredentials {
					t.Errorf("%s: %v classified %+v, want NeedsPerson InvalidCredentials", call, err, got)
				}
				if !strings.Contains(got.Message, tc.message) {
					t.Errorf("%s: message %q does not contain %q", call, got.Message, tc.message)
				}
				if strings.Contains(err.Error(), testSecret) || strings.Contains(got.Message, testSecret) {
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
	e := newEmulator(t, graphtest.Options{})
	cfg := e.config()
	cfg.AuthorityHost = "https://127.0.0.1:1" // nothing listens there
	c := e.client(t, cfg, fastOptions())
	err := c.CheckCredentials(testContext(t))
	if got := Classify(err); got.Class != ClassRetryable || got.Reason != ReasonGraphUnavailable {
		t.Errorf("%v classified %+v, want Retryable GraphUnavailable", err, got)
	}
}

func TestUntrustedServer(t *testing.T) {
	e := newEmulator(t, graphtest.Options{})
	cfg := e.config()
	cfg.CABundle = nil // the emulator's CA is not among the system roots
	c := e.client(t, cfg, fastOptions())
	_, err := c.GetOverview(testContext(t), configID)
	got := Classify(err)
	if got.Class != ClassRetryable || !strings.Contains(got.Message, "TLS") {
		t.Errorf("%v classified %+v, want Retryable about TLS", err, got)
	}
}

// TestTokenEndpointFaults: a token endpoint that fails for a while (an outage page with status 200,
// 5xx, no answer in time, a dropped connection, a truncated answer) is a transient fault, retried
// on the normal backoff, with nothing in the message that blames the credentials; once it answers
// again the same client works.
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
				"GetOverview":      func() error { _, err := c.GetOverview(ctx, configID); return err }(),
			} {
				got := Classify(err)
				if got.Class != ClassRetryable || got.Reason != ReasonGraphUnavailable {
					t.Errorf("%s: %v classified %+v, want Retryable GraphUnavailable", call, err, got)
				}
				for _, blame := range []string{"client secret", "credential in", "tenant id", "check the"} {
					if strings.Contains(got.Message, blame) {
						t.Errorf("%s: message %q blames the credentials (%q)", call, got.Message, blame)
					}
				}
				t.Logf("%s: %s", call, got.Message)
				if !strings.Contains(got.Message, "login endpoint") {
					t.Errorf("%s: message %q does not name the login endpoint", call, got.Message)
				}
			}
			if n := len(e.graphRequests()); n != 0 {
				t.Errorf("%d Graph requests without a token", n)
			}
			e.ClearFaults()
			if _, err := c.GetOverview(ctx, configID); err != nil {
				t.Errorf("after the token endpoint recovered: %v", err)
			}
		})
	}
}
