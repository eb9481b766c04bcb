package graphtest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/overview-operator/overview-operator/internal/testutil"
)

type tokenResponse struct {
	TokenType        string `json:"token_type"`
	ExpiresIn        int    `json:"expires_in"`
	AccessToken      string `json:"access_token"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
}

func decodeToken(t *testing.T, r response) tokenResponse {
	t.Helper()
	var tr tokenResponse
	if err := json.Unmarshal(r.body, &tr); err != nil {
		t.Fatalf("token endpoint answered %d with %s", r.status, r.body)
	}
	return tr
}

func tokenURL(srv *Server, tenantID string) string {
	return srv.URL() + "/" + tenantID + "/oauth2/v2.0/token"
}

// secretForm is a client credentials request of the app clientRW with its secret, as MSAL sends it
// (it adds the OpenID scopes).
func secretForm(srv *Server) url.Values {
	return url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {clientRW},
		"client_secret": {secret},
		"scope":         {srv.URL() + "/.default openid offline_access profile"},
	}
}

func assertionForm(srv *Server, clientID, assertion string) url.Values {
	return url.Values{
		"grant_type":            {"client_credentials"},
		"client_id":             {clientID},
		"client_assertion_type": {clientAssertionType},
		"client_assertion":      {assertion},
		"scope":                 {srv.URL() + "/.default"},
	}
}

func TestTokenWithClientSecret(t *testing.T) {
	srv := newTestServer(t, Options{TokenLifetime: 30 * time.Minute})
	res := postForm(t, srv.Client(), tokenURL(srv, tenantA), secretForm(srv))
	if res.status != http.StatusOK {
		t.Fatalf("status %d: %s", res.status, res.body)
	}
	tr := decodeToken(t, res)
	if tr.TokenType != "Bearer" || tr.ExpiresIn != 1800 || tr.AccessToken == "" {
		t.Fatalf("unexpected token response %+v", tr)
	}
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(tr.AccessToken, claims); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"tid": tenantA, "appid": clientRW, "azp": clientRW, "aud": srv.URL(),
		"roles": []any{PermissionReadWrite}, "appidacr": "1", "idtyp": "app",
	}
	got := map[string]any{}
	for k := range want {
		got[k] = claims[k]
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("claims (-want +got):\n%s", d)
	}
	exp, _ := claims.GetExpirationTime()
	if d := time.Until(exp.Time); d < 29*time.Minute || d > 31*time.Minute {
		t.Errorf("token expires in %v, want about 30m", d)
	}
}

func TestTokenWithClientSecretInBasicAuth(t *testing.T) {
	srv := newTestServer(t, Options{})
	form := secretForm(srv)
	form.Del("client_secret")
	form.Del("client_id")
	req, _ := http.NewRequest(http.MethodPost, tokenURL(srv, tenantA), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientRW, secret)
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
}

func TestTokenRefused(t *testing.T) {
	srv := newTestServer(t, Options{})
	srv.AddApp(App{TenantID: tenantA, ClientID: clientRW2}) // no secret, no certificate
	cases := map[string]struct {
		tenant     string
		form       func(url.Values)
		wantStatus int
		wantError  string
		wantCode   int
	}{
		"wrong secret": {
			form:       func(f url.Values) { f.Set("client_secret", "wrong") },
			wantStatus: http.StatusUnauthorized, wantError: "invalid_client", wantCode: 7000215,
		},
		"app without a secret": {
			form:       func(f url.Values) { f.Set("client_id", clientRW2) },
			wantStatus: http.StatusUnauthorized, wantError: "invalid_client", wantCode: 7000215,
		},
		"unknown app": {
			form:       func(f url.Values) { f.Set("client_id", "99999999-0000-4000-8000-000000000000") },
			wantStatus: http.StatusBadRequest, wantError: "unauthorized_client", wantCode: 700016,
		},
		"app of another tenant": {
			tenant:     tenantB,
			wantStatus: http.StatusBadRequest, wantError: "invalid_request", wantCode: 90002,
		},
		"Graph's public scope": {
			form:       func(f url.Values) { f.Set("scope", "https://graph.microsoft.com/.default") },
			wantStatus: http.StatusBadRequest, wantError: "invalid_scope", wantCode: 1002012,
		},
		"scope without /.default": {
			form:       func(f url.Values) { f.Set("scope", srv.URL()) },
			wantStatus: http.StatusBadRequest, wantError: "invalid_scope", wantCode: 1002012,
		},
		"no scope": {
			form:       func(f url.Values) { f.Set("scope", "openid profile") },
			wantStatus: http.StatusBadRequest, wantError: "invalid_request", wantCode: 900144,
		},
		"no credential": {
			form:       func(f url.Values) { f.Del("client_secret") },
			wantStatus: http.StatusUnauthorized, wantError: "invalid_client", wantCode: 7000218,
		},
		"another grant": {
			form:       func(f url.Values) { f.Set("grant_type", "password") },
			wantStatus: http.StatusBadRequest, wantError: "unsupported_grant_type", wantCode: 70003,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tenant := tc.tenant
			if tenant == "" {
				tenant = tenantA
			}
			form := secretForm(srv)
			if tc.form != nil {
				tc.form(form)
			}
			res := postForm(t, srv.Client(), tokenURL(srv, tenant), form)
			tr := decodeToken(t, res)
			got := []any{res.status, tr.Error, tr.ErrorCodes, tr.AccessToken}
			want := []any{tc.wantStatus, tc.wantError, []int{tc.wantCode}, ""}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("(-want +got):\n%s\n%s", d, tr.ErrorDescription)
			}
			if strings.Contains(string(res.body), secret) {
				t.Error("the answer repeats the secret")
			}
		})
	}
}

// signAssertion signs a client assertion as MSAL does: PS256 with x5t#S256, or RS256 with x5t.
func signAssertion(t *testing.T, key *rsa.PrivateKey, method jwt.SigningMethod, claims jwt.MapClaims, header map[string]any) string {
	t.Helper()
	cert := testutil.SelfSignedCertificate().Cert
	tok := jwt.NewWithClaims(method, claims)
	sum := sha256.Sum256(cert.Raw)
	tok.Header["x5t#S256"] = base64.StdEncoding.EncodeToString(sum[:])
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
		} else {
			tok.Header[k] = v
		}
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTokenWithCertificateAssertion(t *testing.T) {
	srv := newTestServer(t, Options{})
	app := testutil.SelfSignedCertificate()
	key, cert := app.Key, app.Cert
	srv.AddApp(App{TenantID: tenantA, ClientID: clientRW2, Certificate: cert})
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	endpoint := tokenURL(srv, tenantA)
	claims := func(change func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{
			"aud": endpoint, "iss": clientRW2, "sub": clientRW2, "jti": "1",
			"nbf": time.Now().Unix(), "exp": time.Now().Add(10 * time.Minute).Unix(),
		}
		if change != nil {
			change(c)
		}
		return c
	}
	cases := map[string]struct {
		assertion  string
		clientID   string
		wantStatus int
		wantCode   int
	}{
		"PS256 with x5t#S256, as MSAL signs": {
			assertion:  signAssertion(t, key, jwt.SigningMethodPS256, claims(nil), nil),
			wantStatus: http.StatusOK,
		},
		"RS256 with x5t": {
			assertion: signAssertion(t, key, jwt.SigningMethodRS256, claims(nil), map[string]any{
				"x5t#S256": nil, "x5t": base64.StdEncoding.EncodeToString(sha1Sum(cert.Raw)),
			}),
			wantStatus: http.StatusOK,
		},
		"audience is the issuer": {
			assertion:  signAssertion(t, key, jwt.SigningMethodPS256, claims(func(c jwt.MapClaims) { c["aud"] = srv.URL() + "/" + tenantA + "/v2.0" }), nil),
			wantStatus: http.StatusOK,
		},
		"signed by another key": {
			assertion:  signAssertion(t, otherKey, jwt.SigningMethodPS256, claims(nil), nil),
			wantStatus: http.StatusUnauthorized, wantCode: 700027,
		},
		"no thumbprint": {
			assertion:  signAssertion(t, key, jwt.SigningMethodPS256, claims(nil), map[string]any{"x5t#S256": nil}),
			wantStatus: http.StatusUnauthorized, wantCode: 700027,
		},
		"thumbprint of another certificate": {
			assertion:  signAssertion(t, key, jwt.SigningMethodPS256, claims(nil), map[string]any{"x5t#S256": base64.StdEncoding.EncodeToString(make([]byte, 32))}),
			wantStatus: http.StatusUnauthorized, wantCode: 700027,
		},
		"expired": {
			assertion:  signAssertion(t, key, jwt.SigningMethodPS256, claims(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Minute).Unix() }), nil),
			wantStatus: http.StatusUnauthorized, wantCode: 700024,
		},
		"no expiry": {
			assertion:  signAssertion(t, key, jwt.SigningMethodPS256, claims(func(c jwt.MapClaims) { delete(c, "exp") }), nil),
			wantStatus: http.StatusUnauthorized, wantCode: 700024,
		},
		"another audience": {
			assertion: signAssertion(t, key, jwt.SigningMethodPS256, claims(func(c jwt.MapClaims) {
				c["aud"] = "https://login.microsoftonline.com/" + tenantA + "/oauth2/v2.0/token"
			}), nil),
			wantStatus: http.StatusUnauthorized, wantCode: 50012,
		},
		"issuer is not the client": {
			assertion:  signAssertion(t, key, jwt.SigningMethodPS256, claims(func(c jwt.MapClaims) { c["iss"] = clientRW }), nil),
			wantStatus: http.StatusUnauthorized, wantCode: 700021,
		},
		"app without a certificate": {
			assertion:  signAssertion(t, key, jwt.SigningMethodPS256, claims(func(c jwt.MapClaims) { c["iss"], c["sub"] = clientRW, clientRW }), nil),
			clientID:   clientRW,
			wantStatus: http.StatusUnauthorized, wantCode: 700027,
		},
		"not a JWT": {
			assertion:  "not-a-jwt",
			wantStatus: http.StatusUnauthorized, wantCode: 50027,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			clientID := tc.clientID
			if clientID == "" {
				clientID = clientRW2
			}
			res := postForm(t, srv.Client(), endpoint, assertionForm(srv, clientID, tc.assertion))
			tr := decodeToken(t, res)
			if res.status != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", res.status, tc.wantStatus, res.body)
			}
			if tc.wantStatus != http.StatusOK {
				if d := cmp.Diff([]int{tc.wantCode}, tr.ErrorCodes); d != "" || tr.Error != "invalid_client" {
					t.Errorf("error %q %v, want invalid_client %d: %s", tr.Error, tr.ErrorCodes, tc.wantCode, tr.ErrorDescription)
				}
				return
			}
			claims := jwt.MapClaims{}
			if _, _, err := jwt.NewParser().ParseUnverified(tr.AccessToken, claims); err != nil {
				t.Fatal(err)
			}
			if claims["appidacr"] != "2" || claims["appid"] != clientRW2 {
				t.Errorf("claims %v", claims)
			}
		})
	}
}

func TestTokenWithFederatedToken(t *testing.T) {
	srv := newTestServer(t, Options{})
	cases := map[string]struct {
		assertion  string
		wantStatus int
		wantCode   int
	}{
		"valid":                              {assertion: srv.FederatedToken(tenantA, clientRW, time.Hour), wantStatus: http.StatusOK},
		"default lifetime":                   {assertion: srv.FederatedToken(tenantA, clientRW, 0), wantStatus: http.StatusOK},
		"expired":                            {assertion: srv.FederatedToken(tenantA, clientRW, -time.Second), wantStatus: http.StatusUnauthorized, wantCode: 700024},
		"for another app":                    {assertion: srv.FederatedToken(tenantA, clientRO, time.Hour), wantStatus: http.StatusUnauthorized, wantCode: 70021},
		"for another tenant":                 {assertion: srv.FederatedToken(tenantB, clientRW, time.Hour), wantStatus: http.StatusUnauthorized, wantCode: 70021},
		"of another emulator":                {assertion: otherServer(t).FederatedToken(tenantA, clientRW, time.Hour), wantStatus: http.StatusUnauthorized, wantCode: 700027},
		"an access token":                    {assertion: mustToken(t, srv, tenantA, clientRW), wantStatus: http.StatusUnauthorized, wantCode: 700027},
		"of the right issuer, bad signature": {assertion: tamper(srv.FederatedToken(tenantA, clientRW, time.Hour)), wantStatus: http.StatusUnauthorized, wantCode: 700027},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			res := postForm(t, srv.Client(), tokenURL(srv, tenantA), assertionForm(srv, clientRW, tc.assertion))
			tr := decodeToken(t, res)
			if res.status != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", res.status, tc.wantStatus, res.body)
			}
			if tc.wantStatus != http.StatusOK {
				if d := cmp.Diff([]int{tc.wantCode}, tr.ErrorCodes); d != "" {
					t.Errorf("error codes (-want +got):\n%s\n%s", d, tr.ErrorDescription)
				}
			}
		})
	}
}

func sha1Sum(b []byte) []byte {
	s := sha1.Sum(b)
	return s[:]
}

// tamper changes the last character of a JWT's signature.
func tamper(jwt string) string {
	last := jwt[len(jwt)-2]
	repl := byte('A')
	if last == 'A' {
		repl = 'B'
	}
	return jwt[:len(jwt)-2] + string(repl) + jwt[len(jwt)-1:]
}

func otherServer(t *testing.T) *Server {
	t.Helper()
	other, err := NewServer(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(other.Close)
	return other
}

func TestOpenIDConfiguration(t *testing.T) {
	srv := newTestServer(t, Options{})
	res := call(t, srv.Client(), http.MethodGet, srv.URL()+"/"+tenantA+"/v2.0/.well-known/openid-configuration", "", "", nil)
	if res.status != http.StatusOK {
		t.Fatalf("status %d: %s", res.status, res.body)
	}
	var doc map[string]any
	if err := json.Unmarshal(res.body, &doc); err != nil {
		t.Fatal(err)
	}
	base := srv.URL() + "/" + tenantA
	want := map[string]any{
		"issuer":                 base + "/v2.0",
		"token_endpoint":         base + "/oauth2/v2.0/token",
		"authorization_endpoint": base + "/oauth2/v2.0/authorize",
		"jwks_uri":               base + "/discovery/v2.0/keys",
	}
	got := map[string]any{}
	for k := range want {
		got[k] = doc[k]
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}

	keys := call(t, srv.Client(), http.MethodGet, base+"/discovery/v2.0/keys", "", "", nil)
	if keys.status != http.StatusOK || !strings.Contains(string(keys.body), srv.tokenKey.kid) {
		t.Errorf("keys: %d %s", keys.status, keys.body)
	}

	unknown := call(t, srv.Client(), http.MethodGet, srv.URL()+"/"+tenantB+"/v2.0/.well-known/openid-configuration", "", "", nil)
	if tr := decodeToken(t, unknown); unknown.status != http.StatusBadRequest || tr.Error != "invalid_tenant" {
		t.Errorf("unknown tenant: %d %s", unknown.status, unknown.body)
	}
}

// TestAzidentityCredentials gets tokens with azidentity, as the operator's client does, for each
// credential kind, and uses them on Graph.
func TestAzidentityCredentials(t *testing.T) {
	srv := newTestServer(t, Options{})
	app := testutil.SelfSignedCertificate()
	key, cert := app.Key, app.Cert
	srv.AddApp(App{TenantID: tenantA, ClientID: clientRW2, Certificate: cert})
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(srv.FederatedToken(tenantA, clientRW, time.Hour)), 0o600); err != nil {
		t.Fatal(err)
	}
	clientOptions := azcore.ClientOptions{
		Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: srv.URL()},
		Transport: srv.Client(),
	}

	secretCred, err := azidentity.NewClientSecretCredential(tenantA, clientRW, secret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions: clientOptions, DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	certCred, err := azidentity.NewClientCertificateCredential(tenantA, clientRW2, []*x509.Certificate{cert}, key, &azidentity.ClientCertificateCredentialOptions{
		ClientOptions: clientOptions, DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	wiCred, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
		ClientOptions: clientOptions, DisableInstanceDiscovery: true,
		TenantID: tenantA, ClientID: clientRW, TokenFilePath: tokenFile,
	})
	if err != nil {
		t.Fatal(err)
	}
	wrongCred, err := azidentity.NewClientSecretCredential(tenantA, clientRW, "wrong", &azidentity.ClientSecretCredentialOptions{
		ClientOptions: clientOptions, DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatal(err)
	}

	for name, cred := range map[string]azcore.TokenCredential{"secret": secretCred, "certificate": certCred, "workload identity": wiCred} {
		t.Run(name, func(t *testing.T) {
			tok, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{srv.URL() + "/.default"}})
			if err != nil {
				t.Fatal(err)
			}
			res := call(t, srv.Client(), http.MethodGet, srv.URL()+overviewPath("v1.0", configA), tok.Token, "", nil)
			if res.status != http.StatusOK {
				t.Fatalf("GET with the token: %d %s", res.status, res.body)
			}
		})
	}
	t.Run("wrong secret", func(t *testing.T) {
		_, err := wrongCred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{srv.URL() + "/.default"}})
		if err == nil || !strings.Contains(err.Error(), "AADSTS7000215") {
			t.Fatalf("err = %v, want AADSTS7000215", err)
		}
	})

	// MSAL reads the OpenID configuration once per credential before its first token request.
	metadata := srv.CountRequests(func(r Request) bool { return r.Kind == KindMetadata })
	if metadata == 0 {
		t.Error("no OpenID configuration request was logged")
	}
	for _, r := range srv.Requests() {
		if r.Kind == KindToken && r.Body != nil {
			t.Errorf("a token request's body was logged: %q", r.Body)
		}
	}
}
