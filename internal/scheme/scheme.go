// Package scheme builds the runtime.Scheme of the kinds overview-operator reads and writes: the
// built-in ones (Secrets, Namespaces, Events, Leases) and its own. The manager, the kubectl plugin,
// the local environment and the tests all take theirs from here, so that none of them can miss a
// kind the others know.
package scheme

import (
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
)

// New returns a new scheme with the built-in kinds and the operator's. Registering them fails only
// when two registrations conflict, a mistake in the code: New panics then.
func New() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(intunev1alpha1.AddToScheme(s))
	return s
}
