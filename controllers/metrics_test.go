package controllers

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/overview-operator/overview-operator/internal/metricstest"
)

func TestConditionTracker(t *testing.T) {
	ready := func(status metav1.ConditionStatus, reason string) []metav1.Condition {
		return []metav1.Condition{{Type: "Synced", Status: metav1.ConditionTrue, Reason: "Other"},
			{Type: "Ready", Status: status, Reason: reason}}
	}
	type step struct {
		key    string
		conds  []metav1.Condition // nil with forget
		forget bool
	}
	cases := map[string]struct {
		steps []step
		want  map[string]float64 // "ready/reason" -> value, of the series not at 0
	}{
		"one object counts once however often it is observed": {
			steps: []step{{key: "a", conds: ready("True", "CredentialsValid")}, {key: "a", conds: ready("True", "CredentialsValid")}},
			want:  map[string]float64{"True/CredentialsValid": 1},
		},
		"a change of reason moves the object": {
			steps: []step{{key: "a", conds: ready("True", "CredentialsValid")}, {key: "a", conds: ready("False", "InvalidCredentials")}},
			want:  map[string]float64{"False/InvalidCredentials": 1},
		},
		"no Ready condition counts as Unknown, Progressing": {
			steps: []step{{key: "a", conds: []metav1.Condition{{Type: "Synced", Status: metav1.ConditionFalse, Reason: "X"}}}},
			want:  map[string]float64{"Unknown/Progressing": 1},
		},
		"objects count apart": {
			steps: []step{{key: "a", conds: ready("False", "SecretNotFound")}, {key: "b", conds: ready("False", "SecretNotFound")},
				{key: "c", conds: ready("True", "CredentialsValid")}},
			want: map[string]float64{"False/SecretNotFound": 2, "True/CredentialsValid": 1},
		},
		"a deleted object no longer counts": {
			steps: []step{{key: "a", conds: ready("False", "SecretNotFound")}, {key: "b", conds: ready("False", "SecretNotFound")},
				{key: "a", forget: true}},
			want: map[string]float64{"False/SecretNotFound": 1},
		},
		"objects moving between states they share count where they are": {
			steps: []step{{key: "a", conds: ready("True", "CredentialsValid")}, {key: "b", conds: ready("True", "CredentialsValid")},
				{key: "a", conds: ready("False", "SecretNotFound")}, {key: "b", conds: ready("False", "SecretNotFound")},
				{key: "a", conds: ready("True", "CredentialsValid")}},
			want: map[string]float64{"True/CredentialsValid": 1, "False/SecretNotFound": 1},
		},
		"forgetting an object never observed changes nothing": {
			steps: []step{{key: "a", conds: ready("True", "CredentialsValid")}, {key: "z", forget: true}},
			want:  map[string]float64{"True/CredentialsValid": 1},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			gauge := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "test_connections", Help: "A test gauge."}, []string{"kind", "ready", "reason"})
			tracker := newConditionTracker[string](gauge)
			for _, s := range tc.steps {
				if s.forget {
					tracker.forget(s.key)
				} else {
					tracker.observe(s.key, s.conds, "GraphConnection")
				}
			}
			reg := prometheus.NewPedanticRegistry()
			reg.MustRegister(gauge)
			families, err := metricstest.Gather(reg)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]float64{}
			for _, s := range families.Series("test_connections") {
				if s.Value != 0 {
					got[s.Labels["ready"]+"/"+s.Labels["reason"]] = s.Value
				}
				if s.Labels["kind"] != "GraphConnection" {
					t.Errorf("a series without the leading kind label: %v", s.Labels)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("series at a non-zero value (-want +got):\n%s", diff)
			}
		})
	}
}
