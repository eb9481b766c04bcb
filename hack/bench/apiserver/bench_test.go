package apiserver

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/hack/bench/proc"
	"github.com/overview-operator/overview-operator/internal/localenv"
)

// parallelism is how many operations are in flight at once: the operator's default passes at once.
const parallelism = 16

var (
	envOnce sync.Once
	env     *localenv.Env
	envErr  error
	serial  atomic.Int64 // names of the objects created so far, unique across benchmarks
)

// controlPlane starts one local control plane for all the benchmarks of the process: the first
// benchmark that needs it pays its start.
func controlPlane(b *testing.B) *localenv.Env {
	b.Helper()
	envOnce.Do(func() {
		root, err := filepath.Abs("../../..")
		if err == nil {
			err = localenv.UseBuiltControlPlane(root)
		}
		if err == nil {
			env, err = localenv.Start(localenv.Options{Root: root})
		}
		if err == nil {
			err = env.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}})
		}
		envErr = err
	})
	if envErr != nil {
		b.Fatal(envErr)
	}
	return env
}

// TestMain stops the control plane after the benchmarks.
func TestMain(m *testing.M) {
	code := m.Run()
	if env != nil {
		env.Stop()
	}
	os.Exit(code)
}

const namespace = "bench"

func overview(name string) *intunev1alpha1.DeviceConfigurationUserOverview {
	return &intunev1alpha1.DeviceConfigurationUserOverview{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: intunev1alpha1.OverviewSpec{
			DeviceConfigurationID: "6d6c3b5e-0f9a-4c1e-9d7e-2f1f3a4b5c6d",
			ConnectionRef:         intunev1alpha1.ConnectionReference{Name: "bench"},
			Overview: intunev1alpha1.OverviewFields{SuccessCount: ptr.To[int32](12), FailedCount: ptr.To[int32](0),
				ConfigurationVersion: ptr.To[int32](2)},
		},
	}
}

// newNames returns n names no overview of the process has had.
func newNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("o-%06d", serial.Add(1))
	}
	return names
}

// createN creates n overviews and returns their names.
func createN(b *testing.B, c client.Client, n int) []string {
	b.Helper()
	names := newNames(n)
	run(b, n, func(i int) error { return c.Create(context.Background(), overview(names[i])) })
	return names
}

// run calls f(0..n-1), parallelism at a time.
func run(b *testing.B, n int, f func(i int) error) {
	b.Helper()
	var (
		next   atomic.Int64
		failed atomic.Pointer[error]
		wg     sync.WaitGroup
	)
	for range parallelism {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				if err := f(i); err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		b.Fatal(*err)
	}
}

// measure runs f(0..b.N-1) with the timer on and reports the API server's CPU per operation.
func measure(b *testing.B, f func(i int) error) {
	b.Helper()
	pid, err := apiServerPID()
	if err != nil {
		b.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // let what came before settle
	cpu0 := cpuSeconds(b, pid)
	b.ResetTimer()
	run(b, b.N, f)
	b.StopTimer()
	b.ReportMetric(1000*(cpuSeconds(b, pid)-cpu0)/float64(b.N), "apiserver-ms/op")
}

// BenchmarkCreate creates an overview: what each of a mass import's resources costs.
func BenchmarkCreate(b *testing.B) {
	c := controlPlane(b).Client
	names := newNames(b.N)
	measure(b, func(i int) error { return c.Create(context.Background(), overview(names[i])) })
}

// BenchmarkStatusPatch writes an overview's status as the operator reports a synced resource: a
// merge patch of the status subresource from the object it read (as from its cache, not timed).
func BenchmarkStatusPatch(b *testing.B) {
	c := controlPlane(b).Client
	names := createN(b, c, b.N)
	objs := make([]*intunev1alpha1.DeviceConfigurationUserOverview, b.N)
	run(b, b.N, func(i int) error {
		objs[i] = &intunev1alpha1.DeviceConfigurationUserOverview{}
		return c.Get(context.Background(), types.NamespacedName{Namespace: namespace, Name: names[i]}, objs[i])
	})
	now := metav1.Now()
	measure(b, func(i int) error {
		o := objs[i]
		base := o.DeepCopy()
		o.Status.ObservedGeneration = o.Generation
		o.Status.Conditions = []metav1.Condition{
			{Type: intunev1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: "Synced",
				Message: "Graph holds the spec", LastTransitionTime: now, ObservedGeneration: o.Generation},
			{Type: intunev1alpha1.ConditionSynced, Status: metav1.ConditionTrue, Reason: "Synced",
				Message: "Graph holds the spec", LastTransitionTime: now, ObservedGeneration: o.Generation},
		}
		return c.Status().Patch(context.Background(), o, client.MergeFrom(base), client.FieldOwner("overview-operator"))
	})
}

// BenchmarkSpecPatch changes one field of an overview's spec with a merge patch, as a GitOps tool's
// update of a changed manifest does.
func BenchmarkSpecPatch(b *testing.B) {
	c := controlPlane(b).Client
	names := createN(b, c, b.N)
	body := []byte(`{"spec":{"overview":{"successCount":13}}}`)
	measure(b, func(i int) error {
		o := &intunev1alpha1.DeviceConfigurationUserOverview{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: names[i]}}
		return c.Patch(context.Background(), o, client.RawPatch(types.MergePatchType, body))
	})
}

// BenchmarkEvent records a core/v1 event about an overview, as the operator's "Patched" event.
func BenchmarkEvent(b *testing.B) {
	c := controlPlane(b).Client
	base := serial.Add(int64(b.N))
	measure(b, func(i int) error {
		return c.Create(context.Background(), &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Namespace: namespace, Name: fmt.Sprintf("e-%06d", base+int64(i))},
			InvolvedObject: corev1.ObjectReference{Kind: "DeviceConfigurationUserOverview", Namespace: namespace, Name: "o"},
			Reason:         "Patched", Message: "Set successCount in Graph", Type: corev1.EventTypeNormal,
		})
	})
}

// apiServerPID finds the kube-apiserver of this process's control plane.
func apiServerPID() (int, error) {
	pids := proc.Children()["kube-apiserver"]
	if len(pids) != 1 {
		return 0, fmt.Errorf("%d kube-apiserver processes started by this process, not 1", len(pids))
	}
	return pids[0], nil
}

func cpuSeconds(b *testing.B, pid int) float64 {
	b.Helper()
	v, err := proc.CPUSeconds(pid)
	if err != nil {
		b.Fatal(err)
	}
	return v
}
