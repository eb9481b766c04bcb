package graph

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/overview-operator/overview-operator/internal/pacer"
	"github.com/overview-operator/overview-operator/internal/workers"
)

// PacerKey names the pacer of one app in one tenant of one cloud: Graph counts its limits there.
type PacerKey struct {
	// AuthorityHost is the login host of the cloud, e.g. https://login.microsoftonline.com.
	AuthorityHost string
	// TenantID is the tenant, as the connection names it (compared without case).
	TenantID string
	// ClientID is the app's client id (compared without case).
	ClientID string
}

// KeyOf is the key of the pacer whose budget a client of cfg draws on (NewClient's): the app in the
// tenant, at its cloud's login host, however they are spelled. It reads no credential; its error
// says which of the cloud, the authority host and the tenant is wrong.
func KeyOf(cfg Config) (PacerKey, error) {
	host, ok := cfg.Cloud.Endpoints()
	if !ok {
		return PacerKey{}, fmt.Errorf("cloud %q is not a national cloud", cfg.Cloud)
	}
	authority := host.AuthorityHost
	if cfg.AuthorityHost != "" {
		u, err := httpsURL(cfg.AuthorityHost)
		if err != nil {
			return PacerKey{}, fmt.Errorf("authority host: %w", err)
		}
		authority = u
	}
	if err := checkTenantID(cfg.TenantID); err != nil {
		return PacerKey{}, err
	}
	return PacerKey{AuthorityHost: authority, TenantID: cfg.TenantID, ClientID: cfg.ClientID}.normalized(), nil
}

// ShardID names the tenant of k in its cloud, the same for every spelling and every app of it: the
// unit that sharding gives to one replica. Graph limits each app in a tenant and the tenant across
// its apps, so every app of a tenant is paced by one process. A hash, so that it can be written
// where tenant ids would be noise (a Lease's claims).
func (k PacerKey) ShardID() string {
	n := k.normalized()
	sum := sha256.Sum256([]byte(n.AuthorityHost + "\n" + n.TenantID))
	return hex.EncodeToString(sum[:8])
}

// normalized returns k in the form Pacers uses as a key: the same tenant written in another
// case, or the same login host written with https's default port or a trailing dot or slash, is
// the same pacer, since Graph keeps one budget for it.
func (k PacerKey) normalized() PacerKey {
	return PacerKey{
		AuthorityHost: authorityOrigin(k.AuthorityHost),
		TenantID:      strings.ToLower(k.TenantID),
		ClientID:      strings.ToLower(k.ClientID),
	}
}

// authorityOrigin is the origin of a login host URL in one spelling: lower case, no default
// port, no trailing dot on the host, no path.
func authorityOrigin(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return strings.TrimRight(strings.ToLower(raw), "/")
	}
	scheme, host, port := strings.ToLower(u.Scheme), normalHost(u.Hostname()), u.Port()
	if port == "" || scheme == "https" && port == "443" || scheme == "http" && port == "80" {
		return scheme + "://" + hostPort(host, "")
	}
	return scheme + "://" + hostPort(host, port)
}

// hostPort joins host and port, bracketing an IPv6 host; an empty port is left out.
func hostPort(host, port string) string {
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port == "" {
		return host
	}
	return host + ":" + port
}

// Limits are the throttling limits the pacers keep under: Requests calls of any kind and Writes
// PATCHes per Per for one app in one tenant, and TenantRequests and TenantWrites per Per for all
// the apps of one tenant (in one cloud) together, across every client of the registry.
type Limits = pacer.Limits

// DefaultLimits returns Intune's limits: 1000 requests and 100 writes per 20 seconds per app in a
// tenant, and 2000 requests and 200 writes per 20 seconds per tenant, all apps together.
func DefaultLimits() Limits { return pacer.DefaultLimits() }

// JobKind says what budget a job books before it starts: ReadJob, WriteJob or BackgroundJob.
type JobKind = pacer.Kind

const (
	// ReadJob books one read: a GET. It may PATCH too when the tenant's budget has room at once
	// for the PATCH and the GET that reads it back, and no write waits in line; otherwise the
	// PATCH fails with ErrBudgetExhausted and the caller submits a WriteJob.
	ReadJob = pacer.Read
	// WriteJob books a write and three reads: a GET, the PATCH that follows it and the GET that
	// reads it back. Writes wait in a line of their own, served before reads.
	WriteJob = pacer.Write
	// BackgroundJob books one read at low priority: it starts only while no ReadJob waits, within
	// the reads' share of the budget that leaves a window's writes their room (the audit log's
	// look-ups, which must never delay a sync).
	BackgroundJob = pacer.Background
)

// DefaultMaxInFlight is the default ceiling of Graph calls in flight across all tenants.
const DefaultMaxInFlight = pacer.DefaultMaxInFlight

// Job is work for Graph that the tenant's pacer runs when the tenant's budget admits it, on a
// goroutine of its own (never a reconcile worker's).
type Job struct {
	// Run makes the job's calls, bound to the budget the job booked, and returns its error. A
	// 429 (or a 503 with Retry-After) it returns sends the job back to its place, to run again
	// after the tenant's pause, while that pause ends within QuietPause.
	Run func(ctx context.Context, calls Calls) error
	// Done, if set, hears once how the job ended: nil, or its final error (a throttled error is
	// final when the tenant's pause ends more than QuietPause later). It is not called for a job
	// withdrawn, nor for a throttled job whose key was submitted again meanwhile.
	Done func(err error)
	// QuietPause is the longest pause of the tenant the job waits out in its place without a
	// word; zero means any pause (at most maxPause).
	QuietPause time.Duration
}

// Pacers is the registry of pacers, one per PacerKey, shared by all the clients of the operator
// so that every resource of an app in a tenant draws on the same budget, every app of a tenant on
// the tenant's, and the ceiling on calls in flight across all tenants. A pacer with nothing left
// to remember is dropped; its tenant's metric series go seriesKeep after the tenant's last pacer
// did. It is safe for concurrent use.
type Pacers struct {
	reg *pacer.Registry[PacerKey]
}

// PacersOptions configure NewPacersWith.
type PacersOptions struct {
	// Limits are what each pacer keeps under, and the apps of a tenant together; zero fields take
	// DefaultLimits' values, but TenantRequests and TenantWrites, which are then no limit.
	Limits Limits
	// MaxInFlight is the ceiling of jobs in flight across all tenants (DefaultMaxInFlight).
	MaxInFlight int
	// Clock is the pacers' one clock (the wall clock).
	Clock pacer.Clock
	// Go starts a job on a goroutine (a worker kept from an earlier job, or a new one).
	Go func(run func())
	// Owns, if set, reports whether this process may send for a key now: with sharding, another
	// replica may own it. Asked as each call is sent; a call it refuses is not sent and fails
	// with ErrNotOwner. It must not block.
	Owns func(PacerKey) bool
}

// NewPacers returns a registry whose pacers keep under l, with at most maxInFlight jobs running
// at once across all tenants; zero fields of l take the DefaultLimits values (but the tenant's
// limits, which are then none), and maxInFlight <= 0 DefaultMaxInFlight.
func NewPacers(l Limits, maxInFlight int) *Pacers {
	return NewPacersWith(PacersOptions{Limits: l, MaxInFlight: maxInFlight})
}

// Sending is how many calls of keys that owns refuses are in flight or were sent within the last
// budget window: Graph may still count them (see PacersOptions.Owns).
func (ps *Pacers) Sending(owns func(PacerKey) bool) int { return ps.reg.Sending(owns) }

// SendingShards is the shards (PacerKey.ShardID: a tenant in its cloud, all its apps) with calls
// that owns refuses in flight or sent within the last budget window.
func (ps *Pacers) SendingShards(owns func(PacerKey) bool) map[string]bool {
	out := map[string]bool{}
	for key := range ps.reg.SendingByKey(owns) {
		out[key.ShardID()] = true
	}
	return out
}

// NewPacersWith returns a registry with the options o.
func NewPacersWith(o PacersOptions) *Pacers {
	if o.Go == nil {
		o.Go = workers.New(0).Go
	}
	if o.Clock == nil {
		o.Clock = pacer.RealClock()
	}
	series := newTenantSeries(o.Clock)
	return &Pacers{reg: pacer.New(pacer.Options[PacerKey]{
		Limits: o.Limits, MaxInFlight: o.MaxInFlight, Clock: o.Clock, Go: o.Go, Owns: o.Owns,
		// Graph counts a tenant's calls across its apps (its tenant limits, a Tenant-scoped 429),
		// and an app's across its tenants in one cloud (an Application-scoped 429).
		Tenant: func(k PacerKey) PacerKey { return PacerKey{AuthorityHost: k.AuthorityHost, TenantID: k.TenantID} },
		App:    func(k PacerKey) PacerKey { return PacerKey{AuthorityHost: k.AuthorityHost, ClientID: k.ClientID} },
		Waited: func(k PacerKey, kind pacer.Kind, d time.Duration) {
			series.used(k.TenantID)
			budgetWaitSeconds.WithLabelValues(k.TenantID, kind.String()).Observe(d.Seconds())
		},
		Dropped: func(k PacerKey) { series.drop(k.TenantID) },
	})}
}

// Close ends every job: the calls in flight are cancelled, and a job that runs after it finds its
// context done and sends nothing. The operator closes its pacers when it stops or loses its
// leadership; a tool, when it is done.
func (ps *Pacers) Close() { ps.reg.Close() }

// Len is how many pacers the registry holds.
func (ps *Pacers) Len() int { return ps.reg.Len() }

// For returns the handle of k's pacer.
func (ps *Pacers) For(k PacerKey) *pacer.Handle[PacerKey] { return ps.reg.For(k.normalized()) }
