package export

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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

// The kinds the export writes.
const (
	userKind   = "DeviceConfigurationUserOverview"
	deviceKind = "DeviceConfigurationDeviceOverview"
)

// seeded is what seed made: by kind, then configuration id, the overview Graph holds.
type seeded map[string]map[string]graphtest.Overview

// seed seeds n configurations named "Profile <i>", but for the first two, which share the display
// name "Wi-Fi HQ", with overviews whose values tell them apart (and the user overview from the
// device one), and returns them.
func (e *tenantEnv) seed(n int) seeded {
	out := seeded{userKind: {}, deviceKind: {}}
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
		out[userKind][id] = o
		d := graphtest.Overview{ID: id, SuccessCount: int32(1000 + i), ErrorCount: int32(i % 2), ConfigurationVersion: o.ConfigurationVersion,
			NotApplicablePlatformCount: 9, LastUpdateDateTime: o.LastUpdateDateTime.Add(time.Hour)}
		e.srv.SeedDevice(tenant, id, d)
		out[deviceKind][id] = d
	}
	return out
}

// ids are the configuration ids seed made.
func (s seeded) ids() []string {
	var ids []string
	for id := range s[userKind] {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
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

// exported is a resource as the export writes it, of either kind.
type exported struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              intunev1alpha1.OverviewSpec `json:"spec"`
}

// decodeStream decodes a YAML stream of resources.
func decodeStream(t *testing.T, stream string) []exported {
	t.Helper()
	var out []exported
	for _, d := range strings.Split(strings.TrimPrefix(stream, "---\n"), "---\n") {
		var r exported
		if err := yaml.UnmarshalStrict([]byte(d), &r); err != nil {
			t.Fatalf("%v\n%s", err, d)
		}
		out = append(out, r)
	}
	return out
}

// readDir decodes every file of an output directory, checking that each holds the resources of
// one configuration, of different kinds, under the file's name.
func readDir(t *testing.T, dir string) []exported {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []exported
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		kinds := map[string]bool{}
		for _, r := range decodeStream(t, string(data)) {
			if e.Name() != r.Name+".yaml" || kinds[r.Kind] {
				t.Errorf("file %s holds %s %s", e.Name(), r.Kind, r.Name)
			}
			kinds[r.Kind] = true
			out = append(out, r)
		}
	}
	return out
}

// checkExported checks that resources hold every seeded configuration once in each of kinds,
// under valid names, unique within a kind and the same for a configuration's resources, with the
// observed values of the kind's overview in spec.overview.
func checkExported(t *testing.T, resources []exported, seeded seeded, kinds ...string) {
	t.Helper()
	names := map[string]string{}  // configuration id by kind and name
	nameOf := map[string]string{} // name by configuration id
	ids := map[string]int{}       // by kind and id
	for _, r := range resources {
		if msgs := validation.IsDNS1123Subdomain(r.Name); len(msgs) > 0 {
			t.Errorf("name %q: %v", r.Name, msgs)
		}
		id := r.Spec.DeviceConfigurationID
		if _, twice := names[r.Kind+"/"+r.Name]; twice {
			t.Errorf("%s %q twice", r.Kind, r.Name)
		}
		names[r.Kind+"/"+r.Name] = id
		if n, ok := nameOf[id]; ok && n != r.Name {
			t.Errorf("configuration %s exported as %s and %s", id, n, r.Name)
		}
		nameOf[id] = r.Name
		ids[r.Kind+"/"+id]++
		if r.APIVersion != intunev1alpha1.GroupVersion.String() || r.Labels[LabelConfigurationID] != id || r.Namespace != "it-ops" ||
			r.Spec.ConnectionRef.Name != "contoso" || r.Spec.ManagementPolicy != intunev1alpha1.ManagementPolicyObserveOnly {
			t.Errorf("%s: %s, labels %v, namespace %q, spec %+v", r.Name, r.APIVersion, r.Labels, r.Namespace, r.Spec)
		}
		o, ok := seeded[r.Kind][id]
		if !ok || !slices.Contains(kinds, r.Kind) {
			t.Errorf("%s %s: configuration %s was not seeded or not asked for", r.Kind, r.Name, id)
			continue
		}
		got := r.Spec.Overview
		if *got.PendingCount != o.PendingCount || *got.SuccessCount != o.SuccessCount || *got.FailedCount != o.FailedCount ||
			*got.ErrorCount != o.ErrorCount || *got.NotApplicableCount != 0 || *got.ConfigurationVersion != o.ConfigurationVersion {
			t.Errorf("%s: overview %+v, Graph holds %+v", r.Name, got, o)
		}
		if at, err := time.Parse(time.RFC3339Nano, *got.LastUpdateDateTime); err != nil || !at.Equal(o.LastUpdateDateTime) {
			t.Errorf("%s: lastUpdateDateTime %q, Graph holds %s", r.Name, *got.LastUpdateDateTime, o.LastUpdateDateTime)
		}
	}
	for _, kind := range kinds {
		for id := range seeded[kind] {
			if ids[kind+"/"+id] != 1 {
				t.Errorf("configuration %s exported %d times as a %s", id, ids[kind+"/"+id], kind)
			}
		}
	}
}

// TestExportSeveralPages: a tenant of 300 configurations (12 pages), two with the same display
// name, exports every one once of each kind, under valid and unique names, into a directory (a
// file per configuration) and as a stream.
func TestExportSeveralPages(t *testing.T) {
	// Two exports of 612 requests each, 12 pages and 600 reads: throttling, which would hold the
	// second one for a window of Intune's limits, is TestExportThrottled's.
	e := newTenant(t, graphtest.Options{ThrottlingDisabled: true})
	seeded := e.seed(300)

	dir := filepath.Join(t.TempDir(), "tenant")
	stdout, stderr, err := runExport(t, e.args("--output-dir", dir))
	if err != nil {
		t.Fatalf("export: %v\n%s", err, stderr)
	}
	if stdout != "" {
		t.Errorf("stdout with --output-dir: %q", stdout)
	}
	for _, want := range []string{"listed 300 device configurations", "read 600 of 600 overviews",
		"wrote 300 DeviceConfigurationUserOverviews and 300 DeviceConfigurationDeviceOverviews to " + dir} {
		if !strings.Contains(stderr, want) {
			t.Errorf("progress lacks %q:\n%s", want, stderr)
		}
	}
	fromDir := readDir(t, dir)
	checkExported(t, fromDir, seeded, userKind, deviceKind)
	if files, _ := os.ReadDir(dir); len(files) != 300 {
		t.Errorf("%d files, want one per configuration", len(files))
	}
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
	fromStream := decodeStream(t, stream)
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
	rs := decodeStream(t, stream)
	if len(rs) != 4 {
		t.Fatalf("%d resources for the two Wi-Fi HQ configurations, want one of each kind:\n%s", len(rs), stream)
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

// TestExportBeta: through Graph's beta API the export writes the fields of v1.0 alone by default;
// --fields names a beta-only one (written in the resources of the kinds that have it), and "all"
// writes every property beta serves.
func TestExportBeta(t *testing.T) {
	e := newTenant(t, graphtest.Options{})
	seeded := e.seed(6)
	for _, id := range seeded.ids() {
		u := seeded[userKind][id]
		u.ConflictCount = 2
		e.srv.Seed(tenant, id, u)
		d := seeded[deviceKind][id]
		d.ConflictCount = 3
		e.srv.SeedDevice(tenant, id, d)
	}
	cases := map[string]struct {
		fields []string
		// by kind, the beta-only fields written and their values
		want map[string]map[string]int32
		// whether the fields of v1.0 are written
		v1 bool
	}{
		"by default, v1.0's fields alone": {v1: true, want: map[string]map[string]int32{userKind: {}, deviceKind: {}}},
		"a beta-only field named": {fields: []string{"--fields", "successCount,conflictCount,notApplicablePlatformCount"},
			want: map[string]map[string]int32{userKind: {"conflictCount": 2}, deviceKind: {"conflictCount": 3, "notApplicablePlatformCount": 9}}},
		"all": {fields: []string{"--fields", "all"}, v1: true,
			want: map[string]map[string]int32{userKind: {"conflictCount": 2}, deviceKind: {"conflictCount": 3, "notApplicablePlatformCount": 9}}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e.srv.ResetRequests()
			stream, stderr, err := runExport(t, e.args(append([]string{"--api-version", "beta"}, tc.fields...)...))
			if err != nil {
				t.Fatalf("%v\n%s", err, stderr)
			}
			if n := e.srv.CountRequests(func(r graphtest.Request) bool { return r.Kind == graphtest.KindGraph && r.APIVersion != "beta" }); n > 0 {
				t.Errorf("%d requests not on beta", n)
			}
			rs := decodeStream(t, stream)
			if len(rs) != 12 {
				t.Fatalf("%d resources, want 12", len(rs))
			}
			for _, r := range rs {
				o := r.Spec.Overview
				got := map[string]int32{}
				if o.ConflictCount != nil {
					got["conflictCount"] = *o.ConflictCount
				}
				if o.NotApplicablePlatformCount != nil {
					got["notApplicablePlatformCount"] = *o.NotApplicablePlatformCount
				}
				if d := cmp.Diff(tc.want[r.Kind], got); d != "" {
					t.Errorf("%s %s: beta-only fields (-want +got):\n%s", r.Kind, r.Name, d)
				}
				if (o.PendingCount != nil) != tc.v1 || (o.LastUpdateDateTime != nil) != tc.v1 || o.SuccessCount == nil {
					t.Errorf("%s %s: overview %+v", r.Kind, r.Name, o)
				}
			}
		})
	}
}

// TestExportOneKind: --kind writes the resources of one kind and reads only its overviews.
func TestExportOneKind(t *testing.T) {
	e := newTenant(t, graphtest.Options{})
	seeded := e.seed(30)
	for kind, segment := range map[string]string{userKind: graphtest.UserStatusOverview, "deviceconfigurationdeviceoverview": graphtest.DeviceStatusOverview} {
		t.Run(kind, func(t *testing.T) {
			e.srv.ResetRequests()
			stream, stderr, err := runExport(t, e.args("--kind", kind))
			if err != nil {
				t.Fatalf("%v\n%s", err, stderr)
			}
			want := userKind
			if segment == graphtest.DeviceStatusOverview {
				want = deviceKind
			}
			checkExported(t, decodeStream(t, stream), seeded, want)
			if !strings.Contains(stderr, "exported 30 "+want+"s\n") || !strings.Contains(stderr, "read 30 of 30 overviews") {
				t.Errorf("progress:\n%s", stderr)
			}
			if n := e.srv.CountRequests(func(r graphtest.Request) bool { return r.Entity != "" && r.Entity != segment }); n > 0 {
				t.Errorf("%d reads of the other overview", n)
			}
		})
	}
}

// TestExportLeavesOutDeleted: a configuration one of whose overviews Graph no longer has was
// deleted since the list; it is left out whole, not with one kind of resource.
func TestExportLeavesOutDeleted(t *testing.T) {
	e := newTenant(t, graphtest.Options{})
	seeded := e.seed(10)
	gone := seeded.ids()[3]
	e.srv.Inject(graphtest.Fault{Entity: graphtest.DeviceStatusOverview, ConfigurationID: gone, Status: http.StatusNotFound})
	stream, stderr, err := runExport(t, e.args())
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	for _, kind := range []string{userKind, deviceKind} {
		delete(seeded[kind], gone)
	}
	checkExported(t, decodeStream(t, stream), seeded, userKind, deviceKind)
	if !strings.Contains(stderr, "device configuration "+gone+" was deleted since it was listed: left out") {
		t.Errorf("progress:\n%s", stderr)
	}
}

// TestExportThrottled: with a budget under Graph's limits the export spreads its reads over several
// windows and Graph throttles none of them; 429s Graph answers anyway (another app of the tenant
// spent the budget) pause it for their Retry-After, and it finishes with every configuration. (The
// emulator counts the injected 429s, which Graph does not: the budget leaves room for them.)
func TestExportThrottled(t *testing.T) {
	t.Parallel() // waits on the emulator's clock: runs beside the package's other waiting tests
	e := newTenant(t, graphtest.Options{Limits: graphtest.Limits{Window: 2 * time.Second, AppRequests: 40}})
	seeded := e.seed(50) // 2 pages and 100 reads: 102 requests, 3 windows
	first := seeded.ids()[0]
	e.srv.Inject(graphtest.Fault{Method: http.MethodGet, ConfigurationID: first, Entity: graphtest.UserStatusOverview, Status: http.StatusTooManyRequests, RetryAfter: "1.5", Times: 2})

	dir := filepath.Join(t.TempDir(), "out")
	start := time.Now()
	_, stderr, err := runExport(t, e.args("--output-dir", dir, "--graph-requests-per-window", "38", "--graph-budget-window", "2s"))
	if err != nil {
		t.Fatalf("export: %v\n%s", err, stderr)
	}
	took := time.Since(start)
	checkExported(t, readDir(t, dir), seeded, userKind, deviceKind)
	if n := e.srv.CountRequests(func(r graphtest.Request) bool { return r.Throttled }); n > 0 {
		t.Errorf("Graph throttled %d requests over the budget", n)
	}
	if took < 4*time.Second {
		t.Errorf("102 requests at 38 per 2s, and two pauses, took %s", took)
	}
	var tries []time.Time
	for _, r := range e.srv.Requests() {
		if r.ConfigurationID == first && r.Entity == graphtest.UserStatusOverview {
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
		"an overview read fails":     {args: e.args(), fault: &graphtest.Fault{Method: http.MethodGet, ConfigurationID: configID(7, 60), Entity: graphtest.DeviceStatusOverview, Status: http.StatusInternalServerError}, wantErr: "read the deviceStatusOverview of device configuration " + configID(7, 60) + ": Graph answered 500 Internal Server Error"},
		"an unknown kind":            {args: e.args("--kind", "dcuo"), wantErr: `--kind "dcuo": want DeviceConfigurationUserOverview, DeviceConfigurationDeviceOverview or all`},
		// Every GET fails, not just one: reads an earlier case's export left in flight could take a
		// single use of the fault first.
		"a page of the list fails":  {args: e.args(), fault: &graphtest.Fault{Method: http.MethodGet, Status: http.StatusBadGateway}, wantErr: "list the tenant's device configurations"},
		"a CA file that is not PEM": {args: append(e.args(), "--ca-file", notPEM), wantErr: "invalid Graph connection: CA bundle holds no PEM certificate"},
		"an unknown field":          {args: e.args("--fields", "successCount,color"), wantErr: `"color" is not an overview field`},
		"an unknown policy":         {args: e.args("--policy", "Enforce"), wantErr: `--policy "Enforce"`},
		"no credentials":            {args: []string{"--target-namespace", "x"}, wantErr: "give one of --connection"},
		"a bad namespace":           {args: e.args("--target-namespace", "IT_Ops"), wantErr: "is not a namespace name"},
		"a directory not empty":     {args: e.args("--output-dir", full), wantErr: "exists and is not empty"},
		"a beta-only field through v1.0": {args: e.args("--fields", "successCount,conflictCount"),
			wantErr: "--fields: conflictCount is a property of Graph's beta API: export through a connection with apiVersion: beta (or --api-version beta)"},
		"a field the kind asked for does not have": {args: e.args("--api-version", "beta", "--kind", userKind, "--fields", "notApplicablePlatformCount"),
			wantErr: "--fields: notApplicablePlatformCount is not a property of DeviceConfigurationUserOverview"},
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
