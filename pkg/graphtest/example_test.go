package graphtest_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

// A test seeds a configuration, makes a PATCH fail once, and checks what the client sent.
func Example() {
	srv, err := graphtest.NewServer(graphtest.Options{})
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	const tenant, client, config = "tenant-1", "client-1", "6d6c3b5e-0f9a-4c1e-9d7e-2f1f3a4b5c6d"
	srv.AddApp(graphtest.App{TenantID: tenant, ClientID: client, ClientSecret: "s3cret"})
	srv.Seed(tenant, config, graphtest.Overview{SuccessCount: 3})
	srv.Inject(graphtest.Fault{Method: http.MethodPatch, Status: http.StatusServiceUnavailable, RetryAfter: "1.5", Times: 1})

	// A real test would use its Graph client here; IssueToken stands in for the token endpoint.
	token, err := srv.IssueToken(tenant, client)
	if err != nil {
		panic(err)
	}
	url := srv.URL() + "/v1.0/deviceManagement/deviceConfigurations/" + config + "/userStatusOverview"
	for range 2 {
		req, _ := http.NewRequest(http.MethodPatch, url, strings.NewReader(`{"successCount":12}`))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		res, err := srv.Client().Do(req)
		if err != nil {
			panic(err)
		}
		var body struct {
			SuccessCount int32 `json:"successCount"`
		}
		_ = json.NewDecoder(res.Body).Decode(&body)
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		fmt.Println(res.StatusCode, res.Header.Get("Retry-After"), body.SuccessCount)
	}

	o, _ := srv.Overview(tenant, config)
	fmt.Println("successCount:", o.SuccessCount)
	for _, r := range srv.Requests() {
		fmt.Println(r.Method, r.Status, string(r.Body))
	}
	// Output:
	// 503 1.5 0
	// 200  12
	// successCount: 12
	// PATCH 503 {"successCount":12}
	// PATCH 200 {"successCount":12}
}

// A test seeds configurations with display names and lists them a page at a time, as an export
// tool does.
func ExampleServer_SeedConfiguration() {
	srv, err := graphtest.NewServer(graphtest.Options{PageSize: 2})
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	const tenant, client = "tenant-1", "client-1"
	srv.AddApp(graphtest.App{TenantID: tenant, ClientID: client, ClientSecret: "s3cret"})
	for i, name := range []string{"Wi-Fi HQ", "VPN", "Wi-Fi HQ"} {
		srv.SeedConfiguration(tenant, fmt.Sprintf("0000000%d-0f9a-4c1e-9d7e-2f1f3a4b5c6d", i), graphtest.Configuration{DisplayName: name})
	}
	token, err := srv.IssueToken(tenant, client)
	if err != nil {
		panic(err)
	}
	for next := srv.URL() + "/v1.0/deviceManagement/deviceConfigurations?$select=id,displayName"; next != ""; {
		req, _ := http.NewRequest(http.MethodGet, next, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := srv.Client().Do(req)
		if err != nil {
			panic(err)
		}
		var page struct {
			NextLink string `json:"@odata.nextLink"`
			Value    []struct{ ID, DisplayName string }
		}
		_ = json.NewDecoder(res.Body).Decode(&page)
		res.Body.Close()
		for _, c := range page.Value {
			fmt.Println(c.ID, c.DisplayName)
		}
		next = page.NextLink
	}
	// Output:
	// 00000000-0f9a-4c1e-9d7e-2f1f3a4b5c6d Wi-Fi HQ
	// 00000001-0f9a-4c1e-9d7e-2f1f3a4b5c6d VPN
	// 00000002-0f9a-4c1e-9d7e-2f1f3a4b5c6d Wi-Fi HQ
}

// A configuration has an overview of users and one of devices; a fault can fail the reads of one.
func ExampleServer_SeedDevice() {
	srv, err := graphtest.NewServer(graphtest.Options{})
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	const tenant, client, config = "tenant-1", "client-1", "6d6c3b5e-0f9a-4c1e-9d7e-2f1f3a4b5c6d"
	srv.AddApp(graphtest.App{TenantID: tenant, ClientID: client, ClientSecret: "s3cret"})
	srv.Seed(tenant, config, graphtest.Overview{SuccessCount: 3})
	srv.SeedDevice(tenant, config, graphtest.Overview{SuccessCount: 5, NotApplicablePlatformCount: 1})
	srv.Inject(graphtest.Fault{Entity: graphtest.DeviceStatusOverview, Status: http.StatusInternalServerError, Times: 1})

	token, err := srv.IssueToken(tenant, client)
	if err != nil {
		panic(err)
	}
	for _, path := range []string{"v1.0/deviceManagement/deviceConfigurations/" + config + "/deviceStatusOverview",
		"v1.0/deviceManagement/deviceConfigurations/" + config + "/userStatusOverview",
		"beta/deviceManagement/deviceConfigurations/" + config + "/deviceStatusOverview?$select=notApplicablePlatformCount"} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL()+"/"+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := srv.Client().Do(req)
		if err != nil {
			panic(err)
		}
		var body map[string]any
		_ = json.NewDecoder(res.Body).Decode(&body)
		res.Body.Close()
		fmt.Println(res.StatusCode, body["@odata.type"], body["successCount"], body["notApplicablePlatformCount"])
	}
	held, _ := srv.DeviceOverview(tenant, config)
	fmt.Println("device successCount:", held.SuccessCount)
	// Output:
	// 500 <nil> <nil> <nil>
	// 200 #microsoft.graph.deviceConfigurationUserOverview 3 <nil>
	// 200 #microsoft.graph.deviceConfigurationDeviceOverview <nil> 1
	// device successCount: 5
}
