package v1alpha1

// The condition a connection that sets auditLookup carries, and its reasons (the others are in
// conditions.go). A False AuditLogReadable never fails a sync: drift is reported without who
// changed it.
const (
	// ConditionAuditLogReadable says whether Graph lets the connection's app read Intune's audit log
	// (GET /deviceManagement/auditEvents), which auditLookup needs: True once a look-up read it,
	// False with reason Forbidden while Graph refuses it (the message names the permission to grant),
	// absent while the connection does not set auditLookup or before its first look-up.
	ConditionAuditLogReadable = "AuditLogReadable"
	// ReasonAuditLogRead: AuditLogReadable, the audit log was read.
	ReasonAuditLogRead = "AuditLogRead"
	// PermissionAuditLog is the application permission the audit log needs, the least privileged
	// that Graph's "List auditEvents" names (on v1.0 and beta alike).
	PermissionAuditLog = "DeviceManagementApps.Read.All"
)
