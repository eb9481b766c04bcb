package graph

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"sync"
	"testing"
	"time"
)

// testCert is a self-signed client certificate and its RSA key (MSAL signs
// client assertions with PS256, so the key is RSA).
type testCert struct {
	cert    *x509.Certificate
	pem     []byte // certificate and PKCS #8 private key
	certPEM []byte // the certificate alone
}

var (
	testCertOnce sync.Once
	testCertVal  testCert
	testCertErr  error
)

// newTestCert returns the test certificate, generated once per test binary.
func newTestCert(t testing.TB) testCert {
	t.Helper()
	testCertOnce.Do(func() {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			testCertErr = err
			return
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1),
			Subject:      pkix.Name{CommonName: "overview-operator test client"},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			testCertErr = err
			return
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			testCertErr = err
			return
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			testCertErr = err
			return
		}
		certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
		testCertVal = testCert{cert: cert, pem: append(append([]byte{}, certPEM...), keyPEM...), certPEM: certPEM}
	})
	if testCertErr != nil {
		t.Fatal(testCertErr)
	}
	return testCertVal
}
