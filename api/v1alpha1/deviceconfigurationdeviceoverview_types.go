package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DeviceConfigurationDeviceOverview keeps Microsoft Intune's deviceConfigurationDeviceOverview of
// one device configuration (Graph: /deviceManagement/deviceConfigurations/{id}/deviceStatusOverview)
// in the state declared in spec.overview, and reports what Graph holds in status. Its counts are of
// devices; its spec and status are those of DeviceConfigurationUserOverview.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=dcdo,categories=intune
// +kubebuilder:printcolumn:name="Configuration",type=string,JSONPath=`.spec.deviceConfigurationId`
// +kubebuilder:printcolumn:name="Policy",type=string,JSONPath=`.spec.managementPolicy`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Synced",type=string,JSONPath=`.status.conditions[?(@.type=="Synced")].status`
// +kubebuilder:printcolumn:name="Drift",type=integer,JSONPath=`.status.driftCount`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type DeviceConfigurationDeviceOverview struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired state.
	// +required
	Spec OverviewSpec `json:"spec"`
	// status is what the operator last observed; it writes nothing else.
	// +optional
	// +kubebuilder:default={observedGeneration: 0, driftCount: 0}
	Status OverviewStatus `json:"status,omitempty"`
}

// DeviceConfigurationDeviceOverviewList is a list of DeviceConfigurationDeviceOverview.
// +kubebuilder:object:root=true
type DeviceConfigurationDeviceOverviewList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []DeviceConfigurationDeviceOverview `json:"items"`
}

// OverviewSpec implements Overview.
func (o *DeviceConfigurationDeviceOverview) OverviewSpec() *OverviewSpec { return &o.Spec }

// OverviewStatus implements Overview.
func (o *DeviceConfigurationDeviceOverview) OverviewStatus() *OverviewStatus { return &o.Status }

func init() {
	knownTypes = append(knownTypes, &DeviceConfigurationDeviceOverview{}, &DeviceConfigurationDeviceOverviewList{})
}
