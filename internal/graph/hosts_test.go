package graph

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Every request a client sends is held to its host policy, wherever an answer points: the
// secret and the token never reach a host the policy does not allow. In each case the allowed
// host is 127.0.0.1 and [::1] stands for a host that is not allowed.
func TestHostPolicyHoldsForEveryRequest(t *testing.T) {
	type setup struct {
		allowed, other *hostile
	}
	type testCase struct {
		// serve makes the allowed server's (and the other's) answers.
		serve func(s setup)
		// call is what the client does.
		call func(ctx context.Context, c Client) error
		// wantKind and wantHost are the classification of the error.
		wantKind Kind
		wantHost string
		// notReached are the paths of the allowed server that must never be requested.
		notReached []string
	}
	cases := map[string]testCase{
		"the OpenID configuration names a token endpoint on another host": {
			serve: func(s setup) {
				s.allowed.serveOpenID(s.other.URL + tokenPath)
				s.other.serveToken(aToken())
			},
			call:     checkCredentials,
			wantKind: KindEndpointNotAllowed, wantHost: "::1",
		},
		"the OpenID configuration names a token endpoint on a name of an allowed address": {
			serve: func(s setup) {
				port := s.allowed.URL[strings.LastIndex(s.allowed.URL, ":")+1:]
				s.allowed.serveOpenID("https://localhost:" + port + tokenPath)
				s.allowed.serveToken(aToken())
			},
			call:     checkCredentials,
			wantKind: KindEndpointNotAllowed, wantHost: "localhost",
			notReached: []string{tokenPath},
		},
		"the OpenID configuration names a token endpoint in cleartext on the allowed host": {
			serve: func(s setup) {
				s.allowed.serveOpenID(strings.Replace(s.allowed.URL, "https://", "http://", 1) + tokenPath)
				s.allowed.serveToken(aToken())
			},
			call:     checkCredentials,
			wantKind: KindEndpointNotAllowed, wantHost: "127.0.0.1",
			notReached: []string{tokenPath},
		},
		"the OpenID configuration is redirected to another host": {
			serve: func(s setup) {
				s.allowed.handle(openIDPath, redirectTo(http.StatusFound, s.other.URL+openIDPath))
				s.other.serveOpenID(s.other.URL + tokenPath)
				s.other.serveToken(aToken())
			},
			call:     checkCredentials,
			wantKind: KindEndpointNotAllowed, wantHost: "::1",
		},
		"the OpenID configuration is redirected on the allowed host": {
			serve: func(s setup) {
				s.allowed.handle(openIDPath, redirectTo(http.StatusMovedPermanently, s.allowed.URL+"/elsewhere"+openIDPath))
				s.allowed.serveToken(aToken())
			},
			call:     checkCredentials,
			wantKind: KindRedirected, wantHost: "127.0.0.1",
			notReached: []string{"/elsewhere" + openIDPath, tokenPath},
		},
		"Graph's GET is redirected to another host": {
			serve: func(s setup) {
				s.allowed.serveOpenID(s.allowed.URL + tokenPath)
				s.allowed.serveToken(aToken())
				s.allowed.handle("", redirectTo(http.StatusTemporaryRedirect, s.other.URL+"/v1.0/deviceManagement/deviceConfigurations/"+configID+"/userStatusOverview"))
				s.other.handle("", func(w http.ResponseWriter, r *http.Request) {
					writeTestJSON(w, map[string]any{"id": configID, "successCount": 1})
				})
			},
			call:     getOverview,
			wantKind: KindEndpointNotAllowed, wantHost: "::1",
		},
	}
	// A redirect of the token request, of each status, to another host and on the allowed one.
	for _, status := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		cases[fmt.Sprintf("the token request is answered %d to another host", status)] = testCase{
			serve: func(s setup) {
				s.allowed.serveOpenID(s.allowed.URL + tokenPath)
				s.allowed.handle(tokenPath, redirectTo(status, s.other.URL+tokenPath))
				s.other.serveToken(aToken())
			},
			call:     checkCredentials,
			wantKind: KindEndpointNotAllowed, wantHost: "::1",
		}
		cases[fmt.Sprintf("Graph's PATCH is answered %d on the allowed host", status)] = testCase{
			serve: func(s setup) {
				s.allowed.serveOpenID(s.allowed.URL + tokenPath)
				s.allowed.serveToken(aToken())
				s.allowed.handle("", redirectTo(status, s.allowed.URL+"/elsewhere"))
			},
			call:       patchOverview,
			wantKind:   KindRedirected,
			wantHost:   "127.0.0.1",
			notReached: []string{"/elsewhere"},
		}
	}

	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s := setup{allowed: newHostile(t, "127.0.0.1"), other: newHostile(t, "[::1]")}
			tc.serve(s)
			c, err := NewClient(hostileConfig(s.allowed), Options{Pacers: NewPacers(DefaultLimits(), 0), Hosts: allowOnly("127.0.0.1"), Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err = tc.call(ctx, c)
			if err == nil {
				t.Fatal("the call succeeded")
			}
			got := Classify(err)
			if got.Kind != tc.wantKind || got.Host != tc.wantHost {
				t.Errorf("classified %s with host %q (%s), want %s with host %q", got.Kind, got.Host, got.Description, tc.wantKind, tc.wantHost)
			}
			if !strings.Contains(got.Description, tc.wantHost) {
				t.Errorf("description %q does not name host %q", got.Description, tc.wantHost)
			}
			if seen := s.other.seen(); len(seen) > 0 {
				t.Errorf("the host that is not allowed was sent %d requests: %+v", len(seen), seen)
			}
			for _, r := range s.allowed.seen() {
				for _, p := range tc.notReached {
					if r.path == p {
						t.Errorf("the redirect or document was followed to %s", p)
					}
				}
			}
			if strings.Contains(err.Error(), testSecret) || strings.Contains(got.Description, testSecret) {
				t.Error("the error holds the client secret")
			}
		})
	}
}

// A 303 turns a PATCH into a GET in clients that follow it; here, the PATCH was sent once and
// nothing else was.
func TestSeeOtherAfterPatchIsNotFollowed(t *testing.T) {
	allowed := newHostile(t, "127.0.0.1")
	allowed.serveOpenID(allowed.URL + tokenPath)
	allowed.serveToken(aToken())
	allowed.handle("", redirectTo(http.StatusSeeOther, allowed.URL+"/v1.0/deviceManagement/deviceConfigurations/"+configID+"/userStatusOverview"))
	c, err := NewClient(hostileConfig(allowed), Options{Pacers: NewPacers(DefaultLimits(), 0), Hosts: allowOnly("127.0.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	if err := patchOverview(context.Background(), c); err == nil {
		t.Fatal("a 303 was taken as success")
	}
	var graphCalls []string
	for _, r := range allowed.seen() {
		if strings.HasPrefix(r.path, "/v1.0/") {
			graphCalls = append(graphCalls, r.method)
		}
	}
	if strings.Join(graphCalls, ",") != http.MethodPatch {
		t.Errorf("Graph calls %v, want one PATCH", graphCalls)
	}
}

// A connection naming a host outside the policy sends nothing at all: the policy is not only the
// caller's check of the spec.
func TestConfiguredHostOutsidePolicy(t *testing.T) {
	other := newHostile(t, "[::1]")
	other.serveOpenID(other.URL + tokenPath)
	other.serveToken(aToken())
	c, err := NewClient(hostileConfig(other), Options{Pacers: NewPacers(DefaultLimits(), 0), Hosts: allowOnly("127.0.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	err = checkCredentials(context.Background(), c)
	if got := Classify(err); got.Kind != KindEndpointNotAllowed || got.Class != ClassNeedsPerson || got.Host != "::1" {
		t.Errorf("classified %+v, want EndpointNotAllowed (needs a person) for ::1", got)
	}
	if seen := other.seen(); len(seen) > 0 {
		t.Errorf("the host was sent %d requests", len(seen))
	}
}

func checkCredentials(ctx context.Context, c Client) error { return c.CheckCredentials(ctx) }

func getOverview(ctx context.Context, c Client) error {
	_, err := c.Get(ctx, UserOverview, configID)
	return err
}

func patchOverview(ctx context.Context, c Client) error {
	n := int32(3)
	_, err := c.Patch(ctx, UserOverview, configID, Fields{SuccessCount: &n})
	return err
}
