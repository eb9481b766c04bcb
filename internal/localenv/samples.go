package localenv

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

// The tenant, app and device configurations that config/samples refer to.
const (
	SampleTenantID        = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	SampleClientID        = "0b9c1d2e-3f4a-4b6c-8d8e-9f0a1b2c3d4e"
	SampleClientSecret    = "demo-client-secret-not-for-production"
	SampleWifiConfigID    = "6d6c3b5e-0f9a-4c1e-9d7e-2f1f3a4b5c6d"
	SampleVPNConfigID     = "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9"
	SampleConnection      = "contoso"
	SampleSecret          = "contoso-graph"
	sampleSecretKey       = "clientSecret"
	sampleDemoLastUpdated = "2026-11-27T08:30:00Z"
)

// SeedSamples registers the samples' app in the emulator and seeds their device configurations with
// display names (what `kubectl intune export` names resources after) and with values that differ
// from the samples' specs, so that the operator has something to do.
func (e *Env) SeedSamples() {
	e.Emulator.AddApp(graphtest.App{TenantID: SampleTenantID, ClientID: SampleClientID, ClientSecret: SampleClientSecret})
	e.Emulator.SeedConfiguration(SampleTenantID, SampleWifiConfigID, graphtest.Configuration{DisplayName: "Wi-Fi baseline (HQ)"})
	e.Emulator.SeedConfiguration(SampleTenantID, SampleVPNConfigID, graphtest.Configuration{DisplayName: "Always-on VPN"})
	last, _ := time.Parse(time.RFC3339, sampleDemoLastUpdated)
	e.Emulator.Seed(SampleTenantID, SampleWifiConfigID, graphtest.Overview{
		PendingCount: 4, SuccessCount: 9, FailedCount: 2, ConfigurationVersion: 2, LastUpdateDateTime: last})
	e.Emulator.Seed(SampleTenantID, SampleVPNConfigID, graphtest.Overview{
		PendingCount: 1, SuccessCount: 30, ErrorCount: 1, ConfigurationVersion: 5, LastUpdateDateTime: last})
	// Their overviews of devices: the Manage sample's differs from its spec, so that the operator
	// PATCHes it; the ObserveOnly one's has errors, which its status lists as drift.
	deviceLast := time.Date(2026, 11, 28, 9, 30, 0, 0, time.UTC)
	e.Emulator.SeedDevice(SampleTenantID, SampleWifiConfigID, graphtest.Overview{
		PendingCount: 6, SuccessCount: 37, FailedCount: 4, ConfigurationVersion: 2, LastUpdateDateTime: deviceLast})
	e.Emulator.SeedDevice(SampleTenantID, SampleVPNConfigID, graphtest.Overview{
		PendingCount: 2, SuccessCount: 88, ErrorCount: 2, ConfigurationVersion: 5, LastUpdateDateTime: deviceLast})
}

// EmulatorSettings points a connection at the emulator: endpoint, authority host and CA bundle.
func (e *Env) EmulatorSettings(spec *intunev1alpha1.ConnectionSpec) {
	spec.Endpoint = e.Emulator.URL()
	spec.AuthorityHost = e.Emulator.URL()
	spec.CABundle = string(e.Emulator.CACertPEM())
}

// CreateSampleConnection creates, in namespace, the samples' Secret and their GraphConnection
// "contoso", pointed at the emulator.
func (e *Env) CreateSampleConnection(ctx context.Context, namespace string) error {
	if err := e.ensureNamespace(ctx, namespace); err != nil {
		return err
	}
	if err := e.CreateSampleSecret(ctx, namespace); err != nil {
		return err
	}
	return e.CreateConnection(ctx, namespace, SampleConnection, SampleTenantID, SampleClientID, SampleSecret)
}

// CreateConnection creates, in namespace, a GraphConnection pointed at the emulator for an app of a
// tenant, which reads its client secret from the key "clientSecret" of the Secret secretName. One
// that exists already is left as it is.
func (e *Env) CreateConnection(ctx context.Context, namespace, name, tenantID, clientID, secretName string) error {
	conn := &intunev1alpha1.GraphConnection{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: intunev1alpha1.GraphConnectionSpec{ConnectionSpec: intunev1alpha1.ConnectionSpec{
			TenantID: tenantID,
			ClientID: clientID,
			Credentials: intunev1alpha1.Credentials{
				Source:       intunev1alpha1.CredentialSourceClientSecret,
				ClientSecret: &intunev1alpha1.SecretKeyReference{Name: secretName, Key: sampleSecretKey},
			},
		}},
	}
	e.EmulatorSettings(&conn.Spec.ConnectionSpec)
	return client.IgnoreAlreadyExists(e.Client.Create(ctx, conn))
}

// CreateSampleSecret creates the samples' client secret Secret in namespace.
func (e *Env) CreateSampleSecret(ctx context.Context, namespace string) error {
	return client.IgnoreAlreadyExists(e.Client.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: SampleSecret},
		StringData: map[string]string{sampleSecretKey: SampleClientSecret},
	}))
}

func (e *Env) ensureNamespace(ctx context.Context, name string) error {
	err := e.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}
