// Package v1alpha1 holds the intune.overview-operator.io/v1alpha1 API: the
// DeviceConfigurationUserOverview resource that declares the desired state of Intune's
// deviceConfigurationUserOverview, and the GraphConnection and ClusterGraphConnection resources that
// say how to reach Microsoft Graph for a tenant.
//
// +kubebuilder:object:generate=true
// +groupName=intune.overview-operator.io
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of every kind in this package.
	GroupVersion = schema.GroupVersion{Group: "intune.overview-operator.io", Version: "v1alpha1"}

	// SchemeBuilder registers the kinds of this package with a runtime.Scheme. It depends on
	// apimachinery alone, so that importing the API does not pull in controller-runtime.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the kinds of this package to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// knownTypes are the kinds of this package; each types file adds its own in init.
var knownTypes []runtime.Object

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, knownTypes...)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
