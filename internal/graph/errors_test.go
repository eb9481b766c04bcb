package graph

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/google/go-cmp/cmp"
)

// timeoutError is a net.Error that timed out.
type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func TestClassify(t *testing.T) {
	urlErr := func(err error) error {
		return &url.Error{Op: "Get", URL: "https://graph.microsoft.com/v1.0/deviceManagement", Err: err}
	}
	tests := map[string]struct {
		err  error
		want Classification
	}{
		"nil": {
			err: nil,
		},
		"400": {
			err: &Error{StatusCode: 400, Code: "BadRequest", Message: "Invalid value for pendingCount"},
			want: Classification{Class: ClassNeedsPerson, Kind: KindBadRequest, Status: 400, Code: "BadRequest", Message: "Invalid value for pendingCount",
				Description: "Graph refused the request as invalid (BadRequest: Invalid value for pendingCount)"},
		},
		"401 after the refresh": {
			err: &Error{StatusCode: 401, Code: "InvalidAuthenticationToken"},
			want: Classification{Class: ClassNeedsPerson, Kind: KindTokenRejected, Status: 401, Code: "InvalidAuthenticationToken",
				Description: "Graph refused the app's access token even after a fresh one was obtained (InvalidAuthenticationToken)"},
		},
		"403": {
			err: &Error{StatusCode: 403, Code: "Forbidden", Message: "Application is not authorized to perform this operation."},
			want: Classification{Class: ClassNeedsPerson, Kind: KindForbidden, Status: 403, Code: "Forbidden", Message: "Application is not authorized to perform this operation.",
				Description: "Graph refused the call: the app lacks a permission (Forbidden: Application is not authorized to perform this operation.)"},
		},
		"403 without a body": {
			err:  &Error{StatusCode: 403},
			want: Classification{Class: ClassNeedsPerson, Kind: KindForbidden, Status: 403, Description: "Graph refused the call: the app lacks a permission"},
		},
		"404": {
			err: &Error{StatusCode: 404, Code: "ResourceNotFound"},
			want: Classification{Class: ClassNotFound, Kind: KindNotFound, Status: 404, Code: "ResourceNotFound",
				Description: "Graph has no device configuration with this id in the tenant (ResourceNotFound)"},
		},
		"405": {
			err: &Error{StatusCode: 405},
			want: Classification{Class: ClassNeedsPerson, Kind: KindUnexpectedRefusal, Status: 405,
				Description: "Graph refused the request with 405 Method Not Allowed"},
		},
		"415 with Graph's message only": {
			err: &Error{StatusCode: 415, Message: "gzip is not accepted"},
			want: Classification{Class: ClassNeedsPerson, Kind: KindUnexpectedRefusal, Status: 415, Message: "gzip is not accepted",
				Description: "Graph refused the request with 415 Unsupported Media Type (gzip is not accepted)"},
		},
		"408": {
			err:  &Error{StatusCode: 408},
			want: Classification{Class: ClassRetryable, Kind: KindUnavailable, Status: 408, Description: "Graph answered 408 Request Timeout"},
		},
		"409": {
			err:  &Error{StatusCode: 409},
			want: Classification{Class: ClassRetryable, Kind: KindUnavailable, Status: 409, Description: "Graph answered 409 Conflict"},
		},
		"429 with a fractional Retry-After": {
			err: &Error{StatusCode: 429, Code: "TooManyRequests", RetryAfter: 2128 * time.Millisecond},
			want: Classification{Class: ClassThrottled, Kind: KindThrottled, RetryAfter: 2128 * time.Millisecond, Status: 429, Code: "TooManyRequests",
				Description: "Graph is throttling the app in this tenant (TooManyRequests)"},
		},
		"429 without Retry-After": {
			err: &Error{StatusCode: 429},
			want: Classification{Class: ClassThrottled, Kind: KindThrottled, RetryAfter: defaultThrottleWait, Status: 429,
				Description: "Graph is throttling the app in this tenant"},
		},
		"500": {
			err: &Error{StatusCode: 500, Code: "InternalError"},
			want: Classification{Class: ClassRetryable, Kind: KindUnavailable, Status: 500, Code: "InternalError",
				Description: "Graph answered 500 Internal Server Error (InternalError)"},
		},
		"502": {
			err:  &Error{StatusCode: 502},
			want: Classification{Class: ClassRetryable, Kind: KindUnavailable, Status: 502, Description: "Graph answered 502 Bad Gateway"},
		},
		"503 with Retry-After": {
			err: &Error{StatusCode: 503, Code: "serviceNotAvailable", RetryAfter: 3 * time.Second},
			want: Classification{Class: ClassThrottled, Kind: KindThrottled, RetryAfter: 3 * time.Second, Status: 503, Code: "serviceNotAvailable",
				Description: "Graph is unavailable and asked to retry later (serviceNotAvailable)"},
		},
		"503 without Retry-After": {
			err:  &Error{StatusCode: 503},
			want: Classification{Class: ClassRetryable, Kind: KindUnavailable, Status: 503, Description: "Graph answered 503 Service Unavailable"},
		},
		"504": {
			err: &Error{StatusCode: 504, Code: "UnknownError"},
			want: Classification{Class: ClassRetryable, Kind: KindUnavailable, Status: 504, Code: "UnknownError",
				Description: "Graph answered 504 Gateway Timeout (UnknownError)"},
		},
		"a 3xx": {
			err:  &Error{StatusCode: 302},
			want: Classification{Class: ClassRetryable, Kind: KindUnavailable, Status: 302, Description: "Graph answered with the unexpected status 302"},
		},
		"200 with a malformed body": {
			err: &Error{StatusCode: 200, Err: fmt.Errorf("%w: invalid JSON at offset 1", errMalformedBody)},
			want: Classification{Class: ClassRetryable, Kind: KindUnreadableAnswer, Status: 200,
				Description: "Graph answered with a body that is not a deviceConfigurationUserOverview: invalid JSON at offset 1"},
		},
		"200 with another configuration's overview, from a named host": {
			err: &Error{StatusCode: 200, Host: "graph.example.com", Err: Overview{ID: "b"}.checkID("a")},
			want: Classification{Class: ClassRetryable, Kind: KindUnreadableAnswer, Status: 200, Host: "graph.example.com",
				Description: `Graph (host "graph.example.com") answered with a body that is not a deviceConfigurationUserOverview: ` +
					`the answer is another configuration's overview: its id is "b", not "a"`},
		},
		"200 with a malformed page of the list": {
			err: &Error{StatusCode: 200, Err: fmt.Errorf("%w: not a JSON object", errMalformedList)},
			want: Classification{Class: ClassRetryable, Kind: KindUnreadableAnswer, Status: 200,
				Description: "Graph answered with a body that is not a page of device configurations: not a JSON object"},
		},
		"a next link to another host": {
			err: &Error{Err: fmt.Errorf("%w: @odata.nextLink is not on the Graph endpoint", errMalformedList)},
			want: Classification{Class: ClassRetryable, Kind: KindUnreadableAnswer,
				Description: "Graph answered with a body that is not a page of device configurations"},
		},
		"budget spent": {
			err: &Error{RetryAfter: 1500 * time.Millisecond, Err: ErrBudgetExhausted},
			want: Classification{Class: ClassThrottled, Kind: KindBudgetSpent, RetryAfter: 1500 * time.Millisecond,
				Description: "the client's request budget for this tenant is spent (it stays under Intune's limits)"},
		},
		"budget spent, without a wait": {
			err: ErrBudgetExhausted,
			want: Classification{Class: ClassThrottled, Kind: KindBudgetSpent, RetryAfter: time.Second,
				Description: "the client's request budget for this tenant is spent (it stays under Intune's limits)"},
		},
		"token refused": {
			err: &Error{Err: &tokenError{kind: CredentialClientSecret, status: 401, code: "invalid_client",
				description: "AADSTS7000215: Invalid client secret provided."}},
			want: Classification{Class: ClassNeedsPerson, Kind: KindCredentialsRefused, Status: 401, Code: "invalid_client",
				Message: "AADSTS7000215: Invalid client secret provided.", Credential: CredentialClientSecret,
				Description: "cannot obtain a token with the ClientSecret credential: the login endpoint answered 401 invalid_client: " +
					"AADSTS7000215: Invalid client secret provided."},
		},
		"token refused, certificate": {
			err: &tokenError{kind: CredentialClientCertificate, status: 400, code: "invalid_client"},
			want: Classification{Class: ClassNeedsPerson, Kind: KindCredentialsRefused, Status: 400, Code: "invalid_client", Credential: CredentialClientCertificate,
				Description: "cannot obtain a token with the ClientCertificate credential: the login endpoint answered 400 invalid_client"},
		},
		"token refused, workload identity": {
			err: &tokenError{kind: CredentialWorkloadIdentity, status: 400, code: "invalid_client"},
			want: Classification{Class: ClassNeedsPerson, Kind: KindCredentialsRefused, Status: 400, Code: "invalid_client", Credential: CredentialWorkloadIdentity,
				Description: "cannot obtain a token with the WorkloadIdentity credential: the login endpoint answered 400 invalid_client"},
		},
		"token file missing": {
			err: &Error{Err: &tokenError{kind: CredentialWorkloadIdentity, missingFile: true,
				detail: "the workload identity token file /var/run/token cannot be read (no such file or directory)"}},
			want: Classification{Class: ClassNeedsPerson, Kind: KindTokenFileUnreadable, Credential: CredentialWorkloadIdentity,
				Description: "cannot obtain a token with the WorkloadIdentity credential: the workload identity token file /var/run/token cannot be read (no such file or directory)"},
		},
		"login endpoint unreachable": {
			err: &Error{Err: &tokenError{kind: CredentialClientSecret, transient: true, detail: "the login endpoint could not be reached",
				transport: urlErr(&net.OpError{Op: "dial", Net: "tcp", Err: &os_SyscallError{syscall.ECONNREFUSED}})}},
			want: Classification{Class: ClassRetryable, Kind: KindTransport, Credential: CredentialClientSecret,
				Description: "cannot obtain a token: the login endpoint refused the connection"},
		},
		"login endpoint's certificate": {
			err: &tokenError{kind: CredentialClientSecret, transient: true, transport: urlErr(x509.UnknownAuthorityError{})},
			want: Classification{Class: ClassRetryable, Kind: KindUntrustedCertificate, Credential: CredentialClientSecret,
				Description: "cannot obtain a token: the TLS certificate of the login endpoint is not trusted"},
		},
		"login endpoint 503": {
			err: &tokenError{kind: CredentialClientSecret, status: 503, transient: true},
			want: Classification{Class: ClassRetryable, Kind: KindLoginUnavailable, Status: 503, Credential: CredentialClientSecret,
				Description: "cannot obtain a token: the login endpoint is unavailable or did not answer in time (ClientSecret credential)"},
		},
		"login endpoint's HTML page": {
			err: &tokenError{kind: CredentialClientSecret, transient: true, unreadable: true,
				detail: "the login endpoint answered 200 with an HTML page instead of a token"},
			want: Classification{Class: ClassRetryable, Kind: KindLoginUnavailable, Credential: CredentialClientSecret,
				Description: "cannot obtain a token: the login endpoint answered 200 with an HTML page instead of a token"},
		},
		"azidentity's own error": {
			err:  fmt.Errorf("wrapped: %w", &azidentity.AuthenticationFailedError{}),
			want: Classification{Class: ClassNeedsPerson, Kind: KindCredentialsRefused, Description: "the login endpoint refused the app's credentials"},
		},
		"azidentity's error for a 503": {
			err:  &azidentity.AuthenticationFailedError{RawResponse: &http.Response{StatusCode: 503}},
			want: Classification{Class: ClassRetryable, Kind: KindLoginUnavailable, Status: 503, Description: "the login endpoint is unavailable"},
		},
		"a missing file": {
			err: &fs.PathError{Op: "open", Path: "/var/run/secrets/azure/tokens/azure-identity-token", Err: fs.ErrNotExist},
			want: Classification{Class: ClassNeedsPerson, Kind: KindTokenFileUnreadable,
				Description: "a file the credential needs (the workload identity token file) cannot be read"},
		},
		"invalid configuration id": {
			err:  &Error{Err: errInvalidConfigurationID},
			want: Classification{Class: ClassNeedsPerson, Kind: KindInvalidID, Description: "the device configuration id is not a Graph id"},
		},
		"deadline": {
			err:  &Error{Err: context.DeadlineExceeded},
			want: Classification{Class: ClassRetryable, Kind: KindTransport, Description: "the call to Graph timed out"},
		},
		"canceled": {
			err:  context.Canceled,
			want: Classification{Class: ClassRetryable, Kind: KindTransport, Description: "the call to Graph was canceled"},
		},
		"net timeout": {
			err:  urlErr(timeoutError{}),
			want: Classification{Class: ClassRetryable, Kind: KindTransport, Description: "the call to Graph timed out"},
		},
		"connection reset": {
			err:  urlErr(&net.OpError{Op: "read", Net: "tcp", Err: &os_SyscallError{syscall.ECONNRESET}}),
			want: Classification{Class: ClassRetryable, Kind: KindTransport, Description: "the connection to Graph was dropped"},
		},
		"EOF": {
			err:  urlErr(io.EOF),
			want: Classification{Class: ClassRetryable, Kind: KindTransport, Description: "the connection to Graph was dropped"},
		},
		"unexpected EOF": {
			err:  &Error{Err: io.ErrUnexpectedEOF},
			want: Classification{Class: ClassRetryable, Kind: KindTransport, Description: "the connection to Graph was dropped"},
		},
		"connection refused": {
			err:  urlErr(&net.OpError{Op: "dial", Net: "tcp", Err: &os_SyscallError{syscall.ECONNREFUSED}}),
			want: Classification{Class: ClassRetryable, Kind: KindTransport, Description: "Graph refused the connection"},
		},
		"no such host": {
			err:  urlErr(&net.DNSError{Err: "no such host", Name: "graph.example", IsNotFound: true}),
			want: Classification{Class: ClassRetryable, Kind: KindHostNotFound, Description: "the host name of Graph does not resolve"},
		},
		"untrusted certificate": {
			err:  urlErr(&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}),
			want: Classification{Class: ClassRetryable, Kind: KindUntrustedCertificate, Description: "the TLS certificate of Graph is not trusted"},
		},
		"body too large": {
			err:  &Error{StatusCode: 0, Err: errBodyTooLarge},
			want: Classification{Class: ClassRetryable, Kind: KindUnreadableAnswer, Description: "Graph answered with a body larger than the client accepts"},
		},
		"anything else": {
			err:  errors.New("boom"),
			want: Classification{Class: ClassRetryable, Kind: KindTransport, Description: "the call to Graph failed without an answer"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, Classify(tc.err)); diff != "" {
				t.Errorf("Classify (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDescriptionsNameNoResourceField: what to fix on a resource is the controllers' to say; a
// description holds what happened only.
func TestDescriptionsNameNoResourceField(t *testing.T) {
	errs := []error{
		&Error{StatusCode: 400, Code: "BadRequest"}, &Error{StatusCode: 401}, &Error{StatusCode: 403}, &Error{StatusCode: 404},
		&Error{StatusCode: 418}, &Error{StatusCode: 500}, &Error{Err: errInvalidConfigurationID},
		&tokenError{kind: CredentialClientSecret, status: 401, code: "invalid_client"},
		&tokenError{kind: CredentialClientCertificate, status: 401, code: "invalid_client"},
		&tokenError{kind: CredentialWorkloadIdentity, status: 400, code: "invalid_client"},
		&Error{Err: &net.DNSError{Err: "no such host", Name: "graph.example"}},
		&Error{Err: x509.UnknownAuthorityError{}},
		&fs.PathError{Op: "open", Path: "/var/run/token", Err: fs.ErrNotExist},
	}
	for _, err := range errs {
		c := Classify(err)
		if c.Description == "" {
			t.Errorf("%v: no description", err)
		}
		for _, field := range []string{"spec.", "connection", "'s Secret", "CA bundle", "caBundle", "check ", "grant ", "retrying"} {
			if strings.Contains(c.Description, field) {
				t.Errorf("%v: description %q names %q", err, c.Description, field)
			}
		}
	}
}

// os_SyscallError mimics *os.SyscallError, which wraps an errno in a net.OpError.
type os_SyscallError struct{ errno syscall.Errno }

func (e *os_SyscallError) Error() string { return e.errno.Error() }
func (e *os_SyscallError) Unwrap() error { return e.errno }

func TestClassStrings(t *testing.T) {
	got := []string{ClassRetryable.String(), ClassThrottled.String(), ClassNotFound.String(), ClassNeedsPerson.String(), Class(0).String()}
	want := []string{"Retryable", "Throttled", "NotFound", "NeedsPerson", "Class(0)"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Error(diff)
	}
}

func TestKindStrings(t *testing.T) {
	got := []string{KindBudgetSpent.String(), KindForbidden.String(), KindTransport.String(), Kind(0).String()}
	want := []string{"BudgetSpent", "Forbidden", "Transport", "Kind(0)"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Error(diff)
	}
}

func TestErrorString(t *testing.T) {
	tests := map[string]struct {
		err  *Error
		want string
	}{
		"graph error": {
			err:  &Error{StatusCode: 404, Code: "ResourceNotFound", Message: "Resource not found", RequestID: "r-1"},
			want: "graph: 404 Not Found (ResourceNotFound): Resource not found [request-id r-1]",
		},
		"throttled": {
			err:  &Error{StatusCode: 429, Code: "TooManyRequests", RetryAfter: 2128 * time.Millisecond},
			want: "graph: 429 Too Many Requests (TooManyRequests) (retry after 2.128s)",
		},
		"malformed body": {
			err:  &Error{StatusCode: 200, Err: errMalformedBody, RequestID: "r-2"},
			want: "graph: 200 OK: " + errMalformedBody.Error() + " [request-id r-2]",
		},
		"budget": {
			err:  &Error{RetryAfter: time.Second, Err: ErrBudgetExhausted},
			want: "graph: the tenant's Graph request budget is spent (retry after 1s)",
		},
		"token": {
			err:  &Error{Err: &tokenError{kind: CredentialClientSecret, status: 401, code: "invalid_client", description: "AADSTS7000215: Invalid client secret provided."}},
			want: "graph: cannot obtain a token with the ClientSecret credential: the login endpoint answered 401 invalid_client: AADSTS7000215: Invalid client secret provided.",
		},
		"empty": {
			err:  &Error{},
			want: "graph: unknown error",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.err.Error()); diff != "" {
				t.Errorf("Error() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeErrorBody(t *testing.T) {
	type result struct{ Code, Message, RequestID string }
	tests := map[string]struct {
		body string
		want result
	}{
		"Graph's body": {
			body: `{"error":{"code":"ResourceNotFound","message":"Resource not found","innerError":{"date":"2026-11-28T10:00:00","request-id":"11111111-2222-3333-4444-555555555555","client-request-id":"c"}}}`,
			want: result{"ResourceNotFound", "Resource not found", "11111111-2222-3333-4444-555555555555"},
		},
		"lower-case innererror": {
			body: `{"error":{"code":"Forbidden","message":"no","innererror":{"request-id":"r"}}}`,
			want: result{"Forbidden", "no", "r"},
		},
		"Intune's JSON inside message": {
			body: `{"error":{"code":"BadRequest","message":"{\r\n  \"_version\": 3,\r\n  \"Message\": \"An error has occurred - Operation ID (for customer support): 00000000\",\r\n  \"CustomApiErrorPhrase\": \"\"\r\n}"}}`,
			want: result{"BadRequest", "An error has occurred - Operation ID (for customer support): 00000000", ""},
		},
		"message that looks like JSON but is not": {
			body: `{"error":{"code":"BadRequest","message":"{not json"}}`,
			want: result{"BadRequest", "{not json", ""},
		},
		"control characters and line breaks": {
			body: `{"error":{"code":"Bad\nRequest","message":"line one\r\nline two\u0007\tend"}}`,
			want: result{"Bad Request", "line one line two end", ""},
		},
		"numbers where strings belong": {
			body: `{"error":{"code":42,"message":{"a":1},"innerError":{"request-id":7}}}`,
			want: result{},
		},
		"error is a string": {
			body: `{"error":"invalid_request"}`,
		},
		"empty":   {body: ``},
		"null":    {body: `null`},
		"html":    {body: `<html><body><h1>502 Bad Gateway</h1></body></html>`},
		"garbage": {body: "\x00\xff\xfe{{{"},
		"truncated": {
			body: `{"error":{"code":"InternalError","mess`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var got result
			got.Code, got.Message, got.RequestID = decodeErrorBody([]byte(tc.body))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("decodeErrorBody (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeErrorBodyCutsLongMessages(t *testing.T) {
	body, _ := json.Marshal(map[string]any{"error": map[string]any{"code": "X", "message": strings.Repeat("é", 2000)}})
	_, msg, _ := decodeErrorBody(body)
	if len(msg) > maxMessage || !strings.HasSuffix(msg, "...") {
		t.Errorf("message of %d bytes, want at most %d ending in ...", len(msg), maxMessage)
	}
	if !strings.HasPrefix(msg, "ééé") || strings.ContainsRune(msg, unicode.ReplacementChar) {
		t.Errorf("message cut badly: %q", msg[:20])
	}
}

func TestNewResponseError(t *testing.T) {
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	resp := &http.Response{StatusCode: 429, Header: http.Header{}}
	resp.Header.Set("Retry-After", "2.128")
	resp.Header.Set("request-id", "from-header")
	body := []byte(`{"error":{"code":"TooManyRequests","message":"Too many requests","innerError":{"request-id":"from-body"}}}`)
	got := newResponseError(resp, body, now)
	want := &Error{StatusCode: 429, Code: "TooManyRequests", Message: "Too many requests", RequestID: "from-header", RetryAfter: 2128 * time.Millisecond}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}

	// Without the header, the request-id comes from the body.
	resp.Header.Del("request-id")
	resp.Header.Del("Retry-After")
	got = newResponseError(resp, body, now)
	if got.RequestID != "from-body" || got.RetryAfter != 0 {
		t.Errorf("request-id %q, Retry-After %s; want from-body and 0", got.RequestID, got.RetryAfter)
	}
}

// FuzzDecodeError feeds arbitrary bodies to the error body decoder: it must
// never panic, and what it returns must be safe to print on one line.
func FuzzDecodeError(f *testing.F) {
	for _, seed := range []string{
		`{"error":{"code":"ResourceNotFound","message":"Resource not found","innerError":{"date":"2026-11-28T10:00:00","request-id":"r","client-request-id":"c"}}}`,
		`{"error":{"code":"BadRequest","message":"{\"_version\":3,\"Message\":\"An error has occurred\"}"}}`,
		`{"error":{"code":"TooManyRequests","message":"Too many requests","innererror":{"request-id":"r"}}}`,
		`{"error":{"code":1,"message":[],"innerError":null}}`,
		`{"error":"invalid_client","error_description":"AADSTS7000215"}`,
		`{"error":{"message":"line\nbreak\u0000nul"}}`,
		`<html>502</html>`, `{`, `null`, ``, "\xff\xfe",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		code, message, requestID := decodeErrorBody(body)
		for _, s := range []string{code, message, requestID} {
			if len(s) > maxMessage {
				t.Fatalf("%d bytes returned", len(s))
			}
			if strings.IndexFunc(s, unicode.IsControl) >= 0 {
				t.Fatalf("control character in %q", s)
			}
		}
		// A clean code in Graph's shape comes back as it was.
		want := clean(string(body))
		shaped, err := json.Marshal(map[string]any{"error": map[string]any{"code": want}})
		if err != nil {
			t.Fatal(err)
		}
		if got, _, _ := decodeErrorBody(shaped); got != want {
			t.Fatalf("code %q came back as %q", want, got)
		}
	})
}
