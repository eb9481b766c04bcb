package v1alpha1

// Connection is what the operator needs of either connection kind.
// +kubebuilder:object:generate=false
type Connection interface {
	// Settings returns the spec both kinds share.
	Settings() *ConnectionSpec
	// SecretNamespace returns the namespace the connection's Secrets are read from.
	SecretNamespace() string
	// ConnectionStatus returns the status, for the connection reconciler to write.
	ConnectionStatus() *ConnectionStatus
}

// Settings returns the connection's shared spec.
func (c *GraphConnection) Settings() *ConnectionSpec { return &c.Spec.ConnectionSpec }

// SecretNamespace is the GraphConnection's own namespace: it reads no other.
func (c *GraphConnection) SecretNamespace() string { return c.Namespace }

// ConnectionStatus returns the connection's status.
func (c *GraphConnection) ConnectionStatus() *ConnectionStatus { return &c.Status }

// Settings returns the connection's shared spec.
func (c *ClusterGraphConnection) Settings() *ConnectionSpec { return &c.Spec.ConnectionSpec }

// SecretNamespace is spec.secretNamespace.
func (c *ClusterGraphConnection) SecretNamespace() string { return c.Spec.SecretNamespace }

// ConnectionStatus returns the connection's status.
func (c *ClusterGraphConnection) ConnectionStatus() *ConnectionStatus { return &c.Status }

// SecretName returns the name of the Secret the credentials read, or "" for WorkloadIdentity.
func (c *Credentials) SecretName() string {
	switch {
	case c.ClientSecret != nil:
		return c.ClientSecret.Name
	case c.ClientCertificate != nil:
		return c.ClientCertificate.Name
	}
	return ""
}
