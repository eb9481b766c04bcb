package graph

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

func TestWithoutRequestIDs(t *testing.T) {
	tests := map[string]struct{ in, want string }{
		"Intune's ids": {
			"No deviceConfiguration with id '6d6c3b5e-0f9a-4c1e-9d7e-2f1f3a4b5c6d' was found. - Operation ID (for customer support): 00000000-0000-0000-0000-000000000000 - Activity ID: 1b7c4d2e-8f9a-4b0c-9d1e-2f3a4b5c6d7e",
			"No deviceConfiguration with id '6d6c3b5e-0f9a-4c1e-9d7e-2f1f3a4b5c6d' was found.",
		},
		"ids in the middle": {
			"Access denied (request-id: 1b7c4d2e-8f9a-4b0c-9d1e-2f3a4b5c6d7e, client-request-id: {2b7c4d2e-8f9a-4b0c-9d1e-2f3a4b5c6d7e}); grant the permission",
			"Access denied; grant the permission",
		},
		"a JSON inner error": {
			`failed: {"date":"2026-11-28T10:00:00","request-id":"1b7c4d2e-8f9a-4b0c-9d1e-2f3a4b5c6d7e","client-request-id":"2b7c4d2e-8f9a-4b0c-9d1e-2f3a4b5c6d7e"}`,
			"failed",
		},
		"Entra ID's trace": {
			"AADSTS7000215: Invalid client secret provided. Trace ID: 1b7c4d2e-8f9a-4b0c-9d1e-2f3a4b5c6d7e Correlation ID: 2b7c4d2e-8f9a-4b0c-9d1e-2f3a4b5c6d7e Timestamp: 2026-11-28 10:00:00Z",
			"AADSTS7000215: Invalid client secret provided.",
		},
		"a bare timestamp": {
			"The service was unavailable at 2026-11-28T10:00:00.1234567Z, retry later",
			"The service was unavailable at, retry later",
		},
		"a hex trace id": {
			"Internal error, tracking id 0123456789abcdef0123 - please retry",
			"Internal error - please retry",
		},
		"nothing to drop": {
			"the app lacks DeviceManagementConfiguration.ReadWrite.All (Forbidden: Application is not authorized); grant it",
			"the app lacks DeviceManagementConfiguration.ReadWrite.All (Forbidden: Application is not authorized); grant it",
		},
		"a date the user wrote stays": {
			"lastUpdateDateTime 2026-11-28 is not a date-time",
			"lastUpdateDateTime 2026-11-28 is not a date-time",
		},
		"a configuration id stays": {
			"configuration 6d6c3b5e-0f9a-4c1e-9d7e-2f1f3a4b5c6d - not found",
			"configuration 6d6c3b5e-0f9a-4c1e-9d7e-2f1f3a4b5c6d - not found",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := withoutRequestIDs(tc.in)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if again := withoutRequestIDs(got); again != got {
				t.Errorf("not idempotent: %q then %q", got, again)
			}
		})
	}
}

// TestFactsWithoutRequestIDs: for every kind of answer, two failures that differ only in their
// per-request ids and timestamps give the same message and description, which quote none of them.
func TestFactsWithoutRequestIDs(t *testing.T) {
	const (
		id1, id2 = "1b7c4d2e-8f9a-4b0c-9d1e-2f3a4b5c6d7e", "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
		t1, t2   = "2026-11-28T10:00:00", "2026-11-28T10:00:07"
	)
	message := func(id, at string) string {
		return "Something failed. - Operation ID (for customer support): " + id + " - Activity ID: " + id +
			" - request-id: " + id + " client-request-id: " + id + " Timestamp: " + at + "Z"
	}
	for name, status := range map[string]int{
		"BadRequest": 400, "TokenRejected": 401, "Forbidden": 403, "NotFound": 404, "Conflict": 409,
		"Throttled": 429, "Unavailable": 500, "unexpected 4xx": 418,
	} {
		t.Run(name, func(t *testing.T) {
			first := Classify(&Error{StatusCode: status, Code: "Code", Message: message(id1, t1), RequestID: id1})
			second := Classify(&Error{StatusCode: status, Code: "Code", Message: message(id2, t2), RequestID: id2})
			if diff := cmp.Diff(first, second); diff != "" {
				t.Errorf("the facts differ (-first +second):\n%s", diff)
			}
			if first.Message != "Something failed." {
				t.Errorf("message %q, want Graph's without its ids and times", first.Message)
			}
			if strings.Contains(first.Description, id1) || strings.Contains(first.Description, "10:00") || !strings.Contains(first.Description, "(Code: Something failed.)") {
				t.Errorf("description %q quotes an id or a time, or lost Graph's message", first.Description)
			}
		})
	}
	t.Run("a token refusal", func(t *testing.T) {
		refusal := func(id, at string) error {
			return &Error{Err: &tokenError{kind: CredentialClientSecret, status: 401, code: "invalid_client",
				description: "AADSTS7000215: Invalid client secret provided. Trace ID: " + id + " Timestamp: " + at}}
		}
		first, second := Classify(refusal(id1, t1)), Classify(refusal(id2, t2))
		if diff := cmp.Diff(first, second); diff != "" {
			t.Errorf("the facts differ (-first +second):\n%s", diff)
		}
		if first.Message != "AADSTS7000215: Invalid client secret provided." || strings.Contains(first.Description, id1) {
			t.Errorf("message %q, description %q", first.Message, first.Description)
		}
	})
}

// TestNotFoundIsStable: the emulator's 404, like Intune's, quotes the Activity ID of each answer;
// the facts of two of them are the same.
func TestNotFoundIsStable(t *testing.T) {
	e := newEmulator(t, graphtest.Options{})
	c := e.client(t, e.config(), fastOptions())
	get := func(ctx context.Context) (Classification, string) {
		_, err := c.Get(ctx, UserOverview, otherConfigID)
		var gerr *Error
		if !errors.As(err, &gerr) {
			t.Fatalf("error %v, want an *Error", err)
		}
		return Classify(err), gerr.RequestID
	}
	ctx := testContext(t)
	first, firstID := get(ctx)
	second, secondID := get(ctx)
	if first.Kind != KindNotFound || firstID == secondID {
		t.Fatalf("got %+v with request-ids %q and %q, want NotFound from two answers", first, firstID, secondID)
	}
	if diff := cmp.Diff(first, second); diff != "" {
		t.Errorf("the facts changed between two answers (-first +second):\n%s", diff)
	}
	want := Classification{Class: ClassNotFound, Kind: KindNotFound, Status: 404, Code: "ResourceNotFound",
		Message:     "No deviceConfiguration with id '" + otherConfigID + "' was found.",
		Description: "Graph has no device configuration with this id in the tenant (ResourceNotFound: No deviceConfiguration with id '" + otherConfigID + "' was found.)"}
	if diff := cmp.Diff(want, first); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
