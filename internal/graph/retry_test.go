package graph

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
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

func TestBackoff(t *testing.T) {
	base := 100 * time.Millisecond
	for n := 0; n < 12; n++ {
		full := min(base<<n, 30*time.Second)
		for i := 0; i < 50; i++ {
			d := backoff(base, n)
			if d < full/2 || d > full {
				t.Fatalf("backoff(%s, %d) = %s, want within [%s, %s]", base, n, d, full/2, full)
			}
		}
	}
}

func TestRetryableError(t *testing.T) {
	tests := map[string]struct {
		err  error
		want bool
	}{
		"reset":             {fmt.Errorf("read: %w", io.EOF), true},
		"try timeout":       {context.DeadlineExceeded, true},
		"anything else":     {errors.New("http2: server sent GOAWAY"), true},
		"canceled":          {context.Canceled, false},
		"token":             {&tokenError{kind: CredentialClientSecret}, false},
		"budget":            {&Error{Err: ErrBudgetExhausted}, false},
		"untrusted":         {&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, false},
		"wrong host":        {x509.HostnameError{Host: "graph.microsoft.com"}, false},
		"body too large":    {fmt.Errorf("body download policy: %w", errBodyTooLarge), false},
		"wrapped by azcore": {fmt.Errorf("x: %w", &tokenError{}), false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := retryableError(tc.err); got != tc.want {
				t.Errorf("retryableError(%v) = %t, want %t", tc.err, got, tc.want)
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

func TestPastDeadline(t *testing.T) {
	if pastDeadline(context.Background(), time.Hour) {
		t.Error("no deadline, but past it")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if pastDeadline(ctx, time.Second) {
		t.Error("1s is past a deadline a minute away")
	}
	if !pastDeadline(ctx, 2*time.Minute) {
		t.Error("2m is not past a deadline a minute away")
	}
}
