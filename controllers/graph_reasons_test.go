package controllers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/graph"
)

// TestClassifyFailures: what a failed pass says on its conditions, and how it ends, for the
// failures of Graph, of the operator's own reading and of the Kubernetes API.
func TestClassifyFailures(t *testing.T) {
	tests := map[string]struct {
		err  error
		want failure
	}{
		"400": {
			err: &graph.Error{StatusCode: 400, Code: "BadRequest", Message: "Invalid value", RequestID: "r-1"},
			want: failure{class: graph.ClassNeedsPerson, reason: intunev1alpha1.ReasonBadRequest,
				message: "Graph refused the request as invalid (BadRequest: Invalid value); check the values in spec.overview"},
		},
		"401 after a fresh token": {
			err: &graph.Error{StatusCode: 401, Code: "InvalidAuthenticationToken"},
			want: failure{class: graph.ClassNeedsPerson, reason: intunev1alpha1.ReasonInvalidCredentials,
				message: "Graph refused the app's access token even after a fresh one was obtained (InvalidAuthenticationToken); " +
					"check that the tenant id and client id name an app registration of this tenant, in this cloud"},
		},
		"403": {
			err: &graph.Error{StatusCode: 403, Code: "Forbidden", Message: "Application is not authorized to perform this operation."},
			want: failure{class: graph.ClassNeedsPerson, reason: intunev1alpha1.ReasonForbidden,
				message: "the app lacks DeviceManagementConfiguration.ReadWrite.All (Forbidden: Application is not authorized to perform this operation.); " +
					"grant the application permission and admin consent"},
		},
		"403 without a body": {
			err: &graph.Error{StatusCode: 403},
			want: failure{class: graph.ClassNeedsPerson, reason: intunev1alpha1.ReasonForbidden,
				message: "the app lacks DeviceManagementConfiguration.ReadWrite.All; grant the application permission and admin consent"},
		},
		"403 with Graph's message only": {
			err: &graph.Error{StatusCode: 403, Message: "denied"},
			want: failure{class: graph.ClassNeedsPerson, reason: intunev1alpha1.ReasonForbidden,
				message: "the app lacks DeviceManagementConfiguration.ReadWrite.All (denied); grant the application permission and admin consent"},
		},
		"404": {
			err: &graph.Error{StatusCode: 404},
			want: failure{class: graph.ClassNotFound, reason: intunev1alpha1.ReasonNotFound,
				message: "Graph has no device configuration with this id in the tenant; check spec.deviceConfigurationId and the connection's tenant"},
		},
		"405": {
			err: &graph.Error{StatusCode: 405},
			want: failure{class: graph.ClassNeedsPerson, reason: intunev1alpha1.ReasonBadRequest,
				message: "Graph refused the request with 405 Method Not Allowed; this looks like a bug in the operator, please report it"},
		},
		"429": {
			err: &graph.Error{StatusCode: 429, RetryAfter: 2128 * time.Millisecond},
			want: failure{class: graph.ClassThrottled, reason: intunev1alpha1.ReasonThrottled, retryAfter: 2128 * time.Millisecond,
				message: "Graph is throttling the app in this tenant; calls resume after Retry-After"},
		},
		"503 with Retry-After": {
			err: &graph.Error{StatusCode: 503, RetryAfter: 3 * time.Second},
			want: failure{class: graph.ClassThrottled, reason: intunev1alpha1.ReasonThrottled, retryAfter: 3 * time.Second,
				message: "Graph is unavailable and asked to retry later; calls resume after Retry-After"},
		},
		"503": {
			err: &graph.Error{StatusCode: 503},
			want: failure{class: graph.ClassRetryable, reason: intunev1alpha1.ReasonGraphUnavailable,
				message: "Graph answered 503 Service Unavailable; retrying with backoff"},
		},
		"the budget": {
			err: &graph.Error{RetryAfter: 1500 * time.Millisecond, Err: graph.ErrBudgetExhausted},
			want: failure{class: graph.ClassThrottled, reason: intunev1alpha1.ReasonThrottled, retryAfter: 1500 * time.Millisecond,
				message: "the operator's request budget for this tenant is spent (it stays under Intune's limits); calls resume as it refills"},
		},
		"a timeout": {
			err: &graph.Error{Err: context.DeadlineExceeded},
			want: failure{class: graph.ClassRetryable, reason: intunev1alpha1.ReasonGraphUnavailable,
				message: "the call to Graph timed out; retrying"},
		},
		"a host that does not resolve": {
			err: &graph.Error{Err: &net.DNSError{Err: "no such host", Name: "graph.example", IsNotFound: true}},
			want: failure{class: graph.ClassRetryable, reason: intunev1alpha1.ReasonGraphUnavailable,
				message: "the host name of Graph does not resolve; check the connection's endpoint and authority host; retrying"},
		},
		"the login endpoint refused the credentials": {
			err: fmt.Errorf("wrapped: %w", &azidentity.AuthenticationFailedError{}),
			want: failure{class: graph.ClassNeedsPerson, reason: intunev1alpha1.ReasonInvalidCredentials,
				message: "the login endpoint refused the app's credentials; check the tenant id, the client id and the credential"},
		},
		"the login endpoint unavailable": {
			err: &azidentity.AuthenticationFailedError{RawResponse: &http.Response{StatusCode: 503}},
			want: failure{class: graph.ClassRetryable, reason: intunev1alpha1.ReasonGraphUnavailable,
				message: "the login endpoint is unavailable; retrying"},
		},
		"the operator's own reading of the spec": {
			err:  stalledf(intunev1alpha1.ReasonInvalidSpec, "fix %s", "it"),
			want: failure{class: graph.ClassNeedsPerson, reason: intunev1alpha1.ReasonInvalidSpec, message: "fix it"},
		},
		"a Secret out of the watches' sight": {
			err:  &stalled{reason: intunev1alpha1.ReasonSecretNotFound, message: "create it", recheck: time.Hour},
			want: failure{class: graph.ClassNeedsPerson, reason: intunev1alpha1.ReasonSecretNotFound, message: "create it", retryAfter: time.Hour},
		},
		"a value Graph did not keep": {
			err: &notPersisted{fields: "successCount=12"},
			want: failure{class: graph.ClassRetryable, reason: intunev1alpha1.ReasonNotPersisted,
				message: "Graph accepted the PATCH but did not keep successCount=12; retrying with backoff"},
		},
		"an error of no known kind": {
			err: errors.New("boom"),
			want: failure{class: graph.ClassRetryable, reason: intunev1alpha1.ReasonGraphUnavailable,
				message: "the call to Graph failed without an answer; retrying"},
		},
		"the Kubernetes API": {
			err: fmt.Errorf("get: %w", apierrors.NewServiceUnavailable("etcd")),
		},
		"the Kubernetes API, not found": {
			err: apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, "graph"),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, classify(tc.err), cmp.AllowUnexported(failure{})); diff != "" {
				t.Errorf("classify(%v) (-want +got):\n%s", tc.err, diff)
			}
		})
	}
}

// TestGraphCondition: the facts Graph's client reports of a failure that the tests above cannot
// build (a token the login endpoint refused, a token file, the login endpoint's transport), and
// what the conditions say of them.
func TestGraphCondition(t *testing.T) {
	refused := func(kind graph.CredentialKind) graph.Classification {
		return graph.Classification{Class: graph.ClassNeedsPerson, Kind: graph.KindCredentialsRefused, Credential: kind, Status: 401, Code: "invalid_client",
			Description: "cannot obtain a token with the " + string(kind) + " credential: the login endpoint answered 401 invalid_client"}
	}
	type want struct{ Reason, Message string }
	tests := map[string]struct {
		facts graph.Classification
		want  want
	}{
		"a client secret refused": {
			facts: refused(graph.CredentialClientSecret),
			want: want{intunev1alpha1.ReasonInvalidCredentials, "cannot obtain a token with the ClientSecret credential: the login endpoint answered 401 invalid_client; " +
				"check the client secret in the connection's Secret (the secret's value, not its id) and that it has not expired, the tenant id and the client id"},
		},
		"a certificate refused": {
			facts: refused(graph.CredentialClientCertificate),
			want: want{intunev1alpha1.ReasonInvalidCredentials, "cannot obtain a token with the ClientCertificate credential: the login endpoint answered 401 invalid_client; " +
				"check that the certificate in the connection's Secret is registered on the app and has not expired, the tenant id and the client id"},
		},
		"a federated token refused": {
			facts: refused(graph.CredentialWorkloadIdentity),
			want: want{intunev1alpha1.ReasonInvalidCredentials, "cannot obtain a token with the WorkloadIdentity credential: the login endpoint answered 401 invalid_client; " +
				"check the app's federated credential (issuer, subject, audience api://AzureADTokenExchange) and the projected service account token, the tenant id and the client id"},
		},
		"the token file unreadable": {
			facts: graph.Classification{Class: graph.ClassNeedsPerson, Kind: graph.KindTokenFileUnreadable, Credential: graph.CredentialWorkloadIdentity,
				Description: "cannot obtain a token with the WorkloadIdentity credential: the workload identity token file /var/run/token cannot be read (no such file or directory)"},
			want: want{intunev1alpha1.ReasonInvalidCredentials, "cannot obtain a token with the WorkloadIdentity credential: the workload identity token file /var/run/token " +
				"cannot be read (no such file or directory); check the pod's service account token projection"},
		},
		"the login endpoint's certificate": {
			facts: graph.Classification{Class: graph.ClassRetryable, Kind: graph.KindUntrustedCertificate, Credential: graph.CredentialClientSecret,
				Description: "cannot obtain a token: the TLS certificate of the login endpoint is not trusted"},
			want: want{intunev1alpha1.ReasonGraphUnavailable, "cannot obtain a token: the TLS certificate of the login endpoint is not trusted; " +
				"if a TLS-inspecting proxy or the emulator sits in between, set the connection's CA bundle; retrying"},
		},
		"the login endpoint's outage page": {
			facts: graph.Classification{Class: graph.ClassRetryable, Kind: graph.KindLoginUnavailable, Credential: graph.CredentialClientSecret,
				Description: "cannot obtain a token: the login endpoint answered 200 with an HTML page instead of a token"},
			want: want{intunev1alpha1.ReasonGraphUnavailable, "cannot obtain a token: the login endpoint answered 200 with an HTML page instead of a token; retrying"},
		},
		"the login endpoint dropped the connection": {
			facts: graph.Classification{Class: graph.ClassRetryable, Kind: graph.KindTransport, Credential: graph.CredentialClientSecret,
				Description: "cannot obtain a token: the connection to the login endpoint was dropped"},
			want: want{intunev1alpha1.ReasonGraphUnavailable, "cannot obtain a token: the connection to the login endpoint was dropped; retrying"},
		},
		"an id that is not one": {
			facts: graph.Classification{Class: graph.ClassNeedsPerson, Kind: graph.KindInvalidID, Description: "the device configuration id is not a Graph id"},
			want: want{intunev1alpha1.ReasonInvalidSpec,
				"spec.deviceConfigurationId is not a Graph id, and it cannot change: create a resource with the configuration's GUID"},
		},
		"an unreadable answer": {
			facts: graph.Classification{Class: graph.ClassRetryable, Kind: graph.KindUnreadableAnswer, Status: 200,
				Description: "Graph answered with a body that is not a deviceConfigurationUserOverview"},
			want: want{intunev1alpha1.ReasonGraphUnavailable, "Graph answered with a body that is not a deviceConfigurationUserOverview; retrying"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var got want
			got.Reason, got.Message = graphCondition(tc.facts)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestGraphConditionsAreStable: two failures that differ only in the ids and times Graph and
// Intune put in their messages give the same condition, which quotes none of them.
func TestGraphConditionsAreStable(t *testing.T) {
	const (
		id1, id2 = "1b7c4d2e-8f9a-4b0c-9d1e-2f3a4b5c6d7e", "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
		t1, t2   = "2026-11-28T10:00:00", "2026-11-28T10:00:07"
	)
	failed := func(status int, id, at string) failure {
		return classify(&graph.Error{StatusCode: status, Code: "Code", RequestID: id,
			Message: "Something failed. - Activity ID: " + id + " - Timestamp: " + at + "Z"})
	}
	for _, status := range []int{400, 401, 403, 404, 409, 418, 429, 500} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			first, second := failed(status, id1, t1), failed(status, id2, t2)
			if diff := cmp.Diff(first, second, cmp.AllowUnexported(failure{})); diff != "" {
				t.Errorf("the conditions differ (-first +second):\n%s", diff)
			}
			if strings.Contains(first.message, id1) || strings.Contains(first.message, "10:00") ||
				!strings.Contains(first.message, "(Code: Something failed.)") {
				t.Errorf("message %q quotes an id or a time, or lost Graph's message", first.message)
			}
		})
	}
}
