package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/uuid"

	"github.com/overview-operator/overview-operator/controllers"
	"github.com/overview-operator/overview-operator/internal/sharding"
)

// The sharding ring's default timings, as leader election's defaults in client-go.
const (
	defaultShardLeaseDuration = 15 * time.Second
	defaultShardRenewDeadline = 10 * time.Second
	defaultShardRetryPeriod   = 2 * time.Second
)

// shardingFlags are the settings of --sharding.
type shardingFlags struct {
	enabled                                   bool
	ring, namespace                           string
	leaseDuration, renewDeadline, retryPeriod time.Duration
}

// options are the reconcilers' sharding options, nil without --sharding. The namespace defaults to
// the pod's, and the replica's identity is POD_NAME (else the host name and a UUID).
func (s shardingFlags) options() (*controllers.ShardingOptions, error) {
	if !s.enabled {
		return nil, nil
	}
	ns := s.namespace
	if ns == "" {
		data, err := os.ReadFile(inClusterNamespace)
		if err != nil {
			return nil, errors.New("--sharding-namespace is required outside a cluster")
		}
		ns = strings.TrimSpace(string(data))
	}
	id := strings.TrimSpace(os.Getenv(podNameEnv))
	if id == "" {
		host, err := os.Hostname()
		if err != nil {
			return nil, err
		}
		id = strings.ToLower(host) + "-" + string(uuid.NewUUID())
	}
	o := &controllers.ShardingOptions{
		Namespace: ns, Ring: s.ring, Identity: id,
		LeaseDuration: s.leaseDuration, RenewDeadline: s.renewDeadline, RetryPeriod: s.retryPeriod,
	}
	if err := (sharding.Options{Namespace: o.Namespace, Ring: o.Ring, Identity: o.Identity,
		LeaseDuration: o.LeaseDuration, RenewDeadline: o.RenewDeadline, RetryPeriod: o.RetryPeriod}).Validate(); err != nil {
		return nil, fmt.Errorf("--sharding: %w", err)
	}
	return o, nil
}

// validate checks the flags that do not depend on the environment.
func (s shardingFlags) validate(leaderElect bool) error {
	if !s.enabled {
		return nil
	}
	var errs []error
	if leaderElect {
		errs = append(errs, errors.New("--sharding and --leader-elect cannot be used together: with --sharding every replica is active, and each owns the tenants the ring gives it"))
	}
	switch {
	case s.leaseDuration <= 0 || s.renewDeadline <= 0 || s.retryPeriod <= 0:
		errs = append(errs, errors.New("--sharding-lease-duration, --sharding-renew-deadline and --sharding-retry-period must be positive durations"))
	case s.renewDeadline >= s.leaseDuration:
		errs = append(errs, fmt.Errorf("--sharding-renew-deadline (%v) must be shorter than --sharding-lease-duration (%v): a replica stops sending before the others may take its tenants", s.renewDeadline, s.leaseDuration))
	case 2*s.retryPeriod > s.renewDeadline:
		errs = append(errs, fmt.Errorf("--sharding-retry-period (%v) must be at most half of --sharding-renew-deadline (%v), so that a failed renewal is tried again in time", s.retryPeriod, s.renewDeadline))
	}
	return errors.Join(errs...)
}
