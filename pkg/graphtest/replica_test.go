package graphtest_test

import (
	"testing"

	"github.com/overview-operator/overview-operator/internal/graph"
	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

// TestHeaderReplicaIsTheOperators checks that the emulator logs the header the operator's
// replicas name themselves in.
func TestHeaderReplicaIsTheOperators(t *testing.T) {
	if graphtest.HeaderReplica != graph.HeaderReplica {
		t.Errorf("graphtest.HeaderReplica = %q, the operator sends %q", graphtest.HeaderReplica, graph.HeaderReplica)
	}
}
