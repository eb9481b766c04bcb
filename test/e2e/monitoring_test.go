package e2e

import (
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	dto "github.com/prometheus/client_model/go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/localenv"
	"github.com/overview-operator/overview-operator/internal/metricstest"
	"github.com/overview-operator/overview-operator/internal/testutil"
	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

// metricNamesFile lists the metric names the alerts (config/prometheus/rules) and the dashboard
// (config/grafana) select; hack/monitoring extracts them with the PromQL parser and tests that the
// list is up to date.
var metricNamesFile = filepath.Join(root, "hack", "monitoring", "testdata", "metric-names.txt")

var _ = Describe("The alerts and the dashboard", func() {
	It("select only metrics that a running operator exports", func() {
		b, err := os.ReadFile(metricNamesFile)
		Expect(err).NotTo(HaveOccurred())
		names := strings.Fields(string(b))
		Expect(names).NotTo(BeEmpty())

		ns := testutil.NewNamespace(ctx, env.Client, "monitoring")
		Expect(env.CreateSampleConnection(ctx, ns)).To(Succeed())
		op := startOperator("monitoring", "--watch-namespaces="+ns)

		By("making the operator do what every metric counts: a 429, a PATCH, drift under ObserveOnly")
		managed := seedConfiguration(graphtest.Overview{SuccessCount: 1})
		env.Emulator.Inject(graphtest.Fault{Method: "GET", TenantID: localenv.SampleTenantID, ConfigurationID: managed,
			Status: 429, RetryAfter: "0.2", Times: 1})
		createOverview(ns, "managed", managed, 5)
		observed := seedConfiguration(graphtest.Overview{SuccessCount: 1})
		Expect(env.Client.Create(ctx, &intunev1alpha1.DeviceConfigurationUserOverview{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "observed"},
			Spec: intunev1alpha1.OverviewSpec{
				DeviceConfigurationID: observed,
				ConnectionRef:         intunev1alpha1.ConnectionReference{Name: localenv.SampleConnection},
				ManagementPolicy:      intunev1alpha1.ManagementPolicyObserveOnly,
				Overview:              intunev1alpha1.OverviewFields{SuccessCount: ptr.To[int32](5)},
			},
		})).To(Succeed())
		kubectl.Run("wait", "-n", ns, "--for=condition=Ready", "dcuo/managed", "dcuo/observed", "--timeout=60s")
		kubectl.Run("wait", "-n", ns, "--for=condition=Ready", "graphconnection/"+localenv.SampleConnection, "--timeout=60s")

		By("scraping the operator and looking up every name the rules and the dashboard use")
		families := newMetricsScraper(ns).scrape(op.MetricsAddr)
		var missing []string
		for _, name := range names {
			if problem := exportedAs(families, name); problem != "" {
				missing = append(missing, name+": "+problem)
			}
		}
		Expect(missing).To(BeEmpty(), "names in %s that the operator does not export", metricNamesFile)
	})
})

// exportedAs says why a name that a PromQL query selects matches none of the scraped families
// ("" when it does): a family's own name for counters and gauges, and a histogram's _bucket, _sum
// and _count series by the histogram's family.
func exportedAs(families metricstest.Families, name string) string {
	if f, ok := families[name]; ok {
		switch f.GetType() {
		case dto.MetricType_COUNTER, dto.MetricType_GAUGE, dto.MetricType_UNTYPED:
			return ""
		default:
			return "a " + f.GetType().String() + ", whose series are " + name + "_bucket, _sum and _count"
		}
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suffix)
		if !ok {
			continue
		}
		f, ok := families[base]
		switch {
		case !ok:
		case f.GetType() == dto.MetricType_HISTOGRAM:
			return ""
		case f.GetType() == dto.MetricType_SUMMARY && suffix != "_bucket":
			return ""
		default:
			return "the family " + base + " is a " + f.GetType().String()
		}
	}
	return "not exported"
}
