package testutil

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"sync"
	"time"
)

// Certificate is a self-signed certificate and its key, as an app registration's client
// certificate credential holds them. The key is RSA: MSAL signs client assertions with PS256.
type Certificate struct {
	Cert *x509.Certificate
	Key  *rsa.PrivateKey
	// CertPEM is the certificate alone, PEM-encoded, as a CA bundle or a Secret's tls.crt holds it.
	CertPEM []byte
	// KeyPEM is the key, PEM-encoded PKCS #8.
	KeyPEM []byte
}

// PEM is the certificate followed by its key, as a credential read from one Secret key holds them.
func (c Certificate) PEM() []byte {
	return append(append([]byte{}, c.CertPEM...), c.KeyPEM...)
}

// SelfSignedCertificate returns the test binary's client certificate, made on the first call: an
// RSA key takes a good part of a second to generate, which every test that uses one would pay.
func SelfSignedCertificate() Certificate {
	return selfSigned()
}

var selfSigned = sync.OnceValue(func() Certificate {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err) // crypto/rand does not fail on the platforms Go supports
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
		panic(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		panic(err)
	}
	return Certificate{
		Cert:    cert,
		Key:     key,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}
})
