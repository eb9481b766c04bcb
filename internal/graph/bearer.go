package graph

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"k8s.io/utils/clock"
)

// refreshMargin is how long before its expiry a token is replaced, as azcore's bearer-token
// policy does; MSAL's cache does not hand out a token that expires sooner either.
const refreshMargin = 5 * time.Minute

// bearer holds a connection's access token for Graph. It gets one from the credential, keeps it
// until shortly before it expires, and drops it, with the credential's cache, when Graph refuses
// it (401) or refuses the call (403): azcore's bearer-token policy keeps its token until it
// expires and cannot be told to drop it.
//
// azidentity's GetToken would also skip its cache for a request with Claims set (MSAL v1.10
// ignores cached tokens when given claims), but that sends a claims challenge that Entra ID never
// issued; a fresh credential, whose cache is empty, asks for a plain token.
//
// The tokens are not CAE tokens: the client does not announce the capability, since it does not
// answer claims challenges.
type bearer struct {
	cred  *credential
	scope string
	clock clock.PassiveClock
	// forbiddenEvery is the least time between two drops after a 403 (Options.ForbiddenRenewal).
	forbiddenEvery time.Duration
	// refusalHold is how long a refusal of the credentials answers for the login endpoint
	// (Options.RefusalHold).
	refusalHold time.Duration
	sem         chan struct{} // held while a token is requested: one request at a time

	mu        sync.Mutex
	tok       azcore.AccessToken
	held      bool      // tok is usable until it nears its expiry
	obtained  time.Time // when tok was obtained
	gen       uint64    // changes whenever the token is replaced or dropped
	forbidden time.Time // when a 403 last dropped the token
	refused   error     // the login endpoint's last refusal of the credentials, until refusedAt+refusalHold
	refusedAt time.Time
}

func newBearer(cred *credential, scope string, clk clock.PassiveClock, forbiddenEvery, refusalHold time.Duration) *bearer {
	return &bearer{cred: cred, scope: scope, clock: clk, forbiddenEvery: forbiddenEvery, refusalHold: refusalHold,
		sem: make(chan struct{}, 1)}
}

// heldRefusal returns the login endpoint's refusal of the credentials while it holds.
func (b *bearer) heldRefusal() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.refused != nil && b.clock.Since(b.refusedAt) < b.refusalHold {
		return b.refused
	}
	return nil
}

// current returns the held token, if it is not near its expiry, and its generation.
func (b *bearer) current() (string, uint64, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.held {
		return "", b.gen, false
	}
	now := b.clock.Now()
	// A token that lives less than twice the margin (the login endpoint says how long; the
	// credential's transport holds it to a minute at least) is replaced half-way through its
	// life, not at every call.
	stale := b.tok.ExpiresOn.Add(-min(refreshMargin, b.tok.ExpiresOn.Sub(b.obtained)/2))
	if !b.tok.RefreshOn.IsZero() && b.tok.RefreshOn.Before(stale) {
		stale = b.tok.RefreshOn
	}
	if !now.Before(stale) {
		return "", b.gen, false
	}
	return b.tok.Token, b.gen, true
}

// token returns an access token for Graph and its generation, which identifies it to drop: the
// held one, or a new one from the credential. Concurrent callers wait for one token request. A
// refusal of the credentials answers every caller for refusalHold: the credentials will not work
// until a person changes them, and each caller asking again would cost Entra ID a request per
// resource. A passing failure (no answer, 5xx, 429) is not held.
func (b *bearer) token(ctx context.Context) (string, uint64, error) {
	if tok, gen, ok := b.current(); ok {
		return tok, gen, nil
	}
	if err := b.heldRefusal(); err != nil {
		return "", 0, err
	}
	select {
	case b.sem <- struct{}{}:
	case <-ctx.Done():
		return "", 0, &tokenError{kind: b.cred.kind, detail: "the token request did not finish in time", transient: true, cause: ctx.Err()}
	}
	defer func() { <-b.sem }()
	if tok, gen, ok := b.current(); ok {
		return tok, gen, nil // another caller got it meanwhile
	}
	if err := b.heldRefusal(); err != nil {
		return "", 0, err // another caller was refused meanwhile
	}
	tk, err := b.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{b.scope}})
	if err != nil {
		if refusal(err) {
			b.mu.Lock()
			b.refused, b.refusedAt = err, b.clock.Now()
			b.mu.Unlock()
		}
		return "", 0, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refused = nil
	b.tok, b.held, b.obtained = tk, true, b.clock.Now()
	b.gen++
	return tk.Token, b.gen, nil
}

// drop drops the token of generation seen, and the credential's cache with it, so that the next
// token is a fresh one; it does nothing if that token was replaced or dropped already: concurrent
// calls that all got a 401 for the same token drop it once.
func (b *bearer) drop(seen uint64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.gen != seen {
		return nil
	}
	if err := b.cred.reset(); err != nil {
		return err
	}
	b.held = false
	b.gen++
	return nil
}

// dropForbidden is drop after a 403, at most once per forbiddenEvery. It reports
// whether the caller should try again: the token was dropped, or replaced since seen.
func (b *bearer) dropForbidden(seen uint64) bool {
	b.mu.Lock()
	replaced := b.gen != seen
	now := b.clock.Now()
	due := b.forbidden.IsZero() || now.Sub(b.forbidden) >= b.forbiddenEvery
	if !replaced && due {
		b.forbidden = now
	}
	b.mu.Unlock()
	if replaced {
		return true
	}
	return due && b.drop(seen) == nil
}

// refusal reports whether a token request failed because the login endpoint refused the
// credentials (or a file they need is missing), rather than for a passing reason.
func refusal(err error) bool {
	var terr *tokenError
	return errors.As(err, &terr) && !terr.transient
}
