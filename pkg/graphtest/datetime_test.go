package graphtest

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// TestDateTimePrecision: lastUpdateDateTime goes out as Graph writes it, with at most 7 fractional
// digits and none trailing, and what comes in with more is held at Graph's 100 ns.
func TestDateTimePrecision(t *testing.T) {
	srv := newTestServer(t, Options{})
	tok := mustToken(t, srv, tenantA, clientRW)
	u := srv.URL() + overviewPath("beta", configA)
	served := func(res response) string {
		t.Helper()
		if res.status != http.StatusOK {
			t.Fatalf("%d %s", res.status, res.body)
		}
		var e struct{ LastUpdateDateTime string }
		if err := json.Unmarshal(res.body, &e); err != nil {
			t.Fatal(err)
		}
		return e.LastUpdateDateTime
	}

	// Go's nanoseconds, as a test seeding time.Now() has them.
	srv.Seed(tenantA, configA, Overview{LastUpdateDateTime: time.Date(2026, 11, 28, 11, 0, 0, 123456789, time.FixedZone("CET", 3600))})
	if got, want := served(call(t, srv.Client(), http.MethodGet, u, tok, "", nil)), "2026-11-28T10:00:00.1234568Z"; got != want {
		t.Errorf("seeded with nanoseconds: served %q, want %q", got, want)
	}
	if o, _ := srv.Overview(tenantA, configA); !o.LastUpdateDateTime.Equal(time.Date(2026, 11, 28, 10, 0, 0, 123456800, time.UTC)) {
		t.Errorf("held %v, want it at 100 ns", o.LastUpdateDateTime)
	}

	cases := map[string]struct{ sent, want string }{
		"7 digits":                 {"2026-11-28T10:00:00.1234567Z", "2026-11-28T10:00:00.1234567Z"},
		"9 digits, rounded down":   {"2026-11-28T10:00:00.123456749Z", "2026-11-28T10:00:00.1234567Z"},
		"9 digits, rounded up":     {"2026-11-28T10:00:00.123456751Z", "2026-11-28T10:00:00.1234568Z"},
		"9 digits into the second": {"2026-11-28T10:00:00.999999999Z", "2026-11-28T10:00:01Z"},
		"trailing zeros":           {"2026-11-28T10:00:00.5000000+00:00", "2026-11-28T10:00:00.5Z"},
		"an offset":                {"2026-11-28T11:30:00.25+01:30", "2026-11-28T10:00:00.25Z"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			patched := served(call(t, srv.Client(), http.MethodPatch, u, tok, `{"lastUpdateDateTime":"`+tc.sent+`"}`, nil))
			read := served(call(t, srv.Client(), http.MethodGet, u, tok, "", nil))
			if patched != tc.want || read != tc.want {
				t.Errorf("sent %q: PATCH answered %q, GET %q, want %q", tc.sent, patched, read, tc.want)
			}
		})
	}
}
