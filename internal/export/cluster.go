package export

import (
	"context"
	"fmt"
	"os"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/connection"
	"github.com/overview-operator/overview-operator/internal/graph"
)

// ConnectionConfig reads a connection and its Secret with the user's credentials (c) and returns
// the Graph settings, as the operator would make them (connection.GraphConfig). Its endpoint and
// authorityHost must be hosts the policy allows: the export sends the connection's secret and
// tokens there, and whoever wrote the connection chose them. namespace is the GraphConnection's
// (ignored for a ClusterGraphConnection).
func ConnectionConfig(ctx context.Context, c client.Reader, ref intunev1alpha1.ConnectionReference, namespace string, hosts connection.HostPolicy) (graph.Config, error) {
	var conn interface {
		client.Object
		intunev1alpha1.Connection
	}
	var what string
	if ref.Kind == intunev1alpha1.ConnectionKindCluster {
		conn, what = &intunev1alpha1.ClusterGraphConnection{}, fmt.Sprintf("ClusterGraphConnection %q", ref.Name)
		namespace = ""
	} else {
		conn, what = &intunev1alpha1.GraphConnection{}, fmt.Sprintf("GraphConnection %q in namespace %q", ref.Name, namespace)
	}
	if err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: ref.Name}, conn); err != nil {
		if apierrors.IsNotFound(err) {
			return graph.Config{}, fmt.Errorf("%s does not exist (kubectl get graphconnections,clustergraphconnections -A lists them)", what)
		}
		return graph.Config{}, fmt.Errorf("read %s: %w", what, err)
	}
	spec := conn.Settings()
	if field, host, ok := hosts.Refused(spec); !ok {
		return graph.Config{}, fmt.Errorf("%s: spec.%s names host %q, which is not a national cloud's: the export would send the app's credentials there; "+
			"if you trust it, allow it with --allowed-endpoint-hosts=%s", what, field, host, host)
	}
	var data map[string][]byte
	if name, keys := connection.SecretKeys(spec.Credentials); name != "" {
		secret := &corev1.Secret{}
		key := types.NamespacedName{Namespace: conn.SecretNamespace(), Name: name}
		if err := c.Get(ctx, key, secret); err != nil {
			switch {
			case apierrors.IsNotFound(err):
				return graph.Config{}, fmt.Errorf("%s: its Secret %q does not exist in namespace %q", what, name, key.Namespace)
			case apierrors.IsForbidden(err):
				return graph.Config{}, fmt.Errorf("%s: you may not read its Secret %q in namespace %q, which the export signs in with; "+
					"ask for get on Secrets there, or give the credentials with --tenant-id, --client-id and --client-secret-file", what, name, key.Namespace)
			}
			return graph.Config{}, fmt.Errorf("%s: read its Secret %q: %w", what, name, err)
		}
		for _, k := range keys {
			if k != "" && len(secret.Data[k]) == 0 {
				return graph.Config{}, fmt.Errorf("%s: its Secret %q in namespace %q has no key %q", what, name, key.Namespace, k)
			}
		}
		data = secret.Data
	}
	cfg, err := connection.GraphConfig(spec, data, os.Getenv("AZURE_FEDERATED_TOKEN_FILE"))
	if err != nil {
		return graph.Config{}, fmt.Errorf("%s: %w", what, err)
	}
	return cfg, nil
}
