package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Cloud is a Microsoft cloud: it decides the Graph endpoint, the login host and the token scope.
// +kubebuilder:validation:Enum=Public;USGovernment;USGovernmentDoD;China
type Cloud string

const (
	// CloudPublic is the global cloud (graph.microsoft.com), GCC included.
	CloudPublic Cloud = "Public"
	// CloudUSGovernment is US Government L4, GCC High (graph.microsoft.us).
	CloudUSGovernment Cloud = "USGovernment"
	// CloudUSGovernmentDoD is US Government L5, DoD (dod-graph.microsoft.us).
	CloudUSGovernmentDoD Cloud = "USGovernmentDoD"
	// CloudChina is the cloud operated by 21Vianet (microsoftgraph.chinacloudapi.cn).
	CloudChina Cloud = "China"
)

// APIVersion is a Graph API version.
// +kubebuilder:validation:Enum=v1.0;beta
type APIVersion string

const (
	// APIVersionV1 is Graph's stable v1.0 API.
	APIVersionV1 APIVersion = "v1.0"
	// APIVersionBeta is Graph's beta API; it adds conflictCount (and notApplicablePlatformCount to
	// the device overview), which resources may then declare and observe.
	APIVersionBeta APIVersion = "beta"
)

// CredentialSource is how the operator proves the app's identity to Entra ID.
// +kubebuilder:validation:Enum=ClientSecret;ClientCertificate;WorkloadIdentity
type CredentialSource string

const (
	// CredentialSourceClientSecret uses a client secret read from a Secret.
	CredentialSourceClientSecret CredentialSource = "ClientSecret"
	// CredentialSourceClientCertificate uses a certificate and its private key read from a Secret.
	CredentialSourceClientCertificate CredentialSource = "ClientCertificate"
	// CredentialSourceWorkloadIdentity uses the operator pod's federated service account token
	// (Azure workload identity). Allowed on ClusterGraphConnection only.
	CredentialSourceWorkloadIdentity CredentialSource = "WorkloadIdentity"
)

// ConnectionSpec is what GraphConnection and ClusterGraphConnection have in common: which tenant and
// app to act as, in which cloud, and with which credentials.
type ConnectionSpec struct {
	// tenantID is the Entra ID tenant (directory) id, a GUID.
	// +required
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$')",message="tenantID must be a GUID, 36 characters without braces or spaces, such as 72f988bf-86f1-41af-91ab-2d7cd011db47"
	TenantID string `json:"tenantID"`

	// clientID is the application (client) id of the app registration, a GUID. The app needs the
	// application permission DeviceManagementConfiguration.ReadWrite.All (Read.All for ObserveOnly).
	// +required
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$')",message="clientID must be a GUID, 36 characters without braces or spaces, such as 0b9c1d2e-3f4a-5b6c-7d8e-9f0a1b2c3d4e"
	ClientID string `json:"clientID"`

	// cloud is the Microsoft cloud of the tenant: Public (the default, GCC included), USGovernment
	// (GCC High), USGovernmentDoD or China. It sets the Graph endpoint, the login host and the scope.
	// +optional
	// +kubebuilder:default=Public
	Cloud Cloud `json:"cloud,omitempty"`

	// apiVersion is the Graph API version: v1.0 (the default) or beta. Through beta, the resources
	// that use the connection may declare (and observe) conflictCount and the device overview's
	// notApplicablePlatformCount; through v1.0, a resource that declares one says InvalidSpec.
	// Microsoft supports Intune's beta API, but changes it more often than v1.0.
	// +optional
	// +kubebuilder:default="v1.0"
	APIVersion APIVersion `json:"apiVersion,omitempty"`

	// endpoint overrides the cloud's Graph endpoint, e.g. for a proxy or an emulator: an https URL
	// with a host and no user information, query or fragment, such as https://graph.example.net. A
	// path is kept as a prefix.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() == 'https' && url(self).getHostname() != '' && !self.matches('^[^/]*//[^/]*@') && !self.contains('?') && !self.contains('#')",message="endpoint must be an https URL with a host and no user information, query or fragment, such as https://graph.example.net"
	Endpoint string `json:"endpoint,omitempty"`

	// authorityHost overrides the cloud's login host (Entra ID): an https URL with a host and no
	// user information, query or fragment, such as https://login.microsoftonline.com. Instance
	// discovery is turned off when set.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() == 'https' && url(self).getHostname() != '' && !self.matches('^[^/]*//[^/]*@') && !self.contains('?') && !self.contains('#')",message="authorityHost must be an https URL with a host and no user information, query or fragment, such as https://login.microsoftonline.com"
	AuthorityHost string `json:"authorityHost,omitempty"`

	// auditLookup, when true, names who changed a managed field in Graph when a resync finds
	// drift (Graph no longer holds what the operator last saw there): the operator reads Intune's
	// audit log (GET /deviceManagement/auditEvents, filtered by the time since the resource's last
	// sync, matched to its configuration), at low priority within the tenant's read budget, and
	// puts the person's user principal name (or the app) and the time in the DriftDetected event
	// and in status.drift[].changedBy and changedAt. The sync never waits for it. The app then
	// needs the application permission DeviceManagementApps.Read.All, which the operator needs for
	// nothing else; while Graph refuses it, the connection's AuditLogReadable condition says so,
	// drift is reported without who changed it, and the log is asked again only after a backoff.
	// Default false.
	// +optional
	AuditLookup bool `json:"auditLookup,omitempty"`

	// caBundle is PEM-encoded CA certificates trusted in addition to the system's for Graph and the
	// login host: for TLS-inspecting proxies and for the emulator.
	// +optional
	// +kubebuilder:validation:MaxLength=65536
	// +kubebuilder:validation:XValidation:rule="self.contains('-----BEGIN CERTIFICATE-----')",message="caBundle must hold PEM-encoded certificates"
	CABundle string `json:"caBundle,omitempty"`

	// credentials say how the operator signs in as the app.
	// +required
	Credentials Credentials `json:"credentials"`

	// approvalJustification is the business justification the operator gives Intune's Multi Admin
	// Approval for its writes, as plain text (the operator Base64-encodes it into Graph's
	// x-msft-approval-justification header of every PATCH; Graph ignores it where no access policy
	// applies). When an access policy protects a device configuration, a PATCH with it creates an
	// approval request: the resource says ApprovalPending with the request's code, the operator
	// follows the request and sends the PATCH again once an approver approves it in the Intune
	// admin center (ApprovalRejected if one rejects it). Without it, such a PATCH fails with
	// ApprovalRequired. At most 1024 characters (Intune's limit), without control characters.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="!self.matches('[\\x00-\\x1f\\x7f-\\x9f]')",message="approvalJustification must be plain text on one line, without control characters (tabs, line breaks) such as: Managed by overview-operator from git.example.com/intune"
	ApprovalJustification string `json:"approvalJustification,omitempty"`
}

// Credentials say how the operator signs in as the app. Each source requires its own field and
// forbids the others.
// +kubebuilder:validation:XValidation:rule="self.source != 'ClientSecret' || has(self.clientSecret)",message="source ClientSecret requires clientSecret"
// +kubebuilder:validation:XValidation:rule="self.source == 'ClientSecret' || !has(self.clientSecret)",message="clientSecret is allowed only with source ClientSecret"
// +kubebuilder:validation:XValidation:rule="self.source != 'ClientCertificate' || has(self.clientCertificate)",message="source ClientCertificate requires clientCertificate"
// +kubebuilder:validation:XValidation:rule="self.source == 'ClientCertificate' || !has(self.clientCertificate)",message="clientCertificate is allowed only with source ClientCertificate"
type Credentials struct {
	// source is ClientSecret, ClientCertificate or WorkloadIdentity (ClusterGraphConnection only:
	// the operator pod's federated service account token).
	// +required
	Source CredentialSource `json:"source"`

	// clientSecret names the Secret key that holds the client secret. Required with source
	// ClientSecret.
	// +optional
	ClientSecret *SecretKeyReference `json:"clientSecret,omitempty"`

	// clientCertificate names the Secret that holds the certificate and its private key. Required
	// with source ClientCertificate.
	// +optional
	ClientCertificate *CertificateReference `json:"clientCertificate,omitempty"`
}

// SecretKeyReference names one key of a Secret. A GraphConnection reads Secrets of its own namespace;
// a ClusterGraphConnection reads them from its secretNamespace.
type SecretKeyReference struct {
	// name is the Secret's name, a DNS subdomain such as contoso-graph.
	// +required
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="clientSecret.name must be a Secret name (a DNS subdomain: lower-case letters, digits, '-' and '.', starting and ending with a letter or digit) such as contoso-graph"
	Name string `json:"name"`

	// key is the key in the Secret's data: letters, digits, '-', '_' and '.'; default "clientSecret".
	// +optional
	// +kubebuilder:default=clientSecret
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[-._a-zA-Z0-9]+$')",message="clientSecret.key must be a Secret data key (letters, digits, '-', '_' and '.') such as clientSecret"
	Key string `json:"key,omitempty"`
}

// CertificateReference names a Secret holding a PEM certificate and its private key, such as a
// kubernetes.io/tls Secret made by cert-manager.
type CertificateReference struct {
	// name is the Secret's name, a DNS subdomain such as contoso-graph-cert.
	// +required
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="clientCertificate.name must be a Secret name (a DNS subdomain: lower-case letters, digits, '-' and '.', starting and ending with a letter or digit) such as contoso-graph-cert"
	Name string `json:"name"`

	// certificateKey is the key holding the PEM certificate: letters, digits, '-', '_' and '.';
	// default "tls.crt".
	// +optional
	// +kubebuilder:default="tls.crt"
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[-._a-zA-Z0-9]+$')",message="clientCertificate.certificateKey must be a Secret data key (letters, digits, '-', '_' and '.') such as tls.crt"
	CertificateKey string `json:"certificateKey,omitempty"`

	// privateKeyKey is the key holding the PEM private key: letters, digits, '-', '_' and '.';
	// default "tls.key".
	// +optional
	// +kubebuilder:default="tls.key"
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[-._a-zA-Z0-9]+$')",message="clientCertificate.privateKeyKey must be a Secret data key (letters, digits, '-', '_' and '.') such as tls.key"
	PrivateKeyKey string `json:"privateKeyKey,omitempty"`

	// passwordKey is the key holding the private key's password, if it is encrypted: letters,
	// digits, '-', '_' and '.'.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[-._a-zA-Z0-9]+$')",message="clientCertificate.passwordKey must be a Secret data key (letters, digits, '-', '_' and '.') such as password"
	PasswordKey string `json:"passwordKey,omitempty"`
}

// ConnectionStatus says whether the connection's credentials work.
type ConnectionStatus struct {
	// observedGeneration is the metadata.generation the conditions describe.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready is True when a token was obtained with the credentials; otherwise its reason
	// and message say what to fix.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`

	// lastCheckedTime is when the credentials were last tried.
	// +optional
	LastCheckedTime *metav1.Time `json:"lastCheckedTime,omitempty"`

	// pendingPatches are the PATCHes about to be sent, or sent, through this connection whose
	// resources' status does not show them yet: the operator writes each here before it sends it,
	// so that one a crash kept from the resource's status is found in Graph and recorded after a
	// restart. Written by the operator alone; empty while nothing is being written.
	// +optional
	// +listType=map
	// +listMapKey=uid
	// +kubebuilder:validation:MaxItems=1024
	PendingPatches []PendingPatch `json:"pendingPatches,omitempty"`
}

// PendingPatch is one PATCH of a resource's overview, written before it is sent.
type PendingPatch struct {
	// uid is the metadata.uid of the resource (a DeviceConfigurationUserOverview or a
	// DeviceConfigurationDeviceOverview) it is for.
	// +kubebuilder:validation:MaxLength=64
	UID string `json:"uid"`
	// fields are the values the PATCH sets.
	Fields OverviewFields `json:"fields"`
	// sentAt is when it was written here, just before it was sent.
	SentAt metav1.Time `json:"sentAt"`
}

// GraphConnectionSpec is a connection usable by resources of its own namespace.
// +kubebuilder:validation:XValidation:rule="self.credentials.source != 'WorkloadIdentity'",message="WorkloadIdentity is allowed only on a ClusterGraphConnection: on a namespaced GraphConnection it would let any namespace borrow the operator's identity"
type GraphConnectionSpec struct {
	ConnectionSpec `json:",inline"`
}

// GraphConnection says how resources of its namespace reach Microsoft Graph: tenant, app, cloud
// and credentials (read from Secrets of the same namespace).
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=intune
// +kubebuilder:printcolumn:name="Tenant",type=string,JSONPath=`.spec.tenantID`
// +kubebuilder:printcolumn:name="Cloud",type=string,JSONPath=`.spec.cloud`
// +kubebuilder:printcolumn:name="Credentials",type=string,JSONPath=`.spec.credentials.source`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type GraphConnection struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the connection's settings.
	// +required
	Spec GraphConnectionSpec `json:"spec"`
	// status says whether the credentials work.
	// +optional
	Status ConnectionStatus `json:"status,omitempty"`
}

// GraphConnectionList is a list of GraphConnection.
// +kubebuilder:object:root=true
type GraphConnectionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []GraphConnection `json:"items"`
}

// AllowedNamespaces says which namespaces may use a ClusterGraphConnection: a namespace is admitted
// when it is in names or matches selector. When both are empty, no namespace is admitted.
type AllowedNamespaces struct {
	// names lists namespaces by name. "*" is refused: selector {} admits every namespace.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=1024
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:XValidation:rule="self != '*'",message="allowedNamespaces.names does not take '*': to admit every namespace, set allowedNamespaces.selector: {}"
	// +kubebuilder:validation:items:XValidation:rule="self == '*' || self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="allowedNamespaces.names must hold namespace names (a DNS label: at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit) such as it-ops"
	Names []string `json:"names,omitempty"`

	// selector admits the namespaces whose labels match; {} admits every namespace.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
}

// ClusterGraphConnectionSpec is a connection shared by the namespaces it admits.
// +kubebuilder:validation:XValidation:rule="self.credentials.source == 'WorkloadIdentity' || (has(self.secretNamespace) && size(self.secretNamespace) > 0)",message="secretNamespace is required unless the source is WorkloadIdentity"
type ClusterGraphConnectionSpec struct {
	ConnectionSpec `json:",inline"`

	// secretNamespace is the namespace of the Secret named by credentials, a namespace name such as
	// it-ops. Required unless the source is WorkloadIdentity.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self == '' || self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="secretNamespace must be a namespace name (a DNS label: at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit) such as it-ops"
	SecretNamespace string `json:"secretNamespace,omitempty"`

	// allowedNamespaces says which namespaces' resources may use this connection. Unset admits none.
	// +optional
	AllowedNamespaces AllowedNamespaces `json:"allowedNamespaces,omitempty"`
}

// ClusterGraphConnection says how resources of the namespaces it admits reach Microsoft Graph. It is
// the only kind that may use WorkloadIdentity.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,categories=intune
// +kubebuilder:printcolumn:name="Tenant",type=string,JSONPath=`.spec.tenantID`
// +kubebuilder:printcolumn:name="Cloud",type=string,JSONPath=`.spec.cloud`
// +kubebuilder:printcolumn:name="Credentials",type=string,JSONPath=`.spec.credentials.source`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ClusterGraphConnection struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the connection's settings.
	// +required
	Spec ClusterGraphConnectionSpec `json:"spec"`
	// status says whether the credentials work.
	// +optional
	Status ConnectionStatus `json:"status,omitempty"`
}

// ClusterGraphConnectionList is a list of ClusterGraphConnection.
// +kubebuilder:object:root=true
type ClusterGraphConnectionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterGraphConnection `json:"items"`
}

func init() {
	knownTypes = append(knownTypes, &GraphConnection{}, &GraphConnectionList{},
		&ClusterGraphConnection{}, &ClusterGraphConnectionList{})
}
