package e2e

import (
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/testutil"
)

// loginServer is a TLS server on a loopback address standing for a login endpoint: 127.0.0.1 is
// allowed by the operator's --allowed-endpoint-hosts in these tests, [::1] is not. It records the
// bodies it is sent.
type loginServer struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []string
}

func newLoginServer(addr string, handler func(s *loginServer, w http.ResponseWriter, r *http.Request)) *loginServer {
	GinkgoHelper()
	s := &loginServer{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		s.mu.Lock()
		s.bodies = append(s.bodies, r.Method+" "+r.URL.Path+" "+string(body))
		s.mu.Unlock()
		handler(s, w, r)
	}))
	l, err := net.Listen("tcp", addr+":0")
	Expect(err).NotTo(HaveOccurred())
	_ = srv.Listener.Close()
	srv.Listener = l
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	DeferCleanup(srv.Close)
	s.Server = srv
	return s
}

// seen returns what the server was sent.
func (s *loginServer) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.bodies...)
}

// certPEM is the server's certificate (httptest's, for 127.0.0.1 and ::1), to trust in a CA bundle.
func (s *loginServer) certPEM() string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw}))
}

// The hostile login endpoints: each would take the client secret to [::1], which the operator and
// the export do not allow.
var hostileLogins = map[string]func(other *loginServer) func(s *loginServer, w http.ResponseWriter, r *http.Request){
	"an OpenID configuration that names a token endpoint on another host": func(other *loginServer) func(s *loginServer, w http.ResponseWriter, r *http.Request) {
		return func(s *loginServer, w http.ResponseWriter, r *http.Request) {
			tenant := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")[0]
			base := s.URL + "/" + tenant
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]string{
				"issuer": base + "/v2.0", "authorization_endpoint": base + "/oauth2/v2.0/authorize",
				"token_endpoint": other.URL + "/" + tenant + "/oauth2/v2.0/token",
			})
		}
	},
	"a token endpoint that redirects to another host (307 keeps the form)": func(other *loginServer) func(s *loginServer, w http.ResponseWriter, r *http.Request) {
		return func(s *loginServer, w http.ResponseWriter, r *http.Request) {
			tenant := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")[0]
			if strings.HasSuffix(r.URL.Path, "/token") {
				http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
				return
			}
			base := s.URL + "/" + tenant
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]string{
				"issuer": base + "/v2.0", "authorization_endpoint": base + "/oauth2/v2.0/authorize",
				"token_endpoint": base + "/oauth2/v2.0/token",
			})
		}
	},
}

var _ = Describe("A login endpoint that points elsewhere", func() {
	for name, login := range hostileLogins {
		It("never gets the client secret out of the operator or the export: "+name, func() {
			ns := testutil.NewNamespace(ctx, env.Client, "hostile")
			const secretValue = "the-client-secret-value"
			Expect(env.Client.Create(ctx, &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "graph"},
				StringData: map[string]string{"clientSecret": secretValue},
			})).To(Succeed())
			other := newLoginServer("[::1]", func(s *loginServer, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, `{"token_type":"Bearer","expires_in":3599,"access_token":"stolen"}`)
			})
			allowed := newLoginServer("127.0.0.1", login(other))
			Expect(env.Client.Create(ctx, &intunev1alpha1.GraphConnection{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hostile"},
				Spec: intunev1alpha1.GraphConnectionSpec{ConnectionSpec: intunev1alpha1.ConnectionSpec{
					TenantID:      "11111111-2222-4333-8444-555555555555",
					ClientID:      "66666666-7777-4888-9999-000000000000",
					Endpoint:      env.Emulator.URL(),
					AuthorityHost: allowed.URL,
					CABundle:      string(env.Emulator.CACertPEM()) + allowed.certPEM(),
					Credentials: intunev1alpha1.Credentials{
						Source:       intunev1alpha1.CredentialSourceClientSecret,
						ClientSecret: &intunev1alpha1.SecretKeyReference{Name: "graph", Key: "clientSecret"},
					},
				}},
			})).To(Succeed())

			By("the operator")
			startOperator("hostile", "--watch-namespaces="+ns, "--allowed-endpoint-hosts=127.0.0.1")
			Eventually(func(g Gomega) {
				conn := &intunev1alpha1.GraphConnection{}
				g.Expect(env.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: "hostile"}, conn)).To(Succeed())
				ready := meta.FindStatusCondition(conn.Status.Conditions, intunev1alpha1.ConditionReady)
				g.Expect(ready).NotTo(BeNil())
				g.Expect(ready.Status).To(BeEquivalentTo("False"))
				g.Expect(ready.Reason).To(Equal(intunev1alpha1.ReasonEndpointNotAllowed), ready.Message)
				g.Expect(ready.Message).To(ContainSubstring(`host "::1"`))
				g.Expect(ready.Message).NotTo(ContainSubstring(secretValue))
			}).WithTimeout(30 * time.Second).Should(Succeed())
			Expect(other.seen()).To(BeEmpty(), "the host that is not allowed was sent nothing")

			By("the export")
			dir := filepath.Join(GinkgoT().TempDir(), "out")
			stdout, stderr, err := kubectlIntune("export", "--connection", "hostile", "-n", ns, "--allowed-endpoint-hosts", "127.0.0.1", "--output-dir", dir)
			var exit *exec.ExitError
			Expect(errors.As(err, &exit)).To(BeTrue(), "kubectl intune exited non-zero: %v\n%s", err, stderr)
			Expect(stderr).To(ContainSubstring(`host "::1"`))
			Expect(stderr).NotTo(ContainSubstring(secretValue))
			Expect(stdout).To(BeEmpty())
			_, statErr := os.Stat(dir)
			Expect(statErr).To(HaveOccurred(), "nothing written")
			Expect(other.seen()).To(BeEmpty(), "the host that is not allowed was sent nothing")
		})
	}
})
