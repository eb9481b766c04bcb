//go:build tools

// Package controlplane pins the Kubernetes sources that `make envtest` builds kube-apiserver and
// kubectl from. It is a module of its own so that the operator's go.mod never carries
// k8s.io/kubernetes.
package controlplane

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
