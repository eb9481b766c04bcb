package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
)

// Client is what the reconciler needs of Graph. Its calls are idempotent and
// block only on the network and on the tenant's budget (never longer than
// Options.MaxBudgetWait at a time). Every error is an *Error; see Classify.
type Client interface {
	// GetOverview reads the overview of a device configuration.
	GetOverview(ctx context.Context, configurationID string) (Response, error)
	// PatchOverview sets the non-nil fields of f, and nothing else, and
	// returns the entity Graph answered with; after a 204 (or a 200 without a
	// body) it reads the entity back with a GET, whose request-id the Response
	// carries. Sending the same fields again is harmless, so a PATCH is
	// retried like a GET. An empty f sends an empty object.
	PatchOverview(ctx context.Context, configurationID string, f Fields) (Response, error)
	// WriteTurn is for a caller about to read an overview and then, probably,
	// PATCH it: when the tenant's writes are queued behind its budget, it
	// takes a turn in their line and returns the wait until it; 0 means go
	// ahead. Coming back at the turn, the caller passes WithTurn(ctx) to both
	// calls. So a backlog of writes costs no read until its turn, and a worker
	// is not held by it.
	WriteTurn() time.Duration
	// CheckCredentials obtains a token, which proves the credentials work
	// (it does not call Graph, so it says nothing of the app's permissions).
	CheckCredentials(ctx context.Context) error
}

// errInvalidConfigurationID is the cause of an *Error for an id that cannot
// be a device configuration id.
var errInvalidConfigurationID = errors.New("the device configuration id is empty or holds characters an id cannot have")

// client is the Client of one connection.
type client struct {
	pipeline runtime.Pipeline
	cred     *credential
	scope    string
	base     string // {graph}/{version}/deviceManagement/deviceConfigurations
	timeout  time.Duration
	budget   *Budget
	maxWait  time.Duration // Options.MaxBudgetWait
}

// NewClient builds the client of one connection. It validates cfg (the
// error says which setting is wrong) and builds the credential, without any
// network call: use CheckCredentials to find out whether they work.
func NewClient(cfg Config, opts Options) (Client, error) {
	if opts.Budgets == nil {
		return nil, errors.New("graph: Options.Budgets is required")
	}
	s, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	transport := limitedTransport{client: newHTTPClient(s.roots)}
	cred, err := newCredential(cfg.Credential.Kind, cfg.Credential.TokenFile, newCredentialFactory(cfg, s, transport))
	if err != nil {
		return nil, fmt.Errorf("invalid Graph connection: %w", err)
	}
	budget := opts.Budgets.For(BudgetKey{AuthorityHost: s.authorityHost, TenantID: cfg.TenantID, ClientID: cfg.ClientID})
	retry := &retryPolicy{opts: opts, budget: budget, cred: cred, tenant: cfg.TenantID}
	observe := observePolicy{logger: opts.Logger, tenant: cfg.TenantID}
	return &client{
		pipeline: newPipeline(retry, cred, s.scope, observe, transport),
		cred:     cred,
		scope:    s.scope,
		base:     s.graph + "/" + s.apiVersion + "/deviceManagement/deviceConfigurations",
		timeout:  opts.Timeout,
		budget:   budget,
		maxWait:  opts.MaxBudgetWait,
	}, nil
}

// WriteTurn implements Client.
func (c *client) WriteTurn() time.Duration { return c.budget.TakeTurn(c.maxWait) }

// overviewURL returns the URL of a configuration's overview.
func (c *client) overviewURL(configurationID string) (string, error) {
	if !validConfigurationID(configurationID) {
		return "", &Error{Err: errInvalidConfigurationID}
	}
	return c.base + "/" + url.PathEscape(configurationID) + "/userStatusOverview", nil
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

// GetOverview implements Client.
func (c *client) GetOverview(ctx context.Context, configurationID string) (Response, error) {
	u, err := c.overviewURL(configurationID)
	if err != nil {
		return Response{}, err
	}
	req, err := runtime.NewRequest(ctx, http.MethodGet, u)
	if err != nil {
		return Response{}, &Error{Err: err}
	}
	req.Raw().Header.Set("Accept", "application/json")
	resp, err := c.pipeline.Do(req)
	return c.answer(resp, err)
}

// PatchOverview implements Client.
func (c *client) PatchOverview(ctx context.Context, configurationID string, f Fields) (Response, error) {
	u, err := c.overviewURL(configurationID)
	if err != nil {
		return Response{}, err
	}
	body, err := json.Marshal(f)
	if err != nil {
		return Response{}, &Error{Err: err}
	}
	req, err := runtime.NewRequest(ctx, http.MethodPatch, u)
	if err != nil {
		return Response{}, &Error{Err: err}
	}
	req.Raw().Header.Set("Accept", "application/json")
	if err := req.SetBody(streaming.NopCloser(bytes.NewReader(body)), "application/json"); err != nil {
		return Response{}, &Error{Err: err}
	}
	resp, err := c.pipeline.Do(req)
	if err == nil && (resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusOK && emptyBody(resp)) {
		// Graph applied the PATCH without returning the entity: read it back.
		return c.GetOverview(ctx, configurationID)
	}
	return c.answer(resp, err)
}

// emptyBody reports whether a (downloaded) response body is empty.
func emptyBody(resp *http.Response) bool {
	body, err := runtime.Payload(resp)
	return err == nil && len(bytes.TrimSpace(body)) == 0
}

// answer turns the pipeline's result into a Response or an *Error.
func (c *client) answer(resp *http.Response, err error) (Response, error) {
	if err != nil {
		return Response{}, asError(err)
	}
	body, err := runtime.Payload(resp)
	if err != nil {
		return Response{}, &Error{StatusCode: resp.StatusCode, RequestID: clean(resp.Header.Get(headerRequestID)), Err: err}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return Response{}, newResponseError(resp, body, time.Now())
	}
	requestID := clean(resp.Header.Get(headerRequestID))
	o, err := decodeOverview(body)
	if err != nil {
		return Response{}, &Error{StatusCode: resp.StatusCode, RequestID: requestID, Err: err}
	}
	return Response{Overview: o, RequestID: requestID}, nil
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

// CheckCredentials implements Client.
func (c *client) CheckCredentials(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	// EnableCAE as the bearer-token policy does, so that both share one token cache.
	_, err := c.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{c.scope}, EnableCAE: true})
	if err != nil {
		return asError(err)
	}
	return nil
}
