package graphtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// Permissions an app can be granted: the application permissions (the "roles" claim of its tokens)
// that Graph checks for deviceConfigurationUserOverview.
const (
	// PermissionRead allows GET.
	PermissionRead = "DeviceManagementConfiguration.Read.All"
	// PermissionReadWrite allows GET and PATCH.
	PermissionReadWrite = "DeviceManagementConfiguration.ReadWrite.All"
)

// FederatedTokenAudience is the audience of a workload identity's projected service account token,
// which Entra ID requires of a federated client assertion.
const FederatedTokenAudience = "api://AzureADTokenExchange"

// App is an app registration in a tenant.
type App struct {
	TenantID string
	ClientID string
	// ClientSecret is accepted for client_credentials with client_secret, if non-empty.
	ClientSecret string
	// Certificate is accepted for a client_assertion signed by its key, if non-nil. MSAL signs
	// with PS256, so in practice it holds an RSA key.
	Certificate *x509.Certificate
	// Permissions become the roles of the app's tokens. Nil means PermissionReadWrite; an empty,
	// non-nil slice means an app that was granted nothing (its tokens carry no roles).
	Permissions []string
}

type appKey struct{ tenantID, clientID string } // both lower case

func newAppKey(tenantID, clientID string) appKey {
	return appKey{strings.ToLower(tenantID), strings.ToLower(clientID)}
}

// AddApp registers an app, or replaces the registration with the same tenant and client id.
// Tokens issued before keep the roles they were issued with, as in Entra ID.
func (s *Server) AddApp(app App) {
	if app.Permissions == nil {
		app.Permissions = []string{PermissionReadWrite}
	} else {
		app.Permissions = slices.Clone(app.Permissions)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apps[newAppKey(app.TenantID, app.ClientID)] = app
	s.tenants[strings.ToLower(app.TenantID)] = true
}

// Grant replaces the permissions of a registered app, as an admin who grants (or removes)
// application permissions and consents does: tokens issued from then on carry the new roles, and
// tokens issued before keep the old ones until they expire, as in Entra ID, so a client sees the
// change only with a new token. An empty list removes every permission. It returns an error if
// the app is not registered.
func (s *Server) Grant(tenantID, clientID string, permissions ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := newAppKey(tenantID, clientID)
	app, ok := s.apps[key]
	if !ok {
		return fmt.Errorf("graphtest: no app %q in tenant %q", clientID, tenantID)
	}
	app.Permissions = append([]string{}, permissions...)
	s.apps[key] = app
	return nil
}

func (s *Server) app(tenantID, clientID string) (App, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.apps[newAppKey(tenantID, clientID)]
	return a, ok
}

func (s *Server) tenantKnown(tenantID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tenants[strings.ToLower(tenantID)]
}

// signingKey is one of the emulator's token signing keys.
type signingKey struct {
	key *ecdsa.PrivateKey
	kid string // the key's thumbprint, as Entra ID puts it in "kid"
}

func newSigningKey() (signingKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return signingKey{}, err
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		return signingKey{}, err
	}
	sum := sha256.Sum256(der)
	return signingKey{key: k, kid: base64.RawURLEncoding.EncodeToString(sum[:20])}, nil
}

func (k signingKey) sign(claims jwt.Claims) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	t.Header["kid"] = k.kid
	return t.SignedString(k.key)
}

// accessClaims are the claims of an app-only access token, as Entra ID issues them for Graph
// (v1 tokens), with this emulator's URL as audience.
type accessClaims struct {
	jwt.RegisteredClaims
	// Audience shadows RegisteredClaims.Audience so that "aud" is a string, as Entra ID writes it.
	Audience string   `json:"aud"`
	TenantID string   `json:"tid"`
	AppID    string   `json:"appid"`
	AZP      string   `json:"azp"`
	AppIDACR string   `json:"appidacr"` // "1": secret, "2": certificate or assertion
	IDType   string   `json:"idtyp"`
	OID      string   `json:"oid"`
	Roles    []string `json:"roles,omitempty"`
	Version  string   `json:"ver"`
}

// GetAudience makes the JWT validator read the string audience.
func (c *accessClaims) GetAudience() (jwt.ClaimStrings, error) {
	return jwt.ClaimStrings{c.Audience}, nil
}

// issueToken signs an access token for app; acr says how the app authenticated.
func (s *Server) issueToken(app App, acr string) (string, error) {
	now := time.Now()
	// A stable object id per app, as the service principal's oid would be.
	oid := uuid.NewSHA1(uuid.NameSpaceURL, []byte(strings.ToLower(app.TenantID+"/"+app.ClientID))).String()
	return s.tokenKey.sign(&accessClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.tokenIssuer(app.TenantID),
			Subject:   oid,
			ExpiresAt: jwt.NewNumericDate(now.Add(s.opts.TokenLifetime)),
			NotBefore: jwt.NewNumericDate(now.Add(-5 * time.Minute)),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        uuid.NewString(),
		},
		Audience: s.url,
		TenantID: app.TenantID,
		AppID:    app.ClientID,
		AZP:      app.ClientID,
		AppIDACR: acr,
		IDType:   "app",
		OID:      oid,
		Roles:    app.Permissions,
		Version:  "1.0",
	})
}

// tokenIssuer is the iss of access tokens for a tenant.
func (s *Server) tokenIssuer(tenantID string) string {
	return s.url + "/" + tenantID + "/v2.0"
}

// IssueToken returns a valid Graph access token for a registered app, as the token endpoint would
// issue it (for curl and for tests that talk HTTP directly).
func (s *Server) IssueToken(tenantID, clientID string) (string, error) {
	app, ok := s.app(tenantID, clientID)
	if !ok {
		return "", fmt.Errorf("graphtest: no app %q in tenant %q", clientID, tenantID)
	}
	return s.issueToken(app, "1")
}

// bearerError is why a Graph request's token was refused; its text is the message of Graph's
// 401 answer.
type bearerError string

func (e bearerError) Error() string { return string(e) }

// authenticate checks a Graph request's Authorization header and returns the token's claims. On an
// expired token it returns the claims too, so that the request log can name the app.
func (s *Server) authenticate(header string) (*accessClaims, error) {
	scheme, token, _ := strings.Cut(header, " ")
	token = strings.TrimSpace(token)
	if header == "" || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return nil, bearerError("Access token is empty.")
	}
	if c, ok := s.cachedToken(token); ok {
		if time.Now().After(c.ExpiresAt.Time) {
			return c, bearerError("Lifetime validation failed, the token is expired.")
		}
		return c, nil
	}
	c := &accessClaims{}
	_, err := jwt.ParseWithClaims(token, c,
		func(*jwt.Token) (any, error) { return &s.tokenKey.key.PublicKey, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodES256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithAudience(s.url),
	)
	switch {
	case err == nil:
		if c.TenantID == "" || c.AppID == "" || c.Issuer != s.tokenIssuer(c.TenantID) {
			return nil, bearerError("Access token validation failure. Invalid issuer or missing claims.")
		}
		s.cacheToken(token, c)
		return c, nil
	case errors.Is(err, jwt.ErrTokenMalformed):
		return nil, bearerError("IDX14100: JWT is not well formed, there are no dots (.). The token needs to be in JWS or JWE Compact Serialization Format.")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return nil, bearerError("Access token validation failure. Invalid signature.")
	case errors.Is(err, jwt.ErrTokenExpired):
		// The signature was verified before the claims, so the claims can name the app.
		return c, bearerError("Lifetime validation failed, the token is expired.")
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return nil, bearerError("Access token validation failure. Invalid audience.")
	default:
		return nil, bearerError("Access token validation failure.")
	}
}

// The token cache spares a signature check on every Graph call of a client that reuses its token;
// bounded, since a test may issue many tokens.
const tokenCacheSize = 4096

func (s *Server) cachedToken(token string) (*accessClaims, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.tokens[token]
	return c, ok
}

func (s *Server) cacheToken(token string, c *accessClaims) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.tokens) >= tokenCacheSize {
		clear(s.tokens)
	}
	s.tokens[token] = c
}

// hasRole reports whether the token grants one of the roles.
func (c *accessClaims) hasRole(roles ...string) bool {
	for _, r := range c.Roles {
		if slices.Contains(roles, r) {
			return true
		}
	}
	return false
}
