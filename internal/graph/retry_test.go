package graph

import (
	"errors"
	"io"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	type result struct {
		D  time.Duration
		OK bool
	}
	tests := map[string]struct {
		value string
		want  result
	}{
		"whole seconds":                 {"2", result{2 * time.Second, true}},
		"zero":                          {"0", result{0, true}},
		"fraction":                      {"2.128", result{2128 * time.Millisecond, true}},
		"half":                          {"0.5", result{500 * time.Millisecond, true}},
		"leading zeros":                 {"007.25", result{7250 * time.Millisecond, true}},
		"spaces around":                 {" 3 ", result{3 * time.Second, true}},
		"nanoseconds":                   {"1.000000001", result{time.Second + 1, true}},
		"beyond nanoseconds rounds up":  {"2.1281234561", result{2128123457 * time.Nanosecond, true}},
		"beyond nanoseconds, all zeros": {"2.1280000000", result{2128 * time.Millisecond, true}},
		"huge is capped":                {"99999999999", result{maxRetryAfter, true}},
		"just over the cap":             {"86401", result{maxRetryAfter, true}},
		"HTTP date":                     {"Sat, 28 Nov 2026 10:00:10 GMT", result{10 * time.Second, true}},
		"HTTP date in the past":         {"Sat, 28 Nov 2026 09:00:00 GMT", result{0, true}},
		"RFC 850 date":                  {"Saturday, 28-Nov-26 10:00:05 GMT", result{5 * time.Second, true}},
		"empty":                         {"", result{}},
		"negative":                      {"-1", result{}},
		"plus sign":                     {"+1", result{}},
		"exponent":                      {"1e3", result{}},
		"hex":                           {"0x10", result{}},
		"trailing dot":                  {"1.", result{}},
		"leading dot":                   {".5", result{}},
		"comma":                         {"1,5", result{}},
		"two dots":                      {"1.2.3", result{}},
		"unit":                          {"5s", result{}},
		"infinity":                      {"Inf", result{}},
		"NaN":                           {"NaN", result{}},
		"garbage":                       {"soon", result{}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var got result
			got.D, got.OK = parseRetryAfter(tc.value, now)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("parseRetryAfter(%q) (-want +got):\n%s", tc.value, diff)
			}
		})
	}
}

func TestLimitedBody(t *testing.T) {
	small := &limitedBody{rc: io.NopCloser(io.LimitReader(zeros{}, maxBodySize)), left: maxBodySize}
	if b, err := io.ReadAll(small); err != nil || len(b) != maxBodySize {
		t.Errorf("a body of exactly the limit: %d bytes, %v", len(b), err)
	}
	large := &limitedBody{rc: io.NopCloser(io.LimitReader(zeros{}, maxBodySize+1)), left: maxBodySize}
	if _, err := io.ReadAll(large); !errors.Is(err, errBodyTooLarge) {
		t.Errorf("a body over the limit: %v, want errBodyTooLarge", err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
