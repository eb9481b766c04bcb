// Package graph is the operator's Microsoft Graph client for Intune's
// deviceConfigurationUserOverview
// (/deviceManagement/deviceConfigurations/{id}/userStatusOverview).
//
// It offers the reconciler a narrow, idempotent interface ([Client]: get the
// overview, patch some of its fields, check the credentials) and hides HTTP
// behind it. A [Client] is built from a connection's settings ([Config]): the
// national cloud decides the Graph endpoint, the login authority and the
// token scope; credentials come from azidentity (client secret, client
// certificate or workload identity).
//
// Requests go through an azcore pipeline that authorises them with a bearer
// token, tags every try with a fresh client-request-id, waits on the tenant's
// [Budget] before each try so that the operator stays under Intune's
// throttling limits, retries transient failures with jittered exponential
// backoff, honours Retry-After (fractional seconds included) without ever
// sleeping past the caller's deadline, bounds every try with a timeout and
// reads response bodies up to a fixed size.
//
// Every failure is an [*Error], and [Classify] turns any error into one of
// four classes (retryable, throttled, not found, needs a person) with a
// condition reason and a message that says what to fix. Tokens, secrets and
// Authorization headers never appear in errors, logs or metrics.
package graph
