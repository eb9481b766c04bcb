// Package metricsauth authenticates and authorises the scrapes of the metrics endpoint through the
// API server, as controller-runtime's filters.WithAuthenticationAndAuthorization does: the caller's
// bearer token is checked by a TokenReview, and its right to what it asks for (get on the
// non-resource URL /metrics) by a SubjectAccessReview; both answers are cached a while, for the
// same times.
//
// It exists for memory alone. controller-runtime's filter is built on k8s.io/apiserver's delegating
// authenticator and authorizer, which bring the API server's CEL libraries (cel-go, ANTLR, the
// apiserver's CEL extensions) into the binary: a third of its code, and 18 MiB of the idle
// operator's resident memory, half the total, spent on the one request a scrape makes every
// 30 seconds. The two reviews need nothing but client-go.
package metricsauth

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	authenticationv1client "k8s.io/client-go/kubernetes/typed/authentication/v1"
	authorizationv1client "k8s.io/client-go/kubernetes/typed/authorization/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/clock"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// As controller-runtime's filter.
const (
	authnTTL      = time.Minute      // how long a token's review is trusted
	allowTTL      = 5 * time.Minute  // how long an access allowed is trusted
	denyTTL       = 30 * time.Second // how long an access denied is
	reviewTimeout = 10 * time.Second // one review's longest wait
	// cacheSize bounds each cache: a scraper or two use the endpoint, but anyone who reaches the
	// port can send tokens.
	cacheSize = 1024
)

// backoff retries a review the API server failed to answer, as controller-runtime's filter.
var backoff = wait.Backoff{Duration: 500 * time.Millisecond, Factor: 1.5, Jitter: 0.2, Steps: 5}

// WithAuthenticationAndAuthorization is a metricsserver.Options FilterProvider: it allows a
// request whose bearer token the API server authenticates and whose user it authorises to use
// the request's verb on its path. The operator needs create on tokenreviews and
// subjectaccessreviews; a scraper, get on the non-resource URL /metrics.
func WithAuthenticationAndAuthorization(cfg *rest.Config, httpClient *http.Client) (metricsserver.Filter, error) {
	authn, err := authenticationv1client.NewForConfigAndClient(cfg, httpClient)
	if err != nil {
		return nil, err
	}
	authz, err := authorizationv1client.NewForConfigAndClient(cfg, httpClient)
	if err != nil {
		return nil, err
	}
	return newAuth(authn.TokenReviews(), authz.SubjectAccessReviews(), clock.RealClock{}).filter, nil
}

type auth struct {
	tokens  authenticationv1client.TokenReviewInterface
	access  authorizationv1client.SubjectAccessReviewInterface
	users   *ttlCache[[sha256.Size]byte, *authenticationv1.UserInfo] // nil: not authenticated
	allowed *ttlCache[string, bool]
	backoff wait.Backoff
}

func newAuth(tokens authenticationv1client.TokenReviewInterface, access authorizationv1client.SubjectAccessReviewInterface, clk clock.PassiveClock) *auth {
	return &auth{
		tokens: tokens, access: access, backoff: backoff,
		users:   newTTLCache[[sha256.Size]byte, *authenticationv1.UserInfo](clk, cacheSize),
		allowed: newTTLCache[string, bool](clk, cacheSize),
	}
}

func (a *auth) filter(log logr.Logger, handler http.Handler) (http.Handler, error) {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		user, err := a.authenticate(req)
		if err != nil {
			log.Error(err, "Authentication failed")
			http.Error(w, "Authentication failed", http.StatusInternalServerError)
			return
		}
		if user == nil {
			log.V(4).Info("Authentication failed")
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		allowed, reason, err := a.authorize(req, user)
		if err != nil {
			msg := fmt.Sprintf("Authorization for user %s failed", user.Username)
			log.Error(err, msg)
			http.Error(w, msg, http.StatusInternalServerError)
			return
		}
		if !allowed {
			msg := fmt.Sprintf("Authorization denied for user %s", user.Username)
			log.V(4).Info(fmt.Sprintf("%s: %s", msg, reason))
			http.Error(w, msg, http.StatusForbidden)
			return
		}
		handler.ServeHTTP(w, req)
	}), nil
}

// bearerToken is the token of an "Authorization: Bearer <token>" header, "" without one.
func bearerToken(req *http.Request) string {
	scheme, token, ok := strings.Cut(strings.TrimSpace(req.Header.Get("Authorization")), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// authenticate is the user the request's token belongs to, nil when it has none or the API server
// does not know it.
func (a *auth) authenticate(req *http.Request) (*authenticationv1.UserInfo, error) {
	token := bearerToken(req)
	if token == "" {
		return nil, nil
	}
	key := sha256.Sum256([]byte(token)) // the cache holds no token
	if user, ok := a.users.get(key); ok {
		return user, nil
	}
	review := &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: token}}
	var result *authenticationv1.TokenReview
	err := a.retry(req.Context(), func(ctx context.Context) (err error) {
		result, err = a.tokens.Create(ctx, review, metav1.CreateOptions{})
		return err
	})
	if err != nil {
		return nil, err
	}
	var user *authenticationv1.UserInfo
	if result.Status.Authenticated {
		user = &result.Status.User
	}
	a.users.put(key, user, authnTTL)
	return user, nil
}

// authorize asks whether user may use the request's verb (its method, lower case) on its path.
func (a *auth) authorize(req *http.Request, user *authenticationv1.UserInfo) (bool, string, error) {
	spec := authorizationv1.SubjectAccessReviewSpec{
		User:   user.Username,
		UID:    user.UID,
		Groups: user.Groups,
		NonResourceAttributes: &authorizationv1.NonResourceAttributes{
			Path: req.URL.Path,
			Verb: strings.ToLower(req.Method),
		},
	}
	if len(user.Extra) > 0 {
		spec.Extra = make(map[string]authorizationv1.ExtraValue, len(user.Extra))
		for k, v := range user.Extra {
			spec.Extra[k] = authorizationv1.ExtraValue(v)
		}
	}
	keyBytes, err := json.Marshal(spec)
	if err != nil {
		return false, "", err
	}
	key := string(keyBytes)
	if allowed, ok := a.allowed.get(key); ok {
		return allowed, "cached", nil
	}
	var result *authorizationv1.SubjectAccessReview
	err = a.retry(req.Context(), func(ctx context.Context) (err error) {
		result, err = a.access.Create(ctx, &authorizationv1.SubjectAccessReview{Spec: spec}, metav1.CreateOptions{})
		return err
	})
	if err != nil {
		return false, "", err
	}
	if result.Status.EvaluationError != "" && !result.Status.Allowed && !result.Status.Denied {
		// No authorizer decided, and one failed: not an answer to keep.
		return false, result.Status.EvaluationError, nil
	}
	allowed := result.Status.Allowed && !result.Status.Denied
	ttl := denyTTL
	if allowed {
		ttl = allowTTL
	}
	a.allowed.put(key, allowed, ttl)
	return allowed, result.Status.Reason, nil
}

// retry runs a review, each try bounded by reviewTimeout, and tries again while the API server
// fails to answer; a refusal of the operator's own (no RBAC for the reviews) is final.
func (a *auth) retry(ctx context.Context, review func(context.Context) error) error {
	return retry.OnError(a.backoff, func(err error) bool {
		return ctx.Err() == nil && !apierrors.IsForbidden(err) && !apierrors.IsUnauthorized(err) &&
			!apierrors.IsBadRequest(err) && !apierrors.IsInvalid(err) && !apierrors.IsNotFound(err)
	}, func() error {
		ctx, cancel := context.WithTimeout(ctx, reviewTimeout)
		defer cancel()
		return review(ctx)
	})
}

// ttlCache is a map whose entries expire, of at most size entries.
type ttlCache[K comparable, V any] struct {
	clock   clock.PassiveClock
	size    int
	mu      sync.Mutex
	entries map[K]ttlEntry[V]
}

type ttlEntry[V any] struct {
	value   V
	expires time.Time
}

func newTTLCache[K comparable, V any](clk clock.PassiveClock, size int) *ttlCache[K, V] {
	return &ttlCache[K, V]{clock: clk, size: size, entries: map[K]ttlEntry[V]{}}
}

func (c *ttlCache[K, V]) get(key K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || !c.clock.Now().Before(e.expires) {
		var zero V
		return zero, false
	}
	return e.value, true
}

func (c *ttlCache[K, V]) put(key K, value V, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock.Now()
	if len(c.entries) >= c.size {
		for k, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= c.size {
			clear(c.entries) // all still valid: they are asked again, no more
		}
	}
	c.entries[key] = ttlEntry[V]{value: value, expires: now.Add(ttl)}
}
