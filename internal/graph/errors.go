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
	// Host is the host whose answer the client could not take; "" otherwise.
	Host string
	// RetryAfter is how long to wait: what Graph asked, and after a 429 (or a 503 with
	// Retry-After) the pause the client set for the tenant (at most maxPause); 0 if Graph did not say.
	RetryAfter time.Duration
	// PausedUntil is, for a 429 (or a 503 with Retry-After), when the tenant's calls resume: the
	// client pauses them all until then (at most maxPause ahead, whatever Graph asked).
	PausedUntil time.Time
	// ThrottleScope is, for a 429, the scope Graph said it counted the call in (x-ms-throttle-scope):
	// ThrottleScopeTenantApplication, ThrottleScopeTenant or ThrottleScopeApplication; "" when it
	// did not say, or said what the client cannot read.
	ThrottleScope string
	// ThrottleLimit is, with ThrottleScope, the calls Graph counted: Read, Write or ReadWrite.
	ThrottleLimit string
	// ThrottleInformation is, for a 429, the reason Graph gave (x-ms-throttle-information), e.g.
	// WriteLimitExceeded; "" when it gave none.
	ThrottleInformation string
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
	if e.ThrottleScope != "" {
		fmt.Fprintf(&b, " (limit: %s", e.ThrottleScope)
		if e.ThrottleLimit != "" {
			fmt.Fprintf(&b, "/%s", e.ThrottleLimit)
		}
		if e.ThrottleInformation != "" {
			fmt.Fprintf(&b, ", %s", e.ThrottleInformation)
		}
		b.WriteString(")")
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

// ThrottledUntil says what the pacer needs to know of a throttled job (pacer.Throttled): for a 429, or a 503 with Retry-After, when the
// tenant's calls resume (PausedUntil, or a time long past for an error that does not say: the
// job goes again at once, one at a time); the zero time for every other error.
func (e *Error) ThrottledUntil() time.Time {
	switch {
	case errors.Is(e.Err, ErrBudgetExhausted):
		return time.Time{}
	case e.StatusCode == http.StatusTooManyRequests, e.StatusCode == http.StatusServiceUnavailable && e.RetryAfter > 0:
		if e.PausedUntil.IsZero() {
			return time.Unix(0, 0)
		}
		return e.PausedUntil
	}
	return time.Time{}
}

// ErrBudgetExhausted is the cause of the throttled *Error a ReadJob's PATCH
// returns when the job booked no write and the tenant's writes wait in line or
// its window is full: the caller submits a WriteJob, which takes its place in
// the line of writes.
var ErrBudgetExhausted = errors.New("the tenant's Graph request budget is spent")

// ErrNotOwner is the cause of an *Error for a call that was not sent because
// another replica owns the tenant now (PacersOptions.Owns refused its key): the
// caller leaves the resource to that replica.
var ErrNotOwner = errors.New("another replica sends for this tenant now")

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
	// ClassNeedsPerson: nothing changes until a person fixes what the call was made with: the
	// app's credentials or permissions, the request, the id.
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

// Kind is what happened, as Graph, the login endpoint or the transport told it. Its class says
// what to do; the kind tells apart failures of one class that a person fixes in different places.
type Kind int

// The kinds of failure.
const (
	// KindBudgetSpent: the client's own request budget for the tenant is spent (ErrBudgetExhausted);
	// nothing was sent. Throttled.
	KindBudgetSpent Kind = iota + 1
	// KindThrottled: Graph answered 429, or 503 with Retry-After. Throttled.
	KindThrottled
	// KindUnavailable: Graph answered 408, 409, a 5xx (503 without Retry-After) or a status the
	// client does not expect of a success or a failure. Retryable.
	KindUnavailable
	// KindUnreadableAnswer: Graph answered with a body the client cannot read: not what was asked
	// for, or too large. Retryable.
	KindUnreadableAnswer
	// KindBadRequest: Graph answered 400: it refused a value of the request. Needs a person.
	KindBadRequest
	// KindUnexpectedRefusal: Graph answered a 4xx the client's requests should never get (405,
	// 415, ...). Needs a person.
	KindUnexpectedRefusal
	// KindTokenRejected: Graph answered 401 to an access token, also to a fresh one. Needs a person.
	KindTokenRejected
	// KindForbidden: Graph answered 403: the app lacks a permission. Needs a person.
	KindForbidden
	// KindNotFound: Graph answered 404: it has no such device configuration. NotFound.
	KindNotFound
	// KindInvalidID: the device configuration id is not a Graph id; the client refused it before
	// sending anything. Needs a person.
	KindInvalidID
	// KindCredentialsRefused: the login endpoint refused the app's credentials. Needs a person.
	KindCredentialsRefused
	// KindTokenFileUnreadable: the workload identity token file cannot be read. Needs a person.
	KindTokenFileUnreadable
	// KindLoginUnavailable: the login endpoint answered 5xx, 429 or 408, with a body that is not a
	// token response, or did not answer in time. Retryable.
	KindLoginUnavailable
	// KindUntrustedCertificate: the TLS certificate of Graph or of the login endpoint is not
	// trusted. Retryable.
	KindUntrustedCertificate
	// KindHostNotFound: the host name of Graph or of the login endpoint does not resolve. Retryable.
	KindHostNotFound
	// KindTransport: Graph or the login endpoint did not answer: the call timed out, was canceled,
	// the connection was refused or dropped, or it failed otherwise. Retryable.
	KindTransport
	// KindEndpointNotAllowed: a request would have gone to a host the host policy does not allow,
	// or over cleartext: the connection names it, or an answer pointed there (a redirect, the
	// login endpoint's OpenID configuration). Nothing was sent to it. Classification.Host names
	// it. Needs a person.
	KindEndpointNotAllowed
	// KindRedirected: Graph or the login endpoint answered with a redirect, which the client never
	// follows. Classification.Host names where it pointed. Retryable.
	KindRedirected
)

// kindNames are the kinds' names, for String.
var kindNames = map[Kind]string{
	KindBudgetSpent: "BudgetSpent", KindThrottled: "Throttled", KindUnavailable: "Unavailable",
	KindUnreadableAnswer: "UnreadableAnswer", KindBadRequest: "BadRequest", KindUnexpectedRefusal: "UnexpectedRefusal",
	KindTokenRejected: "TokenRejected", KindForbidden: "Forbidden", KindNotFound: "NotFound", KindInvalidID: "InvalidID",
	KindCredentialsRefused: "CredentialsRefused", KindTokenFileUnreadable: "TokenFileUnreadable",
	KindLoginUnavailable: "LoginUnavailable", KindUntrustedCertificate: "UntrustedCertificate",
	KindHostNotFound: "HostNotFound", KindTransport: "Transport",
	KindEndpointNotAllowed: "EndpointNotAllowed", KindRedirected: "Redirected",
}

// String returns the kind's name.
func (k Kind) String() string {
	if name, ok := kindNames[k]; ok {
		return name
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Classification is what Classify makes of an error: what to do, and the facts a caller turns
// into a message for its own audience (a condition, a command's error). Its texts hold no secret,
// and none of what changes from one failure to the next (request ids, timestamps, durations,
// ports), so that a message built from them stays put.
type Classification struct {
	// Class says what to do.
	Class Class
	// RetryAfter is, for ClassThrottled, the least wait before the next call.
	RetryAfter time.Duration
	// PausedUntil is, for KindThrottled, when the tenant's calls resume; zero if not known.
	PausedUntil time.Time
	// Kind is what happened.
	Kind Kind
	// Status is the HTTP status of the answer: Graph's, or the login endpoint's for a token that
	// could not be obtained; 0 when there was none.
	Status int
	// Code is Graph's error code (e.g. ResourceNotFound), or the login endpoint's OAuth error
	// (e.g. invalid_client); "" when the answer had none.
	Code string
	// Message is Graph's error message, or the first line of the login endpoint's error
	// description; "" when the answer had none.
	Message string
	// Host is the host that was refused (KindEndpointNotAllowed), that a redirect pointed to
	// (KindRedirected), or that answered with a body the client cannot read
	// (KindUnreadableAnswer); "" otherwise.
	Host string
	// Credential is the kind of credential a token was asked with, for a failure to obtain one;
	// "" otherwise, or when it is not known.
	Credential CredentialKind
	// Description says in a sentence what happened, quoting the code and the message of the
	// answer if it had them. It says nothing of what to fix, since that depends on who reads it:
	// it names no field of a Kubernetes resource and no flag.
	Description string
}

// throttledDescription says what a 429 throttled, by the scope Graph named (x-ms-throttle-scope).
func throttledDescription(scope string) string {
	switch scope {
	case ThrottleScopeTenant:
		return "Graph is throttling the tenant: its apps together reached the tenant's limit"
	case ThrottleScopeApplication:
		return "Graph is throttling the app across all its tenants"
	}
	return "Graph is throttling the app in this tenant"
}

// defaultThrottleWait is the least wait of a 429 that carried no Retry-After and did not pause
// the tenant (an error made outside the client's calls).
const defaultThrottleWait = 2 * time.Second

// Classify maps any error of this package (and the errors it wraps) to a class and the facts of
// the failure. It is the one place that decides what a status code, a transport failure or a
// token failure means. The message and the description hold none of the per-request ids and
// timestamps that Graph, Intune and Entra ID put in theirs (see withoutRequestIDs), so that two
// failures that differ only in those classify the same. Classify(nil) is the zero
// Classification.
func Classify(err error) Classification {
	c := classifyError(err)
	c.Message = withoutRequestIDs(c.Message)
	c.Description = withoutRequestIDs(c.Description)
	return c
}

// classifyError is Classify, before the texts drop what changes with every request.
func classifyError(err error) Classification {
	if err == nil {
		return Classification{}
	}
	var gerr *Error
	isGraphErr := errors.As(err, &gerr)

	if errors.Is(err, ErrBudgetExhausted) {
		c := fact(ClassThrottled, KindBudgetSpent, "the client's request budget for this tenant is spent (it stays under Intune's limits)")
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
		if c, ok := classifyApproval(gerr); ok {
			return c
		}
		return classifyStatus(gerr)
	}
	var afe *azidentity.AuthenticationFailedError
	if errors.As(err, &afe) {
		if r := afe.RawResponse; r != nil && (r.StatusCode >= 500 || r.StatusCode == http.StatusTooManyRequests) {
			c := fact(ClassRetryable, KindLoginUnavailable, "the login endpoint is unavailable")
			c.Status = r.StatusCode
			return c
		}
		return fact(ClassNeedsPerson, KindCredentialsRefused, "the login endpoint refused the app's credentials")
	}
	if errors.Is(err, errInvalidConfigurationID) {
		// Refused before any call: the client's own reading, not Graph's BadRequest.
		return fact(ClassNeedsPerson, KindInvalidID, "the device configuration id is not a Graph id")
	}
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
		return fact(ClassNeedsPerson, KindTokenFileUnreadable, "a file the credential needs (the workload identity token file) cannot be read")
	}
	return classifyTransport(err, "Graph")
}

func fact(class Class, kind Kind, description string) Classification {
	return Classification{Class: class, Kind: kind, Description: description}
}

// classifyStatus classifies an answer of Graph.
func classifyStatus(e *Error) Classification {
	graphSaid := graphSays(e)
	var c Classification
	switch s := e.StatusCode; {
	case s >= 200 && s < 300:
		what := "a deviceConfigurationUserOverview"
		if errors.Is(e, errMalformedList) {
			what = "a page of device configurations"
		}
		if errors.Is(e, errMalformedAuditPage) {
			what = "a page of Intune's audit log"
		}
		c = fact(ClassRetryable, KindUnreadableAnswer, fmt.Sprintf("%s answered with a body that is not %s%s", graphAt(e.Host), what, malformedDetail(e.Err)))
		c.Host = e.Host
	case s == http.StatusBadRequest:
		c = fact(ClassNeedsPerson, KindBadRequest, "Graph refused the request as invalid"+graphSaid)
	case s == http.StatusUnauthorized:
		c = fact(ClassNeedsPerson, KindTokenRejected, "Graph refused the app's access token even after a fresh one was obtained"+graphSaid)
	case s == http.StatusForbidden:
		c = fact(ClassNeedsPerson, KindForbidden, "Graph refused the call: the app lacks a permission"+graphSaid)
	case s == http.StatusNotFound:
		c = fact(ClassNotFound, KindNotFound, "Graph has no device configuration with this id in the tenant"+graphSaid)
	case s == http.StatusTooManyRequests:
		c = fact(ClassThrottled, KindThrottled, throttledDescription(e.ThrottleScope)+graphSaid)
		c.RetryAfter, c.PausedUntil = e.RetryAfter, e.PausedUntil
		if c.RetryAfter <= 0 {
			c.RetryAfter = defaultThrottleWait
		}
	case s == http.StatusServiceUnavailable && e.RetryAfter > 0:
		c = fact(ClassThrottled, KindThrottled, "Graph is unavailable and asked to retry later"+graphSaid)
		c.RetryAfter, c.PausedUntil = e.RetryAfter, e.PausedUntil
	case s == http.StatusRequestTimeout || s == http.StatusConflict || s >= 500:
		c = fact(ClassRetryable, KindUnavailable, fmt.Sprintf("Graph answered %d %s%s", s, http.StatusText(s), graphSaid))
	case s >= 400:
		c = fact(ClassNeedsPerson, KindUnexpectedRefusal, fmt.Sprintf("Graph refused the request with %d %s%s", s, http.StatusText(s), graphSaid))
	default:
		c = fact(ClassRetryable, KindUnavailable, fmt.Sprintf("Graph answered with the unexpected status %d", s))
	}
	c.Status, c.Code, c.Message = e.StatusCode, e.Code, e.Message
	return c
}

// graphAt names Graph, with the host that answered when it is known.
func graphAt(host string) string {
	if host == "" {
		return "Graph"
	}
	return fmt.Sprintf("Graph (host %q)", host)
}

// malformedDetail is what was wrong with a body the client could not take, after a colon; "" when
// err says no more than that it was malformed.
func malformedDetail(err error) string {
	if err == nil {
		return ""
	}
	msg := err.Error()
	for _, sentinel := range []error{errMalformedBody, errMalformedList, errMalformedAuditPage} {
		if msg == sentinel.Error() {
			return ""
		}
		msg = strings.TrimPrefix(msg, sentinel.Error()+": ")
	}
	return ": " + msg
}

// graphSays quotes Graph's error code and message for a description.
func graphSays(e *Error) string { return quote(e.Code, e.Message) }

// Quoted is Graph's error code and message, in parentheses after a space, as a description quotes
// them; "" when Graph said neither.
func (c Classification) Quoted() string { return quote(c.Code, c.Message) }

func quote(code, message string) string {
	switch {
	case code != "" && message != "":
		return fmt.Sprintf(" (%s: %s)", code, message)
	case code != "":
		return fmt.Sprintf(" (%s)", code)
	case message != "":
		return fmt.Sprintf(" (%s)", message)
	}
	return ""
}

// classifyTokenError classifies a failure to obtain a token.
func classifyTokenError(e *tokenError) Classification {
	var c Classification
	switch {
	case e.transient && e.unreadable:
		c = fact(ClassRetryable, KindLoginUnavailable, "cannot obtain a token: "+e.detail)
	case e.transport != nil:
		c = classifyTransport(e.transport, "the login endpoint")
		c.Description = "cannot obtain a token: " + c.Description
	case e.transient:
		c = fact(ClassRetryable, KindLoginUnavailable,
			fmt.Sprintf("cannot obtain a token: the login endpoint is unavailable or did not answer in time (%s credential)", e.kind))
	case e.missingFile:
		c = fact(ClassNeedsPerson, KindTokenFileUnreadable, e.Error())
	default:
		c = fact(ClassNeedsPerson, KindCredentialsRefused, e.Error())
	}
	c.Status, c.Code, c.Message, c.Credential = e.status, e.code, e.description, e.kind
	return c
}

// classifyTransport classifies an error without an answer from what
// ("Graph" or "the login endpoint").
func classifyTransport(err error, what string) Classification {
	if c, ok := classifyPolicy(err, what); ok {
		return c
	}
	var (
		unknownAuthority x509.UnknownAuthorityError
		hostnameErr      x509.HostnameError
		certInvalid      x509.CertificateInvalidError
		verifyErr        *tls.CertificateVerificationError
		netErr           net.Error
	)
	switch {
	case errors.As(err, &unknownAuthority), errors.As(err, &hostnameErr), errors.As(err, &certInvalid), errors.As(err, &verifyErr):
		return fact(ClassRetryable, KindUntrustedCertificate, "the TLS certificate of "+what+" is not trusted")
	case errors.Is(err, errBodyTooLarge):
		c := fact(ClassRetryable, KindUnreadableAnswer, what+" answered with a body larger than the client accepts")
		var large *bodyTooLargeError
		if errors.As(err, &large) && large.host != "" {
			c.Host = large.host
			c.Description = fmt.Sprintf("%s (host %q) answered with a body larger than the client accepts (%d bytes)", what, large.host, maxBodySize)
		}
		return c
	case errors.Is(err, errMalformedBody):
		return fact(ClassRetryable, KindUnreadableAnswer, what+" answered with a body that is not a deviceConfigurationUserOverview")
	case errors.Is(err, errMalformedList):
		return fact(ClassRetryable, KindUnreadableAnswer, what+" answered with a body that is not a page of device configurations")
	case errors.Is(err, errMalformedAuditPage):
		return fact(ClassRetryable, KindUnreadableAnswer, what+" answered with a body that is not a page of Intune's audit log"+malformedDetail(err))
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return fact(ClassRetryable, KindTransport, "the call to "+what+" timed out")
	case errors.Is(err, context.Canceled):
		return fact(ClassRetryable, KindTransport, "the call to "+what+" was canceled")
	case errors.Is(err, syscall.ECONNREFUSED):
		return fact(ClassRetryable, KindTransport, what+" refused the connection")
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.EPIPE):
		return fact(ClassRetryable, KindTransport, "the connection to "+what+" was dropped")
	case isDNSError(err):
		return fact(ClassRetryable, KindHostNotFound, "the host name of "+what+" does not resolve")
	default:
		return fact(ClassRetryable, KindTransport, "the call to "+what+" failed without an answer")
	}
}

// classifyPolicy classifies a request the host policy refused, or a redirect; ok is false for any
// other error.
func classifyPolicy(err error, what string) (c Classification, ok bool) {
	var (
		notAllowed *EndpointNotAllowedError
		redirect   *RedirectError
		cleartext  *cleartextError
	)
	switch {
	case errors.As(err, &notAllowed) && notAllowed.Via != "":
		c = fact(ClassNeedsPerson, KindEndpointNotAllowed,
			fmt.Sprintf("%s answered with %s to host %q, which the operator does not allow; it was not followed", what, notAllowed.Via, notAllowed.Host))
		c.Host = notAllowed.Host
	case errors.As(err, &notAllowed):
		c = fact(ClassNeedsPerson, KindEndpointNotAllowed,
			fmt.Sprintf("a call to %s would have gone to host %q, which the operator does not allow; nothing was sent there", what, notAllowed.Host))
		c.Host = notAllowed.Host
	case errors.As(err, &cleartext):
		c = fact(ClassNeedsPerson, KindEndpointNotAllowed,
			fmt.Sprintf("a call to %s would have gone to host %q without TLS; nothing was sent", what, cleartext.host))
		c.Host = cleartext.host
	case errors.As(err, &redirect) && redirect.Host != "":
		c = fact(ClassRetryable, KindRedirected,
			fmt.Sprintf("%s answered %d with a redirect to host %q, which the operator never follows", what, redirect.StatusCode, redirect.Host))
		c.Host, c.Status = redirect.Host, redirect.StatusCode
	case errors.As(err, &redirect):
		c = fact(ClassRetryable, KindRedirected, fmt.Sprintf("%s answered %d with a redirect, which the operator never follows", what, redirect.StatusCode))
		c.Status = redirect.StatusCode
	default:
		return Classification{}, false
	}
	return c, true
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
	if a := approvalRefusalOf(resp, code, message); a != nil {
		e.Err = a
	}
	return e
}
