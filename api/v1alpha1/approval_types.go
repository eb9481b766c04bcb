package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ApprovalRequest is a PATCH that Intune's Multi Admin Approval holds: Graph refused it and created
// an approval request, which an approver decides in the Intune admin center (Tenant administration
// > Multi Admin Approval > Received requests). The operator reads the request's status and, once
// it is approved, sends the same PATCH again with the request's code, if the spec is still of the
// generation it was made for.
type ApprovalRequest struct {
	// code is the approval request's id, Graph's x-msft-approval-code: what the Intune admin center
	// lists it by.
	// +kubebuilder:validation:MaxLength=128
	Code string `json:"code"`
	// requestedAt is when Graph refused the PATCH and created the request.
	RequestedAt metav1.Time `json:"requestedAt"`
	// generation is the metadata.generation of the spec the PATCH was made for: a newer spec needs a
	// new request.
	Generation int64 `json:"generation"`
	// connectionGeneration is the metadata.generation of the connection the PATCH was sent through:
	// after a change of the connection, a rejected request is asked for again.
	// +optional
	ConnectionGeneration int64 `json:"connectionGeneration,omitempty"`
	// fields are the values the PATCH carried, which the resubmission carries again.
	Fields OverviewFields `json:"fields"`
	// status is the request's status as Graph last gave it: needsApproval, approved, rejected,
	// cancelled, completed, expired or unknown.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Status string `json:"status,omitempty"`
}
