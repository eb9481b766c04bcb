package export

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

const (
	tenant = "aaaaaaaa-0000-4000-8000-000000000001"
	app    = "bbbbbbbb-0000-4000-8000-000000000002"
	secret = "export-test-secret"
)

// tenantEnv is an emulator with the test's app and a client secret file for it.
type tenantEnv struct {
	srv        *graphtest.Server
	secretFile string
	caFile     string
}

func newTenant(t *testing.T, opts graphtest.Options) *tenantEnv {
	t.Helper()
	srv, err := graphtest.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	srv.AddApp(graphtest.App{TenantID: tenant, ClientID: app, ClientSecret: secret, Permissions: []string{graphtest.PermissionRead}})
	dir := t.TempDir()
	e := &tenantEnv{srv: srv, secretFile: filepath.Join(dir, "secret"), caFile: filepath.Join(dir, "ca.pem")}
	if err := os.WriteFile(e.secretFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.caFile, srv.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

// seed seeds n configurations named "Profile <i>", but for the first two, which share the display
// name "Wi-Fi HQ", with overviews whose values tell them apart, and returns them by id.
func (e *tenantEnv) seed(n int) map[string]graphtest.Overview {
	seeded := map[string]graphtest.Overview{}
	for i := range n {
		id := configID(i, n)
		name := fmt.Sprintf("Profile %d", i)
		if i < 2 {
			name = "Wi-Fi HQ"
		}
		e.srv.SeedConfiguration(tenant, id, graphtest.Configuration{DisplayName: name})
		o := graphtest.Overview{PendingCount: int32(i % 5), SuccessCount: int32(i), FailedCount: int32(i % 3), ConfigurationVersion: int32(i%4 + 1),
			LastUpdateDateTime: time.Date(2026, 11, 28, 10, 0, 0, i*1000, time.UTC)}
		e.srv.Seed(tenant, id, o)
		o.ID = id
		seeded[id] = o
	}
	return seeded
}

// configID is the id of the i-th of n configurations seed makes: ids that do not sort in the order
// of the display names.
func configID(i, n int) string { return fmt.Sprintf("%08x-1111-4000-8000-%012x", i*7919%n, i) }

// args are the flags of an export of the test tenant by its credentials, plus extra.
func (e *tenantEnv) args(extra ...string) []string {
	return append([]string{
		"--tenant-id", tenant, "--client-id", app, "--client-secret-file", e.secretFile,
		"--endpoint", e.srv.URL(), "--authority-host", e.srv.URL(), "--ca-file", e.caFile,
		"--target-namespace", "it-ops", "--connection-ref", "contoso",
	}, extra...)
}

func runExport(t *testing.T, args []string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	err = Run(ctx, args, &out, &errOut)
	return out.String(), errOut.String(), err
}

// readDir decodes every file of an output directory.
func readDir(t *testing.T, dir string) []intunev1alpha1.DeviceConfigurationUserOverview {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []intunev1alpha1.DeviceConfigurationUserOverview
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		var r intunev1alpha1.DeviceConfigurationUserOverview
		if err := yaml.UnmarshalStrict(data, &r); err != nil {
			t.Fatalf("%s: %v\n%s", e.Name(), err, data)
		}
		if e.Name() != r.Name+".yaml" {
			t.Errorf("file %s holds %s", e.Name(), r.Name)
		}
		out = append(out, r)
	}
	return out
}

// checkExported checks that resources hold every seeded configuration once, under valid, unique
// names, with the observed values in spec.overview.
func checkExported(t *testing.T, resources []intunev1alpha1.DeviceConfigurationUserOverview, seeded map[string]graphtest.Overview) {
	t.Helper()
	names := map[string]bool{}
	ids := map[string]int{}
	for _, r := range resources {
		if msgs := validation.IsDNS1123Subdomain(r.Name); len(msgs) > 0 {
			t.Errorf("name %q: %v", r.Name, msgs)
		}
		if names[r.Name] {
			t.Errorf("name %q twice", r.Name)
		}
		names[r.Name] = true
		id := r.Spec.DeviceConfigurationID
		ids[id]++
		if r.Labels[LabelConfigurationID] != id || r.Namespace != "it-ops" || r.Spec.ConnectionRef.Name != "contoso" ||
			r.Spec.ManagementPolicy != intunev1alpha1.ManagementPolicyObserveOnly {
			t.Errorf("%s: labels %v, namespace %q, spec %+v", r.Name, r.Labels, r.Namespace, r.Spec)
		}
		o, ok := seeded[id]
		if !ok {
			t.Errorf("%s: configuration %s was not seeded", r.Name, id)
			continue
		}
		got := r.Spec.Overview
		if *got.PendingCount != o.PendingCount || *got.SuccessCount != o.SuccessCount || *got.FailedCount != o.FailedCount ||
			*got.ErrorCount != 0 || *got.NotApplicableCount != 0 || *got.ConfigurationVersion != o.ConfigurationVersion {
			t.Errorf("%s: overview %+v, Graph holds %+v", r.Name, got, o)
		}
		if at, err := time.Parse(time.RFC3339Nano, *got.LastUpdateDateTime); err != nil || !at.Equal(o.LastUpdateDateTime) {
			t.Errorf("%s: lastUpdateDateTime %q, Graph holds %s", r.Name, *got.LastUpdateDateTime, o.LastUpdateDateTime)
		}
	}
	for id := range seeded {
		if ids[id] != 1 {
			t.Errorf("configuration %s exported %d times", id, ids[id])
		}
	}
}

// TestExportSeveralPages: a tenant of 300 configurations (12 pages), two with the same display
// name, exports every one once, under valid and unique names, into a directory and as a stream.
func TestExportSeveralPages(t *testing.T) {
	e := newTenant(t, graphtest.Options{})
	seeded := e.seed(300)

	dir := filepath.Join(t.TempDir(), "tenant")
	stdout, stderr, err := runExport(t, e.args("--output-dir", dir))
	if err != nil {
		t.Fatalf("export: %v\n%s", err, stderr)
	}
	if stdout != "" {
		t.Errorf("stdout with --output-dir: %q", stdout)
	}
	for _, want := range []string{"listed 300 device configurations", "read 300 of 300 overviews", "wrote 300"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("progress lacks %q:\n%s", want, stderr)
		}
	}
	fromDir := readDir(t, dir)
	checkExported(t, fromDir, seeded)
	if n := e.srv.CountRequests(func(r graphtest.Request) bool { return r.Kind == graphtest.KindGraph && r.ConfigurationID == "" }); n != 12 {
		t.Errorf("%d list requests, want 12 pages", n)
	}
	if !strings.Contains(stderr, "listed 25 device configurations") {
		t.Errorf("no progress after the first page:\n%s", stderr)
	}

	stream, _, err := runExport(t, e.args())
	if err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(strings.TrimPrefix(stream, "---\n"), "---\n")
	var fromStream []intunev1alpha1.DeviceConfigurationUserOverview
	for _, d := range docs {
		var r intunev1alpha1.DeviceConfigurationUserOverview
		if err := yaml.UnmarshalStrict([]byte(d), &r); err != nil {
			t.Fatalf("%v\n%s", err, d)
		}
		fromStream = append(fromStream, r)
	}
	if d := cmp.Diff(fromDir, fromStream); d != "" {
		t.Errorf("the stream differs from the directory (-dir +stream):\n%s", d)
	}
}

// TestExportOptions: --policy, --fields and the name filters shape what is written.
func TestExportOptions(t *testing.T) {
	e := newTenant(t, graphtest.Options{})
	e.seed(40)
	stream, stderr, err := runExport(t, e.args("--policy", "Manage", "--fields", "successCount,configurationVersion", "--name-filter", "wi-fi"))
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var rs []intunev1alpha1.DeviceConfigurationUserOverview
	for _, d := range strings.Split(strings.TrimPrefix(stream, "---\n"), "---\n") {
		var r intunev1alpha1.DeviceConfigurationUserOverview
		if err := yaml.UnmarshalStrict([]byte(d), &r); err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	if len(rs) != 2 {
		t.Fatalf("%d resources for the two Wi-Fi HQ configurations:\n%s", len(rs), stream)
	}
	for _, r := range rs {
		o := r.Spec.Overview
		if r.Spec.ManagementPolicy != intunev1alpha1.ManagementPolicyManage || o.SuccessCount == nil || o.ConfigurationVersion == nil ||
			o.PendingCount != nil || o.LastUpdateDateTime != nil || !strings.HasPrefix(r.Name, "wi-fi-hq-") {
			t.Errorf("%s: %+v", r.Name, r.Spec)
		}
	}
	if _, _, err := runExport(t, e.args("--name-regex", `^Profile (1|2)\d$`)); err != nil {
		t.Errorf("--name-regex: %v", err)
	}
}

// TestExportThrottled: with a budget under Graph's limits the export spreads its reads over several
// windows and Graph throttles none of them; 429s Graph answers anyway (another app of the tenant
// spent the budget) pause it for their Retry-After, and it finishes with every configuration. (The
// emulator counts the injected 429s, which Graph does not: the budget leaves room for them.)
func TestExportThrottled(t *testing.T) {
	e := newTenant(t, graphtest.Options{Limits: graphtest.Limits{Window: 2 * time.Second, AppRequests: 40}})
	seeded := e.seed(100) // 4 pages and 100 reads: 104 requests, 3 windows
	e.srv.Inject(graphtest.Fault{Method: http.MethodGet, ConfigurationID: firstID(seeded), Status: http.StatusTooManyRequests, RetryAfter: "1.5", Times: 2})

	dir := filepath.Join(t.TempDir(), "out")
	start := time.Now()
	_, stderr, err := runExport(t, e.args("--output-dir", dir, "--graph-requests-per-window", "38", "--graph-budget-window", "2s"))
	if err != nil {
		t.Fatalf("export: %v\n%s", err, stderr)
	}
	took := time.Since(start)
	checkExported(t, readDir(t, dir), seeded)
	if n := e.srv.CountRequests(func(r graphtest.Request) bool { return r.Throttled }); n > 0 {
		t.Errorf("Graph throttled %d requests over the budget", n)
	}
	if took < 4*time.Second {
		t.Errorf("104 requests at 38 per 2s, and two pauses, took %s", took)
	}
	var tries []time.Time
	for _, r := range e.srv.Requests() {
		if r.ConfigurationID == firstID(seeded) {
			tries = append(tries, r.Time)
		}
	}
	if len(tries) != 3 {
		t.Fatalf("%d reads of the throttled configuration, want 3", len(tries))
	}
	for i := 1; i < 3; i++ {
		if gap := tries[i].Sub(tries[i-1]); gap < 1500*time.Millisecond {
			t.Errorf("read %d came %s after a 429 with Retry-After 1.5", i+1, gap)
		}
	}
}

func firstID(seeded map[string]graphtest.Overview) string {
	first := ""
	for id := range seeded {
		if first == "" || id < first {
			first = id
		}
	}
	return first
}

// TestExportBadInput: what cannot be exported fails with an error that says why, writes nothing
// to stdout and leaves no directory, not even a temporary one.
func TestExportBadInput(t *testing.T) {
	e := newTenant(t, graphtest.Options{})
	empty := newTenant(t, graphtest.Options{})
	e.seed(60)
	wrongSecret := filepath.Join(t.TempDir(), "wrong")
	if err := os.WriteFile(wrongSecret, []byte("not-the-secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	notPEM := filepath.Join(t.TempDir(), "ca.txt")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "kept.yaml"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		args    []string
		fault   *graphtest.Fault
		wantErr string
	}{
		"a wrong secret":             {args: append(e.args(), "--client-secret-file", wrongSecret), wantErr: "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '" + app + "'.; check the client secret (its value, not its id)"},
		"a tenant without any":       {args: empty.args(), wantErr: "the tenant has no device configurations"},
		"a filter that matches none": {args: e.args("--name-filter", "printer"), wantErr: `none of the tenant's 60 device configurations has a display name that matches`},
		"an overview read fails":     {args: e.args(), fault: &graphtest.Fault{Method: http.MethodGet, ConfigurationID: configID(7, 60), Status: http.StatusInternalServerError}, wantErr: "read the overview of device configuration " + configID(7, 60) + ": Graph answered 500 Internal Server Error"},
		// Every GET fails, not just one: reads an earlier case's export left in flight could take a
		// single use of the fault first.
		"a page of the list fails":  {args: e.args(), fault: &graphtest.Fault{Method: http.MethodGet, Status: http.StatusBadGateway}, wantErr: "list the tenant's device configurations"},
		"a CA file that is not PEM": {args: append(e.args(), "--ca-file", notPEM), wantErr: "invalid Graph connection: CA bundle holds no PEM certificate"},
		"an unknown field":          {args: e.args("--fields", "successCount,color"), wantErr: `"color" is not an overview field`},
		"an unknown policy":         {args: e.args("--policy", "Enforce"), wantErr: `--policy "Enforce"`},
		"no credentials":            {args: []string{"--target-namespace", "x"}, wantErr: "give one of --connection"},
		"a bad namespace":           {args: e.args("--target-namespace", "IT_Ops"), wantErr: "is not a namespace name"},
		"a directory not empty":     {args: e.args("--output-dir", full), wantErr: "exists and is not empty"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e.srv.ClearFaults()
			if tc.fault != nil {
				e.srv.Inject(*tc.fault)
			}
			parent := t.TempDir()
			args := tc.args
			if !strings.Contains(strings.Join(args, " "), "--output-dir") {
				args = append(args, "--output-dir", filepath.Join(parent, "out"))
			}
			stdout, _, err := runExport(t, args)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one that says %q", err, tc.wantErr)
			}
			if stdout != "" {
				t.Errorf("stdout: %q", stdout)
			}
			if left, _ := os.ReadDir(parent); len(left) > 0 {
				t.Errorf("left %s behind", left[0].Name())
			}
		})
	}
	e.srv.ClearFaults()
	if left, _ := os.ReadDir(full); len(left) != 1 {
		t.Errorf("the full directory holds %d files, want its one", len(left))
	}
}
