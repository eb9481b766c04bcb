package graph

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"

	"github.com/overview-operator/overview-operator/internal/testutil"
	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

// logSink collects the lines of a funcr logger.
type logSink struct {
	mu    sync.Mutex
	lines []string
}

func (s *logSink) logger() logr.Logger {
	return funcr.New(func(prefix, args string) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.lines = append(s.lines, prefix+" "+args)
	}, funcr.Options{Verbosity: 10})
}

func (s *logSink) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.lines...)
}

// TestNoSecretsInLogsOrErrors drives every kind of call and failure with
// logging at full verbosity, and checks that no secret, token, private key
// or Authorization header appears in a log line or an error.
func TestNoSecretsInLogsOrErrors(t *testing.T) {
	e := newEmulator(t, graphtest.Options{})
	cert := testutil.SelfSignedCertificate()
	const (
		certClient   = "00000000-0000-0000-0000-0000000000c1"
		wiClient     = "00000000-0000-0000-0000-0000000000c2"
		readerClient = "00000000-0000-0000-0000-0000000000c3"
		wrongSecret  = "wrong-secret-value-that-must-not-leak"
	)
	e.AddApp(graphtest.App{TenantID: testTenant, ClientID: certClient, Certificate: cert.Cert})
	e.AddApp(graphtest.App{TenantID: testTenant, ClientID: wiClient})
	e.AddApp(graphtest.App{TenantID: testTenant, ClientID: readerClient, ClientSecret: testSecret, Permissions: []string{graphtest.PermissionRead}})
	federated := e.FederatedToken(testTenant, wiClient, time.Hour)
	sampleToken, err := e.IssueToken(testTenant, testClient)
	if err != nil {
		t.Fatal(err)
	}

	sink := &logSink{}
	opts := fastOptions()
	opts.Logger = sink.logger()
	ctx := testContext(t)
	var errs []error
	call := func(c Client, f func(Client) error) {
		if err := f(c); err != nil {
			errs = append(errs, err)
		}
	}
	get := func(c Client) error { _, err := c.Get(ctx, UserOverview, configID); return err }
	patch := func(c Client) error {
		_, err := c.Patch(ctx, UserOverview, configID, Fields{SuccessCount: ptr[int32](1)})
		return err
	}
	check := func(c Client) error { return c.CheckCredentials(ctx) }

	secret := e.client(t, e.config(), opts)
	for _, f := range []func(Client) error{check, get, patch} {
		call(secret, f)
	}
	for _, fault := range []graphtest.Fault{
		{Status: 401, Times: 1},
		{Status: 401},
		{Status: 400},
		{Status: 500},
		{Status: 429, RetryAfter: "0.05", Times: 1},
		{DropConnection: true},
		{MalformedBody: true},
		{Method: http.MethodPatch, NoContent: true},
		{Status: 503, RetryAfter: "60"}, // last: it pauses the budget of this client for a minute
	} {
		e.ClearFaults()
		e.Inject(fault)
		call(secret, get)
		call(secret, patch)
	}
	e.ClearFaults()
	time.Sleep(100 * time.Millisecond)

	cfg := e.config()
	cfg.ClientID, cfg.Credential = certClient, Credential{Kind: CredentialClientCertificate, CertificatePEM: cert.PEM()}
	certc := e.client(t, cfg, opts)
	cfg = e.config()
	cfg.ClientID, cfg.Credential = wiClient, Credential{Kind: CredentialWorkloadIdentity, TokenFile: writeFile(t, "token", []byte(federated))}
	wic := e.client(t, cfg, opts)
	cfg = e.config()
	cfg.Credential.ClientSecret = wrongSecret
	wrong := e.client(t, cfg, opts)
	cfg = e.config()
	cfg.ClientID = readerClient
	reader := e.client(t, cfg, opts)
	for _, c := range []Client{certc, wic, wrong, reader} {
		for _, f := range []func(Client) error{check, get, patch} {
			call(c, f)
		}
	}
	// A logger in the context is used instead of Options.Logger.
	ctxSink := &logSink{}
	if _, err := reader.Get(logr.NewContext(ctx, ctxSink.logger()), UserOverview, configID); err != nil {
		t.Fatal(err)
	}
	if len(ctxSink.all()) == 0 {
		t.Error("nothing was logged to the context's logger")
	}

	keyPEM := string(cert.KeyPEM)
	forbidden := map[string]string{
		"the client secret":      testSecret,
		"the wrong secret":       wrongSecret,
		"the federated token":    federated,
		"a JWT":                  "eyJ",
		"an Authorization value": "Bearer ",
		"the private key":        keyPEM[40:100],
		"a PEM block":            "-----BEGIN",
		"an access token":        sampleToken[len(sampleToken)-40:],
		"a token request's body": "client_secret=",
		"a client assertion":     "client_assertion=",
		"the header name":        "Authorization",
		"the secret, base64":     base64.StdEncoding.EncodeToString([]byte(testSecret))[:20],
	}
	var texts []string
	for _, err := range errs {
		texts = append(texts, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err), Classify(err).Message, Classify(err).Description)
	}
	lines := append(sink.all(), ctxSink.all()...)
	texts = append(texts, lines...)
	if len(errs) < 15 {
		t.Errorf("only %d errors: the test did not exercise the failures", len(errs))
	}
	for _, text := range texts {
		for what, s := range forbidden {
			if strings.Contains(text, s) {
				t.Errorf("%s appears in %q", what, text)
			}
		}
	}

	// The log says what support needs: method, path, status, request-id, duration.
	var complete bool
	for _, line := range lines {
		if strings.Contains(line, `"method"="GET"`) && strings.Contains(line, `"path"="/v1.0/deviceManagement/deviceConfigurations/`+configID+`/userStatusOverview"`) &&
			strings.Contains(line, `"status"=200`) && strings.Contains(line, `"requestID"="`) && strings.Contains(line, `"duration"=`) {
			complete = true
			break
		}
	}
	if !complete {
		t.Errorf("no log line has method, path, status, requestID and duration; lines:\n%s", strings.Join(lines[:min(len(lines), 5)], "\n"))
	}
}

func TestNoLogsAtDefaultVerbosity(t *testing.T) {
	e := newEmulator(t, graphtest.Options{})
	var lines []string
	opts := fastOptions()
	opts.Logger = funcr.New(func(prefix, args string) { lines = append(lines, args) }, funcr.Options{Verbosity: 0})
	c := e.client(t, e.config(), opts)
	if _, err := c.Get(context.Background(), UserOverview, configID); err != nil {
		t.Fatal(err)
	}
	if len(lines) != 0 {
		t.Errorf("logged at V(0): %q", lines)
	}
}
