package graph

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// HostPolicy says which hosts a client may send requests to. It is judged on the host name as
// the request names it (an IP literal is its own name), never on the address it resolves to:
// a name the policy does not list is refused even when it resolves to an allowed address.
type HostPolicy interface {
	// Allows reports whether host (lower case, without a port) may be called.
	Allows(host string) bool
}

// HostsFunc adapts a function to HostPolicy.
type HostsFunc func(host string) bool

// Allows implements HostPolicy.
func (f HostsFunc) Allows(host string) bool { return f(host) }

// configHosts is the policy of a client built without Options.Hosts: the national clouds' hosts
// and those the connection names itself (its endpoint and authority host).
func configHosts(s settings) HostPolicy {
	hosts := CloudHosts()
	for _, raw := range []string{s.graph, s.authorityHost} {
		if u, err := url.Parse(raw); err == nil && u.Hostname() != "" {
			hosts = append(hosts, normalHost(u.Hostname()))
		}
	}
	return HostsFunc(func(host string) bool { return slices.Contains(hosts, host) })
}

// normalHost is the form of a host name that a policy judges: lower case, without the root
// domain's trailing dot.
func normalHost(host string) string {
	return strings.TrimSuffix(strings.ToLower(host), ".")
}

// EndpointNotAllowedError is a request the client refused to send because the host policy does
// not allow its host, or an answer that pointed at such a host (a redirect, the login endpoint's
// OpenID configuration). Nothing was sent to Host.
type EndpointNotAllowedError struct {
	// Host is the host that was refused.
	Host string
	// Via says what named the host: "" for a request of the client's own, else e.g. "a 307 redirect".
	Via string
}

// Error implements error.
func (e *EndpointNotAllowedError) Error() string {
	if e.Via != "" {
		return fmt.Sprintf("%s pointed to host %q, which the host policy does not allow; it was not followed", e.Via, e.Host)
	}
	return fmt.Sprintf("host %q is not allowed by the host policy; nothing was sent to it", e.Host)
}

// NonRetriable tells azcore's retry policy (the credential's) not to send the request again.
func (*EndpointNotAllowedError) NonRetriable() {}

// RedirectError is an answer with a 3xx status. The client never follows a redirect: it would
// carry a token or a client secret, or a PATCH, to where the answer says.
type RedirectError struct {
	// StatusCode is the answer's status.
	StatusCode int
	// Host is the host the redirect pointed to; "" when it named none.
	Host string
}

// Error implements error.
func (e *RedirectError) Error() string {
	if e.Host == "" {
		return fmt.Sprintf("the answer was a %d redirect without a usable Location; redirects are not followed", e.StatusCode)
	}
	return fmt.Sprintf("the answer was a %d redirect to host %q; redirects are not followed", e.StatusCode, e.Host)
}

// NonRetriable tells azcore's retry policy (the credential's) not to send the request again.
func (*RedirectError) NonRetriable() {}

// errCleartext is the cause of a refused request whose URL is not https.
var errCleartext = errors.New("the URL is not https: nothing is sent in cleartext")

// cleartextError is a request refused because its scheme is not https.
type cleartextError struct{ host string }

func (e *cleartextError) Error() string {
	return fmt.Sprintf("refusing to call host %q without TLS: %v", e.host, errCleartext)
}
func (e *cleartextError) Unwrap() error { return errCleartext }
func (*cleartextError) NonRetriable()   {}

// guardedTransport is the one way out of a client, for Graph and the login endpoint both (token
// requests, the OpenID configuration, Graph's reads, writes and list pages): it sends a request
// only over https to a host the policy allows, never follows a redirect (its client's
// CheckRedirect hands every 3xx back, which this turns into an error that names where it
// pointed), and reads answer bodies up to maxBodySize.
type guardedTransport struct {
	client *http.Client
	hosts  HostPolicy
}

// Do implements policy.Transporter.
func (t guardedTransport) Do(req *http.Request) (*http.Response, error) {
	host := normalHost(req.URL.Hostname())
	if req.URL.Scheme != "https" {
		return nil, &cleartextError{host: host}
	}
	if host == "" || !t.hosts.Allows(host) {
		return nil, &EndpointNotAllowedError{Host: host}
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		_ = resp.Body.Close()
		return nil, redirectError(resp, t.hosts)
	}
	resp.Body = &limitedBody{rc: resp.Body, left: maxBodySize, host: host}
	return resp, nil
}

// redirectError describes a 3xx answer: an EndpointNotAllowedError when it points outside the
// policy, a RedirectError otherwise.
func redirectError(resp *http.Response, hosts HostPolicy) error {
	loc, err := resp.Location()
	if err != nil {
		return &RedirectError{StatusCode: resp.StatusCode}
	}
	host := normalHost(loc.Hostname())
	if !hosts.Allows(host) {
		return &EndpointNotAllowedError{Host: host, Via: fmt.Sprintf("a %d redirect", resp.StatusCode)}
	}
	return &RedirectError{StatusCode: resp.StatusCode, Host: host}
}

// refusedByPolicy reports whether err is a request the host policy refused (not a redirect, which
// may pass).
func refusedByPolicy(err error) bool {
	var (
		notAllowed *EndpointNotAllowedError
		cleartext  *cleartextError
	)
	return errors.As(err, &notAllowed) || errors.As(err, &cleartext)
}

// noRedirects is the CheckRedirect of every client: the 3xx answer itself is returned, for
// guardedTransport to refuse.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
