package export

import (
	"errors"
	"fmt"
	"strings"

	"github.com/overview-operator/overview-operator/internal/graph"
)

// explain says what a Graph failure means, and what the person running the export can do about
// it where the export knows: the export reads, with a connection or with the credentials of its
// flags, so the operator's advice (fields of a resource, the permission to write) does not apply.
func explain(err error) error {
	c := graph.Classify(err)
	msg := c.Description
	if msg == "" {
		return err
	}
	if hint := exportHint(c); hint != "" {
		msg += "; " + hint
	}
	if strings.Contains(msg, strings.TrimPrefix(err.Error(), "graph: ")) {
		return errors.New(msg)
	}
	return fmt.Errorf("%s (%w)", msg, err)
}

// exportHint is what to fix for a failure the export cannot get past by itself; "" when the
// description says it all.
func exportHint(c graph.Classification) string {
	switch c.Kind {
	case graph.KindForbidden:
		return "the export needs DeviceManagementConfiguration.Read.All: grant the application permission and admin consent"
	case graph.KindTokenRejected:
		return "check that the tenant id and client id name an app registration of this tenant, in this cloud"
	case graph.KindCredentialsRefused:
		if c.Credential == graph.CredentialClientSecret {
			return "check the client secret (its value, not its id) and that it has not expired, the tenant id and the client id"
		}
		return "check the credential, the tenant id and the client id"
	case graph.KindUntrustedCertificate:
		return "if a TLS-inspecting proxy or the emulator sits in between, give its CA certificate (--ca-file, or the connection's CA bundle)"
	case graph.KindEndpointNotAllowed:
		return fmt.Sprintf("check the endpoint and the authority host; if you trust host %q, allow it with --allowed-endpoint-hosts", c.Host)
	case graph.KindHostNotFound:
		return "check the endpoint and the authority host (--endpoint and --authority-host, or the connection's)"
	default:
		return ""
	}
}
