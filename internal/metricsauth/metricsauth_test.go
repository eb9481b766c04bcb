package metricsauth

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-logr/logr"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
)

// apiServer is a fake API server's two reviews: tokens maps a token to its user, allowed says
// which "user verb path" may pass; fail makes every review fail with it.
type apiServer struct {
	tokens           map[string]authenticationv1.UserInfo
	allowed          map[string]bool
	fail             error
	failTimes        int // fail this many reviews, then answer
	tokenReviews     int
	accessReviews    int
	lastAccessReview authorizationv1.SubjectAccessReviewSpec
}

func (s *apiServer) start(t *testing.T) (*auth, *clocktesting.FakeClock) {
	t.Helper()
	cs := fake.NewClientset()
	cs.PrependReactor("create", "tokenreviews", func(a clienttesting.Action) (bool, runtime.Object, error) {
		s.tokenReviews++
		if err := s.failure(); err != nil {
			return true, nil, err
		}
		r := a.(clienttesting.CreateAction).GetObject().(*authenticationv1.TokenReview).DeepCopy()
		if u, ok := s.tokens[r.Spec.Token]; ok {
			r.Status = authenticationv1.TokenReviewStatus{Authenticated: true, User: u}
		}
		return true, r, nil
	})
	cs.PrependReactor("create", "subjectaccessreviews", func(a clienttesting.Action) (bool, runtime.Object, error) {
		s.accessReviews++
		if err := s.failure(); err != nil {
			return true, nil, err
		}
		r := a.(clienttesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview).DeepCopy()
		s.lastAccessReview = r.Spec
		a2 := r.Spec.NonResourceAttributes
		r.Status.Allowed = s.allowed[r.Spec.User+" "+a2.Verb+" "+a2.Path]
		return true, r, nil
	})
	clk := clocktesting.NewFakeClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	a := newAuth(cs.AuthenticationV1().TokenReviews(), cs.AuthorizationV1().SubjectAccessReviews(), clk)
	a.backoff = wait.Backoff{Duration: time.Millisecond, Factor: 1, Steps: 3}
	return a, clk
}

func (s *apiServer) failure() error {
	if s.fail != nil && s.failTimes != 0 {
		s.failTimes--
		return s.fail
	}
	return nil
}

// scrape sends method path with the Authorization header through the filter, and says the status.
func scrape(t *testing.T, a *auth, method, path, authorization string) int {
	t.Helper()
	h, err := a.filter(logr.Discard(), http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("metrics"))
	}))
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(method, path, nil)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

func newServer() *apiServer {
	return &apiServer{
		tokens: map[string]authenticationv1.UserInfo{
			"scraper-token": {Username: "system:serviceaccount:monitoring:prometheus", UID: "u1",
				Groups: []string{"system:serviceaccounts"}, Extra: map[string]authenticationv1.ExtraValue{"scopes": {"a"}}},
			"other-token": {Username: "jane"},
		},
		allowed: map[string]bool{"system:serviceaccount:monitoring:prometheus get /metrics": true},
	}
}

// TestFilter: as controller-runtime's filter, a scrape without a token or with one the API server
// does not know is 401, one whose user may not get the path is 403, one that may is served.
func TestFilter(t *testing.T) {
	cases := map[string]struct {
		method, path, authorization string
		want                        int
	}{
		"no token":                      {"GET", "/metrics", "", http.StatusUnauthorized},
		"not a bearer token":            {"GET", "/metrics", "Basic c2NyYXBlcjpwdw==", http.StatusUnauthorized},
		"an empty bearer token":         {"GET", "/metrics", "Bearer ", http.StatusUnauthorized},
		"a token the server rejects":    {"GET", "/metrics", "Bearer forged", http.StatusUnauthorized},
		"a user without the permission": {"GET", "/metrics", "Bearer other-token", http.StatusForbidden},
		"another path":                  {"GET", "/debug", "Bearer scraper-token", http.StatusForbidden},
		"another verb":                  {"POST", "/metrics", "Bearer scraper-token", http.StatusForbidden},
		"the scraper":                   {"GET", "/metrics", "Bearer scraper-token", http.StatusOK},
		"the scheme in lower case":      {"GET", "/metrics", "bearer scraper-token", http.StatusOK},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			a, _ := newServer().start(t)
			if got := scrape(t, a, c.method, c.path, c.authorization); got != c.want {
				t.Errorf("status %d, want %d", got, c.want)
			}
		})
	}
}

// TestAccessReview: the review asks for the request's verb, in lower case, on its path, for the
// user, its uid, groups and extra as the token review gave them.
func TestAccessReview(t *testing.T) {
	s := newServer()
	a, _ := s.start(t)
	scrape(t, a, "GET", "/metrics", "Bearer scraper-token")
	got := s.lastAccessReview
	if got.User != "system:serviceaccount:monitoring:prometheus" || got.UID != "u1" ||
		len(got.Groups) != 1 || got.Groups[0] != "system:serviceaccounts" || len(got.Extra["scopes"]) != 1 ||
		got.NonResourceAttributes == nil || got.NonResourceAttributes.Verb != "get" || got.NonResourceAttributes.Path != "/metrics" ||
		got.ResourceAttributes != nil {
		t.Errorf("access review %+v", got)
	}
}

// TestCache: the reviews' answers are kept for controller-runtime's times (a token a minute, an
// access allowed 5 minutes, denied 30 seconds), so a scrape every 30 seconds costs a review a
// minute.
func TestCache(t *testing.T) {
	s := newServer()
	a, clk := s.start(t)
	for range 3 {
		scrape(t, a, "GET", "/metrics", "Bearer scraper-token")
		scrape(t, a, "GET", "/metrics", "Bearer other-token")
	}
	if s.tokenReviews != 2 || s.accessReviews != 2 {
		t.Fatalf("%d token and %d access reviews for 6 scrapes by 2 users, want 2 and 2", s.tokenReviews, s.accessReviews)
	}
	clk.Step(denyTTL + time.Second)
	scrape(t, a, "GET", "/metrics", "Bearer scraper-token")
	scrape(t, a, "GET", "/metrics", "Bearer other-token")
	if s.tokenReviews != 2 || s.accessReviews != 3 {
		t.Errorf("after 31s: %d token and %d access reviews, want 2 and 3 (the denial asked again)", s.tokenReviews, s.accessReviews)
	}
	clk.Step(authnTTL)
	scrape(t, a, "GET", "/metrics", "Bearer scraper-token")
	if s.tokenReviews != 3 || s.accessReviews != 3 {
		t.Errorf("after 91s: %d token and %d access reviews, want 3 and 3 (the token asked again, the access still allowed)", s.tokenReviews, s.accessReviews)
	}
}

// TestReviewFailures: an API server that fails to answer is asked again, and a scrape it never
// answers is a 500; a refusal of the operator's own reviews (no RBAC) is not retried.
func TestReviewFailures(t *testing.T) {
	unavailable := apierrors.NewServiceUnavailable("etcd is away")
	t.Run("answered on the second try", func(t *testing.T) {
		s := newServer()
		s.fail, s.failTimes = unavailable, 1
		a, _ := s.start(t)
		if got := scrape(t, a, "GET", "/metrics", "Bearer scraper-token"); got != http.StatusOK {
			t.Errorf("status %d, want 200", got)
		}
	})
	t.Run("never answered", func(t *testing.T) {
		s := newServer()
		s.fail, s.failTimes = unavailable, -1
		a, _ := s.start(t)
		if got := scrape(t, a, "GET", "/metrics", "Bearer scraper-token"); got != http.StatusInternalServerError {
			t.Errorf("status %d, want 500", got)
		}
		if s.tokenReviews != 3 {
			t.Errorf("%d tries, want 3", s.tokenReviews)
		}
		// A failure is not cached.
		s.failTimes = 0
		if got := scrape(t, a, "GET", "/metrics", "Bearer scraper-token"); got != http.StatusOK {
			t.Errorf("once the server answers: status %d, want 200", got)
		}
	})
	t.Run("the operator may not review tokens", func(t *testing.T) {
		s := newServer()
		s.fail, s.failTimes = apierrors.NewForbidden(schema.GroupResource{Group: "authentication.k8s.io", Resource: "tokenreviews"}, "", errors.New("RBAC")), -1
		a, _ := s.start(t)
		if got := scrape(t, a, "GET", "/metrics", "Bearer scraper-token"); got != http.StatusInternalServerError {
			t.Errorf("status %d, want 500", got)
		}
		if s.tokenReviews != 1 {
			t.Errorf("%d tries, want 1", s.tokenReviews)
		}
	})
}

// TestCacheBound: the caches never hold more than cacheSize entries, whatever tokens are sent.
func TestCacheBound(t *testing.T) {
	c := newTTLCache[int, bool](clocktesting.NewFakeClock(time.Now()), 4)
	for i := range 10 {
		c.put(i, true, time.Minute)
		if len(c.entries) > 4 {
			t.Fatalf("%d entries, more than 4", len(c.entries))
		}
	}
	if _, ok := c.get(9); !ok {
		t.Error("the last entry put is gone")
	}
}
