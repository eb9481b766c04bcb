package v1alpha1_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/testutil"
)

const (
	validOverview = `
apiVersion: intune.overview-operator.io/v1alpha1
kind: DeviceConfigurationUserOverview
metadata: {name: wifi}
spec:
  deviceConfigurationId: 6d6c3b5e-0f9a-4c1e-9d7e-2f1f3a4b5c6d
  connectionRef: {name: contoso}
  overview: {successCount: 12, lastUpdateDateTime: "2026-11-28T10:00:00Z"}
`
	validConnection = `
apiVersion: intune.overview-operator.io/v1alpha1
kind: GraphConnection
metadata: {name: contoso}
spec:
  tenantID: 72f988bf-86f1-41af-91ab-2d7cd011db47
  clientID: 0b9c1d2e-3f4a-4b6c-8d8e-9f0a1b2c3d4e
  credentials:
    source: ClientSecret
    clientSecret: {name: contoso-graph}
`
	validClusterConnection = `
apiVersion: intune.overview-operator.io/v1alpha1
kind: ClusterGraphConnection
metadata: {name: fabrikam}
spec:
  tenantID: 72f988bf-86f1-41af-91ab-2d7cd011db47
  clientID: 0b9c1d2e-3f4a-4b6c-8d8e-9f0a1b2c3d4e
  secretNamespace: it-ops
  credentials:
    source: ClientSecret
    clientSecret: {name: fabrikam-graph}
`
)

// overviewKinds are the kinds that share OverviewSpec and OverviewStatus: every rule written once on
// them must hold for each, so the specs below that use validOverview run for every kind here. A new
// kind is one more entry.
var overviewKinds = []struct {
	kind, short, crd string
	// graphPath is the Graph path of the entity, after deviceConfigurations/{id}.
	graphPath string
}{
	{"DeviceConfigurationUserOverview", "dcuo", "intune.overview-operator.io_deviceconfigurationuseroverviews.yaml", "userStatusOverview"},
	{"DeviceConfigurationDeviceOverview", "dcdo", "intune.overview-operator.io_deviceconfigurationdeviceoverviews.yaml", "deviceStatusOverview"},
}

// asEveryOverviewKind returns a copy of u for each overview kind when u is an overview (as
// validOverview is), and u alone otherwise.
func asEveryOverviewKind(u *unstructured.Unstructured) []*unstructured.Unstructured {
	if u.GetKind() != overviewKinds[0].kind {
		return []*unstructured.Unstructured{u}
	}
	var out []*unstructured.Unstructured
	for _, k := range overviewKinds {
		c := u.DeepCopy()
		c.SetKind(k.kind)
		out = append(out, c)
	}
	return out
}

// syncIntervalRefused is the one message for every syncInterval the API server refuses.
const syncIntervalRefused = "syncInterval must be a duration such as 10m or 1h30m, between 30s and 24h"

// object parses a manifest and applies edits, each a dotted path and a value (nil removes the field).
func object(manifest string, edits ...any) *unstructured.Unstructured {
	GinkgoHelper()
	u := &unstructured.Unstructured{}
	Expect(yaml.Unmarshal([]byte(manifest), &u.Object)).To(Succeed())
	for i := 0; i < len(edits); i += 2 {
		path := strings.Split(edits[i].(string), ".")
		if edits[i+1] == nil {
			unstructured.RemoveNestedField(u.Object, path...)
			continue
		}
		Expect(unstructured.SetNestedField(u.Object, edits[i+1], path...)).To(Succeed())
	}
	return u
}

func create(u *unstructured.Unstructured) error {
	if u.GetKind() != "ClusterGraphConnection" {
		u.SetNamespace(testutil.NewNamespace(ctx, k8sClient, "api"))
	} else {
		u.SetGenerateName(u.GetName() + "-")
		u.SetName("")
	}
	return k8sClient.Create(ctx, u)
}

var _ = Describe("The API server", func() {
	DescribeTable("refuses bad input with a message a person understands",
		func(obj *unstructured.Unstructured, want string) {
			for _, u := range asEveryOverviewKind(obj) {
				err := create(u)
				Expect(err).To(HaveOccurred(), "the API server accepted the %s", u.GetKind())
				Expect(apierrors.IsInvalid(err)).To(BeTrue(), "not a validation error: %v", err)
				Expect(err.Error()).To(ContainSubstring(want))
				// Neither a raw regular expression, nor a rule's evaluation error, nor a length check
				// that kept the rule saying the form from running.
				for _, raw := range []string{"should match", "conversion", "Too long"} {
					Expect(err.Error()).NotTo(ContainSubstring(raw))
				}
			}
		},
		Entry("a negative count",
			object(validOverview, "spec.overview.failedCount", int64(-1)),
			"spec.overview.failedCount: Invalid value: -1: spec.overview.failedCount in body should be greater than or equal to 0"),
		Entry("a count above int32",
			object(validOverview, "spec.overview.successCount", int64(2147483648)),
			"spec.overview.successCount in body should be less than or equal to 2147483647"),
		Entry("a negative beta-only count",
			object(validOverview, "spec.overview.conflictCount", int64(-1)),
			"spec.overview.conflictCount: Invalid value: -1: spec.overview.conflictCount in body should be greater than or equal to 0"),
		Entry("a malformed configuration GUID",
			object(validOverview, "spec.deviceConfigurationId", "6d6c3b5e-0f9a-4c1e-9d7e-2f1f3a4b5c6z"),
			"deviceConfigurationId must be a GUID"),
		Entry("a configuration id of the wrong length",
			object(validOverview, "spec.deviceConfigurationId", "wifi-baseline"),
			"spec.deviceConfigurationId: Invalid value: \"wifi-baseline\": deviceConfigurationId must be a GUID, 36 characters without braces or spaces"),
		Entry("a configuration GUID in braces",
			object(validOverview, "spec.deviceConfigurationId", "{6d6c3b5e-0f9a-4c1e-9d7e-2f1f3a4b5c6d}"),
			"deviceConfigurationId must be a GUID, 36 characters without braces or spaces"),
		Entry("a configuration GUID with spaces around it",
			object(validOverview, "spec.deviceConfigurationId", " 6d6c3b5e-0f9a-4c1e-9d7e-2f1f3a4b5c6d "),
			"deviceConfigurationId must be a GUID, 36 characters without braces or spaces"),
		Entry("no configuration id",
			object(validOverview, "spec.deviceConfigurationId", nil),
			"spec.deviceConfigurationId: Required value"),
		Entry("an unknown management policy",
			object(validOverview, "spec.managementPolicy", "Sometimes"),
			`spec.managementPolicy: Unsupported value: "Sometimes": supported values: "Manage", "ObserveOnly"`),
		Entry("a sync interval under 30s",
			object(validOverview, "spec.syncInterval", "5s"),
			syncIntervalRefused),
		Entry("a sync interval over a day",
			object(validOverview, "spec.syncInterval", "25h"),
			syncIntervalRefused),
		Entry("a sync interval that is not a duration",
			object(validOverview, "spec.syncInterval", "hourly"),
			syncIntervalRefused),
		Entry("a sync interval without a unit",
			object(validOverview, "spec.syncInterval", "600"),
			syncIntervalRefused),
		Entry("a negative sync interval",
			object(validOverview, "spec.syncInterval", "-1h"),
			syncIntervalRefused),
		Entry("a sync interval too large for a duration",
			object(validOverview, "spec.syncInterval", "99999999999999999999h"),
			syncIntervalRefused),
		Entry("a time as Go's RFC3339Nano writes it, with more digits than Graph keeps",
			object(validOverview, "spec.overview.lastUpdateDateTime", time.Date(2026, 3, 1, 8, 0, 0, 123456789, time.UTC).Format(time.RFC3339Nano)),
			`spec.overview.lastUpdateDateTime: Invalid value: "2026-03-01T08:00:00.123456789Z": lastUpdateDateTime must be an RFC 3339 date-time such as 2026-03-01T08:00:00Z or 2026-03-01T09:00:00.5+01:00 (a real date, hours 00-23, at most 7 fractional digits`),
		Entry("a time whose offset takes it past 9999 in UTC",
			object(validOverview, "spec.overview.lastUpdateDateTime", "9999-12-31T23:30:00-01:00"),
			"from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.9999999Z in UTC"),
		Entry("a time whose offset takes it before 0001 in UTC",
			object(validOverview, "spec.overview.lastUpdateDateTime", "0001-01-01T00:30:00+01:00"),
			"from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.9999999Z in UTC"),
		Entry("an unknown connection kind",
			object(validOverview, "spec.connectionRef.kind", "Secret"),
			`spec.connectionRef.kind: Unsupported value: "Secret"`),
		Entry("a connection name that is not a Kubernetes name",
			object(validOverview, "spec.connectionRef.name", "Contoso Graph"),
			"spec.connectionRef.name: Invalid value: \"Contoso Graph\": connectionRef.name must be the name of a connection (a DNS subdomain"),
		Entry("an empty connection name",
			object(validOverview, "spec.connectionRef.name", ""),
			"connectionRef.name must be the name of a connection"),
		Entry("a malformed tenant GUID",
			object(validConnection, "spec.tenantID", "72f988bf86f141af91ab2d7cd011db47abcd"),
			"tenantID must be a GUID"),
		Entry("a tenant GUID in braces",
			object(validConnection, "spec.tenantID", "{72f988bf-86f1-41af-91ab-2d7cd011db47}"),
			"spec.tenantID: Invalid value: \"{72f988bf-86f1-41af-91ab-2d7cd011db47}\": tenantID must be a GUID, 36 characters without braces or spaces"),
		Entry("a tenant GUID with a newline",
			object(validConnection, "spec.tenantID", "72f988bf-86f1-41af-91ab-2d7cd011db47\n"),
			"tenantID must be a GUID, 36 characters without braces or spaces"),
		Entry("a malformed client GUID",
			object(validConnection, "spec.clientID", "0b9c1d2e-3f4a-4b6c-8d8e-9f0a1b2c3d4g"),
			"clientID must be a GUID"),
		Entry("a client GUID with spaces",
			object(validConnection, "spec.clientID", "0b9c1d2e 3f4a 4b6c 8d8e 9f0a1b2c3d4e  "),
			"clientID must be a GUID, 36 characters without braces or spaces"),
		Entry("an unknown cloud",
			object(validConnection, "spec.cloud", "Germany"),
			`spec.cloud: Unsupported value: "Germany"`),
		Entry("an unknown API version",
			object(validConnection, "spec.apiVersion", "v2.0"),
			`spec.apiVersion: Unsupported value: "v2.0": supported values: "v1.0", "beta"`),
		Entry("a CA bundle that is not PEM",
			object(validConnection, "spec.caBundle", "MIIBszCCAVmgAwIBAgIU"),
			"caBundle must hold PEM-encoded certificates"),
		Entry("an unknown credential source",
			object(validConnection, "spec.credentials.source", "Password"),
			`spec.credentials.source: Unsupported value: "Password"`),
		Entry("ClientSecret without a Secret reference",
			object(validConnection, "spec.credentials.clientSecret", nil),
			"source ClientSecret requires clientSecret"),
		Entry("ClientSecret with a certificate reference too",
			object(validConnection, "spec.credentials.clientCertificate", map[string]any{"name": "cert"}),
			"clientCertificate is allowed only with source ClientCertificate"),
		Entry("ClientCertificate without a certificate reference",
			object(validConnection, "spec.credentials.source", "ClientCertificate", "spec.credentials.clientSecret", nil),
			"source ClientCertificate requires clientCertificate"),
		Entry("WorkloadIdentity with a Secret reference",
			object(validClusterConnection, "spec.credentials.source", "WorkloadIdentity"),
			"clientSecret is allowed only with source ClientSecret"),
		Entry("WorkloadIdentity on a namespaced GraphConnection",
			object(validConnection, "spec.credentials.source", "WorkloadIdentity", "spec.credentials.clientSecret", nil),
			"WorkloadIdentity is allowed only on a ClusterGraphConnection"),
		Entry("a Secret name that is not a Kubernetes name",
			object(validConnection, "spec.credentials.clientSecret.name", "Contoso_Graph"),
			"spec.credentials.clientSecret.name: Invalid value: \"Contoso_Graph\": clientSecret.name must be a Secret name (a DNS subdomain"),
		Entry("an empty Secret name",
			object(validConnection, "spec.credentials.clientSecret.name", ""),
			"clientSecret.name must be a Secret name"),
		Entry("a certificate Secret name that is not a Kubernetes name",
			object(validConnection, "spec.credentials.source", "ClientCertificate", "spec.credentials.clientSecret", nil,
				"spec.credentials.clientCertificate", map[string]any{"name": "../cert"}),
			"clientCertificate.name must be a Secret name (a DNS subdomain"),
		Entry("a Secret key that is not a data key",
			object(validConnection, "spec.credentials.clientSecret.key", "client secret"),
			"spec.credentials.clientSecret.key: Invalid value: \"client secret\": clientSecret.key must be a Secret data key (letters, digits, '-', '_' and '.')"),
		Entry("a certificate's password key that is not a data key",
			object(validConnection, "spec.credentials.source", "ClientCertificate", "spec.credentials.clientSecret", nil,
				"spec.credentials.clientCertificate", map[string]any{"name": "cert", "passwordKey": "pass word"}),
			"clientCertificate.passwordKey must be a Secret data key"),
		Entry("a secretNamespace that is not a namespace name",
			object(validClusterConnection, "spec.secretNamespace", "IT-Ops"),
			"spec.secretNamespace: Invalid value: \"IT-Ops\": secretNamespace must be a namespace name (a DNS label"),
		Entry("a secretNamespace with a dot, which a namespace name cannot have",
			object(validClusterConnection, "spec.secretNamespace", "it.ops"),
			"secretNamespace must be a namespace name (a DNS label"),
		Entry("'*' in allowedNamespaces.names, which would admit nothing",
			object(validClusterConnection, "spec.allowedNamespaces.names", []any{"it-ops", "*"}),
			"spec.allowedNamespaces.names[1]: Invalid value: \"*\": allowedNamespaces.names does not take '*': to admit every namespace, set allowedNamespaces.selector: {}"),
		Entry("a namespace in allowedNamespaces.names that is not a namespace name",
			object(validClusterConnection, "spec.allowedNamespaces.names", []any{"Team A"}),
			"spec.allowedNamespaces.names[0]: Invalid value: \"Team A\": allowedNamespaces.names must hold namespace names (a DNS label"),
		Entry("a ClusterGraphConnection with a Secret but no secretNamespace",
			object(validClusterConnection, "spec.secretNamespace", nil),
			"secretNamespace is required unless the source is WorkloadIdentity"),
	)

	// The operator's own readings of these fields are tested against the same lists
	// (controllers/diff_test.go, internal/graph/config_test.go), so that the two cannot drift apart.
	DescribeTable("admits exactly the values the operator can use",
		func(list, manifest, path, message string) {
			values, err := testutil.ReadValues(filepath.Join("testdata", list))
			Expect(err).NotTo(HaveOccurred())
			Expect(values.Valid).NotTo(BeEmpty())
			Expect(values.Invalid).NotTo(BeEmpty())
			field := path[len("spec."):]
			var wrong []string
			for _, s := range values.Valid {
				for _, u := range asEveryOverviewKind(object(manifest, path, s)) {
					if err := create(u); err != nil {
						wrong = append(wrong, fmt.Sprintf("%s: %q refused: %v", u.GetKind(), s, err))
					}
				}
			}
			for _, s := range values.Invalid {
				for _, u := range asEveryOverviewKind(object(manifest, path, s)) {
					err := create(u)
					switch {
					case err == nil:
						wrong = append(wrong, fmt.Sprintf("%s: %q accepted", u.GetKind(), s))
					case !apierrors.IsInvalid(err) ||
						!strings.Contains(err.Error(), field+": Invalid value") ||
						!strings.Contains(err.Error(), message):
						wrong = append(wrong, fmt.Sprintf("%s: %q: %v", u.GetKind(), s, err))
					}
				}
			}
			Expect(wrong).To(BeEmpty())
		},
		Entry("lastUpdateDateTime", "lastUpdateDateTime.yaml", validOverview, "spec.overview.lastUpdateDateTime",
			"lastUpdateDateTime must be an RFC 3339 date-time such as 2026-03-01T08:00:00Z"),
		Entry("endpoint", "url.yaml", validConnection, "spec.endpoint",
			"endpoint must be an https URL with a host and no user information, query or fragment, such as https://graph.example.net"),
		Entry("authorityHost", "url.yaml", validConnection, "spec.authorityHost",
			"authorityHost must be an https URL with a host and no user information, query or fragment, such as https://login.microsoftonline.com"),
	)

	It("checks lastUpdateDateTime with the expression the operator reads it with", func() {
		for _, k := range overviewKinds {
			crd, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "bases", k.crd))
			Expect(err).NotTo(HaveOccurred())
			Expect(string(crd)).To(ContainSubstring("rule: self.matches('"+v1alpha1.DateTimePattern+"')"),
				"the marker on OverviewFields.LastUpdateDateTime must spell v1alpha1.DateTimePattern (%s)", k.kind)
		}
	})

	DescribeTable("refuses changes to immutable fields",
		func(path string, value any, want string) {
			for _, u := range asEveryOverviewKind(object(validOverview)) {
				Expect(create(u)).To(Succeed())
				Expect(unstructured.SetNestedField(u.Object, value, strings.Split(path, ".")...)).To(Succeed())
				err := k8sClient.Update(ctx, u)
				Expect(err).To(HaveOccurred(), "the API server accepted the change to the %s", u.GetKind())
				Expect(apierrors.IsInvalid(err)).To(BeTrue(), "not a validation error: %v", err)
				Expect(err.Error()).To(ContainSubstring(want))
			}
		},
		Entry("deviceConfigurationId", "spec.deviceConfigurationId", "11111111-2222-4333-8444-555555555555",
			"deviceConfigurationId is immutable"),
		Entry("connectionRef.name", "spec.connectionRef.name", "fabrikam", "connectionRef is immutable"),
		Entry("connectionRef.kind", "spec.connectionRef.kind", "ClusterGraphConnection", "connectionRef is immutable"),
	)

	It("admits the beta-only properties of each kind, and refuses notApplicablePlatformCount on the user kind, which has none", func() {
		// The API server cannot know whether the connection is beta: the operator checks that.
		for _, u := range asEveryOverviewKind(object(validOverview, "spec.overview.conflictCount", int64(3))) {
			Expect(create(u)).To(Succeed(), u.GetKind())
		}
		devices := object(validOverview, "kind", "DeviceConfigurationDeviceOverview",
			"spec.overview.conflictCount", int64(3), "spec.overview.notApplicablePlatformCount", int64(0))
		Expect(create(devices)).To(Succeed())

		users := object(validOverview, "spec.overview.notApplicablePlatformCount", int64(0))
		err := create(users)
		Expect(err).To(HaveOccurred(), "the API server accepted notApplicablePlatformCount on a DeviceConfigurationUserOverview")
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "not a validation error: %v", err)
		Expect(err.Error()).To(ContainSubstring("spec.overview.notApplicablePlatformCount: Forbidden: " +
			"notApplicablePlatformCount is a property of Graph's deviceConfigurationDeviceOverview only (devices whose platform the configuration is not for); " +
			"a deviceConfigurationUserOverview counts users and has no such property: remove it, or declare it on a DeviceConfigurationDeviceOverview"))

		By("refusing it as an update too")
		users = object(validOverview)
		Expect(create(users)).To(Succeed())
		Expect(unstructured.SetNestedField(users.Object, int64(1), "spec", "overview", "notApplicablePlatformCount")).To(Succeed())
		err = k8sClient.Update(ctx, users)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("spec.overview.notApplicablePlatformCount: Forbidden"))
	})

	It("admits a sync interval in every unit, from 30s to 24h", func() {
		for _, d := range []string{"30s", "24h", "1h30m", "90m", "0.5h", "1440m", "86400s", "30000ms",
			"30000000us", "30000000µs", "30000000μs", "86400000000000ns", "23h59m59.999s"} {
			for _, u := range asEveryOverviewKind(object(validOverview, "spec.syncInterval", d)) {
				Expect(create(u)).To(Succeed(), "%s %s", u.GetKind(), d)
			}
		}
	})

	It("allows changing the managed values, the policy and the interval", func() {
		for _, u := range asEveryOverviewKind(object(validOverview)) {
			Expect(create(u)).To(Succeed())
			for path, value := range map[string]any{
				"spec.overview.successCount": int64(13),
				"spec.managementPolicy":      "ObserveOnly",
				"spec.syncInterval":          "1h30m",
			} {
				Expect(unstructured.SetNestedField(u.Object, value, strings.Split(path, ".")...)).To(Succeed())
			}
			Expect(k8sClient.Update(ctx, u)).To(Succeed(), u.GetKind())
		}
	})

	It("fills in the defaults", func() {
		for _, u := range asEveryOverviewKind(object(validOverview)) {
			Expect(create(u)).To(Succeed())
			Expect(u.Object["spec"]).To(HaveKeyWithValue("managementPolicy", "Manage"), u.GetKind())
			Expect(u.Object["spec"]).To(HaveKeyWithValue("connectionRef",
				map[string]any{"kind": "GraphConnection", "name": "contoso"}), u.GetKind())
			Expect(u.Object["status"]).To(Equal(map[string]any{"observedGeneration": int64(0), "driftCount": int64(0)}), u.GetKind())
		}

		c := object(validConnection)
		Expect(create(c)).To(Succeed())
		spec := c.Object["spec"].(map[string]any)
		Expect(spec).To(HaveKeyWithValue("cloud", "Public"))
		Expect(spec).To(HaveKeyWithValue("apiVersion", "v1.0"))
		Expect(spec["credentials"]).To(HaveKeyWithValue("clientSecret",
			map[string]any{"name": "contoso-graph", "key": "clientSecret"}))
	})

	It("accepts every sample in config/samples", func() {
		files, err := filepath.Glob(filepath.Join("..", "..", "config", "samples", "intune_*.yaml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(files).To(HaveLen(7))
		for _, file := range files {
			data, err := os.ReadFile(file)
			Expect(err).NotTo(HaveOccurred())
			Expect(create(object(string(data)))).To(Succeed(), file)
		}
	})
})

var _ = Describe("kubectl", func() {
	It("shows the printer columns for get with each overview kind's short name", func() {
		for _, k := range overviewKinds {
			u := object(validOverview, "kind", k.kind, "spec.managementPolicy", "ObserveOnly")
			Expect(create(u)).To(Succeed())
			out := kubectl.Run("get", k.short, "-n", u.GetNamespace())
			Expect(strings.Fields(strings.SplitN(out, "\n", 2)[0])).To(Equal(
				[]string{"NAME", "CONFIGURATION", "POLICY", "READY", "SYNCED", "DRIFT", "AGE"}), k.short)
			Expect(out).To(MatchRegexp(`wifi\s+6d6c3b5e-0f9a-4c1e-9d7e-2f1f3a4b5c6d\s+ObserveOnly\s+`), k.short)
		}
	})

	It("lists every kind under the intune category", func() {
		want := []string{"graphconnection.intune.overview-operator.io/contoso", "clustergraphconnection.intune.overview-operator.io/fabrikam-"}
		Expect(create(object(validConnection))).To(Succeed())
		Expect(create(object(validClusterConnection))).To(Succeed())
		for _, k := range overviewKinds {
			Expect(create(object(validOverview, "kind", k.kind))).To(Succeed())
			want = append(want, strings.ToLower(k.kind)+".intune.overview-operator.io/wifi")
		}
		out := kubectl.Run("get", "intune", "--all-namespaces")
		for _, w := range want {
			Expect(out).To(ContainSubstring(w))
		}
	})

	It("explains the fields", func() {
		for _, k := range overviewKinds {
			// kubectl wraps the descriptions: compare them as words.
			out := strings.Join(strings.Fields(kubectl.Run("explain", k.short)), " ")
			Expect(out).To(ContainSubstring("KIND: " + k.kind))
			Expect(out).To(ContainSubstring("keeps Microsoft Intune's " + lowerFirst(k.kind) + " of one device configuration"))
			Expect(out).To(ContainSubstring("/deviceManagement/deviceConfigurations/{id}/" + k.graphPath + ")"))
			out = kubectl.Run("explain", k.short+".spec.overview.successCount")
			Expect(out).To(ContainSubstring("successCount is the number of users (or devices)"))
			Expect(out).To(ContainSubstring("0 to 2147483647"))
			out = kubectl.Run("explain", k.short+".spec.overview.lastUpdateDateTime")
			Expect(out).To(ContainSubstring("an offset within -23:59"))
			Expect(out).To(ContainSubstring("at most 7 digits"))
			// Which fields are beta-only, and what that takes.
			out = strings.Join(strings.Fields(kubectl.Run("explain", k.short+".spec.overview.conflictCount")), " ")
			Expect(out).To(ContainSubstring("Beta only: Graph has it on its beta API alone, so the resource's connection must have apiVersion: beta"))
			Expect(out).To(ContainSubstring("through a v1.0 connection the resource says InvalidSpec"))
			out = strings.Join(strings.Fields(kubectl.Run("explain", k.short+".spec.overview.notApplicablePlatformCount")), " ")
			Expect(out).To(ContainSubstring("DeviceConfigurationDeviceOverview only (the API server refuses it on a DeviceConfigurationUserOverview), and beta only"))
			out = strings.Join(strings.Fields(kubectl.Run("explain", k.short+".spec.overview")), " ")
			Expect(out).To(ContainSubstring("conflictCount and notApplicablePlatformCount are beta only: they need a connection with apiVersion: beta"))
		}
		out := kubectl.Run("explain", "graphconnection.spec.credentials.source")
		Expect(out).To(ContainSubstring("ClientSecret, ClientCertificate or WorkloadIdentity"))
		out = kubectl.Run("explain", "graphconnection.spec.endpoint")
		Expect(out).To(ContainSubstring("no user information"))
		out = kubectl.Run("explain", "clustergraphconnection.spec.allowedNamespaces.names")
		Expect(out).To(ContainSubstring(`"*" is refused`))
	})
})

// lowerFirst is a kind's name as Graph spells its entity type: deviceConfigurationUserOverview.
func lowerFirst(kind string) string {
	return strings.ToLower(kind[:1]) + kind[1:]
}
