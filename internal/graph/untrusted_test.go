package graph

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// hostileGraph is a hostile server with a working login endpoint, whose Graph answers with
// graph.
func hostileGraph(t *testing.T, graph http.HandlerFunc) *hostile {
	t.Helper()
	h := newHostile(t, "127.0.0.1")
	h.serveOpenID(h.URL + tokenPath)
	h.serveToken(aToken())
	h.handle("", graph)
	return h
}

// hostileClient is a client of h with a short timeout and a budget that never holds a test up.
func hostileClient(t *testing.T, h *hostile, opts Options) Client {
	t.Helper()
	if opts.Pacers == nil {
		opts.Pacers = NewPacers(Limits{Requests: 1 << 20, Writes: 1 << 20, Per: time.Second}, 0)
	}
	if opts.Timeout == 0 {
		opts.Timeout = 2 * time.Second
	}
	c, err := NewClient(hostileConfig(h), opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// answerWith answers every request with status, the Content-Type contentType and body.
func answerWith(status int, contentType, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

const jsonType = "application/json; odata.metadata=minimal; charset=utf-8"

// What Graph answers is untrusted input: an answer that is not the overview asked for, or holds
// what status cannot carry, is an unreadable answer that names the host and says what was wrong,
// and none of it is taken as the overview.
func TestUntrustedGraphAnswers(t *testing.T) {
	gzipBomb := func() []byte {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zeros := make([]byte, 1<<20)
		for range 64 {
			_, _ = zw.Write(zeros)
		}
		_ = zw.Close()
		return b.Bytes()
	}()
	cases := map[string]struct {
		graph http.HandlerFunc
		says  string // the description holds this
	}{
		"another configuration's overview": {
			graph: answerWith(200, jsonType, `{"id":"`+otherConfigID+`","successCount":12}`),
			says:  `its id is "` + otherConfigID + `", not "` + configID + `"`,
		},
		"no id": {
			graph: answerWith(200, jsonType, `{"successCount":12}`),
			says:  "it has no id",
		},
		"a negative count": {
			graph: answerWith(200, jsonType, `{"id":"`+configID+`","failedCount":-1}`),
			says:  "failedCount is negative (-1)",
		},
		"a negative beta conflictCount": {
			graph: answerWith(200, jsonType, `{"id":"`+configID+`","conflictCount":-4}`),
			says:  "conflictCount is negative (-4)",
		},
		"an id that is not UTF-8": {
			graph: answerWith(200, jsonType, "{\"id\":\"6d6c3b5e-0f9a-4c1e-9d7e-2f1f3a4b5c6\xff\"}"),
			says:  "not valid UTF-8",
		},
		"a time status cannot write": {
			graph: answerWith(200, jsonType, `{"id":"`+configID+`","lastUpdateDateTime":"9999-12-31T23:00:00-05:00"}`),
			says:  "lastUpdateDateTime is outside the years 0001 to 9999",
		},
		"JSON labelled as HTML": {
			graph: answerWith(200, "text/html", `{"id":"`+configID+`","successCount":12}`),
			says:  `it is labelled "text/html", not JSON`,
		},
		"JSON labelled as text": {
			graph: answerWith(200, "text/plain; charset=utf-8", `{"id":"`+configID+`","successCount":12}`),
			says:  `it is labelled "text/plain", not JSON`,
		},
		"a body of 50 MiB": {
			graph: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", jsonType)
				_, _ = w.Write([]byte(`{"id":"` + configID + `","x":"`))
				chunk := bytes.Repeat([]byte("a"), 1<<20)
				for range 50 {
					if _, err := w.Write(chunk); err != nil {
						return
					}
				}
			},
			says: "larger than the client accepts",
		},
		"a gzip bomb": {
			graph: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", jsonType)
				w.Header().Set("Content-Encoding", "gzip")
				_, _ = w.Write(gzipBomb)
			},
			says: "body",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			h := hostileGraph(t, tc.graph)
			c := hostileClient(t, h, Options{Hosts: allowOnly("127.0.0.1")})
			for _, call := range []struct {
				name string
				do   func() (Response, error)
			}{
				{"GET", func() (Response, error) { return c.Get(context.Background(), UserOverview, configID) }},
				{"PATCH", func() (Response, error) {
					n := int32(1)
					return c.Patch(context.Background(), UserOverview, configID, Fields{SuccessCount: &n})
				}},
			} {
				resp, err := call.do()
				if err == nil {
					t.Fatalf("%s: the answer was taken as the overview: %+v", call.name, resp.Overview)
				}
				got := Classify(err)
				if got.Kind != KindUnreadableAnswer || got.Class != ClassRetryable {
					t.Errorf("%s: classified %s (%s), want a retryable UnreadableAnswer", call.name, got.Kind, got.Description)
				}
				if !strings.Contains(got.Description, tc.says) || !strings.Contains(got.Description, `"127.0.0.1"`) {
					t.Errorf("%s: description %q does not say %q and name the host", call.name, got.Description, tc.says)
				}
			}
		})
	}
}

// A body that trickles ends at the client's timeout, for Graph and for the login endpoint.
func TestTricklingAnswersEndAtTheTimeout(t *testing.T) {
	t.Parallel() // waits on the emulator's clock: runs beside the package's other waiting tests
	trickle := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", jsonType)
		w.WriteHeader(200)
		_, _ = w.Write([]byte(`{"id":"` + configID + `",`))
		for range 600 {
			select {
			case <-r.Context().Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			_, _ = w.Write([]byte(" "))
			w.(http.Flusher).Flush()
		}
	}
	t.Run("Graph", func(t *testing.T) {
		h := hostileGraph(t, trickle)
		c := hostileClient(t, h, Options{Timeout: time.Second})
		start := time.Now()
		_, err := c.Get(context.Background(), UserOverview, configID)
		if got := Classify(err); got.Kind != KindTransport {
			t.Errorf("classified %s (%s), want a Transport timeout", got.Kind, got.Description)
		}
		if elapsed := time.Since(start); elapsed > 10*time.Second {
			t.Errorf("the call took %s, with a timeout of 1s", elapsed)
		}
	})
	t.Run("login endpoint", func(t *testing.T) {
		h := newHostile(t, "127.0.0.1")
		h.serveOpenID(h.URL + tokenPath)
		h.handle(tokenPath, trickle)
		c := hostileClient(t, h, Options{Timeout: time.Second})
		start := time.Now()
		err := c.CheckCredentials(context.Background())
		if got := Classify(err); got.Class != ClassRetryable {
			t.Errorf("classified %s %s (%s), want a retryable failure", got.Class, got.Kind, got.Description)
		}
		if elapsed := time.Since(start); elapsed > 10*time.Second {
			t.Errorf("the token request took %s, with a timeout of 1s", elapsed)
		}
	})
}

// What the login endpoint answers is untrusted input too: a token response the client cannot use
// is a retryable failure of the login endpoint that names its host, never a refusal of the
// credentials (which would send a person to check a secret that is fine), and no token of it is
// ever sent.
func TestUntrustedTokenAnswers(t *testing.T) {
	token := func(fields map[string]any) map[string]any {
		r := aToken()
		for k, v := range fields {
			if v == nil {
				delete(r, k)
			} else {
				r[k] = v
			}
		}
		return r
	}
	cases := map[string]struct {
		answer http.HandlerFunc
		says   string
	}{
		"no expires_in": {
			answer: jsonAnswer(token(map[string]any{"expires_in": nil})),
			says:   "it has no expires_in",
		},
		"a negative expires_in": {
			answer: jsonAnswer(token(map[string]any{"expires_in": -5})),
			says:   "its expires_in (-5) is not between",
		},
		"an expires_in of a year": {
			answer: jsonAnswer(token(map[string]any{"expires_in": 31536000})),
			says:   "its expires_in (31536000) is not between",
		},
		"an absurd expires_in": {
			answer: jsonAnswer(token(map[string]any{"expires_in": 1e300})),
			says:   "is not between",
		},
		"no access_token": {
			answer: jsonAnswer(token(map[string]any{"access_token": nil})),
			says:   "it has no access_token",
		},
		"an access_token of 500 KB": {
			answer: jsonAnswer(token(map[string]any{"access_token": strings.Repeat("a", 500_000)})),
			says:   "its access_token is 500000 bytes",
		},
		"an access_token that would inject a header": {
			answer: jsonAnswer(token(map[string]any{"access_token": "abc\r\nX-Injected: 1"})),
			says:   "holds characters a token cannot have",
		},
		"a token response labelled as HTML": {
			answer: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				_, _ = w.Write([]byte(`{"token_type":"Bearer","expires_in":3599,"access_token":"abc"}`))
			},
			says: "an HTML page instead of a token",
		},
		"an OpenID configuration that is not JSON": {
			answer: nil, // set below: the document itself is broken
			says:   "a body that is not a token response",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			h := newHostile(t, "127.0.0.1")
			h.serveOpenID(h.URL + tokenPath)
			if tc.answer == nil {
				h.handle(openIDPath, answerWith(200, "application/json", "<html>"))
				h.serveToken(aToken())
			} else {
				h.handle(tokenPath, tc.answer)
			}
			h.handle("", answerWith(200, jsonType, `{"id":"`+configID+`"}`))
			c := hostileClient(t, h, Options{})
			_, err := c.Get(context.Background(), UserOverview, configID)
			got := Classify(err)
			if got.Kind != KindLoginUnavailable || got.Class != ClassRetryable {
				t.Errorf("classified %s %s (%s), want a retryable LoginUnavailable", got.Class, got.Kind, got.Description)
			}
			if !strings.Contains(got.Description, tc.says) || !strings.Contains(got.Description, `"127.0.0.1"`) {
				t.Errorf("description %q does not say %q and name the host", got.Description, tc.says)
			}
			if strings.Contains(got.Description, testSecret) || strings.Contains(err.Error(), testSecret) {
				t.Error("the error holds the client secret")
			}
			for _, r := range h.seen() {
				if strings.HasPrefix(r.path, "/v1.0/") {
					t.Errorf("Graph was called (%s %s) without a usable token", r.method, r.path)
				}
			}
		})
	}
}

func jsonAnswer(v map[string]any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { writeTestJSON(w, v) }
}

// A list that never ends stops with an error, bounded in pages and in time, and so does a next
// link that leads back to a page already read.
func TestUntrustedPaging(t *testing.T) {
	page := func(next string) string {
		return fmt.Sprintf(`{"value":[{"id":%q,"displayName":"x"}],"@odata.nextLink":%q}`, configID, next)
	}
	cases := map[string]struct {
		graph func(h *hostile) http.HandlerFunc
		opts  Options
		says  string
	}{
		"a next link to the page itself": {
			graph: func(h *hostile) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					answerWith(200, jsonType, page(h.URL+"/v1.0/deviceManagement/deviceConfigurations?$skiptoken=1"))(w, r)
				}
			},
			says: "leads back to a page already read",
		},
		"a page labelled as HTML": {
			graph: func(h *hostile) http.HandlerFunc {
				return answerWith(200, "text/html", page(""))
			},
			says: `labelled "text/html", not JSON`,
		},
		"a list that never ends": {
			graph: func(h *hostile) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					n, _ := strconv.Atoi(r.URL.Query().Get("$skiptoken"))
					answerWith(200, jsonType, page(fmt.Sprintf("%s/v1.0/deviceManagement/deviceConfigurations?$skiptoken=%d", h.URL, n+1)))(w, r)
				}
			},
			says: "goes on past 1000 pages",
		},
		"a list that takes too long": {
			graph: func(h *hostile) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					n, _ := strconv.Atoi(r.URL.Query().Get("$skiptoken"))
					time.Sleep(50 * time.Millisecond)
					answerWith(200, jsonType, page(fmt.Sprintf("%s/v1.0/deviceManagement/deviceConfigurations?$skiptoken=%d", h.URL, n+1)))(w, r)
				}
			},
			opts: Options{ListTimeout: 500 * time.Millisecond},
			says: "not read in time",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			h := newHostile(t, "127.0.0.1")
			h.serveOpenID(h.URL + tokenPath)
			h.serveToken(aToken())
			h.handle("", tc.graph(h))
			c := hostileClient(t, h, tc.opts)
			got, err := c.List(context.Background(), nil)
			if err == nil {
				t.Fatalf("the list ended with %d configurations", len(got))
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Errorf("error %q does not say %q", err, tc.says)
			}
		})
	}
}

// A Retry-After of a year pauses the tenant for the client's longest pause, and the error says
// when its calls resume, for the caller to show.
func TestARetryAfterOfAYear(t *testing.T) {
	for _, ra := range []string{"31536000", time.Now().AddDate(1, 0, 0).UTC().Format(http.TimeFormat)} {
		h := hostileGraph(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", ra)
			answerWith(429, jsonType, `{"error":{"code":"TooManyRequests","message":"slow down"}}`)(w, r)
		})
		c := hostileClient(t, h, Options{})
		start := time.Now()
		_, err := c.Get(context.Background(), UserOverview, configID)
		got := Classify(err)
		if got.Class != ClassThrottled || got.PausedUntil.Before(start.Add(maxPause)) || got.PausedUntil.After(time.Now().Add(maxPause)) {
			t.Errorf("Retry-After %s: classified %s, paused until %s, want throttled until %s from now", ra, got.Class, got.PausedUntil, maxPause)
		}
		if got.RetryAfter > maxPause {
			t.Errorf("Retry-After %s: the caller is told to wait %s, more than the pause", ra, got.RetryAfter)
		}
	}
}
