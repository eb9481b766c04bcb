package graph

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// parseCertificate parses a client certificate and its key. Its errors never
// quote the PEM.
func parseCertificate(pemData, password []byte) ([]*x509.Certificate, crypto.PrivateKey, error) {
	certs, key, err := azidentity.ParseCertificates(pemData, password)
	if err != nil {
		return nil, nil, fmt.Errorf("credential ClientCertificate: the certificate PEM (a certificate and its private key) does not parse: %v", err)
	}
	return certs, key, nil
}

// newCredentialFactory returns a function that builds a fresh azidentity
// credential for cfg each time it is called: a fresh credential has an empty
// token cache, which is how a token Graph refused is dropped (MSAL would
// otherwise hand the same one out again).
func newCredentialFactory(cfg Config, s settings, transport policy.Transporter) func() (azcore.TokenCredential, error) {
	co := azcore.ClientOptions{
		Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: s.authorityHost},
		Transport: recordingTransport{next: transport},
		// The token endpoint is retried briefly here; the reconciler's backoff does the rest.
		Retry: policy.RetryOptions{MaxRetries: 2, RetryDelay: 500 * time.Millisecond, MaxRetryDelay: 2 * time.Second},
	}
	c := cfg.Credential
	return func() (azcore.TokenCredential, error) {
		switch c.Kind {
		case CredentialClientSecret:
			return azidentity.NewClientSecretCredential(cfg.TenantID, cfg.ClientID, c.ClientSecret,
				&azidentity.ClientSecretCredentialOptions{ClientOptions: co, DisableInstanceDiscovery: s.customAuth})
		case CredentialClientCertificate:
			certs, key, err := parseCertificate(c.CertificatePEM, c.CertificatePassword)
			if err != nil {
				return nil, err
			}
			return azidentity.NewClientCertificateCredential(cfg.TenantID, cfg.ClientID, certs, key,
				&azidentity.ClientCertificateCredentialOptions{ClientOptions: co, DisableInstanceDiscovery: s.customAuth})
		case CredentialWorkloadIdentity:
			return azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
				ClientOptions:            co,
				ClientID:                 cfg.ClientID,
				TenantID:                 cfg.TenantID,
				TokenFilePath:            c.TokenFile,
				DisableInstanceDiscovery: s.customAuth,
			})
		default:
			return nil, fmt.Errorf("credential kind %q is not supported", c.Kind)
		}
	}
}

// credential is the TokenCredential a client's bearer gets its tokens from. It
// turns azidentity's failures into *tokenError and can start over with a
// fresh azidentity credential when Graph refuses a token.
type credential struct {
	kind      CredentialKind
	tokenFile string
	build     func() (azcore.TokenCredential, error)

	mu  sync.Mutex
	cur azcore.TokenCredential
}

func newCredential(kind CredentialKind, tokenFile string, build func() (azcore.TokenCredential, error)) (*credential, error) {
	cur, err := build()
	if err != nil {
		return nil, err
	}
	return &credential{kind: kind, tokenFile: tokenFile, build: build, cur: cur}, nil
}

// GetToken implements azcore.TokenCredential.
func (c *credential) GetToken(ctx context.Context, tro policy.TokenRequestOptions) (azcore.AccessToken, error) {
	if c.kind == CredentialWorkloadIdentity {
		// azidentity reports a missing file only inside a generic message; say it plainly.
		if _, err := os.Stat(c.tokenFile); err != nil {
			return azcore.AccessToken{}, &tokenError{kind: c.kind,
				detail:      fmt.Sprintf("the workload identity token file %s cannot be read (%v)", c.tokenFile, unwrapPathError(err)),
				missingFile: true,
				cause:       err}
		}
	}
	c.mu.Lock()
	cur := c.cur
	c.mu.Unlock()
	rec := &transportRecorder{}
	tk, err := cur.GetToken(context.WithValue(ctx, transportRecorderKey{}, rec), tro)
	if err != nil {
		unreadable, transportErr := rec.get()
		return azcore.AccessToken{}, newTokenError(ctx, c.kind, err, transportErr, unreadable)
	}
	return tk, nil
}

// reset replaces the azidentity credential with a fresh one, whose token cache is empty.
func (c *credential) reset() error {
	cur, err := c.build()
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.cur = cur
	c.mu.Unlock()
	return nil
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// tokenError is a failure to obtain a token. Its text is built from what is
// safe to show: the credential kind, the login endpoint's status and OAuth
// error, and the first line of its description.
type tokenError struct {
	kind        CredentialKind
	status      int    // the login endpoint's HTTP status; 0 without an answer
	code        string // the OAuth error, e.g. invalid_client
	description string // first line of error_description
	detail      string // what happened, when there was no answer
	transient   bool   // worth trying again later: no answer, 5xx, 429, a timeout, an unreadable answer
	unreadable  bool   // the login endpoint answered with a body that is not JSON: detail says what
	missingFile bool   // the workload identity token file cannot be read
	transport   error  // the last transport error (a refusal of the host policy too), when the login endpoint did not answer
	cause       error
}

func (e *tokenError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cannot obtain a token with the %s credential", e.kind)
	switch {
	case e.status != 0:
		fmt.Fprintf(&b, ": the login endpoint answered %d", e.status)
		if e.code != "" {
			fmt.Fprintf(&b, " %s", e.code)
		}
		if e.description != "" {
			fmt.Fprintf(&b, ": %s", e.description)
		}
	case e.detail != "":
		fmt.Fprintf(&b, ": %s", e.detail)
	}
	return b.String()
}

// Unwrap returns azidentity's error, so that errors.As finds
// *azidentity.AuthenticationFailedError. Its own text may hold the login
// endpoint's whole answer, so this package never prints it.
func (e *tokenError) Unwrap() error { return e.cause }

// maxDetail bounds the text taken from an error we do not control.
const maxDetail = 300

// newTokenError describes an azidentity failure.
func newTokenError(ctx context.Context, kind CredentialKind, err error, transportErr error, unreadable *unreadableAnswer) *tokenError {
	te := &tokenError{kind: kind, cause: err}
	var afe *azidentity.AuthenticationFailedError
	if errors.As(err, &afe) && afe.RawResponse != nil {
		te.status = afe.RawResponse.StatusCode
		te.code, te.description = oauthError(afe.RawResponse)
		te.transient = te.status >= 500 || te.status == http.StatusTooManyRequests || te.status == http.StatusRequestTimeout
		return te
	}
	switch {
	case ctx.Err() != nil:
		te.detail, te.transient = "the token request did not finish in time", true
	case unreadable != nil:
		// A captive portal, a proxy's or an outage page: MSAL cannot read it, and says so in an
		// error without the response. It is not Entra ID refusing the credentials.
		te.detail, te.transient, te.unreadable = unreadable.String(), true, true
	case transportErr != nil:
		te.detail = "the login endpoint could not be reached: " + firstLine(transportErr.Error())
		te.transport = transportErr
		// A host the policy refuses stays refused until a person changes the connection or the policy.
		te.transient = !refusedByPolicy(transportErr)
	default:
		te.detail = firstLine(err.Error())
	}
	return te
}

// oauthError reads the error and error_description of a login endpoint's
// answer, without the trace ids and timestamps that follow the description.
func oauthError(resp *http.Response) (code, description string) {
	body, err := runtime.Payload(resp)
	if err != nil {
		return "", ""
	}
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(body, &e) != nil {
		return "", ""
	}
	description = firstLine(e.Description)
	// Entra ID appends trace and correlation ids and a timestamp, which differ
	// on every answer; a condition that quotes them would change on every pass.
	if i := strings.Index(description, "Trace ID:"); i > 0 {
		description = strings.TrimSpace(description[:i])
	}
	return firstLine(e.Error), description
}

// firstLine returns s up to its first line break, at most maxDetail bytes.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	line = strings.TrimSpace(line)
	if len(line) > maxDetail {
		line = strings.ToValidUTF8(line[:maxDetail], "") + "..."
	}
	return line
}

// transportRecorder keeps the last transport error of one token acquisition,
// and whether the last answer was unreadable: azidentity folds both into a
// message, and whether the login endpoint answered with something it meant
// decides between "try again" and "fix the credentials".
type transportRecorder struct {
	mu         sync.Mutex
	err        error
	unreadable *unreadableAnswer
}

type transportRecorderKey struct{}

func (r *transportRecorder) set(err error) {
	r.mu.Lock()
	r.err = err
	r.mu.Unlock()
}

func (r *transportRecorder) answered(u *unreadableAnswer) {
	r.mu.Lock()
	r.unreadable = u
	r.mu.Unlock()
}

func (r *transportRecorder) get() (*unreadableAnswer, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.unreadable, r.err
}

// unreadableAnswer is a successful answer of the login endpoint that the client does not hand
// to MSAL: a body that is not JSON, as a captive portal, a proxy or an outage page gives, or a
// token response the client cannot use.
type unreadableAnswer struct {
	status    int
	mediaType string
	host      string
	token     string // what is wrong with a token response; "" for a body that is not JSON
}

// String says what was answered, without the body and with nothing that
// changes from one answer to the next.
func (u *unreadableAnswer) String() string {
	what := "a body that is not a token response"
	switch {
	case u.token != "":
		what = "a token response the client cannot use: " + u.token
	case strings.EqualFold(u.mediaType, "text/html"):
		what = "an HTML page instead of a token (a proxy, a captive portal or an outage page may stand in the way)"
	}
	endpoint := "the login endpoint"
	if u.host != "" {
		endpoint = fmt.Sprintf("the login endpoint (host %q)", u.host)
	}
	return fmt.Sprintf("%s answered %d with %s", endpoint, u.status, what)
}

// Error implements error: the transport refuses the answer, so that MSAL never parses it.
func (u *unreadableAnswer) Error() string { return u.String() }

// NonRetriable tells azcore's retry policy not to ask again at once: the reconciler's backoff does.
func (*unreadableAnswer) NonRetriable() {}

// recordingTransport is the credential's transport: it notes transport errors,
// and successful answers that cannot be read, in the recorder of the token
// acquisition that sent the request. The login endpoint's answers are untrusted
// input, read before MSAL sees them: a body that is not labelled JSON or is not
// JSON never reaches MSAL's parser, and a token response (the answer to a POST)
// must carry a token that can go in a header and a lifetime Entra ID can give.
type recordingTransport struct {
	next policy.Transporter
}

func (t recordingTransport) Do(req *http.Request) (*http.Response, error) {
	rec, ok := req.Context().Value(transportRecorderKey{}).(*transportRecorder)
	if !ok {
		rec = &transportRecorder{}
	}
	resp, err := t.next.Do(req)
	if err != nil {
		rec.set(err)
		return resp, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		rec.answered(nil) // MSAL reports the status itself, with the response
		return resp, nil
	}
	// The login endpoint's answers are small (and bounded by the transport): read the body to
	// see whether it is JSON, and hand it on.
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		rec.set(err)
		return nil, err
	}
	mediaType, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if !json.Valid(body) || mediaType != "" && !isJSONMediaType(mediaType) {
		u := &unreadableAnswer{status: resp.StatusCode, mediaType: mediaType, host: answerHost(resp)}
		rec.answered(u)
		return nil, u
	}
	if req.Method == http.MethodPost {
		if err := checkTokenAnswer(body); err != nil {
			u := &unreadableAnswer{status: resp.StatusCode, mediaType: mediaType, host: answerHost(resp), token: err.Error()}
			rec.answered(u)
			return nil, u
		}
	}
	rec.answered(nil)
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// The bounds of a token Entra ID can give: an access token is a JWT of a few kilobytes, and
// lives between ten minutes and a day (an hour or so by default).
const (
	maxTokenSize     = 16 << 10
	minTokenLifetime = time.Minute
	maxTokenLifetime = 24 * time.Hour
)

// checkTokenAnswer holds a token response to what Entra ID answers: an access_token of at most
// maxTokenSize printable ASCII characters (it goes in an Authorization header) and an expires_in
// (a number, or a string of digits, as the endpoints of some clouds write it) between
// minTokenLifetime and maxTokenLifetime.
func checkTokenAnswer(body []byte) error {
	var r struct {
		AccessToken json.RawMessage `json:"access_token"`
		ExpiresIn   json.RawMessage `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return errors.New("it is not a JSON object")
	}
	var token string
	switch {
	case len(r.AccessToken) == 0 || json.Unmarshal(r.AccessToken, &token) != nil || token == "":
		return errors.New("it has no access_token")
	case len(token) > maxTokenSize:
		return fmt.Errorf("its access_token is %d bytes, more than the %d a token can be", len(token), maxTokenSize)
	case strings.IndexFunc(token, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0:
		return errors.New("its access_token holds characters a token cannot have")
	}
	var seconds json.Number
	raw := bytes.Trim(r.ExpiresIn, `"`)
	if len(raw) == 0 || json.Unmarshal(raw, &seconds) != nil {
		return errors.New("it has no expires_in")
	}
	n, err := seconds.Float64()
	if err != nil || n < minTokenLifetime.Seconds() || n > maxTokenLifetime.Seconds() {
		return fmt.Errorf("its expires_in (%s) is not between %s and %s", clean(seconds.String()), minTokenLifetime, maxTokenLifetime)
	}
	return nil
}
