package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

const (
	tenant = "8b6b3a1e-1111-4e8d-9c7b-0a1b2c3d4e5f"
	client = "9c7c4b2f-2222-4333-8444-555555555555"
	cfgID  = "6d6c3b5e-0f9a-4c1e-9d7e-2f1f3a4b5c6d"
	cfgID2 = "7e7d4c6f-1a0b-4d2f-8e8f-303f4b5c6d7e"
)

// TestRun starts graphsim on a free port, gets a token as curl would, and GETs the seeded
// overview through the CA file it wrote.
func TestRun(t *testing.T) {
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{
			"--addr", "127.0.0.1:0", "--ca-out", caFile,
			"--app", tenant + ":" + client + ":s3cret:read",
			"--seed", tenant + ":" + cfgID + "=successCount=3,failedCount=1,lastUpdateDateTime=2026-11-28T10:00:00Z,displayName=Wi-Fi%2C%20HQ,device.successCount=5",
			"--seed", tenant + ":" + cfgID2,
			"--page-size", "1",
		}, outW, io.Discard)
		outW.Close()
	}()

	// Read what it prints, and keep draining it so that its request lines never block.
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		close(lines)
	}()
	var base, caPath string
	timeout := time.After(30 * time.Second)
	for caPath == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("graphsim stopped: %v", <-done)
			}
			if v, found := strings.CutPrefix(l, "URL: "); found {
				base = v
			}
			if v, found := strings.CutPrefix(l, "CA: "); found {
				caPath = v
			}
		case <-timeout:
			t.Fatal("graphsim printed no URL and CA")
		}
	}
	if caPath != caFile {
		t.Errorf("CA path %q, want %q", caPath, caFile)
	}

	pem, err := os.ReadFile(caPath)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("the CA file holds no certificate")
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}

	res, err := hc.PostForm(base+"/"+tenant+"/oauth2/v2.0/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {client}, "client_secret": {"s3cret"},
		"scope": {base + "/.default"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK || tok.AccessToken == "" {
		t.Fatalf("token: %d %v", res.StatusCode, err)
	}

	get := func(method string, segment ...string) (int, map[string]any) {
		path := base + "/v1.0/deviceManagement/deviceConfigurations/" + cfgID + "/userStatusOverview"
		if len(segment) > 0 {
			path = base + "/v1.0/deviceManagement/deviceConfigurations/" + cfgID + "/" + segment[0]
		}
		req, _ := http.NewRequest(method, path, strings.NewReader(`{"successCount":1}`))
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		res, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(res.Body).Decode(&body)
		return res.StatusCode, body
	}
	status, body := get(http.MethodGet)
	if status != http.StatusOK {
		t.Fatalf("GET: %d %v", status, body)
	}
	got := map[string]any{"successCount": body["successCount"], "failedCount": body["failedCount"], "lastUpdateDateTime": body["lastUpdateDateTime"]}
	want := map[string]any{"successCount": 3.0, "failedCount": 1.0, "lastUpdateDateTime": "2026-11-28T10:00:00Z"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("overview (-want +got):\n%s", d)
	}
	if status, body := get(http.MethodGet, graphtest.DeviceStatusOverview); status != http.StatusOK || body["successCount"] != 5.0 {
		t.Errorf("device overview: %d %v, want successCount 5", status, body)
	}
	// The list serves the display name given, a page of --page-size at a time.
	req, _ := http.NewRequest(http.MethodGet, base+"/v1.0/deviceManagement/deviceConfigurations?$select=displayName", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	list, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var page struct {
		NextLink string           `json:"@odata.nextLink"`
		Value    []map[string]any `json:"value"`
	}
	err = json.NewDecoder(list.Body).Decode(&page)
	list.Body.Close()
	if err != nil || len(page.Value) != 1 || page.Value[0]["displayName"] != "Wi-Fi, HQ" || page.NextLink == "" {
		t.Errorf("list: %d %v %+v", list.StatusCode, err, page)
	}
	// The app was registered read-only.
	if status, _ := get(http.MethodPatch); status != http.StatusForbidden {
		t.Errorf("PATCH by a read-only app: %d, want 403", status)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after its context ended")
	}
}

func TestRunRefusesBadFlags(t *testing.T) {
	// Cancelled, so that a run that wrongly starts returns at once.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, args := range [][]string{
		{"--app", "only:two"},
		{"--seed", "tenant-without-config"},
		{"--fault", "method=GET"},
		{"--time-scale", "-1", "--addr", "127.0.0.1:0"},
	} {
		args = append(args, "--ca-out", filepath.Join(t.TempDir(), "ca.pem"))
		if err := run(ctx, args, io.Discard, io.Discard); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
	if err := run(ctx, []string{"--addr", "127.0.0.1:0", "extra"}, io.Discard, io.Discard); err == nil {
		t.Error("run accepted an argument")
	}
	if err := run(ctx, []string{"--help"}, io.Discard, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("--help: %v", err)
	}
}

func TestParseSpecs(t *testing.T) {
	app, err := parseApp("t:c:s:read")
	if d := cmp.Diff(graphtest.App{TenantID: "t", ClientID: "c", ClientSecret: "s", Permissions: []string{graphtest.PermissionRead}}, app); d != "" || err != nil {
		t.Errorf("parseApp: %v (-want +got):\n%s", err, d)
	}
	sd, err := parseSeed("t:c=pendingCount=1,conflictCount=-2,configurationVersion=4")
	if d := cmp.Diff(graphtest.Overview{PendingCount: 1, ConflictCount: -2, ConfigurationVersion: 4}, sd.overview); d != "" || err != nil || sd.tenantID != "t" || sd.configurationID != "c" {
		t.Errorf("parseSeed: %v %+v (-want +got):\n%s", err, sd, d)
	}
	sd, err = parseSeed("t:c=displayName=Wi-Fi%2C%20HQ=1,successCount=2")
	if err != nil || sd.displayName != "Wi-Fi, HQ=1" || sd.overview.SuccessCount != 2 {
		t.Errorf("parseSeed with a displayName: %v %+v", err, sd)
	}
	sd, err = parseSeed("t:c=successCount=2,device.successCount=3,device.notApplicablePlatformCount=4,device.lastUpdateDateTime=2026-11-28T10:00:00Z")
	wantDevice := graphtest.Overview{SuccessCount: 3, NotApplicablePlatformCount: 4, LastUpdateDateTime: time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)}
	if d := cmp.Diff(wantDevice, sd.deviceOverview); d != "" || err != nil || sd.overview.SuccessCount != 2 {
		t.Errorf("parseSeed of both overviews: %v %+v (-want +got device):\n%s", err, sd, d)
	}
	for _, bad := range []string{"t:c=successCount=x", "t:c=unknown=1", "t:c=successCount=2147483648", "t:c=displayName=", "t:c=displayName=%zz",
		"t:c=notApplicablePlatformCount=1", "t:c=device.displayName=x", "t:c=device.lastUpdateDateTime=today"} {
		if _, err := parseSeed(bad); err == nil {
			t.Errorf("parseSeed(%q) succeeded", bad)
		}
	}
	f, err := parseFault("method=patch,status=503,retry-after=1.5,times=2,tenant=t,config=c,code=X,latency=200ms,drop,malformed=false,no-content,discard-patch=true")
	want := graphtest.Fault{Method: "PATCH", Status: 503, RetryAfter: "1.5", Times: 2, TenantID: "t", ConfigurationID: "c",
		Code: "X", Latency: 200 * time.Millisecond, DropConnection: true, NoContent: true, DiscardPatch: true}
	if d := cmp.Diff(want, f); d != "" || err != nil {
		t.Errorf("parseFault: %v (-want +got):\n%s", err, d)
	}
	f, err = parseFault("token,tenant=t,hang,html=true,times=1")
	want = graphtest.Fault{Token: true, TenantID: "t", Hang: true, HTMLPage: true, Times: 1}
	if d := cmp.Diff(want, f); d != "" || err != nil {
		t.Errorf("parseFault: %v (-want +got):\n%s", err, d)
	}
	f, err = parseFault("entity=deviceStatusOverview,status=500")
	if d := cmp.Diff(graphtest.Fault{Entity: graphtest.DeviceStatusOverview, Status: 500}, f); d != "" || err != nil {
		t.Errorf("parseFault with an entity: %v (-want +got):\n%s", err, d)
	}
	for _, bad := range []string{"status=abc", "bogus=1", "drop=maybe", "times=2", "token", "entity=statusOverview,status=500"} {
		if _, err := parseFault(bad); err == nil {
			t.Errorf("parseFault(%q) succeeded", bad)
		}
	}
}
