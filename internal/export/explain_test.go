package export

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/overview-operator/overview-operator/internal/graph"
)

// TestExplain: the export's errors say what Graph's failure means and, where it knows, what the
// person running the export can do; nothing of the operator's advice (fields of a resource, the
// permission to write, retries the export does not make).
func TestExplain(t *testing.T) {
	cases := map[string]struct {
		err  error
		want string
	}{
		"403: the export only reads": {
			err: &graph.Error{StatusCode: 403, Code: "Forbidden", Message: "denied", RequestID: "r-1"},
			want: "Graph refused the call: the app lacks a permission (Forbidden: denied); the export needs DeviceManagementConfiguration.Read.All: " +
				"grant the application permission and admin consent (graph: 403 Forbidden (Forbidden): denied [request-id r-1])",
		},
		"400: no spec to check": {
			err:  &graph.Error{StatusCode: 400, Code: "BadRequest", Message: "Invalid filter"},
			want: "Graph refused the request as invalid (BadRequest: Invalid filter) (graph: 400 Bad Request (BadRequest): Invalid filter)",
		},
		"401": {
			err: &graph.Error{StatusCode: 401, Code: "InvalidAuthenticationToken"},
			want: "Graph refused the app's access token even after a fresh one was obtained (InvalidAuthenticationToken); " +
				"check that the tenant id and client id name an app registration of this tenant, in this cloud (graph: 401 Unauthorized (InvalidAuthenticationToken))",
		},
		"500: the export does not retry": {
			err:  &graph.Error{StatusCode: 500, Code: "InternalError", RequestID: "r-2"},
			want: "Graph answered 500 Internal Server Error (InternalError) (graph: 500 Internal Server Error (InternalError) [request-id r-2])",
		},
		"the budget": {
			err:  &graph.Error{RetryAfter: time.Second, Err: graph.ErrBudgetExhausted},
			want: "the client's request budget for this tenant is spent (it stays under Intune's limits) (graph: the tenant's Graph request budget is spent (retry after 1s))",
		},
		"a host that does not resolve": {
			err: &graph.Error{Err: &net.DNSError{Err: "no such host", Name: "graph.example"}},
			want: "the host name of Graph does not resolve; check the endpoint and the authority host (--endpoint and --authority-host, or the connection's) " +
				"(graph: lookup graph.example: no such host)",
		},
		"a description that holds the error's text": {
			err:  &graph.Error{Err: errors.New("the call to Graph failed without an answer")},
			want: "the call to Graph failed without an answer",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if d := cmp.Diff(tc.want, explain(tc.err).Error()); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestExportHintForCredentials(t *testing.T) {
	cases := map[graph.CredentialKind]string{
		graph.CredentialClientSecret:      "check the client secret (its value, not its id) and that it has not expired, the tenant id and the client id",
		graph.CredentialClientCertificate: "check the credential, the tenant id and the client id",
	}
	for kind, want := range cases {
		got := exportHint(graph.Classification{Kind: graph.KindCredentialsRefused, Credential: kind})
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("%s (-want +got):\n%s", kind, d)
		}
	}
}
