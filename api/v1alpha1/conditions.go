package v1alpha1

// Condition types.
const (
	// ConditionReady is the summary: True when Graph holds what the spec declares (or, under
	// ObserveOnly, when Graph was observed), and for a connection, when its credentials work. It is
	// what `kubectl wait --for=condition=Ready` and kstatus read.
	ConditionReady = "Ready"
	// ConditionSynced says how the last attempt to reach Graph went.
	ConditionSynced = "Synced"
	// ConditionStalled is True, with the reason and what to fix, while a failure needs a person;
	// kstatus (Flux) then reports the resource as Failed instead of waiting for it, and the Argo CD
	// health check (config/argocd) as Degraded.
	ConditionStalled = "Stalled"
)

// Condition reasons, defined here and nowhere else: the controllers turn what the Graph client
// reports of a failure into one of them. A reason marked "needs a person" sets Stalled and is not
// retried until the resource, its connection or the connection's Secret changes; its message says
// what to fix.
const (
	// ReasonProgressing: the first sync of this generation has not finished yet.
	ReasonProgressing = "Progressing"
	// ReasonUpToDate: Graph holds every managed value.
	ReasonUpToDate = "UpToDate"
	// ReasonDriftDetected: ObserveOnly, and Graph differs from the spec (see status.drift).
	ReasonDriftDetected = "DriftDetected"
	// ReasonSucceeded: Synced, the last attempt reached Graph and read the device configuration.
	ReasonSucceeded = "Succeeded"
	// ReasonPaused: the paused annotation is set; no Graph call is made.
	ReasonPaused = "Paused"
	// ReasonNotPersisted: Graph accepted a PATCH but did not keep a value; retried with backoff.
	ReasonNotPersisted = "NotPersisted"
	// ReasonNotFound: Graph has no device configuration with that id; retried slowly.
	ReasonNotFound = "NotFound"
	// ReasonThrottled: Graph or the operator's own budget asked to wait; retried after Retry-After.
	ReasonThrottled = "Throttled"
	// ReasonGraphUnavailable: a 5xx, a timeout, a reset connection or an unreadable answer, from
	// Graph or the login endpoint; retried with backoff.
	ReasonGraphUnavailable = "GraphUnavailable"
	// ReasonBadRequest: Graph refused the request as malformed (needs a person).
	ReasonBadRequest = "BadRequest"
	// ReasonInvalidSpec: the spec holds a value the operator cannot use, one the API server
	// accepted under an older, looser CRD, so Graph is not written (needs a person).
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonForbidden: the app lacks the Graph permission (needs a person; tried again on the slow
	// backoff of InvalidCredentials, with a fresh token, since consent is given in Entra ID).
	ReasonForbidden = "Forbidden"
	// ReasonApprovalRequired: an Intune Multi Admin Approval access policy protects the device
	// configuration, and Graph refused the PATCH without creating an approval request, since the
	// connection has no approvalJustification (needs a person: exclude the app from the access
	// policy, or set the justification; tried again on a slow backoff all the same, so that an
	// exclusion made in the Intune admin center is picked up by itself).
	ReasonApprovalRequired = "ApprovalRequired"
	// ReasonApprovalPending: Graph holds the PATCH for Multi Admin Approval, in the approval request
	// of status.approvalRequest; the operator follows it and sends the PATCH again once an approver
	// approves it. Not Stalled: it waits on a person, but the operator follows it.
	ReasonApprovalPending = "ApprovalPending"
	// ReasonApprovalRejected: an approver rejected the approval request of status.approvalRequest (or
	// it was cancelled): nothing is asked again until the spec or the connection changes (needs a
	// person).
	ReasonApprovalRejected = "ApprovalRejected"
	// ReasonInvalidCredentials: Entra ID refused the credentials (needs a person; tried again on a
	// slow backoff all the same, since a new secret takes a while to work everywhere).
	ReasonInvalidCredentials = "InvalidCredentials"
	// ReasonSecretNotFound: the Secret or key the connection names is missing (needs a person).
	ReasonSecretNotFound = "SecretNotFound"
	// ReasonInvalidConfiguration: the connection's settings cannot be used, e.g. an unreadable
	// certificate or CA bundle (needs a person).
	ReasonInvalidConfiguration = "InvalidConfiguration"
	// ReasonEndpointNotAllowed: the connection's endpoint or authorityHost names a host the operator
	// does not allow (only the national clouds' and those of its --allowed-endpoint-hosts flag), or
	// a GraphConnection has a caBundle without the operator's --allow-namespaced-ca-bundle (needs a
	// person).
	ReasonEndpointNotAllowed = "EndpointNotAllowed"
	// ReasonConnectionNotFound: the referenced connection does not exist (needs a person).
	ReasonConnectionNotFound = "ConnectionNotFound"
	// ReasonConnectionNotAllowed: the ClusterGraphConnection does not admit this namespace (needs a
	// person).
	ReasonConnectionNotAllowed = "ConnectionNotAllowed"
	// ReasonCredentialsValid: a token was obtained with the connection's credentials.
	ReasonCredentialsValid = "CredentialsValid"
)
