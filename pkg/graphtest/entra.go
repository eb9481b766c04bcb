package graphtest

import (
	"crypto/sha1" //nolint:gosec // x5t is defined as a SHA-1 thumbprint (RFC 7515); it selects a key, it protects nothing
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// oidcScopes are the scopes MSAL adds to every token request; Entra ID ignores them for the
// client credentials grant.
var oidcScopes = []string{"openid", "profile", "offline_access", "email"}

// serveOpenIDConfiguration answers /{tenant}/v2.0/.well-known/openid-configuration. MSAL (with
// instance discovery off) requires authorization_endpoint, token_endpoint and issuer, and refuses an
// issuer whose scheme and host differ from the authority's, so the document is built from the host
// the client called.
func (s *Server) serveOpenIDConfiguration(w http.ResponseWriter, r *http.Request, tenantID string) int {
	if !s.tenantKnown(tenantID) {
		return writeOAuthError(w, http.StatusBadRequest, "invalid_tenant", 90002,
			"Tenant '"+tenantID+"' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.")
	}
	base := "https://" + r.Host + "/" + tenantID
	doc := map[string]any{
		"issuer":                                base + "/v2.0",
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"device_authorization_endpoint":         base + "/oauth2/v2.0/devicecode",
		"end_session_endpoint":                  base + "/oauth2/v2.0/logout",
		"jwks_uri":                              base + "/discovery/v2.0/keys",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"subject_types_supported":               []string{"pairwise"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"id_token_signing_alg_values_supported": []string{jwt.SigningMethodES256.Alg()},
		"claims_supported":                      []string{"sub", "iss", "aud", "exp", "iat", "nbf", "tid", "oid", "azp", "appid", "roles"},
		"request_uri_parameter_supported":       false,
		"tenant_region_scope":                   nil,
		"cloud_instance_name":                   r.Host,
		"msgraph_host":                          r.Host,
	}
	return writeJSON(w, http.StatusOK, doc)
}

// serveKeys answers /{tenant}/discovery/v2.0/keys with the key that signs access tokens.
func (s *Server) serveKeys(w http.ResponseWriter) int {
	point, err := s.tokenKey.key.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		return writeOAuthError(w, http.StatusInternalServerError, "server_error", 0, err.Error())
	}
	half := (len(point) - 1) / 2
	return writeJSON(w, http.StatusOK, map[string]any{"keys": []map[string]string{{
		"kty": "EC",
		"use": "sig",
		"alg": jwt.SigningMethodES256.Alg(),
		"crv": "P-256",
		"kid": s.tokenKey.kid,
		"x":   base64.RawURLEncoding.EncodeToString(point[1 : 1+half]),
		"y":   base64.RawURLEncoding.EncodeToString(point[1+half:]),
	}}})
}

// oauthRefusal is a refused token request: an OAuth error body and its status.
type oauthRefusal struct {
	status      int
	code        string // the OAuth "error"
	aadsts      int
	description string
}

// serveToken answers /{tenant}/oauth2/v2.0/token for the client credentials grant, with a client
// secret (form or HTTP Basic), a client assertion signed by the app's certificate, or a federated
// token from FederatedToken. It fills the log entry's tenant and client.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request, tenantID string, rec *Request) int {
	if fault, ok := s.takeFault(true, r.Method, tenantID, "", ""); ok {
		if status, answered := s.playTokenFault(w, r, fault); answered {
			return status
		}
	}
	token, refusal := s.token(r, tenantID, rec)
	if refusal != nil {
		return writeOAuthError(w, refusal.status, refusal.code, refusal.aadsts, refusal.description)
	}
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.Header().Set("Pragma", "no-cache")
	seconds := int64(s.opts.TokenLifetime / time.Second)
	return writeJSON(w, http.StatusOK, map[string]any{
		"token_type":     "Bearer",
		"expires_in":     seconds,
		"ext_expires_in": seconds,
		"access_token":   token,
	})
}

// playTokenFault plays fault on a token request. answered is false when the token endpoint is
// still to answer (a fault of Latency only); status is 0 when nothing was answered.
func (s *Server) playTokenFault(w http.ResponseWriter, r *http.Request, fault Fault) (status int, answered bool) {
	if fault.answers() {
		// net/http notices a client that goes away (and ends r's context) only once the body is read.
		_, _ = io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, 64<<10))
	}
	if !s.delay(r, fault) {
		return 0, true
	}
	switch {
	case fault.DropConnection:
		return statusDropped, true
	case fault.HTMLPage:
		return writeHTMLPage(w, fault.Status), true
	case fault.Body != "":
		return writeBody(w, fault), true
	case fault.Status != 0:
		if fault.RetryAfter != "" {
			w.Header().Set("Retry-After", fault.RetryAfter)
		}
		code, description := fault.Code, fault.Message
		if code == "" {
			code = "server_error"
			if fault.Status == http.StatusServiceUnavailable || fault.Status == http.StatusTooManyRequests {
				code = "temporarily_unavailable"
			}
		}
		if description == "" {
			description = "The service is temporarily unavailable (" + http.StatusText(fault.Status) + "). Retry later."
		}
		return writeOAuthError(w, fault.Status, code, 0, description), true
	case fault.MalformedBody:
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"token_type":"Bearer","expires_in":`)
		return http.StatusOK, true
	}
	return 0, false
}

func (s *Server) token(r *http.Request, tenantID string, rec *Request) (string, *oauthRefusal) {
	if r.Method != http.MethodPost {
		return "", &oauthRefusal{http.StatusBadRequest, "invalid_request", 900561, "The endpoint only accepts POST, OPTIONS requests. Received a " + r.Method + " request."}
	}
	r.Body = http.MaxBytesReader(nil, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return "", &oauthRefusal{http.StatusBadRequest, "invalid_request", 900144, "The request body must be application/x-www-form-urlencoded: " + err.Error()}
	}
	form := r.PostForm
	basicID, basicSecret, basic := r.BasicAuth()
	clientID := form.Get("client_id")
	if clientID == "" && basic {
		clientID = basicID
	}
	rec.ClientID = clientID

	if gt := form.Get("grant_type"); gt != "client_credentials" {
		if gt == "" {
			return "", &oauthRefusal{http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'."}
		}
		return "", &oauthRefusal{http.StatusBadRequest, "unsupported_grant_type", 70003, "The app requested an unsupported grant type '" + gt + "'. This emulator supports client_credentials only."}
	}
	if clientID == "" {
		return "", &oauthRefusal{http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'."}
	}
	if !s.tenantKnown(tenantID) {
		return "", &oauthRefusal{http.StatusBadRequest, "invalid_request", 90002, "Tenant '" + tenantID + "' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."}
	}
	app, ok := s.app(tenantID, clientID)
	if !ok {
		return "", &oauthRefusal{http.StatusBadRequest, "unauthorized_client", 700016, "Application with identifier '" + clientID + "' was not found in the directory '" + tenantID + "'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."}
	}
	rec.TenantID = app.TenantID
	if refusal := s.checkScope(form.Get("scope")); refusal != nil {
		return "", refusal
	}

	secret := form.Get("client_secret")
	if secret == "" && basic {
		secret = basicSecret
	}
	assertion := form.Get("client_assertion")
	var acr string
	switch {
	case secret != "" && assertion != "":
		return "", &oauthRefusal{http.StatusBadRequest, "invalid_request", 90023, "The request must carry either a client_secret or a client_assertion, not both."}
	case secret != "":
		if app.ClientSecret == "" || subtle.ConstantTimeCompare([]byte(secret), []byte(app.ClientSecret)) != 1 {
			return "", &oauthRefusal{http.StatusUnauthorized, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '" + app.ClientID + "'."}
		}
		acr = "1"
	case assertion != "":
		if t := form.Get("client_assertion_type"); t != clientAssertionType {
			return "", &oauthRefusal{http.StatusBadRequest, "invalid_request", 50027, "client_assertion_type must be '" + clientAssertionType + "'."}
		}
		endpoint := "https://" + r.Host + r.URL.EscapedPath()
		if refusal := s.verifyAssertion(app, assertion, endpoint); refusal != nil {
			return "", refusal
		}
		acr = "2"
	default:
		return "", &oauthRefusal{http.StatusUnauthorized, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."}
	}

	token, err := s.issueToken(app, acr)
	if err != nil {
		return "", &oauthRefusal{http.StatusInternalServerError, "server_error", 0, err.Error()}
	}
	return token, nil
}

// checkScope accepts exactly one resource scope, {URL}/.default, plus the OpenID scopes that MSAL
// always adds.
func (s *Server) checkScope(scope string) *oauthRefusal {
	var resources []string
	for _, sc := range strings.Fields(scope) {
		if !slices.Contains(oidcScopes, sc) {
			resources = append(resources, sc)
		}
	}
	want := s.url + "/.default"
	switch {
	case len(resources) == 0:
		return &oauthRefusal{http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'scope'. This emulator expects '" + want + "'."}
	case len(resources) > 1 || !strings.EqualFold(resources[0], want):
		return &oauthRefusal{http.StatusBadRequest, "invalid_scope", 1002012, "The provided value for scope " + strings.Join(resources, " ") + " is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier; this emulator expects '" + want + "'."}
	}
	return nil
}

// verifyAssertion checks a client_assertion: either a federated token this emulator signed for
// the app (workload identity), or a JWT signed with the key of the app's registered certificate,
// addressed to the token endpoint, with iss = sub = client id and an expiry in the future.
func (s *Server) verifyAssertion(app App, assertion, tokenEndpoint string) *oauthRefusal {
	unverified := jwt.MapClaims{}
	parsed, _, err := jwt.NewParser().ParseUnverified(assertion, unverified)
	if err != nil {
		return &oauthRefusal{http.StatusUnauthorized, "invalid_client", 50027, "JWT token is invalid or malformed."}
	}
	if iss, _ := unverified.GetIssuer(); iss == s.federationIssuer() {
		return s.verifyFederatedToken(app, assertion)
	}

	if app.Certificate == nil {
		return &oauthRefusal{http.StatusUnauthorized, "invalid_client", 700027, "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found.] Application '" + app.ClientID + "' has no certificate."}
	}
	if !thumbprintMatches(parsed.Header, app.Certificate) {
		return &oauthRefusal{http.StatusUnauthorized, "invalid_client", 700027, "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found.] The x5t#S256 (or x5t) header must be the thumbprint of the registered certificate."}
	}
	claims := &jwt.RegisteredClaims{}
	_, err = jwt.ParseWithClaims(assertion, claims,
		func(*jwt.Token) (any, error) { return app.Certificate.PublicKey, nil },
		jwt.WithValidMethods([]string{"PS256", "RS256", "ES256"}),
		jwt.WithExpirationRequired(),
	)
	switch {
	case errors.Is(err, jwt.ErrTokenExpired), errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return &oauthRefusal{http.StatusUnauthorized, "invalid_client", 700024, "Client assertion is not within its valid time range."}
	case err != nil:
		return &oauthRefusal{http.StatusUnauthorized, "invalid_client", 700027, "Client assertion failed signature validation."}
	}
	issuer := strings.TrimSuffix(tokenEndpoint, "/oauth2/v2.0/token") + "/v2.0"
	if !slices.ContainsFunc(claims.Audience, func(a string) bool {
		return strings.EqualFold(a, tokenEndpoint) || strings.EqualFold(a, issuer)
	}) {
		return &oauthRefusal{http.StatusUnauthorized, "invalid_client", 50012, "Client assertion audience claim does not match Realm issuer. Expected '" + tokenEndpoint + "'."}
	}
	if !strings.EqualFold(claims.Issuer, app.ClientID) || !strings.EqualFold(claims.Subject, app.ClientID) {
		return &oauthRefusal{http.StatusUnauthorized, "invalid_client", 700021, "Client assertion application identifier doesn't match 'client_id' parameter."}
	}
	return nil
}

// thumbprintMatches checks the assertion's x5t#S256 (SHA-256, what MSAL sends with PS256) or x5t
// (SHA-1, with RS256) header against the certificate. MSAL encodes it with the standard base64
// alphabet, RFC 7515 with the URL one; both are accepted.
func thumbprintMatches(header map[string]any, cert *x509.Certificate) bool {
	matches := func(name string, sum []byte) bool {
		v, _ := header[name].(string)
		if v == "" {
			return false
		}
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if b, err := enc.DecodeString(v); err == nil && subtle.ConstantTimeCompare(b, sum) == 1 {
				return true
			}
		}
		return false
	}
	s256 := sha256.Sum256(cert.Raw)
	s1 := sha1.Sum(cert.Raw) //nolint:gosec // see the import
	return matches("x5t#S256", s256[:]) || matches("x5t", s1[:])
}

// federationIssuer plays the cluster's service account issuer, which an app's federated identity
// credential names.
func (s *Server) federationIssuer() string { return s.url + "/federation" }

// federatedSubject is the service account a federated credential of the app trusts.
func federatedSubject(tenantID, clientID string) string {
	return "system:serviceaccount:" + strings.ToLower(tenantID) + ":" + strings.ToLower(clientID)
}

// FederatedToken returns a projected service-account-like JWT (aud api://AzureADTokenExchange)
// signed by the emulator, which the token endpoint accepts as a client_assertion for that app:
// write it to a file and point azidentity's workload identity credential (or
// AZURE_FEDERATED_TOKEN_FILE) at it. A lifetime of zero means one hour; a negative one gives an
// expired token. The app does not need to exist yet.
func (s *Server) FederatedToken(tenantID, clientID string, lifetime time.Duration) string {
	if lifetime == 0 {
		lifetime = time.Hour
	}
	now := time.Now()
	token, err := s.federationKey.sign(jwt.RegisteredClaims{
		Issuer:    s.federationIssuer(),
		Subject:   federatedSubject(tenantID, clientID),
		Audience:  jwt.ClaimStrings{FederatedTokenAudience},
		ExpiresAt: jwt.NewNumericDate(now.Add(lifetime)),
		NotBefore: jwt.NewNumericDate(now.Add(min(lifetime, 0) - time.Minute)),
		IssuedAt:  jwt.NewNumericDate(now.Add(min(lifetime, 0) - time.Minute)),
	})
	if err != nil {
		// Signing with an in-memory ECDSA key does not fail.
		panic(err)
	}
	return token
}

func (s *Server) verifyFederatedToken(app App, assertion string) *oauthRefusal {
	claims := &jwt.RegisteredClaims{}
	_, err := jwt.ParseWithClaims(assertion, claims,
		func(*jwt.Token) (any, error) { return &s.federationKey.key.PublicKey, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodES256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuer(s.federationIssuer()),
	)
	switch {
	case errors.Is(err, jwt.ErrTokenExpired), errors.Is(err, jwt.ErrTokenNotValidYet):
		return &oauthRefusal{http.StatusUnauthorized, "invalid_client", 700024, "Client assertion is not within its valid time range."}
	case err != nil:
		return &oauthRefusal{http.StatusUnauthorized, "invalid_client", 700027, "Client assertion failed signature validation."}
	case !slices.Contains(claims.Audience, FederatedTokenAudience):
		return &oauthRefusal{http.StatusUnauthorized, "invalid_client", 700212, "No matching federated identity record found for presented assertion audience '" + strings.Join(claims.Audience, " ") + "'."}
	case claims.Subject != federatedSubject(app.TenantID, app.ClientID):
		return &oauthRefusal{http.StatusUnauthorized, "invalid_client", 70021, "No matching federated identity record found for presented assertion. Assertion Issuer: '" + claims.Issuer + "'. Assertion Subject: '" + claims.Subject + "'. Assertion Audience: '" + FederatedTokenAudience + "'."}
	}
	return nil
}

// writeOAuthError writes Entra ID's error body. The AADSTS code leads the description, as it does
// in Entra's answers, since clients and people search for it.
func writeOAuthError(w http.ResponseWriter, status int, code string, aadsts int, description string) int {
	now := time.Now().UTC()
	traceID := newGUID()
	body := map[string]any{
		"error":             code,
		"error_description": description,
		"timestamp":         now.Format("2006-01-02 15:04:05Z"),
		"trace_id":          traceID,
		"correlation_id":    w.Header().Get("client-request-id"),
	}
	if aadsts != 0 {
		prefix := "AADSTS" + strconv.Itoa(aadsts)
		body["error_description"] = prefix + ": " + description + " Trace ID: " + traceID +
			" Correlation ID: " + w.Header().Get("client-request-id") + " Timestamp: " + now.Format("2006-01-02 15:04:05Z")
		body["error_codes"] = []int{aadsts}
		body["error_uri"] = "https://login.microsoftonline.com/error?code=" + strconv.Itoa(aadsts)
	}
	return writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) int {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"server_error"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	return status
}
