package controllers

import (
	"time"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/graph"
)

// graphFailure turns what Graph, the login endpoint or the transport said into a failure: the
// condition's reason, and a message that says what happened and what to fix, on the resource,
// its connection or the connection's Secret (which the Graph client knows nothing of). The facts
// it builds on hold no secret and no per-request id, so neither does the message.
func graphFailure(c graph.Classification) failure {
	if f, ok := approvalFailure(c); ok {
		return f
	}
	reason, message := graphCondition(c)
	return failure{class: c.Class, reason: reason, message: message, retryAfter: c.RetryAfter}
}

// graphCondition is the reason and the message of a Graph failure.
func graphCondition(c graph.Classification) (reason, message string) {
	happened := c.Description
	switch c.Kind {
	case graph.KindBudgetSpent:
		return intunev1alpha1.ReasonThrottled,
			"the operator's request budget for this tenant is spent (it stays under Intune's limits); calls resume as it refills"
	case graph.KindThrottled:
		if !c.PausedUntil.IsZero() {
			return intunev1alpha1.ReasonThrottled, happened + "; the tenant's calls wait until " +
				c.PausedUntil.UTC().Truncate(time.Second).Format(time.RFC3339) + " (Retry-After)"
		}
		return intunev1alpha1.ReasonThrottled, happened + "; calls resume after Retry-After"
	case graph.KindUnavailable:
		return intunev1alpha1.ReasonGraphUnavailable, happened + "; retrying with backoff"
	case graph.KindUntrustedCertificate:
		return intunev1alpha1.ReasonGraphUnavailable,
			happened + "; if a TLS-inspecting proxy or the emulator sits in between, set the connection's CA bundle; retrying"
	case graph.KindHostNotFound:
		return intunev1alpha1.ReasonGraphUnavailable, happened + "; check the connection's endpoint and authority host; retrying"
	case graph.KindBadRequest:
		return intunev1alpha1.ReasonBadRequest, happened + "; check the values in spec.overview"
	case graph.KindUnexpectedRefusal:
		return intunev1alpha1.ReasonBadRequest, happened + "; this looks like a bug in the operator, please report it"
	case graph.KindInvalidID:
		return intunev1alpha1.ReasonInvalidSpec,
			"spec.deviceConfigurationId is not a Graph id, and it cannot change: create a resource with the configuration's GUID"
	case graph.KindNotFound:
		return intunev1alpha1.ReasonNotFound, happened + "; check spec.deviceConfigurationId and the connection's tenant"
	case graph.KindForbidden:
		// The operator knows which permission it needs: Graph does not say.
		return intunev1alpha1.ReasonForbidden, "the app lacks DeviceManagementConfiguration.ReadWrite.All" + c.Quoted() +
			"; grant the application permission and admin consent"
	case graph.KindTokenRejected:
		return intunev1alpha1.ReasonInvalidCredentials,
			happened + "; check that the tenant id and client id name an app registration of this tenant, in this cloud"
	case graph.KindCredentialsRefused:
		return intunev1alpha1.ReasonInvalidCredentials, happened + "; " + credentialHint(c.Credential)
	case graph.KindTokenFileUnreadable:
		return intunev1alpha1.ReasonInvalidCredentials, happened + "; check the pod's service account token projection"
	case graph.KindEndpointNotAllowed:
		return intunev1alpha1.ReasonEndpointNotAllowed, happened +
			"; only https to the national clouds' hosts, and those the operator's administrator adds with its --allowed-endpoint-hosts flag, is allowed"
	default: // KindUnreadableAnswer, KindRedirected, KindLoginUnavailable, KindTransport
		return intunev1alpha1.ReasonGraphUnavailable, happened + "; retrying"
	}
}

// credentialHint says what to check when the login endpoint refused a credential of kind.
func credentialHint(kind graph.CredentialKind) string {
	switch kind {
	case graph.CredentialClientSecret:
		return "check the client secret in the connection's Secret (the secret's value, not its id) and that it has not expired, the tenant id and the client id"
	case graph.CredentialClientCertificate:
		return "check that the certificate in the connection's Secret is registered on the app and has not expired, the tenant id and the client id"
	case graph.CredentialWorkloadIdentity:
		return "check the app's federated credential (issuer, subject, audience api://AzureADTokenExchange) and the projected service account token, the tenant id and the client id"
	default:
		return "check the tenant id, the client id and the credential"
	}
}
