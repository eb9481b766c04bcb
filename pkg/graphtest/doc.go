// Package graphtest is an in-process emulator of Microsoft Graph and Entra ID for the resources
// this operator manages: the two status overviews of a device configuration,
// deviceConfigurationUserOverview and deviceConfigurationDeviceOverview. Tests (this repository's and users' own
// envtest suites) point a real Graph client at it instead of at Microsoft, and see the HTTP
// behaviour that matters: tokens, bearer checks, Graph's error bodies and headers, Intune's
// throttling, and faults they program.
//
// One HTTPS server, with a CA of its own, plays both parts:
//
//   - Entra ID: GET /{tenant}/v2.0/.well-known/openid-configuration, GET /{tenant}/discovery/v2.0/keys
//     and POST /{tenant}/oauth2/v2.0/token (client credentials with a client secret, a client
//     assertion signed by the app's certificate, or a federated token from FederatedToken). The
//     scope must be URL()+"/.default". Access tokens are JWTs the server signs (tid, appid, azp,
//     roles, aud = URL()).
//   - Graph: GET and PATCH /{v1.0|beta}/deviceManagement/deviceConfigurations/{id}/userStatusOverview
//     and .../{id}/deviceStatusOverview on configurations that a test seeds, and GET
//     /{v1.0|beta}/deviceManagement/deviceConfigurations, the list of the token's tenant; 401 InvalidAuthenticationToken, 403 without the
//     permission, 404 ResourceNotFound, 400 BadRequest for a body or query Graph would refuse, 429
//     TooManyRequests past Intune's limits (each app's in a tenant, and the tenant's across its
//     apps), with Retry-After and, as Graph documents them, x-ms-throttle-scope (Tenant_Application
//     or Tenant, ReadWrite or Write, the app and the tenant) and x-ms-throttle-information. An app's permissions are the roles of
//     the tokens issued to it: Grant changes them for the tokens issued from then on, as consent in
//     Entra ID does, so a client that holds an older token stays forbidden until it gets a new one.
//     Every answer carries request-id, the echoed client-request-id and x-ms-ags-diagnostic.
//
// It reads and writes the wire as Graph does, so that a client built on Microsoft's SDKs works:
//
//   - Request bodies with Content-Encoding: gzip (which the SDKs send by default) are decompressed,
//     as Graph's gateway does; the 1 MiB limit on a body applies to its decompressed size too (413
//     RequestEntityTooLarge), and another encoding (br, deflate, gzip twice) is answered 415
//     UnsupportedMediaType, since gzip is the one the SDKs use. The request log keeps the
//     decompressed body and the Content-Encoding.
//   - Date-times go out in UTC with at most 7 fractional digits and no trailing zeros
//     ("2026-11-28T10:00:00.1234567Z"), Graph's 100 ns precision. A PATCH with more digits is taken
//     and rounded to 100 ns, as .NET's parser does, and so is a time given to Seed; a client that
//     compares what it wrote at nanosecond precision with what it reads back sees the difference
//     it would see against Graph.
//   - Each overview serves the properties of its type under the version called, with its
//     @odata.type and @odata.context: both have the seven of v1.0; beta adds conflictCount to both
//     and notApplicablePlatformCount to the device overview. A PATCH of a property the type does
//     not have there (conflictCount on v1.0) is a 400, as Graph refuses it.
//   - $select on a GET of an overview answers only the properties asked for, plus id, and lists
//     them in @odata.context (...userStatusOverview(successCount,failedCount)/$entity); names match
//     without regard to case, and a property the type does not have (conflictCount on v1.0) is a
//     400. A PATCH answers with the whole entity.
//   - The list serves id, displayName, description, createdDateTime, lastModifiedDateTime and
//     version, with each item's derived @odata.type; $select narrows them. It pages in the order
//     of the ids, Options.PageSize (default 25; Graph does not document Intune's) at a time, or
//     fewer with $top (Graph's $top is the page size), with @odata.nextLink holding the same
//     $select and $top and an opaque $skiptoken after the last id served, so that configurations
//     seeded while a client pages are neither served twice nor make it skip one. Other query
//     options ($filter, $orderby, $count, ...) are refused with 400 rather than ignored. It needs
//     DeviceManagementConfiguration.Read.All (or ReadWrite.All) and counts as a read against the
//     throttling limits. Seed a configuration's display name and other properties with
//     SeedConfiguration; one that only Seed created is listed with its id as display name.
//
// A configuration has both overviews, as in Intune: Seed and Overview hold its user overview,
// SeedDevice and DeviceOverview its device overview; seeding either (or SeedConfiguration)
// creates the configuration with the other overview at zero. Both overviews count against the
// same throttling limits, as both are Intune device configuration calls.
//
// Faults (Inject) misbehave on Graph requests (the list's too, unless the fault names a
// ConfigurationID or an Entity, UserStatusOverview or DeviceStatusOverview), or, with
// Fault.Token, on the token endpoint of one tenant or all: 429 and 5xx answers (with or without Retry-After), added latency, a hang until the
// client gives up, dropped connections, malformed bodies, an HTML page with status 200 (a captive
// portal or an outage page), 204 and PATCHes that are not kept; each for Times requests or until
// ClearFaults.
//
// Every request is logged (Requests, CountRequests), so a test can check what a client sent, such
// as the exact PATCH body, and when, and to which overview (Request.Entity), and which replica of a
// sharded operator sent it (Request.Replica, the HeaderReplica header).
//
// With Options.InMemory the server listens on an in-memory network rather than a TCP port, and a
// client reaches it through DialContext (Client does): a test can then run the server and its
// client in a testing/synctest bubble, where Intune's throttling windows pass in no time.
//
// A client built on azidentity reaches it with the authority host and Graph endpoint set to URL(),
// instance discovery disabled, and CACertPEM() trusted:
//
//	srv, err := graphtest.NewServer(graphtest.Options{})
//	if err != nil {
//		t.Fatal(err)
//	}
//	t.Cleanup(srv.Close)
//	srv.AddApp(graphtest.App{TenantID: tenant, ClientID: client, ClientSecret: "s3cret"})
//	srv.Seed(tenant, configID, graphtest.Overview{SuccessCount: 3})
//	srv.SeedDevice(tenant, configID, graphtest.Overview{SuccessCount: 5})
//	srv.SeedConfiguration(tenant, configID, graphtest.Configuration{DisplayName: "Wi-Fi HQ"})
//
//	cred, _ := azidentity.NewClientSecretCredential(tenant, client, "s3cret", &azidentity.ClientSecretCredentialOptions{
//		ClientOptions: azcore.ClientOptions{
//			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: srv.URL()},
//			Transport: srv.Client(), // or an http.Client whose roots include srv.CACertPEM()
//		},
//		DisableInstanceDiscovery: true,
//	})
//	// ... GET srv.URL()+"/v1.0/deviceManagement/deviceConfigurations/"+configID+"/userStatusOverview"
//	// with a token for srv.URL()+"/.default".
//
//	srv.Inject(graphtest.Fault{Method: "PATCH", Status: 503, RetryAfter: "1.5", Times: 1})
//	srv.Inject(graphtest.Fault{Entity: graphtest.DeviceStatusOverview, Status: 500, Times: 1})
//	srv.Inject(graphtest.Fault{Token: true, TenantID: tenant, HTMLPage: true, Times: 1})
//	patches := srv.CountRequests(func(r graphtest.Request) bool { return r.Method == "PATCH" })
//
// The same emulator runs as a program: go run ./hack/graphsim.
package graphtest
