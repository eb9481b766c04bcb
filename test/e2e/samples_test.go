package e2e

import (
	"encoding/json"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/localenv"
	"github.com/overview-operator/overview-operator/internal/testutil"
	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

var _ = Describe("The samples", func() {
	It("become Ready with kubectl apply -f config/samples/ and kubectl wait", func() {
		ns := testutil.NewNamespace(ctx, env.Client, "samples")
		startOperator("samples", "--watch-namespaces="+ns)

		By("creating the Secret the sample GraphConnection names, then applying the samples as the README says")
		Expect(env.CreateSampleSecret(ctx, ns)).To(Succeed())
		kubectl.Run("apply", "-n", ns, "-f", "config/samples/")
		// The samples' ClusterGraphConnection is cluster-scoped: it would stay past the namespace,
		// a tenant in every later spec's cache (a sharded ring's keys among them).
		DeferCleanup(func() { kubectl.Run("delete", "clustergraphconnection", "fabrikam-gcc-high", "--ignore-not-found") })

		By("pointing the sample connection, which names the real Microsoft cloud, at the emulator")
		var spec intunev1alpha1.ConnectionSpec
		env.EmulatorSettings(&spec)
		patch, err := json.Marshal(map[string]any{"spec": map[string]string{
			"endpoint": spec.Endpoint, "authorityHost": spec.AuthorityHost, "caBundle": spec.CABundle,
		}})
		Expect(err).NotTo(HaveOccurred())
		kubectl.Run("patch", "-n", ns, "graphconnection", localenv.SampleConnection, "--type", "merge", "-p", string(patch))

		By("waiting for every DeviceConfigurationUserOverview and DeviceConfigurationDeviceOverview to be Ready")
		start := time.Now()
		out := kubectl.Run("wait", "-n", ns, "--for=condition=Ready", "dcuo,dcdo", "--all", "--timeout=90s")
		AddReportEntry("Ready after the connection was fixed", time.Since(start).Round(100*time.Millisecond).String())
		for _, kind := range []string{"deviceconfigurationuseroverview", "deviceconfigurationdeviceoverview"} {
			Expect(out).To(ContainSubstring(kind + ".intune.overview-operator.io/wifi-baseline condition met"))
			Expect(out).To(ContainSubstring(kind + ".intune.overview-operator.io/vpn-baseline condition met"))
		}

		By("checking that Graph now holds the managed values of the Manage sample, and that the ObserveOnly one was only read")
		wifi, _ := env.Emulator.Overview(localenv.SampleTenantID, localenv.SampleWifiConfigID)
		Expect(wifi.SuccessCount).To(BeEquivalentTo(12))
		Expect(wifi.FailedCount).To(BeEquivalentTo(0))
		Expect(wifi.ConfigurationVersion).To(BeEquivalentTo(3))
		devices, _ := env.Emulator.DeviceOverview(localenv.SampleTenantID, localenv.SampleWifiConfigID)
		Expect(devices.SuccessCount).To(BeEquivalentTo(40))
		Expect(devices.FailedCount).To(BeEquivalentTo(0))
		for _, entity := range []string{graphtest.UserStatusOverview, graphtest.DeviceStatusOverview} {
			Expect(graphCalls(localenv.SampleWifiConfigID, entity, http.MethodPatch)).To(Equal(1), entity)
			Expect(graphCalls(localenv.SampleVPNConfigID, entity, http.MethodPatch)).To(BeZero(), entity)
			Expect(graphCalls(localenv.SampleVPNConfigID, entity, http.MethodGet)).To(BeNumerically(">=", 1), entity)
		}

		By("showing the result in kubectl get")
		out = kubectl.Run("get", "-n", ns, "dcuo")
		Expect(out).To(MatchRegexp(`wifi-baseline\s+` + localenv.SampleWifiConfigID + `\s+Manage\s+True`))
		Expect(out).To(MatchRegexp(`vpn-baseline\s+` + localenv.SampleVPNConfigID + `\s+ObserveOnly\s+True`))
	})
})

// graphCalls counts the Graph calls with the method on one overview (graphtest.UserStatusOverview
// or DeviceStatusOverview; "" for either) of one device configuration that the emulator has received.
func graphCalls(configurationID, entity, method string) int {
	return env.Emulator.CountRequests(func(r graphtest.Request) bool {
		return r.Kind == graphtest.KindGraph && r.ConfigurationID == configurationID && (entity == "" || r.Entity == entity) && r.Method == method
	})
}
