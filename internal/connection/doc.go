// Package connection holds what the operator and the kubectl-intune plugin both make of a
// GraphConnection or ClusterGraphConnection: the graph.Config of its settings and Secret values, the
// Secret keys its credentials read, and the policy of the hosts its endpoint and authorityHost may
// name. Reading the connection and its Secret is the caller's: the operator reads through its cache
// and rules, the plugin with the user's kubeconfig.
package connection
