package graph

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// maxRetryAfter bounds a parsed Retry-After, so that a hostile or broken
// header cannot overflow a time.Duration.
const maxRetryAfter = 24 * time.Hour

// parseRetryAfter reads a Retry-After header: a number of seconds, which
// Graph may write with a fraction ("2.128"), or an HTTP date. ok is false for
// a missing or unreadable value. The fraction is kept to the nanosecond and
// rounded up, since Retry-After is the least wait.
func parseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' {
		return parseSeconds(v)
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d = t.Sub(now)
	return min(max(d, 0), maxRetryAfter), true
}

// parseSeconds parses digits with an optional fraction, exactly (no float).
func parseSeconds(v string) (time.Duration, bool) {
	whole, frac, hasDot := strings.Cut(v, ".")
	if whole == "" || !allDigits(whole) || (hasDot && (frac == "" || !allDigits(frac))) {
		return 0, false
	}
	whole = strings.TrimLeft(whole, "0")
	if len(whole) > 6 { // over 11 days; capped below
		return maxRetryAfter, true
	}
	var secs int64
	for _, c := range whole {
		secs = secs*10 + int64(c-'0')
	}
	d := time.Duration(secs) * time.Second
	var nanos int64
	for i := 0; i < 9; i++ {
		nanos *= 10
		if i < len(frac) {
			nanos += int64(frac[i] - '0')
		}
	}
	if len(frac) > 9 && strings.Trim(frac[9:], "0") != "" {
		nanos++ // round up: never wait less than asked
	}
	return min(d+time.Duration(nanos), maxRetryAfter), true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// backoff returns the wait before retry number n (0 for the first retry):
// base·2ⁿ, jittered down to between half and all of it, at most maxBackoff.
func backoff(base time.Duration, n int) time.Duration {
	const maxBackoff = 30 * time.Second
	d := base
	for i := 0; i < n && d < maxBackoff; i++ {
		d *= 2
	}
	d = min(d, maxBackoff)
	half := d / 2
	return half + rand.N(half+1)
}

// retryPolicy is the client's retry policy, which replaces azcore's (that
// one reads a fractional Retry-After as 0 and gives up when Retry-After is
// long). Before each try it waits on the tenant's budget; each try has its
// own timeout; it tries again after a 401 once with a fresh credential, and
// after retryable failures with backoff or Retry-After, but never sleeps
// past the caller's deadline or MaxRetryDelay: it returns the last answer
// instead, for the caller to requeue. PATCH is retried like GET: setting the
// same fields again is idempotent.
type retryPolicy struct {
	opts   Options
	budget *Budget
	cred   *credential
	tenant string
}

// Do implements policy.Policy.
func (p *retryPolicy) Do(req *policy.Request) (*http.Response, error) {
	ctx := req.Raw().Context()
	log := loggerFor(ctx, p.opts.Logger).WithValues("tenant", p.tenant)
	class := BudgetRead
	if req.Raw().Method != http.MethodGet && req.Raw().Method != http.MethodHead {
		class = BudgetWrite
	}
	renewed := false
	for retries := 0; ; {
		if err := req.RewindBody(); err != nil {
			return nil, err
		}
		if err := p.budget.Wait(ctx, class, p.opts.MaxBudgetWait); err != nil {
			return nil, err
		}
		gen := p.cred.generation()
		tryCtx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
		resp, err := req.Clone(tryCtx).Next()
		// The body download policy has read the body already: cancelling is safe.
		cancel()
		if ctxErr := ctx.Err(); err != nil && ctxErr != nil {
			return nil, ctxErr
		}

		var delay time.Duration
		var why string
		switch {
		case err != nil:
			if !retryableError(err) {
				return nil, err
			}
			delay, why = backoff(p.opts.RetryDelay, retries), "no answer"
		case resp.StatusCode == http.StatusUnauthorized && !renewed:
			// A token Graph refuses may sit in MSAL's cache: start over with a
			// fresh credential once, without counting it as a retry.
			renewed = true
			if rerr := p.cred.renew(gen); rerr != nil {
				return resp, nil
			}
			runtime.Drain(resp)
			log.V(1).Info("Graph refused the token, retrying with a fresh one", "method", req.Raw().Method, "path", req.Raw().URL.Path)
			continue
		case resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode == http.StatusServiceUnavailable:
			ra, hasRA := parseRetryAfter(resp.Header.Get(headerRetryAfter), time.Now())
			delay, why = ra, "Retry-After"
			if !hasRA {
				delay, why = backoff(p.opts.RetryDelay, retries), "backoff"
			}
			if resp.StatusCode == http.StatusTooManyRequests {
				throttledTotal.WithLabelValues(p.tenant).Inc()
			}
			if resp.StatusCode == http.StatusTooManyRequests || hasRA {
				// every call of this tenant waits, not only this one
				p.budget.Pause(time.Now().Add(delay))
			}
		case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusConflict, resp.StatusCode >= 500:
			delay, why = backoff(p.opts.RetryDelay, retries), "backoff"
		default:
			return resp, nil
		}

		if retries >= p.opts.MaxRetries || delay > p.opts.MaxRetryDelay || pastDeadline(ctx, delay) {
			return resp, err
		}
		retries++
		if resp != nil {
			runtime.Drain(resp)
		}
		log.V(1).Info("Retrying Graph request", "method", req.Raw().Method, "path", req.Raw().URL.Path,
			"retry", retries, "delay", delay, "why", why)
		if serr := sleep(ctx, delay); serr != nil {
			return nil, serr
		}
	}
}

// pastDeadline reports whether waiting d would take the caller past its deadline.
func pastDeadline(ctx context.Context, d time.Duration) bool {
	deadline, ok := ctx.Deadline()
	return ok && !time.Now().Add(d).Before(deadline)
}

// retryableError reports whether a failure without an answer is worth
// another try: timeouts, resets, dropped connections are; a token that
// cannot be obtained, an untrusted certificate or a body too large are not.
func retryableError(err error) bool {
	var (
		terr             *tokenError
		unknownAuthority x509.UnknownAuthorityError
		hostnameErr      x509.HostnameError
		certInvalid      x509.CertificateInvalidError
		verifyErr        *tls.CertificateVerificationError
		gerr             *Error
	)
	switch {
	case errors.As(err, &terr), errors.As(err, &gerr),
		errors.As(err, &unknownAuthority), errors.As(err, &hostnameErr),
		errors.As(err, &certInvalid), errors.As(err, &verifyErr),
		errors.Is(err, errBodyTooLarge), errors.Is(err, context.Canceled):
		return false
	}
	return true
}
