package graphtest

import (
	"encoding/json"
	"net/http"
	"time"
)

// graphContentType is what Graph sends with a JSON body.
const graphContentType = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"

// defaultCode is the Graph error code the emulator answers with for a status when nothing more
// specific applies; taken from what Graph and Intune are seen to send.
func defaultCode(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "BadRequest"
	case http.StatusUnauthorized:
		return "InvalidAuthenticationToken"
	case http.StatusForbidden:
		return "Forbidden"
	case http.StatusNotFound:
		return "ResourceNotFound"
	case http.StatusMethodNotAllowed:
		return "MethodNotAllowed"
	case http.StatusConflict:
		return "Conflict"
	case http.StatusTooManyRequests:
		return "TooManyRequests"
	case http.StatusInternalServerError:
		return "InternalError"
	case http.StatusServiceUnavailable:
		return "serviceNotAvailable"
	default:
		return "UnknownError"
	}
}

// defaultMessage goes with defaultCode.
func defaultMessage(status int) string {
	switch status {
	case http.StatusTooManyRequests:
		return "Too many requests. Retry after the time given in the Retry-After header."
	case http.StatusServiceUnavailable:
		return "The service is temporarily unavailable. Retry later."
	default:
		return http.StatusText(status)
	}
}

type graphErrorBody struct {
	Error graphError `json:"error"`
}

type graphError struct {
	Code       string          `json:"code"`
	Message    string          `json:"message"`
	InnerError graphInnerError `json:"innerError"`
}

type graphInnerError struct {
	Date            string `json:"date"`
	RequestID       string `json:"request-id"`
	ClientRequestID string `json:"client-request-id"`
}

// writeGraphError writes Graph's OData error body. The request-id and client-request-id headers
// are already set, and the inner error repeats them as Graph does.
func writeGraphError(w http.ResponseWriter, status int, code, message string) int {
	if code == "" {
		code = defaultCode(status)
	}
	if message == "" {
		message = defaultMessage(status)
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`)
	}
	b, _ := json.Marshal(graphErrorBody{Error: graphError{
		Code:    code,
		Message: message,
		InnerError: graphInnerError{
			Date:            time.Now().UTC().Format("2006-01-02T15:04:05"),
			RequestID:       w.Header().Get("request-id"),
			ClientRequestID: w.Header().Get("client-request-id"),
		},
	}})
	w.Header().Set("Content-Type", graphContentType)
	w.WriteHeader(status)
	_, _ = w.Write(b)
	return status
}

// intuneMessage wraps a message the way Intune's services do, as a JSON document inside Graph's
// message string, so that clients meet that shape in tests.
func intuneMessage(message, requestID string) string {
	b, _ := json.Marshal(map[string]any{
		"_version":             3,
		"Message":              message + " - Operation ID (for customer support): 00000000-0000-0000-0000-000000000000 - Activity ID: " + requestID,
		"CustomApiErrorPhrase": "",
		"RetryAfter":           nil,
		"ErrorSourceService":   "",
		"HttpHeaders":          "{}",
	})
	return string(b)
}
