package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/overview-operator/overview-operator/internal/leaderelection"
)

// The leader election timings' defaults. A leader keeps trying to renew for renewDeadline, once
// every retryPeriod, so an API server that refuses connections for up to renewDeadline-retryPeriod
// (16s; about 10s when requests hang, each try then taking up to renewDeadline/2) costs nothing.
// controller-runtime's 15s/10s/2s lose the lease, and the process, to a 10s absence. The price is
// the hand-over after a crash, when nobody releases the Lease: up to leaseDuration plus a poll.
const (
	defaultLeaseDuration = 30 * time.Second
	defaultRenewDeadline = 20 * time.Second
	defaultRetryPeriod   = 4 * time.Second
)

// jitterFactor is client-go's leaderelection.JitterFactor: a candidate's retries are spread up to
// that many retry periods, and the renew deadline must leave room for one.
const jitterFactor = 1.2

// leaderElection are the leader election settings.
type leaderElection struct {
	enabled                                   bool
	namespace                                 string
	leaseDuration, renewDeadline, retryPeriod time.Duration
}

// validate refuses timings with which a leader could lose the Lease before it gives up leading,
// or never retry before its deadline, with the rule that each breaks.
func (le leaderElection) validate() error {
	var errs []error
	for name, d := range map[string]time.Duration{
		"--leader-elect-lease-duration": le.leaseDuration,
		"--leader-elect-renew-deadline": le.renewDeadline,
		"--leader-elect-retry-period":   le.retryPeriod,
	} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, not %v", name, d))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if le.renewDeadline >= le.leaseDuration {
		errs = append(errs, fmt.Errorf("--leader-elect-renew-deadline (%v) must be shorter than --leader-elect-lease-duration (%v): "+
			"a leader must stop leading before another replica may take the Lease", le.renewDeadline, le.leaseDuration))
	}
	if float64(le.renewDeadline) <= jitterFactor*float64(le.retryPeriod) {
		errs = append(errs, fmt.Errorf("--leader-elect-retry-period (%v) must be shorter than --leader-elect-renew-deadline (%v) / %.1f: "+
			"a leader must be able to retry, with jitter, before its deadline", le.retryPeriod, le.renewDeadline, jitterFactor))
	}
	return errors.Join(errs...)
}

// inClusterNamespace is where a pod's service account namespace is mounted.
const inClusterNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// newLeaseLock builds the Lease lock as controller-runtime would, but keeps it, so that
// releaseLease can tell whether this process still holds the Lease after the manager has stopped.
func newLeaseLock(cfg *rest.Config, scheme *runtime.Scheme, le leaderElection) (resourcelock.Interface, func(), error) {
	ns := le.namespace
	if ns == "" {
		data, err := os.ReadFile(inClusterNamespace)
		if err != nil {
			return nil, nil, errors.New("--leader-election-namespace is required outside a cluster")
		}
		ns = strings.TrimSpace(string(data))
	}
	id, err := leaderIdentity()
	if err != nil {
		return nil, nil, err
	}

	cfg = rest.AddUserAgent(rest.CopyConfig(cfg), "leader-election")
	// One hung request must not use up the renew deadline.
	cfg.Timeout = max(le.renewDeadline/2, time.Second)
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	// Lease changes are recorded as core events in the Lease's namespace, as controller-runtime does.
	broadcaster := record.NewBroadcaster()
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: cs.CoreV1().Events(ns)})
	lock, err := resourcelock.New(resourcelock.LeasesResourceLock, ns, leaderelection.LeaseName, cs.CoreV1(), cs.CoordinationV1(),
		resourcelock.ResourceLockConfig{Identity: id, EventRecorder: broadcaster.NewRecorder(scheme, corev1.EventSource{Component: id})})
	if err != nil {
		broadcaster.Shutdown()
		return nil, nil, err
	}
	return lock, broadcaster.Shutdown, nil
}

// podNameEnv names the environment variable that config/manager sets to the pod's name.
const podNameEnv = "POD_NAME"

// leaderIdentity is who holds the Lease: the pod's name when POD_NAME is set, else the host name
// and a UUID, unique to the process. A container restarted in its pod (after a crash, an OOM kill,
// a lost Lease) is then the same candidate, and renews the Lease it held at once instead of waiting
// a lease duration for it to expire. That is safe because the kubelet restarts a container only
// once the old one has ended, and no two pods share a name.
func leaderIdentity() (string, error) {
	if pod := strings.TrimSpace(os.Getenv(podNameEnv)); pod != "" {
		return pod, nil
	}
	host, err := os.Hostname()
	if err != nil {
		return "", err
	}
	return host + "_" + string(uuid.NewUUID()), nil
}

// releaseLease gives up the Lease if this process still holds it. controller-runtime releases it
// once when it stops leading, which fails when the API server is away: that is how a leader loses
// the Lease. Without this a new process would wait a whole lease duration for the old Lease.
//
// It tries every retry period, but only while no other replica can take the Lease yet: a leader
// gives up at least a renew deadline and a retry period after its last renewal, the others wait a
// lease duration after it. The Graph calls already queued go on while this waits, and must not
// overlap with a new leader's.
func releaseLease(ctx context.Context, lock resourcelock.Interface, le leaderElection) {
	log := ctrl.Log.WithName("leaderelection")
	deadline := time.Now().Add(releaseWindow(le))
	for {
		done, err := tryRelease(ctx, lock)
		if done {
			return
		}
		if time.Now().Add(le.retryPeriod).After(deadline) {
			log.Error(err, "Unable to release the Lease: a new leader waits for it to expire", "leaseDuration", le.leaseDuration)
			return
		}
		log.Info("Unable to release the Lease yet, trying again", "err", err.Error(), "retryPeriod", le.retryPeriod)
		time.Sleep(le.retryPeriod)
	}
}

// releaseWindow is how long after it stops leading a process may still try to release the Lease
// (6s with the defaults).
func releaseWindow(le leaderElection) time.Duration {
	return le.leaseDuration - le.renewDeadline - le.retryPeriod
}

// tryRelease releases the Lease if this process holds it; done says there is nothing more to do.
func tryRelease(ctx context.Context, lock resourcelock.Interface) (done bool, err error) {
	rec, _, err := lock.Get(ctx)
	switch {
	case apierrors.IsNotFound(err):
		return true, nil
	case err != nil:
		return false, err
	case rec.HolderIdentity != lock.Identity():
		return true, nil // released already, or another replica's
	}
	now := metav1.Now()
	// The Update carries the resourceVersion that Get read: if another replica took the Lease in
	// between, it fails with a conflict and the next Get sees the new holder.
	err = lock.Update(ctx, resourcelock.LeaderElectionRecord{
		LeaderTransitions: rec.LeaderTransitions, LeaseDurationSeconds: 1, RenewTime: now, AcquireTime: now,
	})
	if err == nil {
		ctrl.Log.WithName("leaderelection").Info("Released the Lease", "lease", lock.Describe())
		return true, nil
	}
	return false, err
}
