package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/go-logr/logr"
	"github.com/google/uuid"

	"github.com/overview-operator/overview-operator/internal/pacer"
)

// Client is the wire of one connection to Graph: the calls on an entity, the list of the tenant's
// device configurations, and the credential check. Every error is an *Error; see Classify. The
// operator calls Graph only from jobs that wait in the tenant's Line, which binds each job's
// calls to what the pacer booked for it: a caller never waits on the budget, on Retry-After or on
// a slow Graph.
type Client interface {
	// Calls are the calls outside any job: each is counted in the tenant's budget as it
	// is sent and never waits for it, for tests and one-off tools.
	Calls
	// List reads every device configuration of the tenant, a page at a time, each page a ReadJob
	// in the tenant's line; page, if not nil, hears how many were read after each page. It waits
	// for the budget and for 429 pauses until the list is read, so it is for tools (the export),
	// not for a reconciler, whose workers never wait on Graph.
	List(ctx context.Context, page func(read int)) ([]Configuration, error)
	// CheckCredentials obtains a token, which proves the credentials work
	// (it does not call Graph, so it says nothing of the app's permissions).
	CheckCredentials(ctx context.Context) error
	// Line is the tenant's line of jobs, whose jobs make this client's calls.
	Line() Line
}

// Line is where a tenant's jobs wait for its budget (the pacer's lines). A job's calls are the
// client's that gave the line, bound to what the pacer booked for the job.
type Line interface {
	// Submit puts job in the tenant's line of its kind under key, to run when the tenant's budget
	// admits it; a key that waits already keeps its place and runs the newest job.
	Submit(key string, kind JobKind, job Job)
	// Withdraw gives key's place in the tenant's line back, and reports whether it was waiting.
	Withdraw(key string) bool
}

// Calls are the two calls on an entity of a device configuration (see Entities). They are
// idempotent, send one request each (one more with a fresh token after a 401, or after a 403 at
// most once a minute) and never retry or sleep: a failure is returned at once for the caller to
// retry later, and a 429 (or a 503 with Retry-After) pauses the whole tenant first.
type Calls interface {
	// Get reads entity e of a device configuration.
	Get(ctx context.Context, e Entity, configurationID string) (Response, error)
	// Patch sets the non-nil fields of f in entity e of a device configuration, and nothing else,
	// and returns the entity Graph answered with; after a 204 (or a 200 without a body) the
	// Response has no entity (Entity false) and reads nothing back: a caller that must know what
	// Graph holds reads it, once. An empty f sends an empty object.
	Patch(ctx context.Context, e Entity, configurationID string, f Fields) (Response, error)
}

// errInvalidConfigurationID is the cause of an *Error for an id that cannot
// be a device configuration id.
var errInvalidConfigurationID = errors.New("the device configuration id is empty or holds characters an id cannot have")

// client is the Client of one connection; bound to a job's Ticket, it is the job's Calls.
type client struct {
	transport guardedTransport
	bearer    *bearer
	base      string // {graph}/{version}/deviceManagement/deviceConfigurations
	timeout   time.Duration
	// listTimeout bounds a whole List (Options.ListTimeout).
	listTimeout time.Duration
	pacer       *pacer.Handle[PacerKey]
	tenant      string
	logger      logr.Logger
	replica     string        // Options.Replica
	approval    string        // the x-msft-approval-justification of its writes (approval.go)
	ticket      *pacer.Ticket // nil outside a job
	// wanted, if set (Guarded), is asked just before each write is sent.
	wanted func() error
}

// NewClient builds the client of one connection. It validates cfg (the
// error says which setting is wrong) and builds the credential, without any
// network call: use CheckCredentials to find out whether they work.
func NewClient(cfg Config, opts Options) (Client, error) {
	if opts.Pacers == nil {
		return nil, errors.New("graph: Options.Pacers is required")
	}
	s, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	hosts := opts.Hosts
	if hosts == nil {
		hosts = configHosts(s)
	}
	transport := guardedTransport{client: newHTTPClient(s.roots, opts.DialContext), hosts: hosts}
	cred, err := newCredential(cfg.Credential.Kind, cfg.Credential.TokenFile, newCredentialFactory(cfg, s, transport))
	if err != nil {
		return nil, err
	}
	key, err := KeyOf(cfg) // cfg resolved: this cannot fail
	if err != nil {
		return nil, err
	}
	paced := opts.Pacers.For(key)
	return &client{
		transport:   transport,
		bearer:      newBearer(cred, s.scope, opts.Clock, opts.ForbiddenRenewal, opts.RefusalHold),
		base:        s.graph + "/" + s.apiVersion + "/deviceManagement/deviceConfigurations",
		timeout:     opts.Timeout,
		listTimeout: opts.ListTimeout,
		pacer:       paced,
		tenant:      cfg.TenantID,
		logger:      opts.Logger,
		replica:     opts.Replica,
		approval:    approvalJustificationHeader(cfg.ApprovalJustification),
	}, nil
}

// Line implements Client.
func (c *client) Line() Line { return clientLine{c} }

// clientLine is the tenant's line, with the jobs' calls made by the client that gave it.
type clientLine struct{ c *client }

// Submit implements Line: the job's calls are c's, bound to the ticket of what it booked.
func (l clientLine) Submit(key string, kind JobKind, job Job) {
	c := l.c
	c.pacer.Submit(key, kind, pacer.Job{
		Run:        func(ctx context.Context, t *pacer.Ticket) error { return job.Run(ctx, c.bound(t)) },
		Done:       job.Done,
		QuietPause: job.QuietPause,
	})
}

// Withdraw implements Line.
func (l clientLine) Withdraw(key string) bool { return l.c.pacer.Withdraw(key) }

// bound returns c's calls booked on t, a running job's ticket.
func (c *client) bound(t *pacer.Ticket) *client {
	b := *c
	b.ticket = t
	return &b
}

// entityURL returns the URL of entity e of a configuration.
func (c *client) entityURL(e Entity, configurationID string) (string, error) {
	if !validConfigurationID(configurationID) {
		return "", &Error{Err: errInvalidConfigurationID}
	}
	return c.base + "/" + url.PathEscape(configurationID) + "/" + e.Segment, nil
}

// validConfigurationID accepts the characters of Graph's ids (GUIDs, in
// practice), so that an id can never change the path.
func validConfigurationID(id string) bool {
	if id == "" || id == "." || id == ".." || len(id) > 128 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// Get implements Calls.
func (c *client) Get(ctx context.Context, e Entity, configurationID string) (Response, error) {
	u, err := c.entityURL(e, configurationID)
	if err != nil {
		return Response{}, err
	}
	resp, err := c.do(ctx, http.MethodGet, u, nil)
	return c.answer(resp, err, configurationID)
}

// Patch implements Calls.
func (c *client) Patch(ctx context.Context, e Entity, configurationID string, f Fields) (Response, error) {
	u, err := c.entityURL(e, configurationID)
	if err != nil {
		return Response{}, err
	}
	body, err := json.Marshal(f)
	if err != nil {
		return Response{}, &Error{Err: err}
	}
	resp, err := c.do(ctx, http.MethodPatch, u, body)
	if err == nil && (resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusOK && emptyBody(resp)) {
		// Graph applied the PATCH without returning the entity.
		return Response{RequestID: clean(resp.Header.Get(headerRequestID))}, nil
	}
	return c.answer(resp, err, configurationID)
}

// do sends one request through the pipeline, counted in the tenant's budget as it goes, within
// the per-try timeout. After a 401 it drops the token (and the credential's cache: a token Graph
// refuses may sit in MSAL's) and tries once more with a fresh one; after a 403 too, at most once a
// minute, since a permission granted since the token was issued shows only in a new token. A 429,
// or a 503 with Retry-After, pauses the tenant: every call of the tenant waits, not only this one.
func (c *client) do(ctx context.Context, method, u string, body []byte) (*http.Response, error) {
	for renewed := false; ; renewed = true {
		token, gen, err := c.token(ctx)
		if err != nil {
			return nil, err
		}
		resp, err := c.paced(ctx, method, u, body, token)
		if err != nil {
			return nil, err
		}
		switch {
		case resp.StatusCode == http.StatusUnauthorized && !renewed:
			if rerr := c.bearer.drop(gen); rerr != nil {
				return resp, nil
			}
			runtime.Drain(resp)
			loggerFor(ctx, c.logger).V(1).Info("Graph refused the token, trying once more with a fresh one",
				"tenant", c.tenant, "method", method)
			continue
		case resp.StatusCode == http.StatusForbidden && !renewed && !approvalRefused(resp) && c.bearer.dropForbidden(gen):
			runtime.Drain(resp)
			loggerFor(ctx, c.logger).V(1).Info("Graph refused the call, trying once more with a fresh token in case a permission was granted since",
				"tenant", c.tenant, "method", method)
			continue
		}
		return resp, nil
	}
}

// paced is the pacing protocol of one try, in one place: the try is recorded in the tenant's
// budget as it is sent (a booked write waits there for its window; one not booked may be refused
// with ErrBudgetExhausted), a write is asked for once more (wanted) just before it goes, and what
// became of it is reported to the pacer: a 429, or a 503 with Retry-After, pauses the tenant and
// is returned as its *Error; any other answer, or none, is the pacer's fact too.
func (c *client) paced(ctx context.Context, method, u string, body []byte, token string) (*http.Response, error) {
	write := method != http.MethodGet
	var (
		call *pacer.Call
		err  error
	)
	if c.ticket != nil {
		call, err = c.ticket.Send(ctx, write)
	} else {
		call, err = c.pacer.Send(ctx, write)
	}
	switch {
	case errors.Is(err, pacer.ErrBudgetExhausted):
		return nil, &Error{Err: ErrBudgetExhausted}
	case errors.Is(err, pacer.ErrNotOwner):
		return nil, &Error{Err: ErrNotOwner}
	case err != nil:
		return nil, &Error{Err: err}
	}
	if write && c.wanted != nil {
		if err := c.wanted(); err != nil {
			call.End(pacer.NotSent)
			return nil, err
		}
	}
	resp, err := c.try(ctx, method, u, body, token)
	switch {
	case err != nil:
		call.End(pacer.Unanswered)
		return nil, err
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
		return nil, c.pauseFor(ctx, method, resp, call)
	case resp.StatusCode >= 200 && resp.StatusCode <= 299:
		call.End(pacer.Succeeded)
	default:
		call.End(pacer.Failed)
	}
	return resp, nil
}

// token returns the bearer's access token and its generation, within the client's timeout.
func (c *client) token(ctx context.Context) (string, uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	return c.bearer.token(ctx)
}

// try sends one try of a request with token, bounded by the client's timeout.
func (c *client) try(ctx context.Context, method, u string, body []byte, token string) (*http.Response, error) {
	tryCtx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel() // the body is read below, within the timeout
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(tryCtx, method, u, rd)
	if err != nil {
		return nil, &Error{Err: err}
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set(headerClientRequestID, uuid.NewString())
	if c.replica != "" {
		req.Header.Set(HeaderReplica, c.replica)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	c.setApprovalHeaders(ctx, req)
	resp, err := c.send(req)
	if err != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return resp, err
}

// maxPause bounds the pause one answer can set: a Retry-After of hours (a broken proxy, a hostile
// answer) must not stop a tenant for that long; the next 429 pauses it again if Graph meant it.
const maxPause = 5 * time.Minute

// pauseFor reads a 429 (or a 503), parsing its Retry-After and its throttling headers once, and
// pauses what Graph says it counted the call in (x-ms-throttle-scope: the app in the tenant, the
// tenant's every app in this process, or the app in every tenant; without the header, the app in
// the tenant) for what it asks, at most maxPause. A 429 without a usable Retry-After (missing, 0, a
// date in the past: Intune's bodies say "RetryAfter": null) pauses it until the pacer's window
// admits a call of its class again, at least until the oldest call of the window leaves it; a 503
// without one pauses nothing. It returns the answer's *Error, with PausedUntil set to when the
// call's tenant and app resume.
func (c *client) pauseFor(ctx context.Context, method string, resp *http.Response, call *pacer.Call) *Error {
	body, err := runtime.Payload(resp)
	if err != nil {
		body = nil
	}
	now := c.pacer.Now()
	e := newResponseError(resp, body, now)
	ra := e.RetryAfter
	scope := pacer.KeyScope
	if resp.StatusCode == http.StatusTooManyRequests {
		ts := readThrottleScope(resp.Header)
		e.ThrottleScope, e.ThrottleLimit, e.ThrottleInformation = ts.scope, ts.limit, ts.info
		scope = ts.pacerScope()
		throttledTotal.WithLabelValues(c.pacer.Key().TenantID, ts.label()).Inc()
		loggerFor(ctx, c.logger).V(1).Info("Graph throttled a call", "tenant", c.tenant, "method", method,
			"scope", ts.label(), "limit", ts.limit, "information", ts.info, "retryAfter", ra)
		if ra <= 0 {
			// Graph did not say until when: the pacer knows its own window.
			e.PausedUntil = call.ThrottleScope(scope, time.Time{})
			e.RetryAfter = max(e.PausedUntil.Sub(now), 0)
			return e
		}
	}
	if ra <= 0 {
		call.End(pacer.Failed)
		return e
	}
	e.PausedUntil = call.ThrottleScope(scope, now.Add(min(ra, maxPause)))
	// The wait a caller honours is the pause the tenant is under, not what the answer asked
	// beyond maxPause: the next call finds out whether Graph still means it.
	e.RetryAfter = e.PausedUntil.Sub(now)
	return e
}

// emptyBody reports whether a (downloaded) response body is empty.
func emptyBody(resp *http.Response) bool {
	body, err := runtime.Payload(resp)
	return err == nil && len(bytes.TrimSpace(body)) == 0
}

// answer turns the pipeline's result into a Response or an *Error. The answer is untrusted input:
// a body labelled as anything but JSON is not parsed, and the entity must be configurationID's and
// hold what status can carry (see Overview.check), or it is an unreadable answer that names the host.
func (c *client) answer(resp *http.Response, err error, configurationID string) (Response, error) {
	if err != nil {
		return Response{}, asError(err)
	}
	body, err := runtime.Payload(resp)
	if err != nil {
		return Response{}, answerError(resp, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return Response{}, newResponseError(resp, body, c.pacer.Now())
	}
	if err := checkJSONLabel(resp, errMalformedBody); err != nil {
		return Response{}, answerError(resp, err)
	}
	o, err := decodeOverview(body)
	if err == nil {
		err = o.checkID(configurationID)
	}
	if err != nil {
		return Response{}, answerError(resp, err)
	}
	return Response{Overview: o, Entity: true, RequestID: clean(resp.Header.Get(headerRequestID))}, nil
}

// answerError is the *Error of an answer the client cannot take, naming the host that gave it.
func answerError(resp *http.Response, err error) *Error {
	return &Error{StatusCode: resp.StatusCode, RequestID: clean(resp.Header.Get(headerRequestID)), Host: answerHost(resp), Err: err}
}

// answerHost is the host that answered resp.
func answerHost(resp *http.Response) string {
	if resp.Request == nil || resp.Request.URL == nil {
		return ""
	}
	return normalHost(resp.Request.URL.Hostname())
}

// checkJSONLabel refuses a body whose Content-Type says it is not JSON (an HTML page, text): it is
// not parsed as JSON, whatever it holds. A body without a Content-Type is read as JSON.
func checkJSONLabel(resp *http.Response, malformed error) error {
	raw := resp.Header.Get("Content-Type")
	if raw == "" {
		return nil
	}
	mediaType, _, err := mime.ParseMediaType(raw)
	if err == nil && isJSONMediaType(mediaType) {
		return nil
	}
	return fmt.Errorf("%w: it is labelled %q, not JSON", malformed, clean(strings.SplitN(raw, ";", 2)[0]))
}

// isJSONMediaType reports whether mediaType is JSON: application/json, or a type with the +json suffix.
func isJSONMediaType(mediaType string) bool {
	mediaType = strings.ToLower(mediaType)
	return mediaType == "application/json" || strings.HasSuffix(mediaType, "+json")
}

// asError returns err as an *Error, with the cause that says most: the
// token failure rather than azcore's wrapping of it.
func asError(err error) *Error {
	var gerr *Error
	if errors.As(err, &gerr) {
		return gerr
	}
	var terr *tokenError
	if errors.As(err, &terr) {
		return &Error{Err: terr}
	}
	return &Error{Err: err}
}

// CheckCredentials implements Client. The token it obtains is the one the calls use.
func (c *client) CheckCredentials(ctx context.Context) error {
	if _, _, err := c.token(ctx); err != nil {
		return asError(err)
	}
	return nil
}

// Guarded returns calls whose writes each ask wanted just before they are sent: after any wait
// for a token or for the tenant's write window, and again before a try with a fresh token. An
// error of wanted ends the write unsent and is returned as it is. A caller that decided to write
// some time before the write goes (a job that read Graph first) thus sends it only if the reason
// still holds at the moment it is sent.
func Guarded(calls Calls, wanted func() error) Calls {
	if c, ok := calls.(*client); ok {
		g := *c
		g.wanted = wanted
		return &g
	}
	return guardedCalls{Calls: calls, wanted: wanted}
}

// guardedCalls is Guarded for a Calls that is not this package's client (a test's fake): it asks
// before it delegates a write.
type guardedCalls struct {
	Calls
	wanted func() error
}

// Patch implements Calls.
func (g guardedCalls) Patch(ctx context.Context, e Entity, configurationID string, f Fields) (Response, error) {
	if err := g.wanted(); err != nil {
		return Response{}, err
	}
	return g.Calls.Patch(ctx, e, configurationID, f)
}
