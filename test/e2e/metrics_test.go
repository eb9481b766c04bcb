package e2e

import (
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/overview-operator/overview-operator/internal/localenv"
	"github.com/overview-operator/overview-operator/internal/metricstest"
	"github.com/overview-operator/overview-operator/internal/testutil"
	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

var _ = Describe("The metrics endpoint", func() {
	It("refuses anonymous and unauthorised scrapes and serves the Graph metrics to an authorised one", func() {
		ns := testutil.NewNamespace(ctx, env.Client, "metrics")
		Expect(env.CreateSampleConnection(ctx, ns)).To(Succeed())
		op := startOperator("metrics", "--watch-namespaces="+ns)

		By("making the operator call Graph")
		id := seedConfiguration(graphtest.Overview{SuccessCount: 1})
		createOverview(ns, "wifi", id, 5)
		kubectl.Run("wait", "-n", ns, "--for=condition=Ready", "dcuo/wifi", "--timeout=60s")

		By("scraping without a token")
		Eventually(func(g Gomega) {
			status, _, err := scrape(op.MetricsAddr, "")
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(status).To(Equal(http.StatusUnauthorized))
		}).WithTimeout(20 * time.Second).Should(Succeed())

		By("scraping as a ServiceAccount that may not get /metrics")
		kubectl.Run("create", "serviceaccount", "-n", ns, "stranger")
		status, body, err := scrape(op.MetricsAddr, serviceAccountToken(ns, "stranger"))
		Expect(err).NotTo(HaveOccurred())
		Expect(status).To(Equal(http.StatusForbidden))
		Expect(body).NotTo(ContainSubstring("overview_graph"))

		By("scraping as a ServiceAccount bound to the metrics-reader ClusterRole of config/rbac")
		scraper := newMetricsScraper(ns)
		families := scraper.scrape(op.MetricsAddr)
		Expect(families.Value("overview_graph_requests_total", "method", "GET", "code", "200")).To(BeNumerically(">=", 1))
		Expect(families.Value("overview_graph_requests_total", "method", "PATCH", "code", "200")).To(BeNumerically(">=", 1))
		Expect(families).To(HaveKey("overview_graph_request_duration_seconds"))
		Expect(families).To(HaveKey("controller_runtime_reconcile_total"))
	})
})

// seedConfiguration creates a device configuration with a fresh id in the samples' tenant, so
// that a test counts its own requests only.
func seedConfiguration(o graphtest.Overview) string {
	id := uuid.NewString()
	env.Emulator.Seed(localenv.SampleTenantID, id, o)
	return id
}

// metricsScraper is a ServiceAccount that may get /metrics, as a Prometheus would be.
type metricsScraper struct{ token string }

// newMetricsScraper creates a ServiceAccount in ns, binds it to the operator's metrics-reader
// ClusterRole (config/rbac/metrics_reader_role.yaml) and gets a token for it.
func newMetricsScraper(ns string) *metricsScraper {
	GinkgoHelper()
	role := strings.TrimSpace(kubectl.Run("apply", "-f", "config/rbac/metrics_reader_role.yaml", "-o", "name"))
	Expect(role).To(HavePrefix("clusterrole.rbac.authorization.k8s.io/"))
	kubectl.Run("create", "serviceaccount", "-n", ns, "scraper")
	kubectl.Run("create", "clusterrolebinding", ns+"-scraper",
		"--clusterrole="+strings.TrimPrefix(role, "clusterrole.rbac.authorization.k8s.io/"), "--serviceaccount="+ns+":scraper")
	return &metricsScraper{token: serviceAccountToken(ns, "scraper")}
}

// scrape reads and parses an operator's metrics; it fails the test unless the answer is 200.
func (s *metricsScraper) scrape(addr string) metricstest.Families {
	GinkgoHelper()
	var families metricstest.Families
	Eventually(func(g Gomega) {
		status, body, err := scrape(addr, s.token)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(status).To(Equal(http.StatusOK), body)
		families, err = metricstest.Parse(strings.NewReader(body))
		g.Expect(err).NotTo(HaveOccurred())
	}).WithTimeout(20 * time.Second).Should(Succeed())
	return families
}

// serviceAccountToken gets a short-lived token through the TokenRequest API.
func serviceAccountToken(ns, name string) string {
	GinkgoHelper()
	return strings.TrimSpace(kubectl.Run("create", "token", "-n", ns, name, "--duration=10m"))
}

// scrape GETs https://addr/metrics with the bearer token ("" for none). The operator's certificate
// is self-signed, so it is not verified.
func scrape(addr, token string) (status int, body string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+addr+"/metrics", nil)
	if err != nil {
		return 0, "", err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the operator's certificate is self-signed
	}}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}
