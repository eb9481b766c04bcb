//go:build tools

// Package tools pins the build tools (controller-gen, kustomize, helm) that the Makefile builds into ./bin.
// It is a module of its own so that their dependencies never mix with the operator's.
package tools

import (
	_ "github.com/golangci/golangci-lint/v2/cmd/golangci-lint"
	_ "helm.sh/helm/v4/cmd/helm"
	_ "sigs.k8s.io/controller-tools/cmd/controller-gen"
	_ "sigs.k8s.io/kustomize/kustomize/v5"
)
