package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DeviceConfigurationUserOverview keeps Microsoft Intune's deviceConfigurationUserOverview of one
// device configuration (Graph: /deviceManagement/deviceConfigurations/{id}/userStatusOverview) in
// the state declared in spec.overview, and reports what Graph holds in status.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=dcuo,categories=intune
// +kubebuilder:printcolumn:name="Configuration",type=string,JSONPath=`.spec.deviceConfigurationId`
// +kubebuilder:printcolumn:name="Policy",type=string,JSONPath=`.spec.managementPolicy`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Synced",type=string,JSONPath=`.status.conditions[?(@.type=="Synced")].status`
// +kubebuilder:printcolumn:name="Drift",type=integer,JSONPath=`.status.driftCount`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type DeviceConfigurationUserOverview struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired state.
	// +required
	// +kubebuilder:validation:XValidation:rule="!has(self.overview) || !has(self.overview.notApplicablePlatformCount)",message="notApplicablePlatformCount is a property of Graph's deviceConfigurationDeviceOverview only (devices whose platform the configuration is not for); a deviceConfigurationUserOverview counts users and has no such property: remove it, or declare it on a DeviceConfigurationDeviceOverview",fieldPath=".overview.notApplicablePlatformCount",reason=FieldValueForbidden
	Spec OverviewSpec `json:"spec"`
	// status is what the operator last observed; it writes nothing else.
	// +optional
	// +kubebuilder:default={observedGeneration: 0, driftCount: 0}
	Status OverviewStatus `json:"status,omitempty"`
}

// DeviceConfigurationUserOverviewList is a list of DeviceConfigurationUserOverview.
// +kubebuilder:object:root=true
type DeviceConfigurationUserOverviewList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []DeviceConfigurationUserOverview `json:"items"`
}

// OverviewSpec implements Overview.
func (o *DeviceConfigurationUserOverview) OverviewSpec() *OverviewSpec { return &o.Spec }

// OverviewStatus implements Overview.
func (o *DeviceConfigurationUserOverview) OverviewStatus() *OverviewStatus { return &o.Status }

func init() {
	knownTypes = append(knownTypes, &DeviceConfigurationUserOverview{}, &DeviceConfigurationUserOverviewList{})
}
