package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// ManagementPolicy says whether the operator may change Graph or only watch it.
// +kubebuilder:validation:Enum=Manage;ObserveOnly
type ManagementPolicy string

const (
	// ManagementPolicyManage PATCHes Graph whenever a managed field differs from the spec.
	ManagementPolicyManage ManagementPolicy = "Manage"
	// ManagementPolicyObserveOnly never PATCHes; differences are reported in status.drift.
	ManagementPolicyObserveOnly ManagementPolicy = "ObserveOnly"
)

// Annotations a person or a pipeline can set on a DeviceConfigurationUserOverview or a
// DeviceConfigurationDeviceOverview.
const (
	// AnnotationPaused set to "true" stops every Graph call for the resource until it is removed.
	AnnotationPaused = "intune.overview-operator.io/paused"
	// AnnotationReconcileRequestedAt set to any new value forces a sync now; the value is echoed in
	// status.lastHandledReconcileAt once served.
	AnnotationReconcileRequestedAt = "intune.overview-operator.io/reconcile-requested-at"
)

// OverviewSpec declares the desired state of one status overview of a device configuration: its
// deviceConfigurationUserOverview (kind DeviceConfigurationUserOverview) or its
// deviceConfigurationDeviceOverview (kind DeviceConfigurationDeviceOverview). Both kinds declare
// the same properties, but for notApplicablePlatformCount, which only devices have.
type OverviewSpec struct {
	// deviceConfigurationId is the id (a GUID) of the Intune device configuration whose status
	// overview (of users or of devices, by the kind) this resource manages. It cannot be changed:
	// create another resource instead.
	// +required
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$')",message="deviceConfigurationId must be a GUID, 36 characters without braces or spaces, such as 6d6c3b5e-0f9a-4c1e-9d7e-2f1f3a4b5c6d"
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="deviceConfigurationId is immutable; create a new resource for another device configuration"
	DeviceConfigurationID string `json:"deviceConfigurationId"`

	// connectionRef names the GraphConnection (in this namespace) or ClusterGraphConnection (one that
	// admits this namespace) used to reach Microsoft Graph. It cannot be changed.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="connectionRef is immutable; create a new resource to use another connection"
	ConnectionRef ConnectionReference `json:"connectionRef"`

	// managementPolicy is Manage (the default: PATCH Graph whenever a managed field differs) or
	// ObserveOnly (never PATCH; report the differences in status.drift).
	// +optional
	// +kubebuilder:default=Manage
	ManagementPolicy ManagementPolicy `json:"managementPolicy,omitempty"`

	// syncInterval is how often Graph is read to detect drift, as a duration such as "10m" or
	// "1h30m" (units h, m, s, ms, us and ns), at least 30s and at most 24h. When unset, the
	// operator's --sync-interval (default 10m) applies.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]{1,5}([.][0-9]+)?h|[0-9]{1,7}([.][0-9]+)?m|[0-9]{1,9}([.][0-9]+)?s|[0-9]{1,12}([.][0-9]+)?ms|[0-9]{1,15}([.][0-9]+)?(us|µs|μs)|[0-9]{1,18}([.][0-9]+)?ns)+$') && duration(self) >= duration('30s') && duration(self) <= duration('24h')",message="syncInterval must be a duration such as 10m or 1h30m, between 30s and 24h"
	SyncInterval *metav1.Duration `json:"syncInterval,omitempty"`

	// overview holds the desired values. Only the fields set here are managed; the others are left as
	// Graph has them and are only reported in status.observed. conflictCount and
	// notApplicablePlatformCount are beta only: they need a connection with apiVersion: beta.
	// +optional
	Overview OverviewFields `json:"overview,omitempty"`
}

// ConnectionKind is the kind of connection a resource refers to.
// +kubebuilder:validation:Enum=GraphConnection;ClusterGraphConnection
type ConnectionKind string

const (
	// ConnectionKindNamespaced refers to a GraphConnection in the resource's own namespace.
	ConnectionKindNamespaced ConnectionKind = "GraphConnection"
	// ConnectionKindCluster refers to a ClusterGraphConnection.
	ConnectionKindCluster ConnectionKind = "ClusterGraphConnection"
)

// ConnectionReference names a GraphConnection or a ClusterGraphConnection.
type ConnectionReference struct {
	// kind is GraphConnection (the default; it must be in the same namespace as the resource) or
	// ClusterGraphConnection (its allowedNamespaces must admit the resource's namespace).
	// +optional
	// +kubebuilder:default=GraphConnection
	Kind ConnectionKind `json:"kind,omitempty"`

	// name is the connection's metadata.name, a DNS subdomain such as contoso.
	// +required
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="connectionRef.name must be the name of a connection (a DNS subdomain: lower-case letters, digits, '-' and '.', starting and ending with a letter or digit) such as contoso"
	Name string `json:"name"`
}

// OverviewFields are the properties of a status overview that can be declared, the same for users
// and devices but for notApplicablePlatformCount, which only devices have. Each unset field is left
// alone. conflictCount and notApplicablePlatformCount are Graph's beta API's alone: only a resource
// whose connection has apiVersion beta may declare them.
type OverviewFields struct {
	// pendingCount is the number of users (or devices) whose status is pending. 0 to 2147483647.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=2147483647
	PendingCount *int32 `json:"pendingCount,omitempty"`

	// notApplicableCount is the number of users (or devices) the configuration does not apply to. 0 to 2147483647.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=2147483647
	NotApplicableCount *int32 `json:"notApplicableCount,omitempty"`

	// successCount is the number of users (or devices) with the configuration applied successfully. 0 to 2147483647.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=2147483647
	SuccessCount *int32 `json:"successCount,omitempty"`

	// errorCount is the number of users (or devices) whose status is error. 0 to 2147483647.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=2147483647
	ErrorCount *int32 `json:"errorCount,omitempty"`

	// failedCount is the number of users (or devices) whose status is failed. 0 to 2147483647.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=2147483647
	FailedCount *int32 `json:"failedCount,omitempty"`

	// conflictCount is the number of users (or devices) in conflict. 0 to 2147483647.
	// Beta only: Graph has it on its beta API alone, so the resource's connection must have
	// apiVersion: beta; through a v1.0 connection the resource says InvalidSpec and Graph is not
	// called. Microsoft supports Intune's beta API, but changes it more often than v1.0.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=2147483647
	ConflictCount *int32 `json:"conflictCount,omitempty"`

	// notApplicablePlatformCount is the number of devices the configuration does not apply to
	// because their platform does not match it. 0 to 2147483647. DeviceConfigurationDeviceOverview
	// only (the API server refuses it on a DeviceConfigurationUserOverview), and beta only: the
	// resource's connection must have apiVersion: beta; through a v1.0 connection the resource says
	// InvalidSpec and Graph is not called. Microsoft supports Intune's beta API, but changes it more
	// often than v1.0.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=2147483647
	NotApplicablePlatformCount *int32 `json:"notApplicablePlatformCount,omitempty"`

	// configurationVersion is the version of the device configuration the counts refer to.
	// 0 to 2147483647.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=2147483647
	ConfigurationVersion *int32 `json:"configurationVersion,omitempty"`

	// lastUpdateDateTime is the time of the last update, as an RFC 3339 date-time such as
	// "2026-11-28T10:00:00Z" or "2026-11-28T11:00:00.5+01:00": a date that exists, hours 00 to 23,
	// seconds 00 to 59, an optional fraction of at most 7 digits (Graph keeps 100 ns), and Z or
	// an offset within -23:59 to +23:59 ("t" and "z" may be lower-case), from 0001-01-01T00:00:00Z
	// to 9999-12-31T23:59:59.9999999Z in UTC. It is compared with Graph's value as an instant, so
	// another offset or number of trailing zeros for the same instant is not drift.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]{4}-((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)|02-(0[1-9]|1[0-9]|2[0-8]))|([0-9]{2}(0[48]|[2468][048]|[13579][26])|([02468][048]|[13579][26])00)-02-29)[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]([.][0-9]{1,7})?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$') && (!self.startsWith('0001-01-01') || timestamp('0002' + self.substring(4).upperAscii()) >= timestamp('0002-01-01T00:00:00Z')) && (!self.startsWith('9999-12-31') || timestamp('9998' + self.substring(4).upperAscii()) < timestamp('9999-01-01T00:00:00Z'))",message="lastUpdateDateTime must be an RFC 3339 date-time such as 2026-03-01T08:00:00Z or 2026-03-01T09:00:00.5+01:00 (a real date, hours 00-23, at most 7 fractional digits, an offset within -23:59 to +23:59, from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.9999999Z in UTC)"
	LastUpdateDateTime *string `json:"lastUpdateDateTime,omitempty"`
}

// ObservedOverview is a status overview as Graph last returned it.
type ObservedOverview struct {
	// id is the entity's id in Graph.
	// +optional
	ID string `json:"id,omitempty"`
	// pendingCount as Graph returned it.
	PendingCount int32 `json:"pendingCount"`
	// notApplicableCount as Graph returned it.
	NotApplicableCount int32 `json:"notApplicableCount"`
	// successCount as Graph returned it.
	SuccessCount int32 `json:"successCount"`
	// errorCount as Graph returned it.
	ErrorCount int32 `json:"errorCount"`
	// failedCount as Graph returned it.
	FailedCount int32 `json:"failedCount"`
	// conflictCount as Graph returned it; only the beta API has it.
	// +optional
	ConflictCount *int32 `json:"conflictCount,omitempty"`
	// notApplicablePlatformCount as Graph returned it; only the beta API's
	// deviceConfigurationDeviceOverview has it.
	// +optional
	NotApplicablePlatformCount *int32 `json:"notApplicablePlatformCount,omitempty"`
	// configurationVersion as Graph returned it.
	ConfigurationVersion int32 `json:"configurationVersion"`
	// lastUpdateDateTime as Graph returned it (RFC 3339).
	// +optional
	LastUpdateDateTime string `json:"lastUpdateDateTime,omitempty"`
}

// FieldDrift is one managed field whose value in Graph differed from the spec.
type FieldDrift struct {
	// field is the property's name, as in spec.overview.
	Field string `json:"field"`
	// desired is the value in spec.overview.
	Desired string `json:"desired"`
	// observed is the value Graph returned.
	Observed string `json:"observed"`
	// changedBy is who set the observed value in Graph, as Intune's audit log names them when the
	// connection sets auditLookup: a person's user principal name (such as alice@contoso.com), or
	// an app as "app <name> (<application id>)". Empty until the log has been read, when the
	// connection does not look it up, or when the log names no change of this configuration since
	// the last sync.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	ChangedBy string `json:"changedBy,omitempty"`
	// changedAt is when the change that changedBy made was performed, by the audit log: of the
	// events that match, the newest before the drift was seen.
	// +optional
	ChangedAt *metav1.Time `json:"changedAt,omitempty"`
}

// OverviewStatus is what the operator last saw in Graph and did about it, for either kind.
type OverviewStatus struct {
	// observedGeneration is the metadata.generation of the spec that the last successful sync served.
	// It starts at 0, so that kstatus (Flux) and the Argo CD health check see a new resource as
	// InProgress (Progressing) until synced.
	// +optional
	// +kubebuilder:default=0
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready summarises whether Graph matches the spec (for kubectl wait, kstatus, Argo CD
	// and Flux health checks); Synced says how the last attempt to reach Graph went. The reason of a
	// False condition says what to fix.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`

	// observed is the entity as Graph last returned it: its id and every property.
	// +optional
	Observed *ObservedOverview `json:"observed,omitempty"`

	// drift lists the managed fields that differ from Graph: under ObserveOnly, what was observed;
	// under Manage, what a PATCH did not fix (normally nothing).
	// +optional
	// +listType=map
	// +listMapKey=field
	Drift []FieldDrift `json:"drift,omitempty"`

	// driftCount is the number of entries in drift, for the DRIFT column of kubectl get: 0 when
	// there is none (and before the first sync), never blank.
	// +optional
	// +kubebuilder:default=0
	DriftCount int32 `json:"driftCount"`

	// lastSyncTime is when Graph was last read and the result written here. When nothing changes it
	// is refreshed at most once an hour, so that a steady resource costs no writes.
	// +optional
	LastSyncTime *metav1.Time `json:"lastSyncTime,omitempty"`

	// lastAppliedTime is when Graph last accepted a PATCH from the operator.
	// +optional
	LastAppliedTime *metav1.Time `json:"lastAppliedTime,omitempty"`

	// approvalRequest is the PATCH that Intune's Multi Admin Approval holds for an approver, while
	// it does (Ready=False, reason ApprovalPending, or ApprovalRejected once rejected).
	// +optional
	ApprovalRequest *ApprovalRequest `json:"approvalRequest,omitempty"`

	// lastRequestID is Graph's request-id of the last call written to status, which Microsoft support
	// asks for. Like lastSyncTime, it alone does not cause a status write.
	// +optional
	LastRequestID string `json:"lastRequestID,omitempty"`

	// lastHandledReconcileAt is the value of the intune.overview-operator.io/reconcile-requested-at
	// annotation that the last sync served.
	// +optional
	LastHandledReconcileAt string `json:"lastHandledReconcileAt,omitempty"`
}

// DeviceConfigurationUserOverviewSpec is the spec of a DeviceConfigurationUserOverview.
//
// Deprecated: use OverviewSpec, which both kinds share.
type DeviceConfigurationUserOverviewSpec = OverviewSpec

// DeviceConfigurationUserOverviewStatus is the status of a DeviceConfigurationUserOverview.
//
// Deprecated: use OverviewStatus, which both kinds share.
type DeviceConfigurationUserOverviewStatus = OverviewStatus

// Overview is what the operator needs of a resource of either kind: the object, its spec and its
// status, which the kinds share.
// +kubebuilder:object:generate=false
type Overview interface {
	metav1.Object
	runtime.Object
	// OverviewSpec returns the resource's spec, to read.
	OverviewSpec() *OverviewSpec
	// OverviewStatus returns the resource's status, to read or change.
	OverviewStatus() *OverviewStatus
}
