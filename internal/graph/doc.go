// Package graph is the operator's Microsoft Graph client for Intune's
// deviceConfigurationUserOverview
// (/deviceManagement/deviceConfigurations/{id}/userStatusOverview).
//
// It offers the reconciler a narrow, idempotent interface ([Client]: get the
// overview, patch some of its fields, check the credentials) and hides HTTP
// behind it; tools such as the export also list the tenant's device
// configurations through it, a page per job. A [Client] is built from a connection's settings ([Config]): the
// national cloud decides the Graph endpoint, the login authority and the
// token scope; credentials come from azidentity (client secret, client
// certificate or workload identity).
//
// Graph is called from jobs ([Job]) that the tenant's pacer (package
// internal/pacer, one per [PacerKey] in [Pacers]) runs when the tenant's
// budget admits them. The pacer is the one owner of a tenant's pacing and
// knows nothing of HTTP: the client reports to it, from one place (paced),
// that a try was sent, answered, not answered, or throttled until a time, and
// a job reports its error; the pacer alone decides when the next job starts
// and whether a throttled job goes back to its place. Jobs run on goroutines
// of the pacer, so that no caller waits on the budget, on Retry-After or on a
// Graph that hangs.
//
// Requests carry a bearer token the client holds until shortly before it
// expires, and a fresh client-request-id on every try; each request is sent
// once, through the one transport that enforces the host policy, bounded by a timeout, with one
// more try with a fresh token (bypassing every token cache) after a 401, and
// after a 403 at most once a minute, since a permission granted and consented
// since the token was issued shows only in a new token. A failure is returned at once, for the caller to retry later; a 429
// (or a 503 with Retry-After, fractional seconds included) pauses the tenant
// first. Response bodies are read up to a fixed size.
//
// Every failure is an [*Error], and [Classify] turns any error into one of
// four classes (retryable, throttled, not found, needs a person) and the facts
// of the failure: its [Kind], the status, code and message of the answer, and
// a description that names no field of a resource. What a person should fix
// is for the caller to say (the controllers' conditions, the export's errors).
// Tokens, secrets and Authorization headers never appear in errors, logs or
// metrics.
package graph
