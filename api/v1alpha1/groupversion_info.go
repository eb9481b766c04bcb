// Package v1alpha1 holds the intune.overview-operator.io/v1alpha1 API: the
// DeviceConfigurationUserOverview resource that declares the desired state of Intune's
// deviceConfigurationUserOverview, and the GraphConnection and ClusterGraphConnection resources that
// say how to reach Microsoft Graph for a tenant.
//
// +kubebuilder:object:generate=true
// +groupName=intune.overview-operator.io
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of every kind in this package.
	GroupVersion = schema.GroupVersion{Group: "intune.overview-operator.io", Version: "v1alpha1"}

	// SchemeBuilder registers the kinds of this package with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the kinds of this package to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
