// Package graphtest is an in-process emulator of Microsoft Graph and Entra ID for the one resource
// this operator manages, deviceConfigurationUserOverview. Tests (this repository's and users' own
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
//     on configurations that a test seeds; 401 InvalidAuthenticationToken, 403 without the
//     permission, 404 ResourceNotFound, 400 BadRequest for a body Graph would refuse, 429
//     TooManyRequests with Retry-After past Intune's limits. An app's permissions are the roles of
//     the tokens issued to it: Grant changes them for the tokens issued from then on, as consent in
//     Entra ID does, so a client that holds an older token stays forbidden until it gets a new one. Every answer carries request-id, the
//     echoed client-request-id and x-ms-ags-diagnostic.
//
// Faults (Inject) misbehave on Graph requests, or, with Fault.Token, on the token endpoint of one
// tenant or all: 429 and 5xx answers (with or without Retry-After), added latency, a hang until the
// client gives up, dropped connections, malformed bodies, an HTML page with status 200 (a captive
// portal or an outage page), 204 and PATCHes that are not kept; each for Times requests or until
// ClearFaults.
//
// Every request is logged (Requests, CountRequests), so a test can check what a client sent, such
// as the exact PATCH body, and when.
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
//	srv.Inject(graphtest.Fault{Token: true, TenantID: tenant, HTMLPage: true, Times: 1})
//	patches := srv.CountRequests(func(r graphtest.Request) bool { return r.Method == "PATCH" })
//
// The same emulator runs as a program: go run ./hack/graphsim.
package graphtest
