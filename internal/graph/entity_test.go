package graph

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func ptr[T any](v T) *T { return &v }

func TestFieldsMarshalJSON(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	tests := map[string]struct {
		f    Fields
		want string
	}{
		"nothing": {
			f:    Fields{},
			want: `{}`,
		},
		"one count": {
			f:    Fields{SuccessCount: ptr[int32](12)},
			want: `{"successCount":12}`,
		},
		"a zero is sent, not omitted": {
			f:    Fields{FailedCount: ptr[int32](0)},
			want: `{"failedCount":0}`,
		},
		"every field, as numbers and an RFC 3339 time in UTC": {
			f: Fields{
				PendingCount:         ptr[int32](1),
				NotApplicableCount:   ptr[int32](2),
				SuccessCount:         ptr[int32](3),
				ErrorCount:           ptr[int32](4),
				FailedCount:          ptr[int32](5),
				ConfigurationVersion: ptr[int32](6),
				LastUpdateDateTime:   ptr(time.Date(2026, 11, 28, 11, 0, 0, 0, berlin)),
			},
			want: `{"pendingCount":1,"notApplicableCount":2,"successCount":3,"errorCount":4,"failedCount":5,` +
				`"configurationVersion":6,"lastUpdateDateTime":"2026-11-28T10:00:00Z"}`,
		},
		"int32 extremes": {
			f:    Fields{PendingCount: ptr[int32](-2147483648), ErrorCount: ptr[int32](2147483647)},
			want: `{"pendingCount":-2147483648,"errorCount":2147483647}`,
		},
		"fractional seconds are kept": {
			f:    Fields{LastUpdateDateTime: ptr(time.Date(2026, 1, 2, 3, 4, 5, 600000000, time.UTC))},
			want: `{"lastUpdateDateTime":"2026-01-02T03:04:05.6Z"}`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := json.Marshal(tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, string(got)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
			// A pointer marshals the same as the value.
			viaPtr, err := json.Marshal(&tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if string(viaPtr) != string(got) {
				t.Errorf("via pointer: %s, via value: %s", viaPtr, got)
			}
		})
	}
}

func TestFieldsIsEmpty(t *testing.T) {
	if !(Fields{}).IsEmpty() {
		t.Error("Fields{} is not empty")
	}
	if (Fields{ErrorCount: ptr[int32](0)}).IsEmpty() {
		t.Error("a field set to 0 is empty")
	}
}

func TestDecodeOverview(t *testing.T) {
	when := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	tests := map[string]struct {
		body    string
		want    Overview
		wantErr string
	}{
		"live answer with annotations and an unknown property": {
			body: `{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#deviceManagement/deviceConfigurations('x')/userStatusOverview/$entity",` +
				`"@odata.type":"#microsoft.graph.deviceConfigurationUserOverview","id":"abc","pendingCount":1,"notApplicableCount":2,` +
				`"successCount":3,"errorCount":4,"failedCount":5,"lastUpdateDateTime":"2026-11-28T10:00:00Z","configurationVersion":6,` +
				`"somethingNew":{"nested":[1,2,3]}}`,
			want: Overview{ID: "abc", PendingCount: 1, NotApplicableCount: 2, SuccessCount: 3, ErrorCount: 4, FailedCount: 5,
				ConfigurationVersion: 6, LastUpdateDateTime: when},
		},
		"beta conflictCount": {
			body: `{"id":"abc","conflictCount":7}`,
			want: Overview{ID: "abc", ConflictCount: ptr[int32](7)},
		},
		"byte order mark": {
			body: "\xef\xbb\xbf{\"id\":\"abc\"}",
			want: Overview{ID: "abc"},
		},
		"time with an offset": {
			body: `{"lastUpdateDateTime":"2026-11-28T11:00:00+01:00"}`,
			want: Overview{LastUpdateDateTime: when},
		},
		"the documentation's placeholder": {
			body:    `{"id":"String (identifier)","pendingCount":"Integer"}`,
			wantErr: `property "pendingCount" holds a JSON string, not a valid int32`,
		},
		"out of int32 range": {
			body:    `{"successCount":2147483648}`,
			wantErr: `property "successCount" holds a JSON number 2147483648, not a valid int32`,
		},
		"fraction": {
			body:    `{"successCount":1.5}`,
			wantErr: `property "successCount"`,
		},
		"not a time": {
			body:    `{"lastUpdateDateTime":"yesterday"}`,
			wantErr: "lastUpdateDateTime is not an RFC 3339 time",
		},
		"empty": {
			body:    "",
			wantErr: "empty body",
		},
		"null": {
			body:    "null",
			wantErr: "not a JSON object",
		},
		"array": {
			body:    `[{"id":"abc"}]`,
			wantErr: "not a JSON object",
		},
		"truncated": {
			body:    `{"id":"abc","pendingCount":`,
			wantErr: "invalid JSON",
		},
		"html from a proxy": {
			body:    `<html><body>Bad Gateway</body></html>`,
			wantErr: "not a JSON object",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := decodeOverview([]byte(tc.body))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, errMalformedBody) {
					t.Fatalf("error %v, want one containing %q and wrapping errMalformedBody", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("overview (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzDecodeOverview feeds arbitrary bodies to the entity decoder: it must
// never panic, and whatever it accepts must survive a round trip.
func FuzzDecodeOverview(f *testing.F) {
	for _, seed := range []string{
		`{"@odata.context":"https://graph.microsoft.com/beta/$metadata#x","id":"abc","pendingCount":1,"notApplicableCount":2,"successCount":3,"errorCount":4,"failedCount":5,"lastUpdateDateTime":"2026-11-28T10:00:00Z","configurationVersion":6,"conflictCount":7}`,
		`{"id":"String (identifier)","pendingCount":"Integer","lastUpdateDateTime":"String (timestamp)"}`,
		`{"successCount":2147483647,"errorCount":-2147483648}`,
		`{"successCount":2147483648}`,
		`{"lastUpdateDateTime":"2026-11-28T11:00:00.123456789+01:00"}`,
		`{"id":null,"conflictCount":null}`,
		"\xef\xbb\xbf{}",
		`{"a":{"b":[{"c":"d"}]},"id":"x"}`,
		`{"id":"\u0000\ud800"}`,
		`{`, `null`, `[]`, ``, `<html>`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		o, err := decodeOverview(body)
		if err != nil {
			if !errors.Is(err, errMalformedBody) {
				t.Fatalf("error %v does not wrap errMalformedBody", err)
			}
			return
		}
		again, err := json.Marshal(o)
		if err != nil {
			return // a time outside years 0-9999 decodes but does not encode
		}
		o2, err := decodeOverview(again)
		if err != nil {
			t.Fatalf("re-decoding %s: %v", again, err)
		}
		if diff := cmp.Diff(o, o2); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
	})
}
