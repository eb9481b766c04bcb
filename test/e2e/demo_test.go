package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/overview-operator/overview-operator/internal/localenv"
	"github.com/overview-operator/overview-operator/internal/testutil"
)

var _ = Describe("make demo", func() {
	// `make demo DEMO_ARGS=--exit` builds the control plane and bin/manager (done before this suite
	// runs) and then runs `go run ./hack/demo --exit`. The test builds the demo program and runs it
	// the same way, without re-running make's prerequisites. The demo starts a control plane and an
	// emulator of its own.
	It("with --exit starts everything, prints Ready resources and exits", func() {
		demo := filepath.Join(GinkgoT().TempDir(), "demo")
		build := exec.CommandContext(ctx, "go", "build", "-o", demo, "./hack/demo")
		build.Dir = root
		out, err := build.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "go build ./hack/demo:%s", testutil.Lines(string(out)))

		c, cancel := context.WithTimeout(ctx, 3*time.Minute)
		defer cancel()
		run := exec.CommandContext(c, demo, "--exit", "--root", ".")
		run.Dir = root
		run.WaitDelay = 10 * time.Second
		start := time.Now()
		out, err = run.CombinedOutput()
		AddReportEntry("demo run time", time.Since(start).Round(100*time.Millisecond).String())
		Expect(err).NotTo(HaveOccurred(), "the demo failed:%s", testutil.Lines(string(out)))

		for _, kind := range []string{"deviceconfigurationuseroverview", "deviceconfigurationdeviceoverview"} {
			Expect(string(out)).To(ContainSubstring(kind + ".intune.overview-operator.io/wifi-baseline condition met"))
			Expect(string(out)).To(ContainSubstring(kind + ".intune.overview-operator.io/vpn-baseline condition met"))
		}
		// The table: each resource Ready, with Graph's values next to what the emulator holds.
		Expect(string(out)).To(MatchRegexp(`(?m)^dcuo/wifi-baseline\s+Manage\s+True\s+UpToDate\s+0\s+success=12 failed=0 error=0 v3\s+success=12 failed=0 error=0 v3\s+\d+\s+1\s+\{`))
		Expect(string(out)).To(MatchRegexp(`(?m)^dcuo/vpn-baseline\s+ObserveOnly\s+True\s+\S+\s+\d+\s+`))
		Expect(string(out)).To(MatchRegexp(`(?m)^dcdo/wifi-baseline\s+Manage\s+True\s+UpToDate\s+0\s+success=40 failed=0 error=0 v3\s+success=40 failed=0 error=0 v3\s+\d+\s+1\s+\{`))
		Expect(string(out)).To(MatchRegexp(`(?m)^dcdo/vpn-baseline\s+ObserveOnly\s+True\s+DriftDetected\s+1\s+`))
		Expect(string(out)).To(ContainSubstring(localenv.SampleTenantID))
		// The export of the tenant: the samples' two configurations and the two no resource manages.
		Expect(string(out)).To(ContainSubstring("wrote 4 DeviceConfigurationUserOverviews and 4 DeviceConfigurationDeviceOverviews"))
		Expect(string(out)).To(ContainSubstring("export/wi-fi-baseline-hq.yaml"))
		Expect(string(out)).To(ContainSubstring("export/windows-update-ring-pilot.yaml"))
	})
})
