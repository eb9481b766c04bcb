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
	"strings"
	"syscall"
	"time"
	"unicode"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// Error is every failure of a Graph call: an answer with an error status,
// a transport failure, a body that does not decode, a token that could not be
// obtained, or a write the budget did not admit. Its text never holds a token or a secret.
type Error struct {
	// StatusCode is Graph's HTTP status; 0 when Graph did not answer.
	StatusCode int
	// Code is Graph's error code, e.g. ResourceNotFound.
	Code string
	// Message is Graph's error message, or what went wrong when Graph did not answer.
	Message string
	// RequestID is the request-id of Graph's answer, for Microsoft support.
	RequestID string
	// RetryAfter is how long Graph asked to wait; 0 if it did not say.
	RetryAfter time.Duration
	// Err is the transport, decoding, token or budget cause, if any.
	Err error
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("graph: ")
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, "%d %s", e.StatusCode, http.StatusText(e.StatusCode))
		if e.Code != "" {
			fmt.Fprintf(&b, " (%s)", e.Code)
		}
		if e.Message != "" {
			fmt.Fprintf(&b, ": %s", e.Message)
		}
		if e.Err != nil {
			fmt.Fprintf(&b, ": %v", e.Err)
		}
	} else {
		switch {
		case e.Message != "" && e.Err != nil:
			fmt.Fprintf(&b, "%s: %v", e.Message, e.Err)
		case e.Message != "":
			b.WriteString(e.Message)
		case e.Err != nil:
			fmt.Fprint(&b, e.Err)
		default:
			b.WriteString("unknown error")
		}
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " [request-id %s]", e.RequestID)
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// ErrBudgetExhausted is the cause of the throttled *Error a ReadJob's PATCH
// returns when the job booked no write and the tenant's writes wait in line or
// its window is full: the caller submits a WriteJob, which takes its place in
// the line of writes.
var ErrBudgetExhausted = errors.New("the tenant's Graph request budget is spent")

// errBodyTooLarge is the cause of an *Error for a response body over maxBodySize.
var errBodyTooLarge = errors.New("response body is too large")

// Class is what the caller should do about an error.
type Class int

// The classes of errors.
const (
	// ClassRetryable: try again with backoff (5xx, 409, timeouts, resets, malformed bodies).
	ClassRetryable Class = iota + 1
	// ClassThrottled: wait at least Classification.RetryAfter, then try again.
	ClassThrottled
	// ClassNotFound: the device configuration does not exist; try again slowly.
	ClassNotFound
	// ClassNeedsPerson: nothing changes until a person fixes the resource, its
	// connection or its Secret.
	ClassNeedsPerson
)

// String returns the class's name.
func (c Class) String() string {
	switch c {
	case ClassRetryable:
		return "Retryable"
	case ClassThrottled:
		return "Throttled"
	case ClassNotFound:
		return "NotFound"
	case ClassNeedsPerson:
		return "NeedsPerson"
	default:
		return fmt.Sprintf("Class(%d)", int(c))
	}
}

// The reasons of a Classification; api/v1alpha1 uses the same strings as
// condition reasons.
const (
	ReasonBadRequest         = "BadRequest"
	ReasonInvalidSpec        = "InvalidSpec"
	ReasonForbidden          = "Forbidden"
	ReasonInvalidCredentials = "InvalidCredentials"
	ReasonNotFound           = "NotFound"
	ReasonThrottled          = "Throttled"
	ReasonGraphUnavailable   = "GraphUnavailable"
)

// Classification is what Classify makes of an error.
type Classification struct {
	// Class says what to do.
	Class Class
	// RetryAfter is, for ClassThrottled, the least wait before the next call.
	RetryAfter time.Duration
	// Reason is one of the Reason constants.
	Reason string
	// Message says what happened and what to fix, for a condition. It holds no
	// secret, and none of what changes from one failure to the next (request
	// ids, durations, ports), so that a condition stays put; it may quote
	// Graph's own error code and message.
	Message string
}

// defaultThrottleWait is the least wait of a 429 that carried no Retry-After.
const defaultThrottleWait = 2 * time.Second

// Classify maps any error of this package (and the errors it wraps) to a
// class, a reason and a message. It is the one place that decides what a
// status code, a transport failure or a token failure means. The message
// holds none of the per-request ids and timestamps that Graph, Intune and
// Entra ID put in theirs (see withoutRequestIDs), so that two failures that
// differ only in those give the same condition. Classify(nil) is the zero
// Classification.
func Classify(err error) Classification {
	c := classifyError(err)
	c.Message = withoutRequestIDs(c.Message)
	return c
}

// classifyError is Classify, before the message drops what changes with every request.
func classifyError(err error) Classification {
	if err == nil {
		return Classification{}
	}
	var gerr *Error
	isGraphErr := errors.As(err, &gerr)

	if errors.Is(err, ErrBudgetExhausted) {
		c := throttled("the operator's request budget for this tenant is spent (it stays under Intune's limits); calls resume as it refills")
		if isGraphErr {
			c.RetryAfter = gerr.RetryAfter
		}
		if c.RetryAfter <= 0 {
			c.RetryAfter = time.Second
		}
		return c
	}
	var terr *tokenError
	if errors.As(err, &terr) {
		return classifyTokenError(terr)
	}
	if isGraphErr && gerr.StatusCode != 0 {
		return classifyStatus(gerr)
	}
	var afe *azidentity.AuthenticationFailedError
	if errors.As(err, &afe) {
		if r := afe.RawResponse; r != nil && (r.StatusCode >= 500 || r.StatusCode == http.StatusTooManyRequests) {
			return unavailable("the login endpoint is unavailable; retrying")
		}
		return needsPerson(ReasonInvalidCredentials, "the login endpoint refused the app's credentials; check the tenant id, the client id and the credential")
	}
	if errors.Is(err, errInvalidConfigurationID) {
		// Refused before any call: the operator's own reading, not Graph's BadRequest.
		return needsPerson(ReasonInvalidSpec, "spec.deviceConfigurationId is not a Graph id, and it cannot change: create a resource with the configuration's GUID")
	}
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
		return needsPerson(ReasonInvalidCredentials, "a file the credential needs (the workload identity token file) cannot be read; check the pod's service account token projection")
	}
	return classifyTransport(err, "Graph")
}

func throttled(msg string) Classification {
	return Classification{Class: ClassThrottled, Reason: ReasonThrottled, Message: msg}
}

func unavailable(msg string) Classification {
	return Classification{Class: ClassRetryable, Reason: ReasonGraphUnavailable, Message: msg}
}

func needsPerson(reason, msg string) Classification {
	return Classification{Class: ClassNeedsPerson, Reason: reason, Message: msg}
}

// classifyStatus classifies an answer of Graph.
func classifyStatus(e *Error) Classification {
	graphSaid := graphSays(e)
	switch s := e.StatusCode; {
	case s >= 200 && s < 300:
		return unavailable("Graph answered with a body that is not a deviceConfigurationUserOverview; retrying")
	case s == http.StatusBadRequest:
		return needsPerson(ReasonBadRequest, "Graph refused the request as invalid"+graphSaid+"; check the values in spec.overview")
	case s == http.StatusUnauthorized:
		return needsPerson(ReasonInvalidCredentials, "Graph refused the app's access token even after a fresh one was obtained"+graphSaid+
			"; check that the tenant id and client id name an app registration of this tenant, in this cloud")
	case s == http.StatusForbidden:
		return needsPerson(ReasonForbidden, "the app lacks DeviceManagementConfiguration.ReadWrite.All"+graphSaid+
			"; grant the application permission and admin consent")
	case s == http.StatusNotFound:
		return Classification{Class: ClassNotFound, Reason: ReasonNotFound,
			Message: "Graph has no device configuration with this id in the tenant" + graphSaid + "; check spec.deviceConfigurationId and the connection's tenant"}
	case s == http.StatusTooManyRequests:
		c := throttled("Graph is throttling the app in this tenant" + graphSaid + "; calls resume after Retry-After")
		c.RetryAfter = e.RetryAfter
		if c.RetryAfter <= 0 {
			c.RetryAfter = defaultThrottleWait
		}
		return c
	case s == http.StatusServiceUnavailable && e.RetryAfter > 0:
		c := throttled("Graph is unavailable and asked to retry later" + graphSaid + "; calls resume after Retry-After")
		c.RetryAfter = e.RetryAfter
		return c
	case s == http.StatusRequestTimeout || s == http.StatusConflict || s >= 500:
		return unavailable(fmt.Sprintf("Graph answered %d %s%s; retrying with backoff", s, http.StatusText(s), graphSaid))
	case s >= 400:
		return needsPerson(ReasonBadRequest, fmt.Sprintf("Graph refused the request with %d %s%s; this looks like a bug in the operator, please report it",
			s, http.StatusText(s), graphSaid))
	default:
		return unavailable(fmt.Sprintf("Graph answered with the unexpected status %d; retrying", s))
	}
}

// graphSays quotes Graph's error code and message for a condition.
func graphSays(e *Error) string {
	switch {
	case e.Code != "" && e.Message != "":
		return fmt.Sprintf(" (%s: %s)", e.Code, e.Message)
	case e.Code != "":
		return fmt.Sprintf(" (%s)", e.Code)
	case e.Message != "":
		return fmt.Sprintf(" (%s)", e.Message)
	}
	return ""
}

// classifyTokenError classifies a failure to obtain a token.
func classifyTokenError(e *tokenError) Classification {
	if e.transient {
		if e.unreadable {
			return unavailable("cannot obtain a token: " + e.detail + "; retrying")
		}
		if e.transport != nil {
			c := classifyTransport(e.transport, "the login endpoint")
			c.Message = "cannot obtain a token: " + c.Message
			return c
		}
		return unavailable(fmt.Sprintf("cannot obtain a token: the login endpoint is unavailable or did not answer in time (%s credential); retrying", e.kind))
	}
	var hint string
	switch e.kind {
	case CredentialClientSecret:
		hint = "check the client secret in the connection's Secret (the secret's value, not its id) and that it has not expired"
	case CredentialClientCertificate:
		hint = "check that the certificate in the connection's Secret is registered on the app and has not expired"
	case CredentialWorkloadIdentity:
		hint = "check the app's federated credential (issuer, subject, audience api://AzureADTokenExchange) and the projected service account token"
	default:
		hint = "check the credential"
	}
	if e.missingFile {
		// the detail already says what to fix
		return needsPerson(ReasonInvalidCredentials, e.Error())
	}
	return needsPerson(ReasonInvalidCredentials, e.Error()+"; "+hint+", the tenant id and the client id")
}

// classifyTransport classifies an error without an answer from what
// ("Graph" or "the login endpoint").
func classifyTransport(err error, what string) Classification {
	var (
		unknownAuthority x509.UnknownAuthorityError
		hostnameErr      x509.HostnameError
		certInvalid      x509.CertificateInvalidError
		verifyErr        *tls.CertificateVerificationError
		netErr           net.Error
	)
	switch {
	case errors.As(err, &unknownAuthority), errors.As(err, &hostnameErr), errors.As(err, &certInvalid), errors.As(err, &verifyErr):
		return unavailable("the TLS certificate of " + what + " is not trusted; if a TLS-inspecting proxy or the emulator sits in between, set the connection's CA bundle; retrying")
	case errors.Is(err, errBodyTooLarge):
		return unavailable(what + " answered with a body larger than the client accepts; retrying")
	case errors.Is(err, errMalformedBody):
		return unavailable(what + " answered with a body that is not a deviceConfigurationUserOverview; retrying")
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return unavailable("the call to " + what + " timed out; retrying")
	case errors.Is(err, context.Canceled):
		return unavailable("the call to " + what + " was canceled; retrying")
	case errors.Is(err, syscall.ECONNREFUSED):
		return unavailable(what + " refused the connection; retrying")
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.EPIPE):
		return unavailable("the connection to " + what + " was dropped; retrying")
	case isDNSError(err):
		return unavailable("the host name of " + what + " does not resolve; check the connection's endpoint and authority host; retrying")
	default:
		return unavailable("the call to " + what + " failed without an answer; retrying")
	}
}

func isDNSError(err error) bool {
	var dnsErr *net.DNSError
	return errors.As(err, &dnsErr)
}

// maxMessage bounds the length of a message taken from Graph.
const maxMessage = 500

// odataError is Graph's OData error body. Fields are raw, so that a body of
// unexpected shape still yields what it can.
type odataError struct {
	Error struct {
		Code       json.RawMessage `json:"code"`
		Message    json.RawMessage `json:"message"`
		InnerError struct {
			RequestID json.RawMessage `json:"request-id"`
		} `json:"innerError"`
	} `json:"error"`
}

// decodeErrorBody reads the code, the message and the request-id of Graph's
// error body. Anything else (an empty body, HTML from a proxy, garbage) yields
// empty strings, never an error.
func decodeErrorBody(body []byte) (code, message, requestID string) {
	var e odataError
	if json.Unmarshal(body, &e) != nil {
		return "", "", ""
	}
	code = clean(jsonString(e.Error.Code))
	message = jsonString(e.Error.Message)
	// Intune sometimes puts a JSON document inside message.
	var inner struct {
		Message json.RawMessage `json:"Message"`
	}
	if trimmed := strings.TrimSpace(message); strings.HasPrefix(trimmed, "{") && json.Unmarshal([]byte(trimmed), &inner) == nil {
		if m := jsonString(inner.Message); m != "" {
			message = m
		}
	}
	return code, clean(message), clean(jsonString(e.Error.InnerError.RequestID))
}

// jsonString returns raw's value if it is a JSON string, else "".
func jsonString(raw json.RawMessage) string {
	var s string
	if len(raw) == 0 || json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// clean makes text from the network safe to print on one line: control
// characters become spaces, runs of spaces shrink, and it is cut to at most
// maxMessage bytes. clean(clean(s)) == clean(s).
func clean(s string) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxMessage {
		s = strings.ToValidUTF8(s[:maxMessage-3], "") + "..."
	}
	return s
}

// newResponseError builds the *Error of an answer with an error status.
func newResponseError(resp *http.Response, body []byte, now time.Time) *Error {
	code, message, innerID := decodeErrorBody(body)
	e := &Error{
		StatusCode: resp.StatusCode,
		Code:       code,
		Message:    message,
		RequestID:  clean(resp.Header.Get(headerRequestID)),
	}
	if e.RequestID == "" {
		e.RequestID = innerID
	}
	if d, ok := parseRetryAfter(resp.Header.Get(headerRetryAfter), now); ok {
		e.RetryAfter = d
	}
	return e
}
