package graph

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/utils/clock"
)

// Cloud is a Microsoft national cloud.
type Cloud string

// The national clouds, with the names a connection's spec uses.
const (
	// CloudPublic is the global service (also GCC).
	CloudPublic Cloud = "Public"
	// CloudUSGovernment is US Government L4 (GCC High).
	CloudUSGovernment Cloud = "USGovernment"
	// CloudUSGovernmentDoD is US Government L5 (DoD).
	CloudUSGovernmentDoD Cloud = "USGovernmentDoD"
	// CloudChina is the service operated by 21Vianet.
	CloudChina Cloud = "China"
)

// CloudEndpoints are a cloud's Graph endpoint and login authority host.
type CloudEndpoints struct {
	// Graph is the Graph endpoint, e.g. https://graph.microsoft.com.
	Graph string
	// AuthorityHost is the Entra ID login host, e.g. https://login.microsoftonline.com.
	AuthorityHost string
}

// clouds is the national clouds table of Graph's documentation.
var clouds = map[Cloud]CloudEndpoints{
	CloudPublic:          {Graph: "https://graph.microsoft.com", AuthorityHost: "https://login.microsoftonline.com"},
	CloudUSGovernment:    {Graph: "https://graph.microsoft.us", AuthorityHost: "https://login.microsoftonline.us"},
	CloudUSGovernmentDoD: {Graph: "https://dod-graph.microsoft.us", AuthorityHost: "https://login.microsoftonline.us"},
	CloudChina:           {Graph: "https://microsoftgraph.chinacloudapi.cn", AuthorityHost: "https://login.chinacloudapi.cn"},
}

// Endpoints returns the cloud's Graph endpoint and authority host; the empty
// Cloud is CloudPublic. ok is false for a cloud this package does not know.
func (c Cloud) Endpoints() (e CloudEndpoints, ok bool) {
	if c == "" {
		c = CloudPublic
	}
	e, ok = clouds[c]
	return e, ok
}

// The Graph API versions.
const (
	// APIVersionV1 is Graph's stable version, the default.
	APIVersionV1 = "v1.0"
	// APIVersionBeta is Graph's beta version, which adds conflictCount.
	APIVersionBeta = "beta"
)

// CredentialKind says how the client authenticates.
type CredentialKind string

// The credential kinds.
const (
	// CredentialClientSecret authenticates with an app registration's client secret.
	CredentialClientSecret CredentialKind = "ClientSecret"
	// CredentialClientCertificate authenticates with a certificate and its private key.
	CredentialClientCertificate CredentialKind = "ClientCertificate"
	// CredentialWorkloadIdentity authenticates with a projected service account
	// token (workload identity federation).
	CredentialWorkloadIdentity CredentialKind = "WorkloadIdentity"
)

// Config is a connection's settings.
type Config struct {
	// Cloud picks the Graph endpoint, authority host and token scope; "" is CloudPublic.
	Cloud Cloud
	// APIVersion is "v1.0" (the default, for "") or "beta".
	APIVersion string
	// Endpoint optionally replaces the cloud's Graph endpoint (https only). The
	// token scope follows it ({Endpoint}/.default), since a token's audience is
	// the Graph it is sent to.
	Endpoint string
	// AuthorityHost optionally replaces the cloud's login host (https only).
	// Instance discovery is then off: the authority is trusted as given.
	AuthorityHost string
	// CABundle is optional PEM: certificates trusted in addition to the system
	// roots, for Graph and the authority both.
	CABundle []byte
	// TenantID is the Entra ID tenant (a GUID or a domain name).
	TenantID string
	// ClientID is the app registration's application (client) id.
	ClientID string
	// Credential says how to authenticate.
	Credential Credential
	// ApprovalJustification, if set, goes with every write, Base64-encoded in the
	// x-msft-approval-justification header: a write that Intune's Multi Admin Approval holds then
	// creates an approval request (see approval.go).
	ApprovalJustification string
}

// Credential holds the secret material of one credential kind; fields of the
// other kinds are ignored.
type Credential struct {
	// Kind is the credential kind.
	Kind CredentialKind
	// ClientSecret is the client secret (CredentialClientSecret).
	ClientSecret string
	// CertificatePEM is the certificate and its private key, PEM
	// (CredentialClientCertificate), parsed with azidentity.ParseCertificates.
	CertificatePEM []byte
	// CertificatePassword decrypts the private key, if it is encrypted.
	CertificatePassword []byte
	// TokenFile is the path of the projected service account token
	// (CredentialWorkloadIdentity); it is read again as Kubernetes rotates it.
	TokenFile string
}

// Options tune a Client.
type Options struct {
	// Pacers is the registry of per-tenant pacers shared by every client; required.
	Pacers *Pacers
	// Hosts is the host policy every request of the client is held to: Graph's reads, writes
	// and list pages, the login endpoint's token requests and OpenID configuration, wherever an
	// answer (a redirect, a document, a next link) points. Nil allows the national clouds' hosts
	// and those the Config names itself.
	Hosts HostPolicy
	// Timeout bounds each try, token acquisition included (default 30s).
	Timeout time.Duration
	// ListTimeout bounds the reading of a whole list of device configurations, every page and
	// every wait for the budget included (default 30m): a list that never ends must end.
	ListTimeout time.Duration
	// Logger receives a V(1) line per try; a logger in the call's context
	// takes precedence. The zero value discards.
	Logger logr.Logger
	// Replica, if set, names this process among the replicas that share the work (sharding): every
	// request carries it in the X-Overview-Operator-Replica header, so that whoever answers can
	// tell the replicas apart (the emulator counts the moments two sent for one tenant).
	Replica string
	// ForbiddenRenewal is the least time between two fresh tokens that a 403
	// asks for (default 1m): a permission granted since the token was issued
	// shows only in a new token, but an app that truly lacks it must not ask
	// the token endpoint with every call.
	ForbiddenRenewal time.Duration
	// RefusalHold is how long the login endpoint's refusal of the credentials
	// (not a passing failure) answers every call without another token
	// request (default 30s): all the resources of a connection ask for a
	// token at about the same time, and Entra ID would otherwise see one
	// request per resource. A changed Secret builds a new client, which asks
	// at once.
	RefusalHold time.Duration
	// Clock is the time of the token's expiry, of ForbiddenRenewal and of
	// RefusalHold; default the real clock.
	Clock clock.PassiveClock
	// DialContext opens the connections the client's requests go over; default a net.Dialer's.
	// It changes how a host is reached, never which: Hosts is held before a request is sent.
	// Tests give the emulator's in-memory network (graphtest's Options.InMemory) to run on
	// testing/synctest's clock.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
}

// DefaultTimeout is the default of Options.Timeout, which the operator's and the export's
// --graph-timeout flags show as theirs.
const DefaultTimeout = 30 * time.Second

// The defaults of the other Options.
const (
	defaultForbiddenRenewal = time.Minute
	defaultRefusalHold      = 30 * time.Second
	defaultListTimeout      = 30 * time.Minute
)

// withDefaults returns o with zero fields set to their defaults.
func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.ListTimeout <= 0 {
		o.ListTimeout = defaultListTimeout
	}
	if o.ForbiddenRenewal <= 0 {
		o.ForbiddenRenewal = defaultForbiddenRenewal
	}
	if o.RefusalHold <= 0 {
		o.RefusalHold = defaultRefusalHold
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	return o
}

// settings is a validated Config with everything derived from it.
type settings struct {
	graph         string // Graph endpoint, no trailing slash
	authorityHost string // login host, no trailing slash
	customAuth    bool   // the authority was overridden: no instance discovery
	scope         string
	apiVersion    string
	roots         *x509.CertPool // nil: the system roots
}

// resolve validates cfg and derives the endpoints. Its errors say which
// setting is wrong and never quote secret material.
func (cfg Config) resolve() (settings, error) {
	var errs []error
	var s settings

	ends, ok := cfg.Cloud.Endpoints()
	if !ok {
		errs = append(errs, fmt.Errorf("cloud %q is not one of %s, %s, %s, %s",
			cfg.Cloud, CloudPublic, CloudUSGovernment, CloudUSGovernmentDoD, CloudChina))
	}
	s.graph, s.authorityHost = ends.Graph, ends.AuthorityHost
	if cfg.Endpoint != "" {
		u, err := httpsURL(cfg.Endpoint)
		if err != nil {
			errs = append(errs, fmt.Errorf("endpoint: %w", err))
		} else {
			s.graph = u
		}
	}
	if cfg.AuthorityHost != "" {
		u, err := httpsURL(cfg.AuthorityHost)
		if err != nil {
			errs = append(errs, fmt.Errorf("authority host: %w", err))
		} else {
			s.authorityHost, s.customAuth = u, true
		}
	}
	if s.graph != "" {
		s.scope = scopeFor(s.graph)
	}

	switch cfg.APIVersion {
	case "", APIVersionV1:
		s.apiVersion = APIVersionV1
	case APIVersionBeta:
		s.apiVersion = APIVersionBeta
	default:
		errs = append(errs, fmt.Errorf("API version %q is not %q or %q", cfg.APIVersion, APIVersionV1, APIVersionBeta))
	}

	if err := checkTenantID(cfg.TenantID); err != nil {
		errs = append(errs, err)
	}
	if strings.TrimSpace(cfg.ClientID) == "" {
		errs = append(errs, errors.New("client id is empty"))
	} else if strings.ContainsAny(cfg.ClientID, " \t\r\n/?#") {
		errs = append(errs, fmt.Errorf("client id %q is not an application id", cfg.ClientID))
	}
	if err := cfg.Credential.check(); err != nil {
		errs = append(errs, err)
	}

	if len(cfg.CABundle) > 0 {
		pool, err := rootsWith(cfg.CABundle)
		if err != nil {
			errs = append(errs, err)
		}
		s.roots = pool
	}
	if err := errors.Join(errs...); err != nil {
		return settings{}, err
	}
	return s, nil
}

// httpsURL checks an endpoint override and returns it without a trailing slash.
func httpsURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("%q is not a URL", raw)
	}
	switch {
	case u.Scheme != "https":
		return "", fmt.Errorf("%q must be an https URL", raw)
	case u.Hostname() == "":
		return "", fmt.Errorf("%q has no host", raw)
	case u.User != nil:
		return "", errors.New("the URL must not carry user information")
	case strings.ContainsAny(raw, "?#"): // an empty query or fragment too, as the CRD refuses them
		return "", fmt.Errorf("%q must not have a query or a fragment", raw)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// scopeFor returns the app-only scope of a Graph endpoint: its origin plus /.default.
func scopeFor(graph string) string {
	u, err := url.Parse(graph)
	if err != nil {
		return graph + "/.default"
	}
	return u.Scheme + "://" + u.Host + "/.default"
}

// checkTenantID accepts what Entra ID accepts in an authority URL: a GUID or a
// domain name.
func checkTenantID(id string) error {
	if id == "" {
		return errors.New("tenant id is empty")
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return fmt.Errorf("tenant id %q is not a GUID or a domain name", id)
		}
	}
	return nil
}

// check validates the fields of the credential's kind.
func (c Credential) check() error {
	switch c.Kind {
	case CredentialClientSecret:
		if c.ClientSecret == "" {
			return errors.New("credential ClientSecret: the client secret is empty")
		}
	case CredentialClientCertificate:
		if len(c.CertificatePEM) == 0 {
			return errors.New("credential ClientCertificate: the certificate PEM is empty")
		}
		if _, _, err := parseCertificate(c.CertificatePEM, c.CertificatePassword); err != nil {
			return err
		}
	case CredentialWorkloadIdentity:
		if c.TokenFile == "" {
			return errors.New("credential WorkloadIdentity: the token file path is empty")
		}
	case "":
		return errors.New("credential kind is empty")
	default:
		return fmt.Errorf("credential kind %q is not one of %s, %s, %s",
			c.Kind, CredentialClientSecret, CredentialClientCertificate, CredentialWorkloadIdentity)
	}
	return nil
}

// rootsWith returns the system roots plus the certificates of bundle.
func rootsWith(bundle []byte) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	n := 0
	for rest := bundle; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("CA bundle: certificate %d does not parse: %v", n+1, err)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return nil, errors.New("CA bundle holds no PEM certificate")
	}
	return pool, nil
}

// CloudHosts returns the host names of every national cloud's Graph endpoint and login authority,
// sorted: the hosts a connection may name without the operator's leave.
func CloudHosts() []string {
	seen := map[string]bool{}
	for _, e := range clouds {
		for _, raw := range []string{e.Graph, e.AuthorityHost} {
			if u, err := url.Parse(raw); err == nil {
				seen[u.Hostname()] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(seen))
}
